package txncoord

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/skiffkit/skiff/internal/framelog"
)

const (
	// LogFile is the transaction log's name under Config.DataDir. The
	// broker passes <data dir>/__transaction_state as DataDir, next to the
	// group coordinator's <data dir>/__consumer_offsets, so the log sits
	// where Kafka keeps the topic it stands in for.
	LogFile = "transactions.log"
	// compactRatio: the log is rewritten with only its live entries once it
	// is this many times larger than they are (the offsets log's rule).
	compactRatio = 4
	// defaultCompactMin keeps small logs from being rewritten over and over.
	defaultCompactMin = 1 << 20
	// A compacted log is written in frames of at most this many bytes, so
	// that no frame nears the uint32 length limit.
	compactFrameBytes = 1 << 20
)

// liveTxn is what compaction keeps of one transactional id: its last state
// entry and the offsets staged since its transaction began, which a
// PrepareCommit found at a restart still has to commit.
type liveTxn struct {
	state     *logEntry
	offsets   []*logEntry
	liveBytes int64
}

// txnStore is the durable transaction log. An append returns once its
// frame is written and fsynced, because the coordinator answers only after
// that; appends for different transactional ids share fsyncs (group
// commit): each writes its frame at once under mu, and the first to wait
// for durability fsyncs for everyone written so far while the others wait
// for it or write theirs for the next round.
//
// A failed fsync fails the store for good, as a failed fsync takes a
// partition's log offline: the kernel may have dropped the pages, so a
// later fsync that succeeds proves nothing (PostgreSQL's "fsyncgate"). The
// frames not known durable are truncated away and every append waiting on
// them fails.
//
// mu guards everything; it is a leaf lock (the coordinator never holds its
// own lock while appending, see Coordinator.transit).
type txnStore struct {
	path   string
	logger *slog.Logger
	// file is the log's open, append and compaction steps
	// (internal/framelog).
	file framelog.Log

	mu        sync.Mutex
	cond      sync.Cond // on mu: a sync round ended, or an append left
	f         *os.File
	size      int64
	buf       []byte
	live      map[string]*liveTxn
	liveBytes int64
	closed    bool
	// Group commit: frames written, frames durable (and the log size they
	// end at), whether a round runs, the appends between their write and
	// their return, and the error that failed the store.
	written, synced uint64
	syncedSize      int64
	syncing         bool
	inflight        int
	failed          error
	// compactMin is the smallest log that is compacted; after a failed
	// compaction the next try waits until the log reaches retryAt.
	compactMin int64
	retryAt    int64
	// Set by tests: failWrite makes the next appends fail with its error;
	// beforeSync runs before each fsync (without mu) and its error, if
	// any, stands for the fsync's.
	failWrite  error
	beforeSync func() error
	// syncs counts fsync rounds, for tests.
	syncs int
}

// openTxnStore loads dir/transactions.log, truncating a torn or corrupt
// tail, and creates the file if it does not exist. apply sees every valid
// entry in order. A file that does not start with the log's magic is an
// error rather than overwritten: it is not ours.
func openTxnStore(dir string, logger *slog.Logger, apply func(*logEntry)) (*txnStore, error) {
	s := &txnStore{
		path:       filepath.Join(dir, LogFile),
		logger:     logger,
		live:       make(map[string]*liveTxn),
		compactMin: defaultCompactMin,
	}
	s.file = framelog.Log{Format: &logFormat, Path: s.path, Name: "transaction log", Logger: logger}
	f, size, err := s.file.Open(func(data []byte) (int, error) {
		return replayLog(data, func(e *logEntry) {
			s.track(e)
			apply(e)
		})
	})
	if err != nil {
		return nil, err
	}
	s.f, s.size, s.syncedSize = f, size, size
	s.cond.L = &s.mu
	return s, nil
}

// track updates the live set by one durable entry. Callers hold mu, or own
// the store exclusively (load).
func (s *txnStore) track(e *logEntry) {
	lt := s.live[e.txnID]
	if lt != nil {
		s.liveBytes -= lt.liveBytes
	}
	switch e.kind {
	case entryTombstone:
		delete(s.live, e.txnID)
		return
	case entryState:
		if lt == nil {
			lt = &liveTxn{}
			s.live[e.txnID] = lt
		}
		lt.state = e
		if e.rec.state.ended() {
			// The staged offsets were committed or dropped with the
			// transaction: a later restart must not see them again.
			lt.offsets = nil
		}
	case entryOffsets:
		if lt == nil {
			// Offsets without a state are impossible from this writer;
			// a state entry for the id always comes first.
			return
		}
		lt.offsets = append(lt.offsets, e)
	}
	lt.liveBytes = int64(entrySize(lt.state))
	for _, o := range lt.offsets {
		lt.liveBytes += int64(entrySize(o))
	}
	s.liveBytes += lt.liveBytes
}

