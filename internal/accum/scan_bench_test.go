package accum

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkWakeupScan is what a sender wake-up costs the accumulator when
// every partition holds a young batch and none is due yet, the common
// case at 1,000 partitions (issue 14): Expire, Ready, and a Drain that
// finds nothing. An op is one wake-up.
//
//	go test -run '^$' -bench WakeupScan -benchmem ./internal/accum/
func BenchmarkWakeupScan(b *testing.B) {
	for _, partitions := range []int{3, 1000} {
		b.Run(fmt.Sprintf("partitions=%d", partitions), func(b *testing.B) {
			// A leader lookup as cheap as the producer's leaderCache.
			leader := func(string, int32) (int32, bool) { return 1, true }
			a := newAcc(b, Config{Linger: time.Hour, BufferMemory: 64 << 20, Leader: leader})
			for p := range partitions {
				require.NoError(b, a.Append(context.Background(), "t", int32(p), rec(p, nil)))
			}
			now := time.Now()
			var nodes []int32
			var out []*Batch[*int]
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				out = a.Expire(now, out[:0])
				nodes, _, _ = a.Ready(now, nodes[:0])
				out = a.Drain(1, 1<<20, now, out[:0])
			}
			if len(nodes) > 0 || len(out) > 0 {
				b.Fatal("a young batch was due")
			}
		})
	}
}

// BenchmarkAppendWide is the append path alone, records spread over the
// partitions as keyed records are (16-byte keys, 100-byte values, a
// callback each): at 1,000 partitions every append finds its partition
// and batch cold in the cache. Every 20,000 records a sender's worth of
// Drain and Release runs, outside the timing. An op is one record.
//
//	go test -run '^$' -bench AppendWide -benchmem ./internal/accum/
func BenchmarkAppendWide(b *testing.B) {
	for _, partitions := range []int{3, 1000} {
		b.Run(fmt.Sprintf("partitions=%d", partitions), func(b *testing.B) {
			leader := func(string, int32) (int32, bool) { return 1, true }
			a := newAcc(b, Config{Linger: time.Hour, BufferMemory: 256 << 20, Leader: leader})
			value := make([]byte, 100)
			keys := make([][]byte, 1024)
			for i := range keys {
				keys[i] = fmt.Appendf(nil, "key-%012d", i)
			}
			cb := func(*int, error) {}
			drainAll := func() {
				a.BeginFlush()
				for {
					bs := a.Drain(1, 64<<20, time.Now(), nil)
					if len(bs) == 0 {
						break
					}
					for _, x := range bs {
						a.Done(x, true)
						a.Release(x)
					}
				}
				a.EndFlush()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				r := Record[*int]{Timestamp: int64(i), Key: keys[i&1023], Value: value, Callback: cb}
				if err := a.Append(context.Background(), "t", int32((i*7919)%partitions), &r); err != nil {
					b.Fatal(err)
				}
				if i%20_000 == 19_999 {
					b.StopTimer()
					drainAll()
					b.StartTimer()
				}
			}
		})
	}
}
