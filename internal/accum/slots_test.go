package accum

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wideRun is what simulateWide saw.
type wideRun struct {
	records, batches int
	readies, drains  int
	visits           uint64        // partitions looked at under their lock
	maxAge, minAge   time.Duration // of batches drained without being full
	full             int           // batches drained full or closed
}

// simulateWide runs, in a synctest bubble, an appender writing n records
// round-robin over partitions (a burst of burst records every gap) and a
// sender that loops as the producer's does: Expire, Ready, Drain, answer
// at once (Done, Release), sleep until Ready's wake-up or a signal. Then a
// flush sends the rest; the figures are of the time before it.
func simulateWide(t *testing.T, partitions, n, burst int, gap time.Duration, cfg Config) wideRun {
	t.Helper()
	var run wideRun
	synctest.Test(t, func(t *testing.T) {
		a := newAcc(t, cfg)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range n {
				require.NoError(t, a.Append(context.Background(), "t", int32((i*7)%partitions), rec(i, nil)))
				if (i+1)%burst == 0 {
					time.Sleep(gap)
				}
			}
		}()
		finished := false
		for !finished || a.NumIncomplete() > 0 {
			a.Awake()
			now := time.Now()
			require.Empty(t, a.Expire(now, nil))
			nodes, next, unknown := a.Ready(now, nil)
			require.False(t, unknown)
			if !finished {
				run.readies++
			}
			for len(nodes) > 0 {
				bs := a.Drain(1, 1<<20, now, nil)
				if !finished {
					run.drains++
				}
				if len(bs) == 0 {
					break
				}
				for _, b := range bs {
					run.records += b.NumRecords()
					if finished {
						a.Done(b, true)
						a.Release(b)
						continue // the closing flush sends young batches
					}
					run.batches++
					if age := now.Sub(b.created); b.sizeBytes*2 >= a.cfg.BatchSize || b.NumRecords() == 0 {
						run.full++
					} else {
						run.maxAge = max(run.maxAge, age)
						if run.minAge == 0 || age < run.minAge {
							run.minAge = age
						}
					}
					a.Done(b, true)
					a.Release(b)
				}
			}
			next = a.SleepUntil(next)
			var timer <-chan time.Time
			if !next.IsZero() {
				timer = time.After(time.Until(next))
			}
			if !finished {
				run.visits = a.lockedVisits
			}
			select {
			case <-a.Wakeup():
			case <-timer:
			case <-done:
				if !finished {
					finished = true
					a.BeginFlush() // the rest goes now, as Flush sends it
				}
			}
		}
	})
	return run
}

// TestWideLingerBounds: at 1,000 partitions, with batches opening all the
// time, every batch still waits between linger less the slack and linger
// (linger.go), none is lost, and the sender looks at only a few
// partitions under their locks per wake-up instead of all of them.
func TestWideLingerBounds(t *testing.T) {
	const linger = 5 * time.Millisecond
	for _, tc := range []struct {
		name       string
		partitions int
		burst      int
		gap        time.Duration
	}{
		{"1000 partitions, 1 record per partition per linger", 1000, 50, 250 * time.Microsecond},
		{"1000 partitions, 10 records per partition per linger", 1000, 200, 100 * time.Microsecond},
		{"3 partitions", 3, 30, 100 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 100_000
			run := simulateWide(t, tc.partitions, n, tc.burst, tc.gap, Config{Linger: linger, BatchSize: 16384, BufferMemory: 64 << 20})
			assert.Equal(t, n, run.records, "every record drained once")
			require.NotZero(t, run.batches)
			assert.LessOrEqual(t, run.maxAge, linger, "no batch waits past its linger")
			if run.full < run.batches {
				assert.GreaterOrEqual(t, run.minAge, linger-lingerSlack(linger), "no young batch leaves before its linger less the slack")
			}
			perCall := float64(run.visits) / float64(run.readies+run.drains)
			perBatch := float64(run.visits) / float64(run.batches)
			t.Logf("%d batches (%.1f records each, %d full), %d Ready, %d Drain, %.1f locked visits per call, %.1f per batch", run.batches, float64(run.records)/float64(run.batches), run.full, run.readies, run.drains, perCall, perBatch)
			// Ready and Drain lock a partition whose batch is due, or
			// the oldest young one for the wake-up time; skipping the
			// young ones keeps that to a few per batch sent. Scanning
			// every partition under its lock cost ~35 per batch at 1,000
			// partitions and one record per partition per linger.
			assert.Less(t, perBatch, 4.0, "scans skip young batches without locking them")
		})
	}
}

