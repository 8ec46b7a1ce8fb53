package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/skiffkit/skiff/internal/log/vfs"
)

// Aborted transactions index, file <20-digit base offset>.txnindex next to
// the segment: one entry per transaction aborted by a marker in that
// segment, in marker order. Kafka's TransactionIndex/AbortedTxn format,
// big-endian; docs/storage.md has the same diagram.
//
//	entry (34 bytes), repeated:
//	offset  width  field
//	     0      2  version           int16  0
//	     2      8  producerId        int64
//	    10      8  firstOffset       int64  first offset of the transaction
//	    18      8  lastOffset        int64  offset of its ABORT marker
//	    26      8  lastStableOffset  int64  the LSO once it was aborted
//
// Like Kafka, the file exists only for segments with an aborted
// transaction. Unlike Kafka (which reads the file on every read_committed
// fetch) the entries are also kept in memory, 34 bytes per aborted
// transaction, also for sealed segments.
const (
	txnIndexSuffix    = ".txnindex"
	txnEntrySize      = 34
	txnEntryVersion   = 0
	txnOffProducerID  = 2
	txnOffFirstOffset = 10
	txnOffLastOffset  = 18
	txnOffLSO         = 26
)

var errTxnIndex = errors.New("invalid transaction index")

// abortedTxn is one .txnindex entry (Kafka's AbortedTxn).
type abortedTxn struct {
	producerID       int64
	firstOffset      int64
	lastOffset       int64
	lastStableOffset int64
}

// AppendTo appends the entry's 34 bytes.
func (t *abortedTxn) AppendTo(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, txnEntryVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.producerID))
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.firstOffset))
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.lastOffset))
	return binary.BigEndian.AppendUint64(dst, uint64(t.lastStableOffset))
}

// ReadFrom decodes one entry from the start of src, checking what Kafka's
// AbortedTxn checks (the version) and what a sane entry must hold.
func (t *abortedTxn) ReadFrom(src []byte) error {
	if len(src) < txnEntrySize {
		return fmt.Errorf("%w: entry of %d bytes", errTxnIndex, len(src))
	}
	if v := int16(binary.BigEndian.Uint16(src)); v != txnEntryVersion {
		return fmt.Errorf("%w: entry version %d", errTxnIndex, v)
	}
	t.producerID = int64(binary.BigEndian.Uint64(src[txnOffProducerID:]))
	t.firstOffset = int64(binary.BigEndian.Uint64(src[txnOffFirstOffset:]))
	t.lastOffset = int64(binary.BigEndian.Uint64(src[txnOffLastOffset:]))
	t.lastStableOffset = int64(binary.BigEndian.Uint64(src[txnOffLSO:]))
	if t.producerID < 0 || t.firstOffset < 0 || t.firstOffset > t.lastOffset || t.lastStableOffset < 0 || t.lastStableOffset > t.lastOffset+1 {
		return fmt.Errorf("%w: producer %d, offsets %d..%d, LSO %d", errTxnIndex, t.producerID, t.firstOffset, t.lastOffset, t.lastStableOffset)
	}
	return nil
}

// decodeTxnIndex parses a .txnindex file of the segment [base, next):
// whole entries whose markers lie in the segment in increasing order.
func decodeTxnIndex(b []byte, base, next int64) ([]abortedTxn, error) {
	if len(b)%txnEntrySize != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a whole number of entries", errTxnIndex, len(b))
	}
	out := make([]abortedTxn, 0, len(b)/txnEntrySize)
	prev := base - 1
	for i := 0; i < len(b); i += txnEntrySize {
		var t abortedTxn
		if err := t.ReadFrom(b[i:]); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i/txnEntrySize, err)
		}
		if t.lastOffset <= prev || t.lastOffset >= next {
			return nil, fmt.Errorf("%w: entry %d has marker offset %d outside (%d, %d)", errTxnIndex, i/txnEntrySize, t.lastOffset, prev, next)
		}
		prev = t.lastOffset
		out = append(out, t)
	}
	return out, nil
}

// addAborted appends an entry to the active segment's index, in memory and
// in the file (created on the first entry, with a directory fsync so that
// its name is as durable as the marker). A failure takes the log offline.
// Caller holds mu.
func (l *Log) addAborted(s *segment, t abortedTxn) error {
	if s.txnFile == nil {
		f, err := l.fs.OpenFile(fileName(l.dir, s.base, txnIndexSuffix), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return l.goOffline(storageError("create transaction index", err))
		}
		if err := l.fs.SyncDir(l.dir); err != nil {
			f.Close()
			return l.goOffline(storageError("create transaction index: fsync directory", err))
		}
		s.idxMu.Lock()
		s.txnFile = f
		s.idxMu.Unlock()
	}
	s.idxMu.Lock()
	n := len(s.txnIdx)
	s.txnBuf = t.AppendTo(s.txnBuf[:0])
	_, err := s.txnFile.WriteAt(s.txnBuf, int64(n)*txnEntrySize)
	if err == nil {
		s.txnIdx = append(s.txnIdx, t)
	}
	s.idxMu.Unlock()
	if err != nil {
		return l.goOffline(storageError("write transaction index", err))
	}
	s.txnDirty.Store(true)
	return nil
}

// loadTxnIndex reads a segment's .txnindex, if it has one.
func (l *Log) loadTxnIndex(s *segment) ([]abortedTxn, error) {
	name := fileName(l.dir, s.base, txnIndexSuffix)
	b, err := vfs.ReadFile(l.fs, name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// Entries past the segment's recovered end (a marker lost with a torn
	// tail) are not an error here: loadProducers drops them.
	return decodeTxnIndex(b, s.base, math.MaxInt64)
}

// writeTxnIndex replaces a segment's entries and its file (removed when
// there are none) after recovery rebuilt them; created reports a changed
// directory entry. The file is fsynced with the segment (txnDirty).
func (l *Log) writeTxnIndex(s *segment, entries []abortedTxn) (dirChanged bool, err error) {
	name := fileName(l.dir, s.base, txnIndexSuffix)
	s.idxMu.Lock()
	s.txnIdx = entries
	s.idxMu.Unlock()
	if len(entries) == 0 {
		if s.txnFile != nil {
			s.txnFile.Close()
			s.txnFile = nil
		}
		err := l.fs.Remove(name)
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}
	if s.txnFile == nil {
		if _, serr := l.fs.Stat(name); serr != nil {
			dirChanged = true
		}
		f, err := l.fs.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return false, err
		}
		s.txnFile = f
	}
	var b []byte
	for i := range entries {
		b = entries[i].AppendTo(b)
	}
	if err := s.txnFile.Truncate(0); err != nil {
		return dirChanged, err
	}
	if _, err := s.txnFile.WriteAt(b, 0); err != nil {
		return dirChanged, err
	}
	s.txnDirty.Store(true)
	return dirChanged, nil
}
