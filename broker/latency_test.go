package broker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
)

// TestAppendAnswersParkedFetchesBeforeAck: produce→consume latency rests
// on the append itself completing parked fetches (Kafka's
// DelayedFetch.tryComplete on the append path), never a timer or a poll.
// The append's Notify runs before the produce answer is built, so once the
// producer holds its acks=1 answer the purgatory is already empty and the
// fetch answers, with the new batch, are queued to their connections.
func TestAppendAnswersParkedFetchesBeforeAck(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("lat", 1, nil))
	const fetchers = 3
	results := make(chan *kmsg.FetchResponse, fetchers)
	for range fetchers {
		rc := dialRaw(t, b)
		go func() {
			// An hour of max wait: only the append can answer in time.
			results <- rc.roundTrip(fetchReq("lat", 0, 1, 3_600_000), 12).(*kmsg.FetchResponse)
		}()
	}
	require.Eventually(t, func() bool { return b.purg.Len() == fetchers }, 5*time.Second, time.Millisecond, "fetches parked")

	producer := dialRaw(t, b)
	req := produceReq("lat", 0, makeBatch(3, 50, batch.NoProducer))
	req.Acks = 1
	code, _ := produceCode(t, producer, req, 9)
	require.Zero(t, code)
	assert.Zero(t, b.purg.Len(), "the append answered every parked fetch before the produce answer")
	for range fetchers {
		select {
		case resp := <-results:
			p := resp.Topics[0].Partitions[0]
			assert.Zero(t, p.ErrorCode)
			assert.EqualValues(t, 3, p.HighWatermark)
			assert.NotEmpty(t, p.RecordBatches)
		case <-time.After(10 * time.Second):
			t.Fatal("a parked fetch was not answered by the append")
		}
	}
}
