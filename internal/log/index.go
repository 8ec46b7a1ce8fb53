package log

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"

	"github.com/skiffkit/skiff/internal/log/vfs"
)

// Index entry sizes, Kafka's on-disk layout (see docs/storage.md):
//
//	.index      relativeOffset int32 | position int32          8 bytes
//	.timeindex  timestamp int64      | relativeOffset int32   12 bytes
//
// Kafka preallocates both files and memory-maps them. skiff keeps the sparse
// entries of the active segment in memory (8 bytes per index.interval.bytes
// of log, 0.2% of the segment with the default interval, plus 0.3% for the
// time index) and writes the not-yet-persisted tail to the files with
// WriteAt on Sync, roll and Close. Once a segment is sealed and its entries
// are in the files, they leave the heap (evictIndexes) and lookups
// binary-search the files with pread (lookupOffsetFile), so memory is
// bounded by segment.bytes, not by the log. So an Append costs exactly one write syscall, and
// the files never hold preallocated zeroes: their size is always a whole
// number of valid entries. An unclean stop may leave the files of the active
// segment behind the log; recovery rebuilds them from the log itself.
const (
	offsetEntrySize = 8
	timeEntrySize   = 12
)

type offsetEntry struct {
	rel int32 // last offset of the indexed batch minus the segment base offset
	pos int32 // file position of that batch
}

type timeEntry struct {
	ts  int64 // largest timestamp in the segment up to the indexed batch
	rel int32 // last offset of the batch holding ts, minus the segment base
}

// lookupOffset returns the position of the last indexed batch whose last
// offset is <= rel: the batch holding rel is there or after it (Kafka's
// OffsetIndex.lookup). Zero when there is none.
func lookupOffset(idx []offsetEntry, rel int64) int64 {
	i := sort.Search(len(idx), func(i int) bool { return int64(idx[i].rel) > rel })
	if i == 0 {
		return 0
	}
	return int64(idx[i-1].pos)
}

// lookupTimeBefore returns the relative offset of the last time index entry
// whose timestamp is strictly below ts, and whether there is one. Every
// record up to that offset has a timestamp below ts. Kafka looks up the last
// entry <= ts, which can skip an earlier record carrying exactly ts when
// timestamps are not monotonic; strictly below cannot.
func lookupTimeBefore(idx []timeEntry, ts int64) (int32, bool) {
	i := sort.Search(len(idx), func(i int) bool { return idx[i].ts >= ts })
	if i == 0 {
		return 0, false
	}
	return idx[i-1].rel, true
}

// lookupOffsetFile is lookupOffset over the n entries of an .index file.
// A failed read answers 0: scanning the segment from its start is slower,
// never wrong. It reads entries into scratch when that has room for one
// (a buffer handed to an interface's ReadAt escapes, and a Read must not
// allocate), else into a buffer of its own.
func lookupOffsetFile(f io.ReaderAt, n int, rel int64, scratch []byte) int64 {
	if len(scratch) < offsetEntrySize {
		scratch = make([]byte, offsetEntrySize)
	}
	e := scratch[:offsetEntrySize]
	failed := false
	i := sort.Search(n, func(i int) bool {
		if _, err := f.ReadAt(e, int64(i)*offsetEntrySize); err != nil {
			failed = true
		}
		return failed || int64(int32(binary.BigEndian.Uint32(e))) > rel
	})
	if failed || i == 0 {
		return 0
	}
	if _, err := f.ReadAt(e, int64(i-1)*offsetEntrySize); err != nil {
		return 0
	}
	return int64(int32(binary.BigEndian.Uint32(e[4:])))
}

