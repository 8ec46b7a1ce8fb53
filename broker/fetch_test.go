package broker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/kerr"
)

func fetchReq(topic string, offset int64, minBytes, maxWaitMs int32, parts ...int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.MinBytes, req.MaxWaitMillis, req.MaxBytes = minBytes, maxWaitMs, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	if len(parts) == 0 {
		parts = []int32{0}
	}
	for _, p := range parts {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, offset, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// TestFetchWaitsForData parks a fetch (min bytes 1, max wait 10s) and
// produces to the second of its partitions: the fetch answers right after
// the produce, long before its max wait.
func TestFetchWaitsForData(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 2, nil))
	fetcher := dialRaw(t, b)
	producer := dialRaw(t, b)

	type result struct {
		resp *kmsg.FetchResponse
		at   time.Time
	}
	done := make(chan result, 1)
	go func() {
		resp := fetcher.roundTrip(fetchReq("t", 0, 1, 10_000, 0, 1), 11).(*kmsg.FetchResponse)
		done <- result{resp, time.Now()}
	}()
	require.Eventually(t, func() bool { return b.purg.Len() == 1 }, 5*time.Second, time.Millisecond, "fetch parked")

	produced := time.Now()
	code, _ := produceCode(t, producer, produceReq("t", 1, makeBatch(2, 10, batch.NoProducer)), 7)
	require.Zero(t, code)

	select {
	case r := <-done:
		assert.Less(t, r.at.Sub(produced), 2*time.Second, "answered by the append, not the 10s max wait")
		require.Len(t, r.resp.Topics[0].Partitions, 2)
		p1 := r.resp.Topics[0].Partitions[1]
		assert.Zero(t, p1.ErrorCode)
		assert.EqualValues(t, 2, p1.HighWatermark)
		assert.NotEmpty(t, p1.RecordBatches)
		assert.Empty(t, r.resp.Topics[0].Partitions[0].RecordBatches)
	case <-time.After(8 * time.Second):
		t.Fatal("parked fetch not answered after the produce")
	}
	assert.Zero(t, b.purg.Len())
}

func TestFetchAnswersAtMaxWait(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 1, nil))
	rc := dialRaw(t, b)
	const wait = 300 * time.Millisecond
	start := time.Now()
	resp := rc.roundTrip(fetchReq("t", 0, 1, int32(wait.Milliseconds())), 12).(*kmsg.FetchResponse)
	elapsed := time.Since(start)
	assert.GreaterOrEqual(t, elapsed, wait-10*time.Millisecond)
	assert.Less(t, elapsed, 5*time.Second)
	require.Len(t, resp.Topics, 1)
	assert.Zero(t, resp.Topics[0].Partitions[0].ErrorCode)
	assert.Empty(t, resp.Topics[0].Partitions[0].RecordBatches)
	// Zero-length, not null: librdkafka 2.0 cannot parse a null record set.
	assert.NotNil(t, resp.Topics[0].Partitions[0].RecordBatches)

	for _, v := range []int16{4, 11} {
		resp := rc.roundTrip(fetchReq("missing", 0, 0, 0), v).(*kmsg.FetchResponse)
		assert.NotNil(t, resp.Topics[0].Partitions[0].RecordBatches, "v%d errored partition", v)
	}
}

