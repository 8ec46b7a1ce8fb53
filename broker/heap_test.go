package broker

import (
	"context"
	"flag"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// soak enables TestHeapSoak, which writes 2 GiB to disk:
//
//	go test -run HeapSoak -v ./broker/ -args -soak
var soak = flag.Bool("soak", false, "run TestHeapSoak: write 2 GiB through the broker and check its heap")

// heapSampler writes value-sized records through an in-process broker with
// a kgo producer (16 KiB batches, acks=all) and measures the process's heap
// after each step of bytes written.
type heapSampler struct {
	cl    *kgo.Client
	value []byte
}

func newHeapSampler(tb testing.TB) *heapSampler {
	tb.Helper()
	br := startBroker(tb, Config{Logger: discardLogger()})
	require.NoError(tb, br.CreateTopic("heap", 1, nil))
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()), kgo.DefaultProduceTopic("heap"),
		kgo.ProducerBatchMaxBytes(16<<10), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	require.NoError(tb, err)
	tb.Cleanup(cl.Close)
	// Uncompressed 1000-byte values: the log grows by what is written.
	return &heapSampler{cl: cl, value: make([]byte, 1000)}
}

// write produces n bytes of values, waits for every acknowledgement, and
// returns HeapInuse after a GC. The producer is flushed first, so what it
// buffers is not counted: what remains is the broker's (and the idle
// client's) steady state.
func (h *heapSampler) write(tb testing.TB, n int64) uint64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var failed atomic.Int64
	cb := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
		}
	}
	for written := int64(0); written < n; written += int64(len(h.value)) {
		h.cl.Produce(ctx, &kgo.Record{Value: h.value}, cb)
	}
	require.NoError(tb, h.cl.Flush(ctx))
	require.Zero(tb, failed.Load(), "records failed")
	// Two GCs: the first moves sync.Pool contents (request and fetch
	// buffers, which are reused, not grown) to the victim cache, the
	// second frees them, so the sample is what the broker holds on to.
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestHeapSoak writes 2 GiB through the broker, sampling the heap every
// 256 MiB: the log lives on disk (reads pread from the segments, the sparse
// indexes cost 0.5% of the log), so the heap must stay below 100 MiB and
// not grow with the log.
func TestHeapSoak(t *testing.T) {
	if !*soak {
		t.Skip("writes 2 GiB; run with -args -soak")
	}
	const (
		step  = 256 << 20
		total = 2 << 30
		limit = 100 << 20
	)
	h := newHeapSampler(t)
	var samples []uint64
	for written := int64(step); written <= total; written += step {
		in := h.write(t, step)
		samples = append(samples, in)
		t.Logf("after %4d MiB: HeapInuse %.1f MiB", written>>20, float64(in)/(1<<20))
		require.Less(t, in, uint64(limit), "HeapInuse after %d MiB", written>>20)
	}
	at512, last := samples[1], samples[len(samples)-1]
	require.LessOrEqual(t, float64(last), 1.2*float64(at512),
		"heap grows with the log: %.1f MiB at 512 MiB, %.1f MiB at 2 GiB", float64(at512)/(1<<20), float64(last)/(1<<20))
}

// BenchmarkHeap256MiB is the quick variant of TestHeapSoak: it writes
// 256 MiB and reports HeapInuse afterwards. It writes 256 MiB once however
// large b.N is, so `-bench .` with a large -benchtime does not fill the
// disk; ns/op is only meaningful at -benchtime 1x.
//
//	go test -run '^$' -bench Heap256MiB -benchtime 1x ./broker/
func BenchmarkHeap256MiB(b *testing.B) {
	h := newHeapSampler(b)
	in := h.write(b, 256<<20)
	b.ReportMetric(float64(in)/(1<<20), "heap-MiB")
	b.SetBytes(int64(256<<20) / int64(b.N))
}
