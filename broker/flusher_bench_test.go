package broker

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/skiffkit/skiff/internal/batch"
)

// BenchmarkFlushWide is one FsyncInterval flush round at issue 14's
// 1,000-partition ingest: every partition gets about one interval's
// batches (13 batches of 12 × 100-byte records, ~1.5 KiB each, as kgo's
// 10,000 keys over 1,000 partitions send them), then the flusher syncs
// them all. An op is one round. Besides wall time per log it reports CPU
// per log of the process (cpu-ns/log, and flush-cpu-ns/log for the sync
// step alone) and of the whole machine (busy-ns/log and flush-busy-ns/log,
// from /proc/stat):
// syncfs(2) hands the writeback to kernel threads, which the process's
// own CPU does not show. The machine figure counts whatever else runs.
//
//	go test -run '^$' -bench FlushWide -benchtime 10x -count 6 ./broker/
func BenchmarkFlushWide(b *testing.B) {
	const partitions, batchesPerRound = 1000, 13
	br := startBroker(b, Config{Logger: discardLogger(), Fsync: FsyncInterval, FlushInterval: time.Hour})
	if err := br.CreateTopic("wide", partitions, nil); err != nil {
		b.Fatal(err)
	}
	parts := br.topics.byName("wide").parts
	set := makeBatch(12, 100, batch.NoProducer)
	var flushCPU, flushBusy int64
	b.ResetTimer()
	cpu, busy := processCPUTime(), machineBusyNs()
	for range b.N {
		for _, p := range parts {
			for range batchesPerRound {
				if _, err := p.log.Append(set, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
			br.flush.appended(p)
		}
		c, m := processCPUTime(), machineBusyNs()
		br.flush.syncDirty()
		flushCPU += processCPUTime() - c
		flushBusy += machineBusyNs() - m
	}
	b.StopTimer()
	n := float64(b.N * partitions)
	b.ReportMetric(float64(processCPUTime()-cpu)/n, "cpu-ns/log")
	b.ReportMetric(float64(flushCPU)/n, "flush-cpu-ns/log")
	b.ReportMetric(float64(machineBusyNs()-busy)/n, "busy-ns/log")
	b.ReportMetric(float64(flushBusy)/n, "flush-busy-ns/log")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "wall-ns/log")
	for _, p := range parts {
		if p.log.SyncedOffset() != p.log.EndOffset() {
			b.Fatalf("partition %d synced to %d of %d", p.index, p.log.SyncedOffset(), p.log.EndOffset())
		}
	}
}

// machineBusyNs is the CPU time all CPUs spent outside idle and iowait
// (Linux /proc/stat, in clock ticks of 10 ms; steal is the hypervisor's,
// not ours); 0 where there is none.
func machineBusyNs() int64 {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	var user, nice, sys, idle, iowait, irq, softirq, steal int64
	if _, err := fmt.Sscanf(string(raw), "cpu %d %d %d %d %d %d %d %d", &user, &nice, &sys, &idle, &iowait, &irq, &softirq, &steal); err != nil {
		return 0
	}
	return (user + nice + sys + irq + softirq) * int64(10*time.Millisecond)
}
