package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/kerr"
)

// Read appends to dst whole batches starting with the one that holds
// offset, up to maxBytes, but always at least one whole batch when there is
// one (KIP-74: a batch larger than the fetch size must not stall a
// consumer). The batches come from the segment files through pread (no log
// data is held in memory) and never extend past a fully written batch; a
// Read never waits for an Append or a Sync.
//
// offset == EndOffset returns dst unchanged and no error; an offset outside
// [LogStartOffset, EndOffset] returns an error wrapping kerr.OffsetOutOfRange,
// and an offline log (see ErrOffline) one wrapping kerr.KafkaStorageError.
func (l *Log) Read(offset int64, maxBytes int, dst []byte) ([]byte, error) {
	return l.read(offset, math.MaxInt64, maxBytes, dst)
}

// read is Read returning only batches whose base offset is below
// maxOffset (the LSO for read_committed: it always falls on a batch
// boundary). An offset in [maxOffset, EndOffset] returns nothing.
func (l *Log) read(offset, maxOffset int64, maxBytes int, dst []byte) ([]byte, error) {
	segs, i, err := l.readFrom(offset, maxOffset)
	if err != nil || segs == nil {
		return dst, err
	}
	startLen := len(dst)
	for ; i < len(segs); i++ {
		s := segs[i]
		if !s.acquire() {
			// Retention dropped the segment since segs was loaded.
			if len(dst) > startLen {
				return dst, nil
			}
			return dst, l.outOfRange(offset)
		}
		var full bool
		var err error
		dst, full, err = s.read(offset, maxOffset, maxBytes-(len(dst)-startLen), len(dst) == startLen, dst)
		s.release()
		if err != nil {
			if l.logStart.Load() > offset {
				return dst[:startLen], l.outOfRange(offset)
			}
			return dst[:startLen], fmt.Errorf("log %s: read offset %d: %w", l.dir, offset, err)
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

func (l *Log) checkRange(offset, end int64) error {
	if offset < l.logStart.Load() || offset > end {
		return l.outOfRange(offset)
	}
	return nil
}

func (l *Log) outOfRange(offset int64) error {
	if l.isClosed.Load() {
		return ErrClosed
	}
	return fmt.Errorf("log %s: offset %d: %w: the log holds [%d, %d)", l.dir, offset, kerr.OffsetOutOfRange, l.logStart.Load(), l.endOffset.Load())
}

// read appends the batches of s from the one holding offset on, up to
// budget bytes (at least one batch when atLeastOne). full reports that the
// budget stopped it, so the caller must not continue with the next segment.
//
// Batches at or past maxOffset are left out, and reaching one also stops
// the caller (full).
func (s *segment) read(offset, maxOffset int64, budget int, atLeastOne bool, dst []byte) (out []byte, full bool, err error) {
	limit := s.size.Load()
	// Index entries and then batch headers are read into dst's spare
	// capacity, which the batch data overwrites afterwards, so finding the
	// batch allocates nothing.
	dst = slices.Grow(dst, batch.HeaderSize)
	hb := dst[len(dst) : len(dst)+batch.HeaderSize]
	pos, h, found, err := s.locate(offset, limit, hb)
	if err != nil || !found {
		return dst, false, err
	}
	if h.BaseOffset >= maxOffset {
		return dst, true, nil
	}
	want := int64(max(budget, 0))
	if want < int64(h.Size()) {
		if !atLeastOne {
			return dst, true, nil
		}
		want = int64(h.Size())
	}
	want = min(want, limit-pos)
	start := len(dst)
	dst = slices.Grow(dst, int(want))[:start+int(want)]
	if _, err := s.log.ReadAt(dst[start:], pos); err != nil && !errors.Is(err, io.EOF) {
		return dst[:start], false, storageError("read", err)
	}
	// Keep only whole batches.
	n, bounded := wholeBatchesBelow(dst[start:], maxOffset)
	dst = dst[:start+n]
	return dst, bounded || pos+int64(n) < limit, nil
}

// locate finds the batch holding offset by walking headers from the
// indexed position: at most index.interval.bytes plus one batch away. found
// is false when offset is past the segment's last batch below limit. hb is
// scratch of batch.HeaderSize bytes.
func (s *segment) locate(offset, limit int64, hb []byte) (pos int64, h batch.Header, found bool, err error) {
	if offset > s.base {
		pos = s.lookup(offset, hb)
	}
	for {
		if pos >= limit {
			return pos, h, false, nil
		}
		if limit-pos < batch.HeaderSize {
			return pos, h, false, corruptSegment(s, pos, batch.ErrShort)
		}
		if _, err := s.log.ReadAt(hb, pos); err != nil {
			return pos, h, false, storageError("read", err)
		}
		if h, err = batch.ParseHeader(hb); err != nil {
			return pos, h, false, corruptSegment(s, pos, err)
		}
		if pos+int64(h.Size()) > limit {
			return pos, h, false, corruptSegment(s, pos, batch.ErrShort)
		}
		if h.LastOffset() >= offset {
			return pos, h, true, nil
		}
		pos += int64(h.Size())
	}
}

// wholeBatchesBelow is the length of the prefix of b made of complete
// batches whose base offset is below maxOffset; bounded reports that a
// batch was left out for its offset.
func wholeBatchesBelow(b []byte, maxOffset int64) (n int, bounded bool) {
	for len(b)-n >= batch.LogOverhead {
		size := batch.LogOverhead + int(int32(binary.BigEndian.Uint32(b[n+8:])))
		if size < batch.HeaderSize || size > len(b)-n {
			break
		}
		if int64(binary.BigEndian.Uint64(b[n:])) >= maxOffset {
			return n, true
		}
		n += size
	}
	return n, false
}

func corruptSegment(s *segment, pos int64, err error) error {
	return storageError(fmt.Sprintf("segment %d position %d", s.base, pos), err)
}

// OffsetForTime returns the first offset whose record timestamp is >= ts and
// that timestamp (ListOffsets by timestamp); ok is false when no record is
// that recent. It skips segments whose largest timestamp is below ts, starts
// in the next one from the last time index entry below ts, and decodes the
// records of the first batch whose max timestamp reaches ts.
func (l *Log) OffsetForTime(ts int64) (offset int64, timestamp int64, ok bool, err error) {
	if l.isClosed.Load() {
		return 0, 0, false, ErrClosed
	}
	if err := l.Offline(); err != nil {
		return 0, 0, false, fmt.Errorf("log %s: offset for time: %w", l.dir, err)
	}
	segs := *l.segs.Load()
	var dec batch.Decoder
	var buf []byte
	for _, s := range segs {
		if s.largestTimestamp() < ts {
			continue
		}
		if !s.acquire() {
			continue
		}
		offset, timestamp, ok, err = s.offsetForTime(ts, &dec, &buf)
		s.release()
		if err != nil {
			return 0, 0, false, fmt.Errorf("log %s: offset for time %d: %w", l.dir, ts, err)
		}
		if ok {
			return offset, timestamp, true, nil
		}
	}
	return 0, 0, false, nil
}

var errFound = errors.New("found")

func (s *segment) offsetForTime(ts int64, dec *batch.Decoder, buf *[]byte) (int64, int64, bool, error) {
	pos := s.lookupTime(ts)
	limit := s.size.Load()
	var hb [batch.HeaderSize]byte
	for pos < limit {
		if _, err := s.log.ReadAt(hb[:], pos); err != nil {
			return 0, 0, false, storageError("read", err)
		}
		h, err := batch.ParseHeader(hb[:])
		if err != nil {
			return 0, 0, false, corruptSegment(s, pos, err)
		}
		size := int64(h.Size())
		if pos+size > limit {
			return 0, 0, false, corruptSegment(s, pos, batch.ErrShort)
		}
		if h.MaxTimestamp >= ts {
			b := slices.Grow((*buf)[:0], int(size))[:size]
			*buf = b
			if _, err := s.log.ReadAt(b, pos); err != nil {
				return 0, 0, false, storageError("read", err)
			}
			var off, at int64
			err := dec.Records(b, func(_ *batch.Header, r *batch.Record) error {
				if r.Timestamp >= ts {
					off, at = r.Offset, r.Timestamp
					return errFound
				}
				return nil
			})
			if errors.Is(err, errFound) {
				return off, at, true, nil
			}
			if err != nil {
				return 0, 0, false, corruptSegment(s, pos, err)
			}
		}
		pos += size
	}
	return 0, 0, false, nil
}

// readFrom is where a read (Read, ReadSlices) of offset starts: the
// segments as they are now and the index of the one holding offset. nil
// segments and no error mean there is nothing to read yet (offset is the
// end, or at or past maxOffset).
func (l *Log) readFrom(offset, maxOffset int64) ([]*segment, int, error) {
	if l.isClosed.Load() {
		return nil, 0, ErrClosed
	}
	if err := l.Offline(); err != nil {
		// What was never acknowledged may be in the page cache; serve
		// nothing until recovery has looked at the disk.
		return nil, 0, fmt.Errorf("log %s: read: %w", l.dir, err)
	}
	end := l.endOffset.Load()
	if err := l.checkRange(offset, end); err != nil {
		return nil, 0, err
	}
	if offset >= min(end, maxOffset) {
		return nil, 0, nil
	}
	segs := *l.segs.Load()
	i := segmentFor(segs, offset)
	if i < 0 {
		return nil, 0, l.outOfRange(offset)
	}
	return segs, i, nil
}
