package producer

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/internal/fastack"
)

// benchKeys are 16-byte keys spread over the partitions: 10,000 of them,
// so that at 1,000 partitions every partition gets about ten keys (the
// scale case of issue 14).
var benchKeys = func() [][]byte {
	keys := make([][]byte, 10_000)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key-%012d", i))
	}
	return keys
}()

// benchRandomValues are 100-byte values of seeded random bytes: what
// compression cannot shrink, so the uncompressed cases measure the
// clients, not how well zeros compress.
var benchRandomValues = func() [][]byte {
	rng := rand.New(rand.NewChaCha8([32]byte{'s', 'k', 'i', 'f', 'f'}))
	values := make([][]byte, 1024)
	for i := range values {
		values[i] = make([]byte, 100)
		for j := range values[i] {
			values[i][j] = byte(rng.Uint32())
		}
	}
	return values
}()

// benchJSONValues are a fixed corpus of JSON-like order records (about
// 150 bytes, fields varying from record to record) for the compressed
// cases: text that compresses the way application payloads do.
var benchJSONValues = func() [][]byte {
	rng := rand.New(rand.NewChaCha8([32]byte{'j', 's', 'o', 'n'}))
	items := []string{"boat", "oar", "sail", "rope", "anchor", "buoy", "compass", "lantern"}
	status := []string{"new", "paid", "packed", "shipped", "delivered"}
	values := make([][]byte, 1024)
	for i := range values {
		values[i] = fmt.Appendf(nil,
			`{"order_id":%d,"customer":"customer-%05d","item":%q,"count":%d,"price_cents":%d,"status":%q,"created":"2026-%02d-%02dT%02d:%02d:%02dZ"}`,
			1_000_000+i, rng.IntN(50_000), items[rng.IntN(len(items))], 1+rng.IntN(9), 100+rng.IntN(99_900),
			status[rng.IntN(len(status))], 1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60))
	}
	return values
}()

// benchCodec is one compression setting, stated explicitly for both
// clients (kgo would otherwise compress with snappy while skiff sends
// raw): the same codec at the same level, over the same values.
type benchCodec struct {
	name   string
	skiff  Compression
	kgo    kgo.CompressionCodec
	values [][]byte
}

var benchCodecs = []benchCodec{
	{"none", CompressionNone, kgo.NoCompression(), benchRandomValues},
	// Both use pierrec/lz4's fast level and klauspost/zstd's SpeedDefault
	// (zstd level 3, Kafka's default).
	{"lz4", CompressionLZ4, kgo.Lz4Compression(), benchJSONValues},
	{"zstd", CompressionZstd, kgo.ZstdCompression().WithLevel(int(zstd.SpeedDefault)), benchJSONValues},
}

// Settings both clients get explicitly. acks=all and idempotence are both
// clients' defaults; kgo fixes its idempotent in-flight limit at 5 per
// broker (it has no setting for it), so skiff's MaxInFlight is set to 5.
const (
	benchBatchSize   = 16384    // batch.size / ProducerBatchMaxBytes
	benchBufferBytes = 32 << 20 // buffer.memory / MaxBufferedBytes
	benchMaxInFlight = 5
)

