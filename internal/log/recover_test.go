package log

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/log/vfs"
	"github.com/skiffkit/skiff/kerr"
)

// written is what a test appended: per batch its offsets and, for batches
// of the active segment, its position there.
type written struct {
	base, last int64
	pos, end   int64 // position range in the active segment, -1 elsewhere
	pid        int64
	lastSeq    int32
}

// writeImage appends n batches of varying sizes (several idempotent
// producers) to a log with small segments, syncs (so the index files hold
// entries for every batch), and returns a crash image of the directory
// taken while the log is still open, plus what was written.
func writeImage(t *testing.T, n int) (string, Config, []written) {
	t.Helper()
	cfg := Config{SegmentBytes: 4000, IndexIntervalBytes: 150}
	dir := filepath.Join(t.TempDir(), "t-0")
	l, err := Open(dir, cfg)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	seqs := map[int64]int32{}
	var ws []written
	for i := 0; i < n; i++ {
		spec := batchSpec{records: 1 + rng.IntN(5), valueSize: rng.IntN(120), pid: -1, ts: t0.UnixMilli() + int64(i)}
		if i%3 != 0 {
			spec.pid = int64(1 + i%3)
			spec.seq = seqs[spec.pid]
			seqs[spec.pid] += int32(spec.records)
		}
		b := makeBatch(t, spec, fmt.Sprint(i))
		info := mustAppend(t, l, b)
		end := l.active().size.Load()
		ws = append(ws, written{base: info.BaseOffset, last: info.LastOffset, pos: end - int64(len(b)), end: end,
			pid: spec.pid, lastSeq: spec.seq + int32(spec.records) - 1})
	}
	_, err = l.Sync()
	require.NoError(t, err)
	img := copyDir(t, dir)
	require.NoError(t, l.Close())
	// Only batches of the last segment keep positions relative to it.
	lastBase := l.active().base
	for i := range ws {
		if ws[i].base < lastBase {
			ws[i].pos, ws[i].end = -1, -1
		}
	}
	require.Greater(t, len(segmentFiles(t, img, ".log")), 2)
	return img, cfg, ws
}

// activeLog is the .log file with the highest base offset.
func activeLog(t *testing.T, dir string) string {
	t.Helper()
	logs := segmentFiles(t, dir, ".log")
	slices.Sort(logs)
	return logs[len(logs)-1]
}

