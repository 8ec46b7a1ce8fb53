package producer

import (
	"context"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// failProduce answers the next n Produce requests with code for every
// partition, without kfake handling them.
func failProduce(c *kfake.Cluster, n int32, code int16) *atomic.Int32 {
	var seen atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		if seen.Add(1) > n {
			c.DropControl()
			return nil, nil, false
		}
		c.KeepControl()
		req := kreq.(*kmsg.ProduceRequest)
		return produceError(req, code), nil, true
	})
	return &seen
}

// countInitProducerID counts InitProducerId requests without handling them.
func countInitProducerID(c *kfake.Cluster) *atomic.Int32 {
	var n atomic.Int32
	c.ControlKey(int16(kmsg.InitProducerID), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		n.Add(1)
		return nil, nil, false
	})
	return &n
}

// TestLostProducerStateBumpsEpoch answers the first batches of a fresh
// producer as if the broker had lost its state (KIP-360): the producer
// must bump its epoch, restart sequences and deliver everything once.
func TestLostProducerStateBumpsEpoch(t *testing.T) {
	for _, code := range []int16{kerr.UnknownProducerID.Code, kerr.OutOfOrderSequenceNumber.Code} {
		t.Run(kerr.ForCode(code).(*kerr.Error).Message, func(t *testing.T) {
			const n = 500
			c := newCluster(t, kfake.SeedTopics(2, "kip360"))
			inits := countInitProducerID(c)
			failProduce(c, 1, code)
			p := newProducer(t, Config{Brokers: c.ListenAddrs(), BatchSize: 1024, RetryBackoff: time.Millisecond})
			col := newCollector(t)
			var want []Record
			for i := range n {
				r := testRecord("kip360", i)
				want = append(want, r)
				require.NoError(t, col.send(context.Background(), p, r))
			}
			require.NoError(t, p.Flush(context.Background()))
			for _, r := range col.wait(t) {
				require.NoError(t, r.err)
			}
			assert.GreaterOrEqual(t, inits.Load(), int32(2), "the epoch was bumped")
			checkReadBack(t, want, consume(t, c.ListenAddrs(), "kip360", n), 2)
		})
	}
}

func TestDeliveryTimeoutFailsThenRecovers(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "dt"))
	inits := countInitProducerID(c)
	p := newProducer(t, Config{
		Brokers:         c.ListenAddrs(),
		RequestTimeout:  100 * time.Millisecond,
		DeliveryTimeout: 300 * time.Millisecond,
		RetryBackoff:    10 * time.Millisecond,
	})
	_, err := p.SendSync(context.Background(), testRecord("dt", 0))
	require.NoError(t, err)
	failed := failProduce(c, 1<<30, kerr.NotLeaderForPartition.Code)
	start := time.Now()
	_, err = p.SendSync(context.Background(), testRecord("dt", 1))
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrDeliveryTimeout)
	assert.ErrorIs(t, err, kerr.NotLeaderForPartition, "the last error is kept")
	assert.Contains(t, err.Error(), "produce dt[0]")
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	assert.Greater(t, failed.Load(), int32(1), "retried until the deadline")

	failed.Store(1 << 30) // the control drops itself on its next call
	md, err := p.SendSync(context.Background(), testRecord("dt", 2))
	require.NoError(t, err)
	assert.Equal(t, int64(1), md.Offset, "exactly the records acknowledged are in the log")
	assert.GreaterOrEqual(t, inits.Load(), int32(2), "a sequence gap forces an epoch bump")
}

func TestNoRetries(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "nr"))
	p := newProducer(t, Config{Brokers: c.ListenAddrs(), Retries: -1})
	_, err := p.SendSync(context.Background(), testRecord("nr", 0))
	require.NoError(t, err)
	failProduce(c, 1, kerr.NotLeaderForPartition.Code)
	_, err = p.SendSync(context.Background(), testRecord("nr", 1))
	assert.ErrorIs(t, err, kerr.NotLeaderForPartition)
	assert.Contains(t, err.Error(), "retries (0) exhausted")
}