// BenchmarkProduce compares skiff with franz-go's kgo. Each sub-benchmark
// sends b.N records (16-byte keys, 10,000 distinct; 100 random bytes as values uncompressed,
// the JSON-like corpus with lz4 and zstd) from one goroutine to the same
// in-process fastack sink, which acknowledges at once, so the clients' own
// costs dominate. Both are configured alike: compression, acks=all,
// idempotence, linger, batch size, buffer size and in-flight limit. skiff
// runs with no callback, or (skiff-callback) one shared callback per
// record; kgo with none. A warm-up record (metadata, producer id,
// connection) goes first and is not counted; the sink must then receive
// exactly b.N records. An op is one record: allocs/op is allocations per
// record, also reported as allocs/record.
//
//	go test -run '^$' -bench BenchmarkProduce -benchmem -count 5 ./producer/
func BenchmarkProduce(b *testing.B) {
	for _, codec := range benchCodecs {
		for _, client := range []string{"skiff", "skiff-callback", "kgo"} {
			for _, partitions := range []int{1, 16, 1000} {
				for _, mode := range []struct {
					name   string
					linger time.Duration
				}{{"linger5ms", 5 * time.Millisecond}, {"linger0", 0}} {
					name := fmt.Sprintf("codec=%s/client=%s/partitions=%d/%s", codec.name, client, partitions, mode.name)
					b.Run(name, func(b *testing.B) {
						sink, addr := fastack.Start(b, partitions)
						var acked atomic.Int64
						switch client {
						case "skiff":
							benchSkiff(b, addr, codec, mode.linger, nil)
						case "skiff-callback":
							benchSkiff(b, addr, codec, mode.linger, func(_ RecordMetadata, err error) {
								if err == nil {
									acked.Add(1)
								}
							})
							if acked.Load() != int64(b.N) {
								b.Fatalf("%d of %d records acknowledged", acked.Load(), b.N)
							}
						case "kgo":
							benchKgo(b, addr, codec, mode.linger)
						}
						// Minus the warm-up record and its batch.
						got, batches := sink.Records()-1, sink.Batches()-1
						if got != int64(b.N) {
							b.Fatalf("sink got %d records, want %d", got, b.N)
						}
						b.ReportMetric(float64(got)/float64(max(batches, 1)), "records/batch")
					})
				}
			}
		}
	}
}

// benchRun times send(i) for i in [0, b.N) followed by flush, and reports
// records/s and allocs/record over exactly that part.
func benchRun(b *testing.B, send func(i int), flush func() error) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		send(i)
	}
	if err := flush(); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "allocs/record")
}

// benchSkiff sends b.N records with cb (one func value for all, as an
// application passing a method value would).
func benchSkiff(b *testing.B, addr string, codec benchCodec, linger time.Duration, cb Callback) {
	if linger == 0 {
		linger = NoLinger
	}
	p, err := New(Config{
		Brokers:      []string{addr},
		Acks:         AcksAll,
		Compression:  codec.skiff,
		Linger:       linger,
		BatchSize:    benchBatchSize,
		BufferMemory: benchBufferBytes,
		MaxInFlight:  benchMaxInFlight,
		// Idempotence is on: DisableIdempotence stays false.
	})
	require.NoError(b, err)
	defer p.Close(context.Background())
	ctx := context.Background()
	_, err = p.SendSync(ctx, Record{Topic: "bench", Key: benchKeys[0], Value: codec.values[0]})
	require.NoError(b, err)
	benchRun(b, func(i int) {
		if err := p.Send(ctx, Record{Topic: "bench", Key: benchKeys[i%len(benchKeys)], Value: codec.values[i&1023]}, cb); err != nil {
			b.Fatal(err)
		}
	}, func() error { return p.Flush(ctx) })
}

func benchKgo(b *testing.B, addr string, codec benchCodec, linger time.Duration) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.DefaultProduceTopic("bench"),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(codec.kgo),
		kgo.ProducerLinger(linger),
		kgo.ProducerBatchMaxBytes(benchBatchSize),
		kgo.MaxBufferedBytes(benchBufferBytes),
		// Bound by bytes only, as skiff's buffer.memory is (kgo's default
		// also caps the count at 50,000 records).
		kgo.MaxBufferedRecords(math.MaxInt32),
		// Idempotence is on (no DisableIdempotentWrite); with it kgo
		// allows 5 requests in flight per broker, like benchMaxInFlight.
	)
	require.NoError(b, err)
	defer cl.Close()
	ctx := context.Background()
	require.NoError(b, cl.ProduceSync(ctx, &kgo.Record{Key: benchKeys[0], Value: codec.values[0]}).FirstErr())
	benchRun(b, func(i int) {
		cl.Produce(ctx, &kgo.Record{Key: benchKeys[i%len(benchKeys)], Value: codec.values[i&1023]}, nil)
	}, func() error { return cl.Flush(ctx) })
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
