package broker

import (
	"math"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
)

// batchesIn counts the record batches of a record set.
func batchesIn(t testing.TB, set []byte) int {
	t.Helper()
	n := 0
	for len(set) > 0 {
		_, rest, _, err := batch.Next(set)
		require.NoError(t, err)
		set = rest
		n++
	}
	return n
}

// TestFetchMaxBytesCap: fetch.max.bytes (KIP-541) caps a Fetch however
// much it asks for, over one partition and over several; only the first
// batch may exceed the cap (KIP-74), and then it comes alone.
func TestFetchMaxBytesCap(t *testing.T) {
	const capBytes = 64 << 10
	b := startBroker(t, Config{FetchMaxBytes: capBytes})
	require.NoError(t, b.CreateTopic("t", 3, nil))
	now := time.Now()
	small := makeBatch(10, 1000, batch.NoProducer) // ~10 KiB
	for part := range int32(2) {
		p := b.topics.partition("t", part)
		for range 40 { // ~400 KiB per partition, far above the cap
			_, err := p.log.Append(small, now)
			require.NoError(t, err)
		}
	}
	big := makeBatch(1, 2*capBytes, batch.NoProducer)
	_, err := b.topics.partition("t", 2).log.Append(big, now)
	require.NoError(t, err)
	_, err = b.topics.partition("t", 2).log.Append(small, now)
	require.NoError(t, err)

	rc := dialRaw(t, b)
	for _, tc := range []struct {
		name  string
		parts []int32
		// wantOne: the first batch alone exceeds the cap
		wantOne bool
	}{
		{"one partition", []int32{0}, false},
		{"two partitions", []int32{0, 1}, false},
		{"first batch larger than the cap", []int32{2, 0}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := fetchReq("t", 0, 0, 0, tc.parts...)
			req.MaxBytes = math.MaxInt32
			for i := range req.Topics[0].Partitions {
				req.Topics[0].Partitions[i].PartitionMaxBytes = math.MaxInt32
			}
			resp := rc.roundTrip(req, 12).(*kmsg.FetchResponse)
			total, batches := 0, 0
			for _, sp := range resp.Topics[0].Partitions {
				require.Zero(t, sp.ErrorCode)
				total += len(sp.RecordBatches)
				batches += batchesIn(t, sp.RecordBatches)
			}
			if tc.wantOne {
				assert.Equal(t, 1, batches, "the oversized first batch comes whole and alone")
				assert.Equal(t, len(big), total)
				return
			}
			assert.LessOrEqual(t, total, capBytes, "fetch.max.bytes caps the response")
			assert.Greater(t, total, capBytes-len(small), "the response fills up to the cap")
		})
	}

	// A client that sends its next fetch as soon as it read the previous
	// answer gets the whole cap every time: the answer it read no longer
	// counts as unwritten (it did, for a moment, when the writer took it
	// off the count only after the write returned).
	t.Run("back to back", func(t *testing.T) {
		req := fetchReq("t", 0, 0, 0)
		req.MaxBytes = math.MaxInt32
		req.Topics[0].Partitions[0].PartitionMaxBytes = math.MaxInt32
		for i := range 50 {
			resp := rc.roundTrip(req, 12).(*kmsg.FetchResponse)
			require.Greater(t, len(resp.Topics[0].Partitions[0].RecordBatches), capBytes-len(small), "fetch %d", i)
		}
	})
}

// TestPipelinedFetchesBounded: a client that pipelines fetches and does not
// read the answers makes the broker hold about two fetch.max.bytes of them
// (the write in progress and what waits behind it), not maxInFlight times
// that: fetches behind unwritten answers get only
// what is left (their first batch at least, KIP-74). The connection is a
// net.Pipe, which buffers nothing, so every answer not read is held by
// the broker.
func TestPipelinedFetchesBounded(t *testing.T) {
	const capBytes = 128 << 10
	b := startBroker(t, Config{FetchMaxBytes: capBytes})
	require.NoError(t, b.CreateTopic("t", 1, nil))
	p := b.topics.partition("t", 0)
	small := makeBatch(10, 1000, batch.NoProducer) // ~10 KiB
	for range 40 {
		_, err := p.log.Append(small, time.Now())
		require.NoError(t, err)
	}

	client, server := net.Pipe()
	t.Cleanup(func() { client.Close() })
	b.serveConn(server)
	sc := serverConn(t, b, client)
	req := fetchReq("t", 0, 0, 0)
	req.MaxBytes = math.MaxInt32
	req.Topics[0].Partitions[0].PartitionMaxBytes = math.MaxInt32
	var out []byte
	for i := range maxInFlight {
		out = append(out, frame(req, 12, int32(i))...)
	}
	go client.Write(out)
	// Every fetch answered and none written: the writer is blocked on the
	// pipe with all of them.
	require.Eventually(t, func() bool {
		return len(sc.inflight) == maxInFlight && len(sc.turn) == 0 && len(b.queue) == 0
	}, 10*time.Second, time.Millisecond)

	rc := &rawConn{t: t, c: client}
	var total int
	for range maxInFlight {
		body, err := rc.readFrame(10 * time.Second)
		require.NoError(t, err)
		total += len(body) + 4
	}
	// The write in progress (up to about one fetch.max.bytes), then one
	// full answer, then at most one batch for each one behind it.
	assert.LessOrEqual(t, total, 2*capBytes+maxInFlight*(len(small)+1024))
	assert.Greater(t, total, capBytes/2)
	assert.Zero(t, sc.unwritten.Load(), "every answer written")
}
