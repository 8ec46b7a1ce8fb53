package broker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/kerr"
)

// TestOffsetsTopicInMetadata: __consumer_offsets is listed with
// is_internal and the coordinator's one partition, by name, by id and in
// the all-topics answer, and cannot be created.
func TestOffsetsTopicInMetadata(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("a", 1, nil))
	rc := dialRaw(t, b)

	all := rc.roundTrip(metadataReq(false), 12).(*kmsg.MetadataResponse)
	byName := map[string]kmsg.MetadataResponseTopic{}
	for _, mt := range all.Topics {
		byName[*mt.Topic] = mt
	}
	require.Contains(t, byName, offsetsTopic)
	ot := byName[offsetsTopic]
	assert.True(t, ot.IsInternal)
	assert.False(t, byName["a"].IsInternal)
	require.Len(t, ot.Partitions, offsetsTopicPartitions)
	assert.Equal(t, int32(1), ot.Partitions[0].Leader)
	assert.NotEqual(t, [16]byte{}, ot.TopicID)

	one := rc.roundTrip(metadataReq(true, offsetsTopic), 12).(*kmsg.MetadataResponse)
	require.Len(t, one.Topics, 1)
	assert.Zero(t, one.Topics[0].ErrorCode)
	assert.True(t, one.Topics[0].IsInternal)
	assert.Nil(t, b.topics.byName(offsetsTopic), "not auto-created as a normal topic")

	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.TopicID = ot.TopicID
	req.Topics = append(req.Topics, rt)
	byID := rc.roundTrip(req, 12).(*kmsg.MetadataResponse)
	require.Len(t, byID.Topics, 1)
	assert.Equal(t, offsetsTopic, *byID.Topics[0].Topic)

	cr := rc.roundTrip(createReq(false, ct(offsetsTopic, 1, 1)), 7).(*kmsg.CreateTopicsResponse)
	assert.Equal(t, kerr.TopicAlreadyExists.Code, cr.Topics[0].ErrorCode)
	cr = rc.roundTrip(createReq(true, ct(offsetsTopic, 1, 1)), 7).(*kmsg.CreateTopicsResponse)
	assert.Equal(t, kerr.TopicAlreadyExists.Code, cr.Topics[0].ErrorCode)

	// Producing to it is refused as Kafka refuses appends to internal
	// topics, by name and (v13) by id.
	pr := rc.roundTrip(produceReq(offsetsTopic, 0, makeBatch(1, 10, batch.NoProducer)), 9).(*kmsg.ProduceResponse)
	assert.Equal(t, kerr.InvalidTopicException.Code, pr.Topics[0].Partitions[0].ErrorCode)
	byIDReq := produceReq(offsetsTopic, 0, makeBatch(1, 10, batch.NoProducer))
	byIDReq.Topics[0].TopicID = ot.TopicID
	pr = rc.roundTrip(byIDReq, 13).(*kmsg.ProduceResponse)
	assert.Equal(t, kerr.InvalidTopicException.Code, pr.Topics[0].Partitions[0].ErrorCode)
	assert.Nil(t, b.topics.byName(offsetsTopic))

	// The id is stable across restarts (derived from the cluster id).
	dir := b.cfg.DataDir
	closeBroker(t, b)
	b2 := startBroker(t, Config{DataDir: dir})
	again := dialRaw(t, b2).roundTrip(metadataReq(false, offsetsTopic), 12).(*kmsg.MetadataResponse)
	assert.Equal(t, ot.TopicID, again.Topics[0].TopicID)
}

// TestRegexSkipsOffsetsTopic: a kgo group consumer with a regex matching
// everything consumes the user topic and never __consumer_offsets (kgo
// skips topics flagged internal).
func TestRegexSkipsOffsetsTopic(t *testing.T) {
	b := startBroker(t, Config{GroupInitialRebalanceDelay: -1})
	require.NoError(t, b.CreateTopic("user", 1, nil))
	produceN(t, b, "user", 2)
	cl := newClient(t, b, kgo.ConsumeRegex(), kgo.ConsumeTopics(".*"), kgo.ConsumerGroup("rx"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var n int
	for n < 2 {
		fs := cl.PollFetches(c)
		require.NoError(t, c.Err())
		fs.EachError(func(topic string, p int32, err error) { t.Errorf("fetch %s[%d]: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			assert.Equal(t, "user", r.Topic)
			n++
		})
	}
	require.NoError(t, cl.CommitUncommittedOffsets(c))
	assert.Equal(t, []string{"user"}, cl.GetConsumeTopics())
}
