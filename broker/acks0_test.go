package broker

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/internal/batch"
)

// TestAcksZeroThenEOF: a client that writes acks=0 produce requests and at
// once closes its socket, fully or only its write side, has every complete
// request appended. The broker used to shut the connection down on EOF and
// then throw away the requests still queued for its workers.
func TestAcksZeroThenEOF(t *testing.T) {
	b := startBroker(t, Config{})
	// Half-closed rounds write to partition 0, fully closed ones to 1, so
	// the exact count at each half-close is not blurred by a closed
	// connection whose requests are still being handled.
	require.NoError(t, b.CreateTopic("t", 2, nil))
	half, full := b.topics.partition("t", 0), b.topics.partition("t", 1)
	const (
		rounds      = 50
		reqPerRound = 4
		perBatch    = 5
	)
	var wantHalf, wantFull int64
	for round := range rounds {
		halfClose := round%2 == 1
		part := int32(0)
		if !halfClose {
			part = 1
		}
		var out []byte
		for i := range reqPerRound {
			req := produceReq("t", part, makeBatch(perBatch, 16, batch.NoProducer))
			req.Acks = 0
			out = append(out, frame(req, 9, int32(i))...)
		}
		// A partial frame after the complete ones: it is lost with the
		// connection, the requests before it are not.
		out = append(out, 0, 0, 1, 0, 0)
		c, err := net.DialTimeout("tcp", b.Addr(), 5*time.Second)
		require.NoError(t, err)
		_, err = c.Write(out)
		require.NoError(t, err)
		if !halfClose {
			wantFull += reqPerRound * perBatch
			c.Close()
			continue
		}
		wantHalf += reqPerRound * perBatch
		// Half-close: the broker closes its side once it has handled
		// every request, so the stored count is exact at EOF.
		require.NoError(t, c.(*net.TCPConn).CloseWrite())
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.Copy(io.Discard, c)
		c.Close()
		require.NoError(t, err, "the broker closes the connection after the last request")
		assert.Zero(t, n, "acks=0 gets no answer")
		require.Equal(t, wantHalf, half.log.EndOffset(), "round %d: every record before the EOF is stored", round)
	}
	// A fully closed connection gives no event to wait on.
	require.Eventually(t, func() bool { return full.log.EndOffset() >= wantFull }, 10*time.Second, 5*time.Millisecond,
		"stored %d of %d records sent before a close", full.log.EndOffset(), wantFull)
	assert.Equal(t, wantFull, full.log.EndOffset())
}

// TestAcksZeroKgoClose: the same as a user sees it: a kgo client at acks=0
// produces, flushes and closes, 50 times; the broker stores every record.
func TestAcksZeroKgoClose(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 1, nil))
	p := b.topics.partition("t", 0)
	const rounds, perRound = 50, 20
	for range rounds {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RequiredAcks(kgo.NoAck()),
			kgo.DisableIdempotentWrite(), kgo.ProducerLinger(0), kgo.DefaultProduceTopic("t"))
		require.NoError(t, err)
		for i := range perRound {
			cl.Produce(ctx(t), &kgo.Record{Value: []byte{byte(i)}}, func(_ *kgo.Record, err error) {
				assert.NoError(t, err)
			})
		}
		require.NoError(t, cl.Flush(ctx(t)))
		cl.Close()
	}
	// A closed connection gives no event to wait on.
	require.Eventually(t, func() bool { return p.log.EndOffset() >= rounds*perRound }, 10*time.Second, 5*time.Millisecond,
		"stored %d of %d records", p.log.EndOffset(), rounds*perRound)
	assert.EqualValues(t, rounds*perRound, p.log.EndOffset())
}