// slotState is partition id's slot as Ready reads it: "empty", "look",
// "young" or "young ride".
func slotState(a *acc, id int32) string {
	p := a.partitionFor("t", id)
	switch st := p.slot.state.Load(); {
	case st == slotEmpty:
		return "empty"
	case st == slotLook:
		return "look"
	case p.slot.ride.Load():
		return "young ride"
	default:
		return "young"
	}
}

// TestSlotFollowsQueue: every change to a partition's queue or head
// updates its slot, so a scan that skips young batches never misses a
// batch that became sendable another way.
func TestSlotFollowsQueue(t *testing.T) {
	const batchSize = 1024
	appendN := func(t testing.TB, a *acc, n int) {
		t.Helper()
		for i := range n {
			require.NoError(t, a.Append(context.Background(), "t", 0, rec(i, nil)))
		}
	}
	fill := func(t testing.TB, a *acc, bytes int) {
		t.Helper()
		for i := 0; a.openSize(0) < bytes; i++ {
			require.NoError(t, a.Append(context.Background(), "t", 0, rec(i, nil)))
		}
	}
	drainOne := func(t testing.TB, a *acc) *Batch[*int] {
		t.Helper()
		bs := a.Drain(1, 1<<20, time.Now().Add(time.Hour), nil)
		require.Len(t, bs, 1)
		return bs[0]
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, a *acc)
		want string
	}{
		{"nothing appended", func(t *testing.T, a *acc) { a.partitionFor("t", 0) }, "empty"},
		{"one young batch", func(t *testing.T, a *acc) { appendN(t, a, 1) }, "young"},
		{"young batch half full", func(t *testing.T, a *acc) { fill(t, a, batchSize/2) }, "young ride"},
		{"head filled, next batch open", func(t *testing.T, a *acc) {
			for len(a.queue(0)) < 2 {
				appendN(t, a, 1)
			}
		}, "look"},
		{"drained", func(t *testing.T, a *acc) {
			appendN(t, a, 1)
			drainOne(t, a)
		}, "empty"},
		{"drained, a new young batch behind", func(t *testing.T, a *acc) {
			appendN(t, a, 1)
			drainOne(t, a)
			appendN(t, a, 1)
		}, "young"},
		{"full head drained, the open one is young", func(t *testing.T, a *acc) {
			for len(a.queue(0)) < 2 {
				appendN(t, a, 1)
			}
			drainOne(t, a)
		}, "young"},
		{"re-enqueued for retry", func(t *testing.T, a *acc) {
			appendN(t, a, 1)
			b := drainOne(t, a)
			a.Reenqueue(b, time.Now())
		}, "look"},
		{"split halves queued", func(t *testing.T, a *acc) {
			appendN(t, a, 4)
			b := drainOne(t, a)
			require.True(t, a.Split(b, time.Now()))
		}, "look"},
		{"expired", func(t *testing.T, a *acc) {
			appendN(t, a, 1)
			require.Len(t, a.Expire(time.Now().Add(3*time.Hour), nil), 1)
		}, "empty"},
		{"aborted", func(t *testing.T, a *acc) {
			appendN(t, a, 1)
			require.Len(t, a.AbortQueued(nil), 1)
		}, "empty"},
		{"closed by a flush for compression", func(t *testing.T, a *acc) {
			appendN(t, a, 1)
			a.BeginFlush()
			defer a.EndFlush()
			a.Ready(time.Now(), nil) // hands the due batch to the compressor
		}, "look"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{BatchSize: batchSize, Linger: time.Hour, DeliveryTimeout: 2 * time.Hour}
			if strings.Contains(tc.name, "compression") {
				cfg.Codec, cfg.CompressWorkers = 4, 1
			}
			a := newAcc(t, cfg)
			tc.run(t, a)
			assert.Equal(t, tc.want, slotState(a, 0))
		})
	}
}
