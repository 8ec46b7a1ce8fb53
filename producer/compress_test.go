package producer

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/compress"
	"github.com/skiffkit/skiff/kerr"
)

// TestCompressedManyPartitionsInOrder sends over many partitions with
// lz4 and zstd, whose batches are compressed on worker goroutines, while
// the broker fails some requests (retriable NOT_LEADER: the batches come
// back with their sequences, and the ones sent behind them are refused as
// out of order). kfake checks every batch's sequence against the
// partition's idempotent state, and Validate its CRC; the read-back
// checks each record arrives once, in order per partition. Every batch
// seen on the wire is compressed with the codec asked for.
func TestCompressedManyPartitionsInOrder(t *testing.T) {
	for _, codec := range []Compression{CompressionLZ4, CompressionZstd} {
		t.Run(codec.String(), func(t *testing.T) {
			const n, partitions = 6000, 24
			topic := "compressed-" + codec.String()
			c := newCluster(t, kfake.SeedTopics(partitions, topic))
			var mu sync.Mutex
			codecs := map[compress.Codec]int{}
			failed := 0
			c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				req := kreq.(*kmsg.ProduceRequest)
				mu.Lock()
				defer mu.Unlock()
				// Fail every 7th request of the first 100 as a moved
				// leader would: the batches come back for retry with
				// their sequences.
				if failed < 100 {
					failed++
					if failed%7 == 0 {
						return produceError(req, kerr.NotLeaderForPartition.Code), nil, true
					}
				}
				for _, rt := range req.Topics {
					for _, rp := range rt.Partitions {
						h, err := batch.Validate(rp.Records)
						if !assert.NoError(t, err) {
							continue
						}
						codecs[h.Codec()]++
					}
				}
				return nil, nil, false
			})
			p := newProducer(t, Config{Brokers: c.ListenAddrs(), Compression: codec, BatchSize: 2048, Linger: time.Millisecond, RetryBackoff: time.Millisecond})
			col := newCollector(t)
			var want []Record
			for i := range n {
				r := testRecord(topic, i)
				r.Key = fmt.Appendf(nil, "key-%d", i%97)
				want = append(want, r)
				require.NoError(t, col.send(context.Background(), p, r))
			}
			require.NoError(t, p.Flush(context.Background()))
			for _, r := range col.wait(t) {
				require.NoError(t, r.err)
			}
			checkReadBack(t, want, consume(t, c.ListenAddrs(), topic, n), partitions)
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, []compress.Codec{compress.Codec(codec)}, mapKeys(codecs), "batches on the wire")
		})
	}
}

func mapKeys[K comparable, V any](m map[K]V) []K {
	var out []K
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestCloseStopsCompressionWorkers closes a compressing producer whose
// broker holds every Produce, so batches are queued, compressing and in
// flight when Close gives up: every callback runs, and once Close returns
// no compression worker is left running.
func TestCloseStopsCompressionWorkers(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(8, "closez"))
	p, err := New(Config{Brokers: c.ListenAddrs(), Compression: CompressionZstd, BatchSize: 1024, Linger: time.Minute})
	require.NoError(t, err)
	// Warm up (metadata, producer id); SendSync would wait out the linger.
	require.NoError(t, p.Send(context.Background(), testRecord("closez", 0), nil))
	require.NoError(t, p.Flush(context.Background()))
	release := make(chan struct{})
	defer close(release)
	stallProduce(c, release)

	col := newCollector(t)
	for i := range 3000 {
		require.NoError(t, col.send(context.Background(), p, testRecord("closez", i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, p.Close(ctx), context.DeadlineExceeded)
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	assert.NotContains(t, stacks, "accum.(*compressor", "a compression worker outlived Close")
	results := col.wait(t)
	require.Len(t, results, 3000, "every callback ran")
	for _, r := range results {
		assert.ErrorIs(t, r.err, ErrClosed)
	}
}

// TestLingerDeadlinesWithoutWakeups: a batch opened while the sender sleeps
// toward an earlier linger deadline does not wake it (Accumulator.SleepUntil),
// yet is sent when the sender wakes; compressed (the worker wakes the
// sender) or not. In a synctest bubble a lost wake-up is a deadlock, not a
// slow test.
func TestLingerDeadlinesWithoutWakeups(t *testing.T) {
	// Not zstd: its shared encoder's channels, made in whichever bubble
	// used it first, may not be used from another bubble.
	for _, codec := range []Compression{CompressionNone, CompressionLZ4} {
		t.Run(codec.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const linger = 50 * time.Millisecond
				usePipeBroker(t, "lingered", 2)
				p, err := New(Config{Brokers: []string{"pipe:9092"}, Linger: linger, Compression: codec})
				require.NoError(t, err)
				defer func() { require.NoError(t, p.Close(context.Background())) }()
				// Warm up: metadata and producer id.
				require.NoError(t, p.Send(context.Background(), Record{Topic: "lingered", Value: []byte("w")}, nil))
				require.NoError(t, p.Flush(context.Background()))
				synctest.Wait()

				start := time.Now()
				acked := make(chan time.Duration, 2)
				cb := func(_ RecordMetadata, err error) {
					assert.NoError(t, err)
					acked <- time.Since(start)
				}
				require.NoError(t, p.Send(context.Background(), Record{Topic: "lingered", Partition: ToPartition(0), Value: []byte("a")}, cb))
				synctest.Wait() // the sender sleeps until start+linger
				time.Sleep(10 * time.Millisecond)
				require.NoError(t, p.Send(context.Background(), Record{Topic: "lingered", Partition: ToPartition(1), Value: []byte("b")}, cb))
				// Partition 0 is due at linger, when the sender wakes
				// (internal/accum/linger.go). Unlike Kafka's drain, the
				// request leaves partition 1's younger batch to wait out its
				// own linger (issue 14: tiny batches at 1,000 partitions).
				wait := func() time.Duration {
					select {
					case d := <-acked:
						return d
					case <-time.After(time.Minute): // virtual time: fires at once if the sender never wakes
						t.Fatal("a lingering batch was never sent")
						return 0
					}
				}
				first, second := wait(), wait()
				assert.Equal(t, linger, first, "sent when its linger ends")
				assert.Equal(t, 10*time.Millisecond+linger, second, "partition 1 waits its own linger")
			})
		})
	}
}
