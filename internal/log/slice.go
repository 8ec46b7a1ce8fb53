package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"sync"

	"github.com/skiffkit/skiff/internal/batch"
)

// Slice is a run of whole record batches in one segment's .log file: what
// a Fetch sends with sendfile(2) instead of reading it into memory (Kafka's
// FileRecords.slice). The segment is pinned, a reader reference like the
// one Read holds for the length of a pread, until Release: retention,
// DeleteRecords or a deleted topic may unlink the file meanwhile, and its
// bytes stay readable through the open descriptor until the last reference
// closes it. The bytes of a slice never change: a segment only grows past
// its published size, and nothing below that size is ever rewritten.
type Slice struct {
	seg *segment
	log *Log
	// Pos and Len are the byte range in the .log file.
	Pos, Len int64
	// LastOffset is the last offset of the slice's last batch, set by
	// ReadCommittedSlices (a read_committed Fetch bounds its aborted
	// transactions list with it); ReadSlices leaves it -1, which spares
	// it reading the header of the last batch.
	LastOffset int64
}

// File is the segment's .log as an *os.File, for sendfile; nil when the
// log's filesystem (Config.FS) is not the operating system's, in which case
// AppendTo copies the bytes.
func (s *Slice) File() *os.File {
	f, _ := s.seg.log.(*os.File)
	return f
}

// AppendTo appends the slice's bytes to dst, read with pread.
func (s *Slice) AppendTo(dst []byte) ([]byte, error) {
	start := len(dst)
	dst = slices.Grow(dst, int(s.Len))[:start+int(s.Len)]
	if _, err := s.seg.log.ReadAt(dst[start:], s.Pos); err != nil {
		return dst[:start], storageError("read", err)
	}
	return dst, nil
}

// Release unpins the segment; the slice must not be used after it. A
// second Release is a no-op.
func (s *Slice) Release() {
	if s.seg != nil {
		s.seg.release()
		s.log.pinned.Add(-1)
		s.seg, s.log = nil, nil
	}
}

// ReleaseSlices releases every slice of ss.
func ReleaseSlices(ss []Slice) {
	for i := range ss {
		ss[i].Release()
	}
}

// PinnedSlices is the number of slices of this log not yet released. A
// slice pins a segment's files until released, past retention and
// deletion: a count that does not return to zero is a leak.
func (l *Log) PinnedSlices() int64 { return l.pinned.Load() }

// ReadSlices is Read without reading: it appends to dst the slices (one
// per segment) that hold the batches Read would return for the same
// arguments, byte for byte, and pins their segments. The caller releases
// every slice it was given, also after an error (none are added then).
func (l *Log) ReadSlices(offset int64, maxBytes int, dst []Slice) ([]Slice, error) {
	return l.readSlices(offset, math.MaxInt64, maxBytes, dst)
}

// ReadCommittedSlices is ReadCommitted as slices (see ReadSlices); it also
// returns the last stable offset.
func (l *Log) ReadCommittedSlices(offset int64, maxBytes int, dst []Slice) ([]Slice, int64, error) {
	lso := l.LastStableOffset()
	out, err := l.readSlices(offset, lso, maxBytes, dst)
	return out, lso, err
}

// headerBufs holds scratch for the batch headers a slice lookup reads: a
// buffer handed to an interface's ReadAt escapes, and a fetch must not
// allocate.
var headerBufs = sync.Pool{New: func() any { return new([batch.HeaderSize]byte) }}

func (l *Log) readSlices(offset, maxOffset int64, maxBytes int, dst []Slice) ([]Slice, error) {
	segs, i, err := l.readFrom(offset, maxOffset)
	if err != nil || segs == nil {
		return dst, err
	}
	hb := headerBufs.Get().(*[batch.HeaderSize]byte)
	defer headerBufs.Put(hb)
	startLen, got := len(dst), int64(0)
	for ; i < len(segs); i++ {
		s := segs[i]
		if !s.acquire() {
			// Retention dropped the segment since segs was loaded.
			if got > 0 {
				return dst, nil
			}
			return dst, l.outOfRange(offset)
		}
		sl, full, err := s.slice(offset, maxOffset, int64(maxBytes)-got, got == 0, maxOffset != math.MaxInt64, hb[:])
		if err != nil {
			s.release()
			ReleaseSlices(dst[startLen:])
			clear(dst[startLen:])
			if l.logStart.Load() > offset {
				return dst[:startLen], l.outOfRange(offset)
			}
			return dst[:startLen], fmt.Errorf("log %s: read offset %d: %w", l.dir, offset, err)
		}
		if sl.Len > 0 {
			sl.seg, sl.log = s, l
			l.pinned.Add(1)
			dst = append(dst, sl)
			got += sl.Len
		} else {
			s.release()
		}
		if full {
			break
		}
		if i+1 < len(segs) {
			offset = segs[i+1].base
		}
	}
	return dst, nil
}