// TestFetchMinBytes: a fetch wanting more bytes than one small produce
// stays parked after it and completes with the second.
func TestFetchMinBytes(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 1, nil))
	one := makeBatch(1, 100, batch.NoProducer)
	done := make(chan *kmsg.FetchResponse, 1)
	fetcher := dialRaw(t, b)
	go func() {
		done <- fetcher.roundTrip(fetchReq("t", 0, int32(len(one)+1), 20_000), 12).(*kmsg.FetchResponse)
	}()
	require.Eventually(t, func() bool { return b.purg.Len() == 1 }, 5*time.Second, time.Millisecond)
	producer := dialRaw(t, b)
	code, _ := produceCode(t, producer, produceReq("t", 0, one), 7)
	require.Zero(t, code)
	// The produce notified the purgatory before it was answered, so the
	// fetch has already been tried against the new data, and stayed.
	require.Equal(t, 1, b.purg.Len(), "answered below fetch.min.bytes")
	select {
	case <-done:
		t.Fatal("answered below fetch.min.bytes")
	default:
	}
	code, _ = produceCode(t, producer, produceReq("t", 0, makeBatch(1, 100, batch.NoProducer)), 7)
	require.Zero(t, code)
	select {
	case resp := <-done:
		assert.Equal(t, 2*len(one), len(resp.Topics[0].Partitions[0].RecordBatches))
	case <-time.After(8 * time.Second):
		t.Fatal("not answered once fetch.min.bytes arrived")
	}
}

func TestFetchLimitsAndErrors(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 2, nil))
	rc := dialRaw(t, b)
	for range 5 {
		code, _ := produceCode(t, rc, produceReq("t", 0, makeBatch(1, 1000, batch.NoProducer)), 7)
		require.Zero(t, code)
	}
	code, _ := produceCode(t, rc, produceReq("t", 1, makeBatch(1, 1000, batch.NoProducer)), 7)
	require.Zero(t, code)

	// KIP-74: a partition max below one batch still returns one batch.
	req := fetchReq("t", 0, 0, 0, 0, 1)
	req.Topics[0].Partitions[0].PartitionMaxBytes = 10
	resp := rc.roundTrip(req, 12).(*kmsg.FetchResponse)
	p0 := resp.Topics[0].Partitions[0]
	_, rest, _, err := batch.Next(p0.RecordBatches)
	require.NoError(t, err)
	assert.Empty(t, rest, "exactly one batch")
	assert.NotEmpty(t, resp.Topics[0].Partitions[1].RecordBatches)

	// MaxBytes: the first partition overshoots, the second gets nothing.
	req = fetchReq("t", 0, 0, 0, 0, 1)
	req.MaxBytes = 10
	resp = rc.roundTrip(req, 12).(*kmsg.FetchResponse)
	assert.NotEmpty(t, resp.Topics[0].Partitions[0].RecordBatches)
	assert.Empty(t, resp.Topics[0].Partitions[1].RecordBatches)

	resp = rc.roundTrip(fetchReq("t", 99, 0, 0), 12).(*kmsg.FetchResponse)
	assert.Equal(t, kerr.OffsetOutOfRange.Code, resp.Topics[0].Partitions[0].ErrorCode)
	assert.EqualValues(t, 5, resp.Topics[0].Partitions[0].HighWatermark)

	resp = rc.roundTrip(fetchReq("missing", 0, 0, 0), 12).(*kmsg.FetchResponse)
	assert.Equal(t, kerr.UnknownTopicOrPartition.Code, resp.Topics[0].Partitions[0].ErrorCode)

	// v13+ by topic id.
	req = fetchReq("", 3, 0, 0)
	req.Topics[0].TopicID = b.topics.byName("t").id
	resp = rc.roundTrip(req, 13).(*kmsg.FetchResponse)
	require.Zero(t, resp.Topics[0].Partitions[0].ErrorCode)
	assert.NotEmpty(t, resp.Topics[0].Partitions[0].RecordBatches)
	req.Topics[0].TopicID = [16]byte{1}
	resp = rc.roundTrip(req, 13).(*kmsg.FetchResponse)
	assert.Equal(t, kerr.UnknownTopicID.Code, resp.Topics[0].Partitions[0].ErrorCode)

	// A fetch session we never created.
	req = fetchReq("t", 0, 0, 0)
	req.SessionID, req.SessionEpoch = 42, 1
	resp = rc.roundTrip(req, 12).(*kmsg.FetchResponse)
	assert.Equal(t, kerr.FetchSessionIDNotFound.Code, resp.ErrorCode)
}
