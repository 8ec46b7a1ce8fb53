package log

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/skiffkit/skiff/internal/batch"
)

// batch16K is one uncompressed batch of 16 records of 1 KiB, about 16 KiB.
func batch16K(b *testing.B, pid int64) []byte {
	return makeBatch(b, batchSpec{records: 16, valueSize: 1000, pid: pid}, "bench")
}

// BenchmarkAppend measures Append of 16 KiB batches into the page cache
// (no fsync): validation (CRC + record structure), the producer check, one
// pwrite, index upkeep.
func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct {
		name     string
		pid      int64
		prealloc bool
	}{{"plain", -1, true}, {"idempotent", 1, true}, {"idempotent/prealloc=off", 1, false}} {
		b.Run(bc.name, func(b *testing.B) {
			defer func(was bool) { preallocEnabled = was }(preallocEnabled)
			preallocEnabled = bc.prealloc
			l, err := Open(b.TempDir(), Config{SegmentBytes: 256 << 20, RetentionMs: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			set := batch16K(b, bc.pid)
			b.SetBytes(int64(len(set)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for i := 0; i < b.N; i++ {
				if bc.pid >= 0 {
					// Costs one CRC of the batch, as a producer's retry would.
					batch.SetProducer(set, bc.pid, 0, int32(i*16))
				}
				if _, err := l.Append(set, t0); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportCPU(b, cpu)
			b.ReportMetric(float64(b.N)*16/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkAppendTransactional appends transactions of 1,000 records (63
// batches of 16 records) of one producer, each ended by a COMMIT marker:
// the transactional path of Append plus the marker's cost per record.
func BenchmarkAppendTransactional(b *testing.B) {
	l, err := Open(b.TempDir(), Config{SegmentBytes: 256 << 20, RetentionMs: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	set := makeBatch(b, batchSpec{records: 16, valueSize: 1000, pid: 1, txn: true}, "bench")
	const batchesPerTxn = 1000 / 16
	b.SetBytes(int64(len(set)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch.SetProducer(set, 1, 0, int32(i*16))
		if _, err := l.Append(set, t0); err != nil {
			b.Fatal(err)
		}
		if i%batchesPerTxn == batchesPerTxn-1 {
			if _, err := l.AppendMarker(Marker{ProducerID: 1, Commit: true}, t0); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*16/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkAppendSync is Append followed by Sync from one goroutine: the
// latency of acks=all on this disk without any group commit sharing.
func BenchmarkAppendSync(b *testing.B) {
	l, err := Open(b.TempDir(), Config{RetentionMs: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	set := batch16K(b, -1)
	b.SetBytes(int64(len(set)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := l.Append(set, t0); err != nil {
			b.Fatal(err)
		}
		if _, err := l.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRead reads from random offsets of a 64 MiB log through the
// sparse index into a reused buffer: one batch (a consumer at the tail
// with small fetches) and 1 MiB (a catching-up consumer).
func BenchmarkRead(b *testing.B) {
	l, err := Open(b.TempDir(), Config{SegmentBytes: 16 << 20, RetentionMs: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	set := batch16K(b, -1)
	for l.Size() < 64<<20 {
		if _, err := l.Append(set, t0); err != nil {
			b.Fatal(err)
		}
	}
	end := l.EndOffset()
	for _, bc := range []struct {
		name     string
		maxBytes int
	}{{"one batch", 1}, {"1MiB", 1 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			buf := make([]byte, 0, 2<<20)
			var n int64
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				buf, err = l.Read(rng.Int64N(end), bc.maxBytes, buf[:0])
				if err != nil {
					b.Fatal(err)
				}
				n += int64(len(buf))
			}
			b.StopTimer()
			b.ReportMetric(float64(n)/b.Elapsed().Seconds()/1e6, "MB/s")
		})
	}
}

// BenchmarkSyncWide is the interval flusher's cost per partition with many
// partitions (issue 14's 1,000-partition case, scaled down): every log
// gets the batches of about one flush interval (13 batches of 12 records,
// ~1.5 KiB each) and then one Sync. An op is a round over all logs; the
// figures per log are cpu-ns/log (with the kernel's writeback, which
// fsync does in the caller) and wall-ns/log.
//
//	go test -run '^$' -bench SyncWide -benchtime 20x ./internal/log/
func BenchmarkSyncWide(b *testing.B) {
	const logs, batchesPerRound = 100, 13
	ls := make([]*Log, logs)
	for i := range ls {
		l, err := Open(b.TempDir(), Config{RetentionMs: -1})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		ls[i] = l
	}
	set := makeBatch(b, batchSpec{records: 12, valueSize: 100, pid: -1}, "bench")
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for range b.N {
		for _, l := range ls {
			for range batchesPerRound {
				if _, err := l.Append(set, t0); err != nil {
					b.Fatal(err)
				}
			}
		}
		for _, l := range ls {
			if _, err := l.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N*logs), "cpu-ns/log")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*logs), "wall-ns/log")
}

// BenchmarkAppenderWide appends what a Produce request carries at 1,000
// partitions (kgo, issue 14): one batch of 32 records of 100 bytes (about
// 4.5 KB) to each of 1,000 logs, per op. "append" calls Log.Append for
// each (one pwrite each); "appender" goes through an Appender with AIO off
// (the same pwrites, the logs' mutexes held until Flush) and on (one
// io_submit per 256 logs). cpu-ns/op is the process's user+system time:
// the kernel's part of a write is most of it. Only each run's first
// 64 MiB or so go into new page-cache pages; -benchtime 100x keeps that
// equal between the variants.
func BenchmarkAppenderWide(b *testing.B) {
	const logs = 1000
	for _, mode := range []string{"append", "appender/aio=off", "appender/aio=on"} {
		b.Run(mode, func(b *testing.B) {
			defer aioDisabled.Store(false)
			aioDisabled.Store(mode == "appender/aio=off")
			ls := make([]*Log, logs)
			for i := range ls {
				l, err := Open(filepath.Join(b.TempDir(), fmt.Sprint(i)), Config{RetentionMs: -1})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				ls[i] = l
			}
			sets := make([][]byte, logs)
			for i := range sets {
				sets[i] = makeBatch(b, batchSpec{records: 32, valueSize: 100, pid: int64(i)}, "wide")
			}
			var app Appender
			b.SetBytes(int64(logs * len(sets[0])))
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for n := 0; n < b.N; n++ {
				for i, l := range ls {
					batch.SetProducer(sets[i], int64(i), 0, int32(n*32))
					if mode == "append" {
						if _, err := l.Append(sets[i], t0); err != nil {
							b.Fatal(err)
						}
						continue
					}
					app.Add(l, sets[i], t0)
				}
				if mode != "append" {
					app.Flush()
					for i := range ls {
						if _, err := app.Result(i); err != nil {
							b.Fatal(err)
						}
					}
					app.Reset()
				}
			}
			b.StopTimer()
			reportCPU(b, cpu)
		})
	}
}