// lookupTimeBeforeFile is lookupTimeBefore over the n entries of a
// .timeindex file. A failed read answers "none": the caller then scans
// the segment from its start.
func lookupTimeBeforeFile(f io.ReaderAt, n int, ts int64) (int32, bool) {
	var e [timeEntrySize]byte
	failed := false
	i := sort.Search(n, func(i int) bool {
		if _, err := f.ReadAt(e[:], int64(i)*timeEntrySize); err != nil {
			failed = true
		}
		return failed || int64(binary.BigEndian.Uint64(e[:])) >= ts
	})
	if failed || i == 0 {
		return 0, false
	}
	if _, err := f.ReadAt(e[:], int64(i-1)*timeEntrySize); err != nil {
		return 0, false
	}
	return int32(binary.BigEndian.Uint32(e[8:])), true
}

func appendOffsetEntries(dst []byte, es []offsetEntry) []byte {
	for _, e := range es {
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.rel))
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.pos))
	}
	return dst
}

func appendTimeEntries(dst []byte, es []timeEntry) []byte {
	for _, e := range es {
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.ts))
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.rel))
	}
	return dst
}

// readOffsetIndex loads an .index file and checks that it can describe a log
// of logSize bytes: whole entries, relative offsets and positions strictly
// increasing, positions inside the log. The first batch of a segment never
// gets an entry (Kafka indexes a batch only after index.interval.bytes were
// appended), so a position of 0 is as wrong as a zeroed tail.
func readOffsetIndex(f vfs.File, logSize int64) ([]offsetEntry, error) {
	b, err := readWhole(f)
	if err != nil {
		return nil, err
	}
	if len(b)%offsetEntrySize != 0 {
		return nil, fmt.Errorf("offset index size %d is not a multiple of %d", len(b), offsetEntrySize)
	}
	es := make([]offsetEntry, 0, len(b)/offsetEntrySize)
	for i := 0; i < len(b); i += offsetEntrySize {
		e := offsetEntry{rel: int32(binary.BigEndian.Uint32(b[i:])), pos: int32(binary.BigEndian.Uint32(b[i+4:]))}
		if e.rel < 0 || e.pos <= 0 || int64(e.pos) >= logSize {
			return nil, fmt.Errorf("offset index entry %d (%d -> %d) outside a log of %d bytes", len(es), e.rel, e.pos, logSize)
		}
		if n := len(es); n > 0 && (e.rel <= es[n-1].rel || e.pos <= es[n-1].pos) {
			return nil, fmt.Errorf("offset index entry %d (%d -> %d) not after (%d -> %d)", n, e.rel, e.pos, es[n-1].rel, es[n-1].pos)
		}
		es = append(es, e)
	}
	return es, nil
}

// readTimeIndex loads a .timeindex file: whole entries, timestamps strictly
// increasing, relative offsets non-decreasing and not beyond maxRel.
func readTimeIndex(f vfs.File, maxRel int64) ([]timeEntry, error) {
	b, err := readWhole(f)
	if err != nil {
		return nil, err
	}
	if len(b)%timeEntrySize != 0 {
		return nil, fmt.Errorf("time index size %d is not a multiple of %d", len(b), timeEntrySize)
	}
	es := make([]timeEntry, 0, len(b)/timeEntrySize)
	for i := 0; i < len(b); i += timeEntrySize {
		e := timeEntry{ts: int64(binary.BigEndian.Uint64(b[i:])), rel: int32(binary.BigEndian.Uint32(b[i+8:]))}
		if e.rel < 0 || int64(e.rel) > maxRel {
			return nil, fmt.Errorf("time index entry %d points at relative offset %d beyond %d", len(es), e.rel, maxRel)
		}
		if n := len(es); n > 0 && (e.ts <= es[n-1].ts || e.rel < es[n-1].rel) {
			return nil, fmt.Errorf("time index entry %d (%d -> %d) not after (%d -> %d)", n, e.ts, e.rel, es[n-1].ts, es[n-1].rel)
		}
		es = append(es, e)
	}
	return es, nil
}

// maxIndexFile bounds what readWhole loads: an index of a 2 GiB segment with
// a 1-byte interval would still fit, garbage claiming more does not.
const maxIndexFile = 1 << 30

func readWhole(f vfs.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxIndexFile {
		return nil, fmt.Errorf("index file of %d bytes is implausibly large", st.Size())
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, err
	}
	return b, nil
}
