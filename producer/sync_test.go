package producer

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/skiffkit/skiff/serializer"
)

// TestSendSyncContract runs Producer.SendSync and Typed.SendSync through
// the same cases: they share one implementation and must agree.
func TestSendSyncContract(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "sync"))
	p := newProducer(t, Config{Brokers: c.ListenAddrs()})
	typed := NewTyped(p, serializer.String(), serializer.String())
	variants := map[string]func(context.Context, string) (RecordMetadata, error){
		"Producer": func(ctx context.Context, v string) (RecordMetadata, error) {
			return p.SendSync(ctx, Record{Topic: "sync", Partition: ToPartition(0), Value: []byte(v)})
		},
		"Typed": func(ctx context.Context, v string) (RecordMetadata, error) {
			return typed.SendSync(ctx, TypedRecord[string, string]{Topic: "sync", Partition: ToPartition(0), NullKey: true, Value: v})
		},
	}
	for name, sendSync := range variants {
		t.Run(name, func(t *testing.T) {
			md, err := sendSync(context.Background(), "acked")
			require.NoError(t, err)
			assert.Equal(t, "sync", md.Topic)
			assert.Equal(t, int32(0), md.Partition)
			assert.GreaterOrEqual(t, md.Offset, int64(0))

			// A held Produce: the wait ends with ctx, wrapped with the topic.
			release := make(chan struct{})
			stallProduce(c, release)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			md, err = sendSync(ctx, "held")
			cancel()
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Contains(t, err.Error(), "produce sync: waiting for acknowledgement")
			assert.Equal(t, RecordMetadata{Topic: "sync", Partition: -1, Offset: -1}, md)
			close(release)
			require.NoError(t, p.Flush(context.Background()))
		})
	}
}

// TestCloseIsIdempotent: the first Close does the work and reports its
// context's error; every later or concurrent call returns nil.
func TestCloseIsIdempotent(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "twice"))
	p, err := New(Config{Brokers: c.ListenAddrs()})
	require.NoError(t, err)
	_, err = p.SendSync(context.Background(), testRecord("twice", 0))
	require.NoError(t, err)
	release := make(chan struct{})
	defer close(release)
	stallProduce(c, release)
	require.NoError(t, p.Send(context.Background(), testRecord("twice", 1), nil))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	results := make(chan error, 3)
	for range 3 {
		go func() { results <- p.Close(ctx) }()
	}
	var errs []error
	for range 3 {
		errs = append(errs, <-results)
	}
	var failed int
	for _, err := range errs {
		if err != nil {
			failed++
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		}
	}
	assert.Equal(t, 1, failed, "only the first Close reports the undelivered record: %v", errs)
	assert.NoError(t, p.Close(context.Background()), "a Close after the first")
	assert.ErrorIs(t, p.Send(context.Background(), testRecord("twice", 2), nil), ErrClosed)
}
