package consumer

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/serializer"
)

func TestTypedPollSkipsUndecodable(t *testing.T) {
	c := newCluster(t, 1, 1, "t")
	pr := newProducer(t, c)
	four := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	produce(t, pr,
		&kgo.Record{Topic: "t", Key: []byte("a"), Value: four(1)},
		&kgo.Record{Topic: "t", Key: []byte("b"), Value: []byte{1, 2}}, // not an int32
		&kgo.Record{Topic: "t", Key: []byte("c"), Value: four(3)},
	)
	cons := newTestConsumer(t, Config{Brokers: c.ListenAddrs(), Assign: allPartitions("t", 1, OffsetEarliest)})
	typed := NewTyped(cons, serializer.String(), serializer.Int32())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []TypedRecord[string, int32]
	var derr *DeserializeError
	for len(got) < 2 {
		recs, err := typed.Poll(ctx)
		if err != nil {
			require.True(t, errors.As(err, &derr), "unexpected error %v", err)
		}
		got = append(got, recs...)
	}
	require.NotNil(t, derr, "the bad record was not reported")
	assert.Equal(t, int64(1), derr.Record.Offset)
	assert.Equal(t, "a", got[0].Key)
	assert.Equal(t, int32(1), got[0].Value)
	assert.Equal(t, []byte("a"), got[0].Record.Key)
	assert.Equal(t, "c", got[1].Key)
	assert.Equal(t, int32(3), got[1].Value)
	assert.Equal(t, int64(2), got[1].Offset)
}