func entrySize(e *logEntry) int {
	if e == nil {
		return 0
	}
	var scratch [256]byte
	return len(appendEntry(scratch[:0], e))
}

// append writes entries as one frame and returns once it is durable. On
// error nothing of the frame remains in the file, so the log stays valid.
func (s *txnStore) append(entries []logEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case s.failed != nil:
		return s.failed
	case s.failWrite != nil:
		return fmt.Errorf("transaction log %s: append: %w", s.path, s.failWrite)
	}
	s.buf = appendFrame(s.buf[:0], entries)
	off := s.size
	if _, err := s.f.WriteAt(s.buf, off); err != nil {
		// Frames written before this one stay: they are complete.
		if terr := s.f.Truncate(off); terr != nil {
			err = errors.Join(err, terr)
		}
		return fmt.Errorf("transaction log %s: append: %w", s.path, err)
	}
	s.size += int64(len(s.buf))
	s.written++
	seq := s.written
	s.inflight++
	defer func() {
		s.inflight--
		s.cond.Broadcast() // close waits for inflight to drain
	}()
	if err := s.awaitSync(seq); err != nil {
		return err
	}
	for i := range entries {
		e := entries[i] // the live set keeps its own copy
		s.track(&e)
	}
	// Compaction rewrites the log from the live set, so it waits until no
	// written frame is still untracked.
	if s.inflight == 1 {
		s.maybeCompact()
	}
	return nil
}

// awaitSync returns once frame seq is durable, running the fsync round
// itself when none is running. Callers hold mu; it is released during the
// fsync, so other appends write their frames meanwhile.
func (s *txnStore) awaitSync(seq uint64) error {
	for s.synced < seq {
		if s.failed != nil {
			return s.failed
		}
		if s.syncing {
			s.cond.Wait()
			continue
		}
		s.syncing = true
		target, size, f, before := s.written, s.size, s.f, s.beforeSync
		s.mu.Unlock()
		var err error
		if before != nil {
			err = before()
		}
		if err == nil {
			err = f.Sync()
		}
		s.mu.Lock()
		s.syncing = false
		s.syncs++
		if err != nil {
			s.failed = fmt.Errorf("transaction log %s: fsync: %w", s.path, err)
			// Best effort: the frames after the last durable one are
			// answered as failed, so they should not come back at a
			// restart either.
			if terr := s.f.Truncate(s.syncedSize); terr != nil {
				s.logger.Error("transaction log: truncate after failed fsync", "path", s.path, "err", terr)
			}
			s.size = s.syncedSize
			s.logger.Error("transaction log: fsync failed; the transaction coordinator is unavailable until restart", "path", s.path, "err", err)
		} else {
			s.synced, s.syncedSize = target, size
		}
		s.cond.Broadcast()
	}
	return nil
}

// maybeCompact rewrites the log with only its live entries once it is
// compactRatio times their size. Callers hold mu. A failure leaves the old
// log in place; it is logged, not returned, because the append that
// triggered it is already durable.
func (s *txnStore) maybeCompact() {
	if s.size < s.compactMin || s.size < s.retryAt || s.size < compactRatio*s.liveBytes {
		return
	}
	if err := s.compact(); err != nil {
		s.retryAt = 2 * s.size
		s.logger.Error("transaction log: compaction failed", "path", s.path, "err", err)
	}
}

func (s *txnStore) compact() error {
	ids := make([]string, 0, len(s.live))
	for id := range s.live {
		ids = append(ids, id)
	}
	sort.Strings(ids) // a deterministic file, for tests and for diffing
	out := []byte(logMagic)
	var frame []logEntry
	frameBytes := 0
	flush := func() {
		if len(frame) > 0 {
			out = appendFrame(out, frame)
			frame, frameBytes = frame[:0], 0
		}
	}
	for _, id := range ids {
		lt := s.live[id]
		// A transaction's state and its offsets share a frame, so a torn
		// compacted log never holds offsets without their state.
		if frameBytes > compactFrameBytes {
			flush()
		}
		frame = append(frame, *lt.state)
		for _, o := range lt.offsets {
			frame = append(frame, *o)
		}
		frameBytes += int(lt.liveBytes)
	}
	flush()
	f, err := s.file.Replace(out)
	if err != nil {
		return err
	}
	s.f.Close()
	s.f = f
	s.size = int64(len(out))
	s.syncedSize = s.size // Replace wrote it durably
	s.retryAt = 0
	return nil
}

// close closes the file once the appends in progress have returned;
// later appends fail with ErrClosed.
func (s *txnStore) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for s.inflight > 0 {
		s.cond.Wait()
	}
	return s.f.Close()
}
