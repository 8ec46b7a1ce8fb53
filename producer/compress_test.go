package producer

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/compress"
	"github.com/skiffkit/skiff/internal/kerr"
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
