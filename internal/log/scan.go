package log

import (
	"errors"
	"fmt"
	"io"

	"github.com/skiffkit/skiff/internal/batch"
)

// scanner walks the batches of a segment file sequentially through one
// buffer, for recovery and index rebuilds. It never trusts a length field
// beyond the file's size, so garbage cannot make it allocate more than the
// file holds.
type scanner struct {
	f     io.ReaderAt
	end   int64  // file size
	pos   int64  // file position of the next batch
	buf   []byte // buf[r:w] holds the file bytes from pos on
	bufAt int64  // file position of buf[0]
	r, w  int
	crc   bool // validate CRCs (else headers only)
	// zeroTail is set when the file ends in zeros after its last batch,
	// written ahead by the broker (zeroAhead) or by Kafka's
	// log.preallocate: end is then where the zeros start.
	zeroTail bool
}

const scanBufSize = 256 << 10

func newScanner(f io.ReaderAt, from, end int64, crc bool) *scanner {
	return &scanner{f: f, end: end, pos: from, bufAt: from, buf: make([]byte, scanBufSize), crc: crc}
}

// errTorn marks where a segment stops holding valid batches: recovery
// truncates there. It wraps the batch error that says why.
var errTorn = errors.New("invalid batch")

// next returns the header, position and size of the next batch. It returns
// io.EOF at a clean end of file and an error wrapping errTorn at the first
// batch that is truncated, structurally invalid or fails its CRC.
func (s *scanner) next() (h batch.Header, pos int64, err error) {
	if s.pos >= s.end {
		return h, s.pos, io.EOF
	}
	if err := s.fill(batch.HeaderSize); err != nil {
		return h, s.pos, err
	}
	avail := s.buf[s.r:s.w]
	if len(avail) >= batch.HeaderSize && allZero(avail[:batch.HeaderSize]) {
		// No batch header is all zeros (its length alone is at least 49):
		// either zeros written ahead (zeroAhead writes at least a header's
		// worth), which end the log cleanly, or damage, which a non-zero
		// byte further on gives away. Fewer bytes than a header are a torn
		// batch whichever they are.
		zeros, err := s.restIsZero()
		if err != nil {
			return h, s.pos, err
		}
		if zeros {
			s.end, s.zeroTail = s.pos, true
			return h, s.pos, io.EOF
		}
	}
	h, err = batch.ParseHeader(avail)
	if err != nil {
		return h, s.pos, fmt.Errorf("%w at position %d: %w", errTorn, s.pos, err)
	}
	size := int64(h.Size())
	if s.pos+size > s.end {
		return h, s.pos, fmt.Errorf("%w at position %d: batch of %d bytes runs past the end of the file (%d)", errTorn, s.pos, size, s.end)
	}
	if s.crc {
		if err := s.fill(int(size)); err != nil {
			return h, s.pos, err
		}
		if _, err := batch.Validate(s.buf[s.r : s.r+int(size)]); err != nil {
			return h, s.pos, fmt.Errorf("%w at position %d: %w", errTorn, s.pos, err)
		}
	}
	pos = s.pos
	s.skip(size)
	return h, pos, nil
}

// fill makes at least n bytes from pos available in buf[r:], fewer only at
// the end of the file (then the caller's parse reports the short batch).
func (s *scanner) fill(n int) error {
	if s.w-s.r >= n {
		return nil
	}
	if want := int64(n); want > s.end-s.pos {
		n = int(s.end - s.pos)
	}
	if n > len(s.buf) {
		nb := make([]byte, n)
		copy(nb, s.buf[s.r:s.w])
		s.buf = nb
	} else {
		copy(s.buf, s.buf[s.r:s.w])
	}
	s.w -= s.r
	s.r = 0
	s.bufAt = s.pos
	for s.w < n {
		toRead := s.buf[s.w:]
		if rem := s.end - (s.bufAt + int64(s.w)); int64(len(toRead)) > rem {
			toRead = toRead[:rem]
		}
		m, err := s.f.ReadAt(toRead, s.bufAt+int64(s.w))
		s.w += m
		if err != nil && !(errors.Is(err, io.EOF) && m > 0) {
			if errors.Is(err, io.EOF) {
				// The file shrank under us; treat what is there as the end.
				s.end = s.bufAt + int64(s.w)
				return nil
			}
			return fmt.Errorf("read segment at %d: %w", s.bufAt+int64(s.w), err)
		}
	}
	return nil
}

func (s *scanner) skip(n int64) {
	s.pos += n
	if int64(s.w-s.r) >= n {
		s.r += int(n)
		return
	}
	s.r, s.w, s.bufAt = 0, 0, s.pos
}

// restIsZero reports whether the file holds only zeros from pos to end.
func (s *scanner) restIsZero() (bool, error) {
	buf := make([]byte, 64<<10)
	for off := s.pos; off < s.end; {
		n := min(int64(len(buf)), s.end-off)
		m, err := s.f.ReadAt(buf[:n], off)
		if !allZero(buf[:m]) {
			return false, nil
		}
		if err != nil && !(errors.Is(err, io.EOF) && int64(m) == n) {
			if errors.Is(err, io.EOF) {
				return true, nil // the file shrank under us
			}
			return false, fmt.Errorf("read segment at %d: %w", off, err)
		}
		off += n
	}
	return true, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