// slice is segment.read without the read: the range of the batches read
// would return, found from batch headers and the offset index. Only a
// handful of headers are read whatever the size: one walk from the
// indexed position before offset (as read), one from the indexed position
// before maxOffset when it bounds the range, and one from the second
// indexed batch before the budget's end, which ends inside the budget, to
// the last batch that fits. wantLast asks for LastOffset even when the
// range ends at the segment's end or at maxOffset, where no walk is needed
// otherwise.
func (s *segment) slice(offset, maxOffset, budget int64, atLeastOne, wantLast bool, hb []byte) (sl Slice, full bool, err error) {
	sl.LastOffset = -1
	limit := s.size.Load()
	pos, h, found, err := s.locate(offset, limit, hb)
	if err != nil || !found {
		return sl, false, err
	}
	if h.BaseOffset >= maxOffset {
		return sl, true, nil
	}
	size := int64(h.Size())
	want := max(budget, 0)
	if want < size {
		if !atLeastOne {
			return sl, true, nil
		}
		want = size
	}
	end := min(pos+want, limit)
	// known: end falls on a batch boundary whose preceding batch is last.
	known, last := end == pos+size, h.LastOffset()
	if maxOffset != math.MaxInt64 && end > pos+size {
		// The first batch at or past maxOffset (the LSO falls on a batch
		// boundary) ends the range. The batch at the indexed position
		// holds an offset <= maxOffset, so the walk starts below it.
		p := max(pos+size, s.lookup(maxOffset, hb))
		for p < end {
			bh, err := s.header(p, limit, hb)
			if err != nil {
				return sl, false, err
			}
			if bh.BaseOffset >= maxOffset {
				end = p
				break
			}
			p += int64(bh.Size())
		}
	}
	if !known && (end < limit || wantLast) {
		// Walk to the last batch that ends by end. Starting at the
		// second indexed batch before end keeps last right: that batch
		// ends where the next indexed one starts, before end.
		p := max(pos+size, s.positionBefore(end, hb))
		for p < end {
			bh, err := s.header(p, limit, hb)
			if err != nil {
				return sl, false, err
			}
			next := p + int64(bh.Size())
			if next > end {
				break
			}
			p, last = next, bh.LastOffset()
		}
		end = p
	}
	sl.Pos, sl.Len = pos, end-pos
	if wantLast {
		sl.LastOffset = last
	}
	return sl, end < limit, nil
}

// header reads and checks the batch header at pos, below limit.
func (s *segment) header(pos, limit int64, hb []byte) (batch.Header, error) {
	if limit-pos < batch.HeaderSize {
		return batch.Header{}, corruptSegment(s, pos, batch.ErrShort)
	}
	if _, err := s.log.ReadAt(hb, pos); err != nil && !errors.Is(err, io.EOF) {
		return batch.Header{}, storageError("read", err)
	}
	h, err := batch.ParseHeader(hb)
	if err != nil {
		return h, corruptSegment(s, pos, err)
	}
	if pos+int64(h.Size()) > limit {
		return h, corruptSegment(s, pos, batch.ErrShort)
	}
	return h, nil
}

// positionBefore is the position of the second-to-last indexed batch that
// starts before end, 0 when there is none: that batch ends at or before
// the start of the last one, so before end.
func (s *segment) positionBefore(end int64, scratch []byte) int64 {
	s.idxMu.RLock()
	if s.evicted {
		n := s.offN
		s.idxMu.RUnlock()
		return positionBeforeFile(s.idx, n, end, scratch)
	}
	defer s.idxMu.RUnlock()
	idx := s.offIdx
	i := sort.Search(len(idx), func(i int) bool { return int64(idx[i].pos) >= end })
	if i < 2 {
		return 0
	}
	return int64(idx[i-2].pos)
}

// positionBeforeFile is positionBefore over the n entries of an .index
// file; a failed read answers 0 (a longer walk, never a wrong one).
func positionBeforeFile(f io.ReaderAt, n int, end int64, scratch []byte) int64 {
	e := scratch[:offsetEntrySize]
	failed := false
	i := sort.Search(n, func(i int) bool {
		if _, err := f.ReadAt(e, int64(i)*offsetEntrySize); err != nil {
			failed = true
		}
		return failed || int64(int32(binary.BigEndian.Uint32(e[4:]))) >= end
	})
	if failed || i < 2 {
		return 0
	}
	if _, err := f.ReadAt(e, int64(i-2)*offsetEntrySize); err != nil {
		return 0
	}
	return int64(int32(binary.BigEndian.Uint32(e[4:])))
}
