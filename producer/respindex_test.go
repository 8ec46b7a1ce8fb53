package producer

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRespIndexFindsAnswers looks partitions up in a response in request
// order (the fast path), out of order and by topic id (v13+), and misses a
// partition the broker left out.
func TestRespIndexFindsAnswers(t *testing.T) {
	id := [16]byte{7}
	resp := kmsg.NewPtrProduceResponse()
	for _, tc := range []struct {
		topic string
		id    [16]byte
		parts []int32
	}{{"a", [16]byte{}, []int32{3, 1, 2}}, {"", id, []int32{0, 5}}} {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = tc.topic, tc.id
		for _, p := range tc.parts {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition, rp.BaseOffset = p, int64(p)*100
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	var x respIndex
	x.reset(resp)
	for _, tc := range []struct {
		topic     string
		id        [16]byte
		partition int32
		want      int64 // -1: not found
	}{
		{"a", [16]byte{}, 3, 300},
		{"b", id, 0, 0},           // named b in the request, answered by id
		{"a", [16]byte{}, 2, 200}, // out of order
		{"a", [16]byte{}, 1, 100},
		{"b", id, 5, 500},
		{"a", [16]byte{}, 9, -1},
		{"c", [16]byte{}, 0, -1},
	} {
		rp := x.find(resp, tc.topic, tc.id, tc.partition)
		if tc.want < 0 {
			assert.Nil(t, rp, "%s[%d]", tc.topic, tc.partition)
			continue
		}
		require.NotNil(t, rp, "%s[%d]", tc.topic, tc.partition)
		assert.Equal(t, tc.want, rp.BaseOffset)
	}
}
