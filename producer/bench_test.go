package producer

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/internal/fastack"
)

// benchKeys are 16-byte keys spread over the partitions.
var benchKeys = func() [][]byte {
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key-%012d", i))
	}
	return keys
}()

var benchValue = make([]byte, 100)

// BenchmarkProduce compares skiff with franz-go's kgo, both producing b.N
// records (16-byte keys, 100-byte values, idempotent, acks=all; no
// callback, or for skiff-callback one shared callback) from one goroutine to the same in-process fastack sink that
// acks at once, so the clients' own costs dominate.
//
//	go test -run '^$' -bench BenchmarkProduce -benchmem -count 5 ./producer/
func BenchmarkProduce(b *testing.B) {
	for _, client := range []string{"skiff", "skiff-callback", "kgo"} {
		for _, partitions := range []int{1, 16} {
			for _, mode := range []struct {
				name   string
				linger time.Duration
			}{{"linger5ms", 5 * time.Millisecond}, {"linger0", 0}} {
				b.Run(fmt.Sprintf("client=%s/partitions=%d/%s", client, partitions, mode.name), func(b *testing.B) {
					sink, addr := fastack.Start(b, partitions)
					switch client {
					case "skiff":
						benchSkiff(b, addr, mode.linger, nil)
					case "skiff-callback":
						var acked atomic.Int64
						benchSkiff(b, addr, mode.linger, func(_ RecordMetadata, err error) {
							if err == nil {
								acked.Add(1)
							}
						})
						if acked.Load() != int64(b.N) {
							b.Fatalf("%d of %d records acknowledged", acked.Load(), b.N)
						}
					case "kgo":
						benchKgo(b, addr, mode.linger)
					}
					if got := sink.Records(); got < int64(b.N) {
						b.Fatalf("sink got %d records, want %d", got, b.N)
					}
					b.ReportMetric(float64(sink.Records())/float64(max(sink.Batches(), 1)), "records/batch")
				})
			}
		}
	}
}

// benchSkiff sends b.N records with cb (one func value for all, as an
// application passing a method value would).
func benchSkiff(b *testing.B, addr string, linger time.Duration, cb Callback) {
	if linger == 0 {
		linger = NoLinger
	}
	p, err := New(Config{Brokers: []string{addr}, Linger: linger, BatchSize: 16384})
	require.NoError(b, err)
	defer p.Close(context.Background())
	ctx := context.Background()
	// Warm up: metadata, producer id, connection.
	_, err = p.SendSync(ctx, Record{Topic: "bench", Key: benchKeys[0], Value: benchValue})
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if err := p.Send(ctx, Record{Topic: "bench", Key: benchKeys[i&1023], Value: benchValue}, cb); err != nil {
			b.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

func benchKgo(b *testing.B, addr string, linger time.Duration) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ProducerLinger(linger),
		kgo.ProducerBatchMaxBytes(16384),
		kgo.DefaultProduceTopic("bench"),
	)
	require.NoError(b, err)
	defer cl.Close()
	ctx := context.Background()
	require.NoError(b, cl.ProduceSync(ctx, &kgo.Record{Key: benchKeys[0], Value: benchValue}).FirstErr())
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		cl.Produce(ctx, &kgo.Record{Key: benchKeys[i&1023], Value: benchValue}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// TestHeapBoundedWhenBrokerStalls fills the producer while the broker
// holds every Produce, and checks that the heap grows by about
// buffer.memory, not by what the application tried to send.
func TestHeapBoundedWhenBrokerStalls(t *testing.T) {
	const bufferMemory = 8 << 20
	c := newCluster(t, kfake.SeedTopics(4, "heap"))
	p := newProducer(t, Config{Brokers: c.ListenAddrs(), BufferMemory: bufferMemory})
	_, err := p.SendSync(context.Background(), Record{Topic: "heap", Value: []byte("warm")})
	require.NoError(t, err)
	release := make(chan struct{})
	defer close(release)
	stallProduce(c, release)

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	value := make([]byte, 1000)
	rejected := 0
	// Try to send four times buffer.memory.
	// Try to send up to four times buffer.memory; every rejection waits
	// max.block, so stop after a few.
	for i := 0; i < 4*bufferMemory/len(value) && rejected < 20; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		err := p.Send(ctx, Record{Topic: "heap", Key: benchKeys[i&1023], Value: value}, nil)
		cancel()
		if err != nil {
			require.ErrorIs(t, err, ErrBufferFull)
			rejected++
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("heap in use grew by %d KiB (buffer.memory %d KiB), %d sends rejected", grew>>10, bufferMemory>>10, rejected)
	assert.Positive(t, rejected, "the buffer filled")
	assert.Less(t, grew, int64(bufferMemory+4<<20), "heap bounded by buffer.memory plus a small constant")
}
