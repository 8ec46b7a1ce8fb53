package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/skiffkit/skiff/internal/batch"
)

// BenchmarkSyncfsThreshold compares, at a few dirty partitions per round,
// one fsync per partition (a few at a time, as the flusher runs them) with
// one syncfs(2), to choose syncfsMinLogs. Each op appends ~20 KiB to every
// partition (BenchmarkFlushWide's interval) and runs one round; the figures
// are per round: wall time, the machine's CPU (busy-ns/round, /proc/stat,
// which counts the kernel's writeback threads) and the process's.
//
//	go test -run '^$' -bench SyncfsThreshold -benchtime 40x ./broker/
func BenchmarkSyncfsThreshold(b *testing.B) {
	for _, n := range []int{2, 4, 8, 16, 32, 64} {
		for _, mode := range []string{"fsync", "syncfs"} {
			b.Run(fmt.Sprintf("logs=%d/%s", n, mode), func(b *testing.B) {
				br := startBroker(b, Config{Logger: discardLogger(), Fsync: FsyncInterval, FlushInterval: time.Hour})
				if br.flush.syncfs == nil {
					b.Skip("no syncfs(2) here")
				}
				if err := br.CreateTopic("t", int32(n), nil); err != nil {
					b.Fatal(err)
				}
				br.flush.syncfsMin = 1
				if mode == "fsync" {
					br.flush.syncfsMin = n + 1
				}
				parts := br.topics.byName("t").parts
				set := makeBatch(12, 100, batch.NoProducer)
				var cpu, busy int64
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					for _, p := range parts {
						for range 13 {
							if _, err := p.log.Append(set, time.Now()); err != nil {
								b.Fatal(err)
							}
						}
						br.flush.appended(p)
					}
					c, m := processCPUTime(), machineBusyNs()
					b.StartTimer()
					br.flush.syncDirty()
					b.StopTimer()
					cpu += processCPUTime() - c
					busy += machineBusyNs() - m
				}
				b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/round")
				b.ReportMetric(float64(busy)/float64(b.N), "busy-ns/round")
			})
		}
	}
}
