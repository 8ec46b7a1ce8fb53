package log

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/batch"
)

func TestOffsetForTime(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 1500, IndexIntervalBytes: 120}
	l := openLog(t, dir, cfg)
	rng := rand.New(rand.NewPCG(7, 8))
	base := t0.UnixMilli()
	var all []decoded
	for i := 0; i < 120; i++ {
		// Mostly increasing timestamps with jitter backwards, as producers
		// with unsynchronised clocks send.
		ts := base + int64(i*10) - rng.Int64N(40)
		info := mustAppend(t, l, makeBatch(t, batchSpec{records: 1 + rng.IntN(3), valueSize: rng.IntN(60), pid: -1, ts: ts}, fmt.Sprint(i)))
		got, err := l.Read(info.BaseOffset, 0, nil)
		require.NoError(t, err)
		all = append(all, decodeAll(t, got)...)
	}
	require.Greater(t, l.NumSegments(), 4)
	bruteForce := func(target int64) (int64, int64, bool) {
		for _, r := range all {
			if r.ts >= target {
				return r.offset, r.ts, true
			}
		}
		return 0, 0, false
	}
	check := func(l *Log) {
		for target := base - 100; target <= base+1300; target += 7 {
			off, ts, ok, err := l.OffsetForTime(target)
			require.NoError(t, err)
			wOff, wTs, wOK := bruteForce(target)
			require.Equal(t, wOK, ok, "target %d", target)
			assert.Equal(t, wOff, off, "target %d", target)
			assert.Equal(t, wTs, ts, "target %d", target)
		}
	}
	check(l)
	require.NoError(t, l.Close())
	check(openLog(t, dir, cfg))
}

// TestConcurrentAppendRead runs writers, readers and syncs at once: readers
// must only ever see whole, CRC-valid batches with contiguous offsets.
func TestConcurrentAppendRead(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 8 << 10, IndexIntervalBytes: 512})
	const writers, perWriter = 4, 150
	var wg sync.WaitGroup
	var done atomic.Bool
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				b := makeBatch(t, batchSpec{records: 1 + i%5, valueSize: 50, pid: int64(w), seq: seqBefore(i)}, "w")
				if _, err := l.Append(b, t0); err != nil {
					t.Error(err)
					return
				}
				if i%20 == 0 {
					if _, err := l.Sync(); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for r := 0; r < 3; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var buf []byte
			for !done.Load() {
				end := l.EndOffset()
				if end == 0 {
					continue
				}
				off := rand.Int64N(end)
				var err error
				buf, err = l.Read(off, 4096, buf[:0])
				if err != nil {
					t.Error(err)
					return
				}
				next := int64(-1)
				for rest := buf; len(rest) > 0; {
					one, r, h, err := batch.Next(rest)
					if err == nil {
						_, err = batch.Validate(one)
					}
					if err != nil {
						t.Errorf("read at %d: %v", off, err)
						return
					}
					if next >= 0 && h.BaseOffset != next {
						t.Errorf("read at %d: batch at %d after %d", off, h.BaseOffset, next)
					}
					next = h.LastOffset() + 1
					rest = r
				}
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	readers.Wait()
	var want int64
	for i := 0; i < perWriter; i++ {
		want += int64(1 + i%5)
	}
	assert.Equal(t, writers*want, l.EndOffset())
	for w := 0; w < writers; w++ {
		_, last, ok := l.ProducerState(int64(w))
		require.True(t, ok)
		assert.Equal(t, int32(want-1), last)
	}
}

// seqBefore is the base sequence of batch i when batch j has 1+j%5 records.
func seqBefore(i int) int32 {
	s := 0
	for j := 0; j < i; j++ {
		s += 1 + j%5
	}
	return int32(s)
}

// TestReadDoesNotWaitForAppends holds the append mutex, as a slow Append
// would, and checks that Read and OffsetForTime still answer.
func TestReadDoesNotWaitForAppends(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{})
	mustAppend(t, l, makeBatch(t, plain(3), "x"))
	l.mu.Lock()
	defer l.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		b, err := l.Read(1, 100, nil)
		if err == nil && len(batchesOf(t, b)) != 1 {
			err = assert.AnError
		}
		if err == nil {
			_, _, _, err = l.OffsetForTime(0)
		}
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Read blocked behind the append mutex")
	}
}