func TestFatalErrorFailsBatch(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "fatal"))
	p := newProducer(t, Config{Brokers: c.ListenAddrs()})
	failProduce(c, 1, kerr.TopicAuthorizationFailed.Code)
	_, err := p.SendSync(context.Background(), testRecord("fatal", 0))
	require.Error(t, err)
	assert.ErrorIs(t, err, kerr.TopicAuthorizationFailed)
	assert.Contains(t, err.Error(), "produce fatal[0]: ")
	var ke *kerr.Error
	require.True(t, errors.As(err, &ke))
	assert.False(t, ke.Retriable)
	// The producer keeps working afterwards.
	_, err = p.SendSync(context.Background(), testRecord("fatal", 1))
	require.NoError(t, err)
}

type countingHooks struct {
	buffered, sent, responses, done atomic.Int64
}

func (h *countingHooks) OnRecordBuffered(string, int32, int)           { h.buffered.Add(1) }
func (h *countingHooks) OnBatchSent(string, int32, int, int)           { h.sent.Add(1) }
func (h *countingHooks) OnProduceResponse(int32, time.Duration, error) { h.responses.Add(1) }
func (h *countingHooks) OnBatchDone(_ string, _ int32, n int, err error) {
	if err == nil {
		h.done.Add(int64(n))
	}
}

func TestHooks(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(2, "hooks"))
	h := &countingHooks{}
	p := newProducer(t, Config{Brokers: c.ListenAddrs(), Hooks: []Hook{h}})
	for i := range 100 {
		require.NoError(t, p.Send(context.Background(), testRecord("hooks", i), nil))
	}
	require.NoError(t, p.Flush(context.Background()))
	assert.Equal(t, int64(100), h.buffered.Load())
	assert.Equal(t, int64(100), h.done.Load())
	assert.Positive(t, h.sent.Load())
	assert.Positive(t, h.responses.Load())

	_, err := New(Config{Brokers: c.ListenAddrs(), Hooks: []Hook{42}})
	assert.ErrorContains(t, err, "implements no Hook interface")
}

// TestMessageTooLargeSplits has the broker refuse any batch of more than
// eight records with MESSAGE_TOO_LARGE: the producer splits them until they
// fit and delivers every record once, in order.
func TestMessageTooLargeSplits(t *testing.T) {
	const n = 40
	c := newCluster(t, kfake.SeedTopics(1, "split"))
	var refused atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.ProduceRequest)
		big := false
		for _, rt := range req.Topics {
			for _, rp := range rt.Partitions {
				if len(rp.Records) >= 61 && binary.BigEndian.Uint32(rp.Records[57:]) > 8 {
					big = true
				}
			}
		}
		if !big {
			return nil, nil, false
		}
		refused.Add(1)
		return produceError(req, kerr.MessageTooLarge.Code), nil, true
	})
	p := newProducer(t, Config{Brokers: c.ListenAddrs(), Linger: 10 * time.Second, RetryBackoff: time.Millisecond, Compression: CompressionGzip})
	col := newCollector(t)
	var want []Record
	for i := range n {
		r := testRecord("split", i)
		want = append(want, r)
		require.NoError(t, col.send(context.Background(), p, r))
	}
	require.NoError(t, p.Flush(context.Background()))
	for _, r := range col.wait(t) {
		require.NoError(t, r.err)
	}
	assert.GreaterOrEqual(t, refused.Load(), int32(3), "40 -> 20 -> 10 -> 5 records per batch")
	checkReadBack(t, want, consume(t, c.ListenAddrs(), "split", n), 1)

	// A single record too large for the broker cannot be split: it fails.
	refusedBefore := refused.Load()
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.ProduceRequest)
		return produceError(req, kerr.MessageTooLarge.Code), nil, true
	})
	errc := make(chan error, 1)
	require.NoError(t, p.Send(context.Background(), testRecord("split", n), func(_ RecordMetadata, err error) { errc <- err }))
	require.NoError(t, p.Flush(context.Background())) // linger is long
	assert.ErrorIs(t, <-errc, kerr.MessageTooLarge)
	assert.Equal(t, refusedBefore, refused.Load())
}