// checkRecovered opens a damaged copy and checks that exactly the batches
// in ws[:keep] are there, readable at every offset, and that appends go on.
func checkRecovered(t *testing.T, dir string, cfg Config, ws []written, keep int) {
	t.Helper()
	l, err := Open(dir, cfg)
	require.NoError(t, err)
	defer l.Close()
	wantEnd := int64(0)
	if keep > 0 {
		wantEnd = ws[keep-1].last + 1
	}
	require.Equal(t, wantEnd, l.EndOffset())
	all, err := l.Read(0, 1<<30, nil)
	require.NoError(t, err)
	hs := batchesOf(t, all)
	require.Len(t, hs, keep)
	decodeAll(t, all) // CRCs
	for i, h := range hs {
		assert.Equal(t, ws[i].base, h.BaseOffset)
		assert.Equal(t, ws[i].last, h.LastOffset())
	}
	for off := int64(0); off < wantEnd; off++ {
		got, err := l.Read(off, 0, nil)
		require.NoError(t, err)
		h := batchesOf(t, got)
		require.Len(t, h, 1)
		require.True(t, h[0].BaseOffset <= off && off <= h[0].LastOffset(), "offset %d in batch %d..%d", off, h[0].BaseOffset, h[0].LastOffset())
	}
	info, err := l.Append(makeBatch(t, plain(2), "again"), t0)
	require.NoError(t, err)
	assert.Equal(t, wantEnd, info.BaseOffset)
	// The producer state is that of the surviving batches, and idempotent
	// producers continue where the surviving log ends.
	for _, pid := range []int64{1, 2} {
		wantSeq, known := int32(0), false
		for _, w := range ws[:keep] {
			if w.pid == pid {
				wantSeq, known = w.lastSeq, true
			}
		}
		_, last, ok := l.ProducerState(pid)
		require.Equal(t, known, ok, "producer %d", pid)
		if !known {
			continue
		}
		require.Equal(t, wantSeq, last, "producer %d", pid)
		_, err := l.Append(makeBatch(t, batchSpec{records: 1, pid: pid, seq: last + 2}, "gap"), t0)
		require.ErrorIs(t, err, kerr.OutOfOrderSequenceNumber)
		_, err = l.Append(makeBatch(t, batchSpec{records: 1, pid: pid, seq: last + 1}, "next"), t0)
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	l2, err := Open(dir, cfg)
	require.NoError(t, err)
	defer l2.Close()
	assert.Equal(t, l.EndOffset(), l2.EndOffset())
}

func TestRecoverTruncatedActiveSegment(t *testing.T) {
	img, cfg, ws := writeImage(t, 80)
	act := activeLog(t, img)
	st, err := os.Stat(act)
	require.NoError(t, err)
	size := st.Size()

	rng := rand.New(rand.NewPCG(3, 4))
	cuts := []int64{0, 1, size - 1, size}
	for _, w := range ws {
		if w.pos >= 0 {
			cuts = append(cuts, w.pos, w.pos+1, w.end-1)
		}
	}
	for i := 0; i < 40; i++ {
		cuts = append(cuts, rng.Int64N(size+1))
	}
	for _, cut := range cuts {
		t.Run(fmt.Sprint("cut at ", cut), func(t *testing.T) {
			dir := copyDir(t, img)
			require.NoError(t, os.Truncate(activeLog(t, dir), cut))
			// Complete batches before the cut survive; the index files
			// still describe the longer log and must not be trusted.
			keep := 0
			for i, w := range ws {
				if w.pos < 0 || w.end <= cut {
					keep = i + 1
				} else {
					break
				}
			}
			checkRecovered(t, dir, cfg, ws, keep)
		})
	}
}

func TestRecoverGarbageAfterValidBatches(t *testing.T) {
	img, cfg, ws := writeImage(t, 40)
	for _, clean := range []bool{false, true} {
		t.Run(fmt.Sprint("clean marker ", clean), func(t *testing.T) {
			dir := copyDir(t, img)
			if clean {
				require.NoError(t, os.WriteFile(filepath.Join(dir, cleanShutdownFile), nil, 0o644))
			}
			f, err := os.OpenFile(activeLog(t, dir), os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			garbage := make([]byte, 300)
			rand.NewChaCha8([32]byte{5, 6}).Read(garbage)
			_, err = f.Write(garbage)
			require.NoError(t, err)
			require.NoError(t, f.Close())
			checkRecovered(t, dir, cfg, ws, len(ws))
		})
	}
}

func TestRecoverBitFlipTruncatesAtThatBatch(t *testing.T) {
	img, cfg, ws := writeImage(t, 40)
	var inActive []int
	for i, w := range ws {
		if w.pos >= 0 {
			inActive = append(inActive, i)
		}
	}
	require.GreaterOrEqual(t, len(inActive), 3)
	for _, k := range []int{inActive[0], inActive[len(inActive)/2], inActive[len(inActive)-1]} {
		t.Run(fmt.Sprint("batch ", k), func(t *testing.T) {
			dir := copyDir(t, img)
			corruptFile(t, activeLog(t, dir), (ws[k].pos+ws[k].end)/2)
			checkRecovered(t, dir, cfg, ws, k)
		})
	}
}

func TestRecoverCorruptIndexes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t-0")
	cfg := Config{SegmentBytes: 2000, IndexIntervalBytes: 100}
	l, err := Open(dir, cfg)
	require.NoError(t, err)
	for i := 0; i < 60; i++ {
		mustAppend(t, l, makeBatch(t, batchSpec{records: 2, valueSize: 40, pid: -1, ts: t0.UnixMilli() + int64(i)}, fmt.Sprint(i)))
	}
	want, err := l.Read(0, 1<<20, nil)
	require.NoError(t, err)
	require.NoError(t, l.Close())

	damage := map[string]func(name string){
		"odd size":        func(n string) { appendTo(t, n, []byte{1, 2, 3}) },
		"zeroed tail":     func(n string) { appendTo(t, n, make([]byte, 24)) },
		"random contents": func(n string) { require.NoError(t, os.WriteFile(n, []byte("0123456789abcdef01234567"), 0o644)) },
		"empty":           func(n string) { require.NoError(t, os.Truncate(n, 0)) },
		"missing":         func(n string) { require.NoError(t, os.Remove(n)) },
		"bit flip":        func(n string) { corruptFile(t, n, 5) },
	}
	for name, fn := range damage {
		for _, suffix := range []string{".index", ".timeindex"} {
			t.Run(name+" "+suffix, func(t *testing.T) {
				d := copyDir(t, dir)
				for _, f := range segmentFiles(t, d, suffix) {
					fn(f)
				}
				l := openLog(t, d, cfg)
				got, err := l.Read(0, 1<<20, nil)
				require.NoError(t, err)
				assert.Equal(t, want, got)
				for off := int64(0); off < l.EndOffset(); off++ {
					b, err := l.Read(off, 0, nil)
					require.NoError(t, err)
					h := batchesOf(t, b)
					require.Len(t, h, 1)
					assert.True(t, h[0].BaseOffset <= off && off <= h[0].LastOffset())
				}
				off, ts, ok, err := l.OffsetForTime(t0.UnixMilli() + 30)
				require.NoError(t, err)
				require.True(t, ok)
				assert.Equal(t, int64(59), off, "batch 29 holds timestamps +29 and +30")
				assert.Equal(t, t0.UnixMilli()+30, ts)
			})
		}
	}
}

func appendTo(t *testing.T, name string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestIndexFilesMatchKafkaLayout(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{IndexIntervalBytes: 200}
	l, err := Open(dir, cfg)
	require.NoError(t, err)
	var positions []int64
	var infos []AppendInfo
	for i := 0; i < 30; i++ {
		positions = append(positions, l.Size())
		infos = append(infos, mustAppend(t, l, makeBatch(t, batchSpec{records: 3, valueSize: 30, pid: -1, ts: t0.UnixMilli() + int64(i%7)*10}, fmt.Sprint(i))))
	}
	require.NoError(t, l.Close())
	idx, err := os.ReadFile(filepath.Join(dir, "00000000000000000000.index"))
	require.NoError(t, err)
	require.Zero(t, len(idx)%8)
	require.NotEmpty(t, idx)
	// Every entry maps a batch's last offset to that batch's position, and
	// entries come once more than index.interval.bytes were appended.
	for i := 0; i < len(idx); i += 8 {
		rel := int64(int32(beUint32(idx[i:])))
		pos := int64(int32(beUint32(idx[i+4:])))
		k := slices.Index(positions, pos)
		require.GreaterOrEqual(t, k, 0, "entry %d points into a batch", i/8)
		assert.Equal(t, infos[k].LastOffset, rel)
	}
	assert.Equal(t, 14, len(idx)/8, "30 batches of 133 bytes, an entry when more than 200 bytes were appended since the last one")
	tidx, err := os.ReadFile(filepath.Join(dir, "00000000000000000000.timeindex"))
	require.NoError(t, err)
	require.Zero(t, len(tidx)%12)
	var prev int64 = -1
	for i := 0; i < len(tidx); i += 12 {
		ts := int64(beUint64(tidx[i:]))
		assert.Greater(t, ts, prev, "time index timestamps increase")
		prev = ts
	}
	assert.Equal(t, t0.UnixMilli()+62, prev, "the last entry is the largest timestamp (sealed at Close)")
}

func TestRecoverWithoutSnapshots(t *testing.T) {
	img, cfg, ws := writeImage(t, 60)
	for _, f := range segmentFiles(t, img, ".snapshot") {
		require.NoError(t, os.Remove(f))
	}
	// Without a snapshot every segment is rescanned and the producer state
	// replayed from the start of the log.
	checkRecovered(t, copyDir(t, img), cfg, ws, len(ws))

	// A snapshot ahead of the recovered end (its segment lost) is ignored.
	dir := copyDir(t, img)
	logs := segmentFiles(t, dir, ".log")
	slices.Sort(logs)
	last := logs[len(logs)-1]
	require.NoError(t, os.Truncate(last, 0))
	keep := 0
	for i, w := range ws {
		if w.pos < 0 {
			keep = i + 1
		}
	}
	l, err := Open(dir, cfg)
	require.NoError(t, err)
	end := l.EndOffset()
	require.NoError(t, writeSnapshot(vfs.Default, dir, end+100, producers{1: &producerEntry{epoch: 9}}))
	l.Close()
	require.NoError(t, os.Remove(filepath.Join(dir, cleanShutdownFile)))
	checkRecovered(t, dir, cfg, ws, keep)
	assert.NoFileExists(t, fileName(dir, end+100, snapshotSuffix))
}

func TestRecoverTornMiddleSegmentDropsLaterOnes(t *testing.T) {
	img, cfg, ws := writeImage(t, 60)
	for _, f := range segmentFiles(t, img, ".snapshot") {
		require.NoError(t, os.Remove(f)) // no snapshot: every segment is rescanned
	}
	logs := segmentFiles(t, img, ".log")
	slices.Sort(logs)
	require.Greater(t, len(logs), 3)
	victim := logs[1]
	b, err := os.ReadFile(victim)
	require.NoError(t, err)
	var bounds []int
	for rest, pos := b, 0; len(rest) > 0; {
		one, r, _, err := batch.Next(rest)
		require.NoError(t, err)
		bounds = append(bounds, pos)
		pos += len(one)
		rest = r
	}
	require.Greater(t, len(bounds), 2)
	victimBase, ok := parseFileName(filepath.Base(victim), logSuffix)
	require.True(t, ok)
	first := slices.IndexFunc(ws, func(w written) bool { return w.base == victimBase })
	require.GreaterOrEqual(t, first, 0)

	dir := copyDir(t, img)
	require.NoError(t, os.Truncate(filepath.Join(dir, filepath.Base(victim)), int64(bounds[2]+5)))
	checkRecovered(t, dir, cfg, ws, first+2)
	for _, later := range logs[2:] {
		assert.NoFileExists(t, filepath.Join(dir, filepath.Base(later)))
	}
}

func TestAppendWriteFailure(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{})
	mustAppend(t, l, makeBatch(t, plain(2), "ok"))
	// Fault injection at the file: the active segment's descriptor is gone.
	require.NoError(t, l.active().log.Close())
	_, err := l.Append(makeBatch(t, plain(2), "lost"), t0)
	require.ErrorIs(t, err, kerr.KafkaStorageError)
	assert.True(t, kerr.IsRetriable(err))
	assert.Equal(t, int64(2), l.EndOffset(), "a failed write does not advance the log")
	_, err = l.Sync()
	assert.ErrorIs(t, err, kerr.KafkaStorageError)
}
