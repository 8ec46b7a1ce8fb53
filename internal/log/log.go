package log

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/skiffkit/skiff/internal/log/vfs"
	"github.com/skiffkit/skiff/kerr"
)

// cleanShutdownFile marks a log closed cleanly: its indexes and newest
// snapshot can be trusted. Kafka keeps one such marker per log directory;
// skiff keeps one per partition because a Log is opened on its own.
const cleanShutdownFile = ".kafka_cleanshutdown"

// Log is the commit log of one partition. See the package doc for the
// concurrency model.
//
// Lock order: mu, then a segment's idxMu. The group-commit mutex is never
// held together with either: Close waits for the running fsync and releases
// it before taking mu, and the fsync itself only takes idxMu.
type Log struct {
	dir    string
	cfg    Config
	fs     vfs.FS
	logger *slog.Logger

	// mu guards the append state: writes to the active segment, rolls,
	// retention, the producer state and closed.
	mu        sync.Mutex
	producers producers
	// openTxns maps each producer with an open transaction to its first
	// offset (Kafka's ongoingTxns).
	openTxns map[int64]int64
	closed   bool
	// nextExpiry is when (Unix ms) an Append next sweeps the producer
	// state for expired ids. The log never reads the clock itself: the
	// time comes from the callers of Append and EnforceRetention, so the
	// first of them after Open (nextExpiry 0) drops the ids that expired
	// while the broker was down, as Kafka's snapshot load skips them.
	nextExpiry int64

	// fault is the storage error that took the log offline, nil while it
	// is online. Set once, never cleared (see ErrOffline); atomic because
	// lock-free readers and the group-commit fsync check it.
	fault atomic.Pointer[error]

	// Published for lock-free readers; written under mu.
	segs      atomic.Pointer[[]*segment] // ascending base offset; last is active
	endOffset atomic.Int64
	logStart  atomic.Int64
	// firstUnstable is the first offset of the oldest open transaction,
	// MaxInt64 when none is open; see LastStableOffset.
	firstUnstable atomic.Int64
	size          atomic.Int64
	synced        atomic.Int64
	isClosed      atomic.Bool  // set by Close, for the lock-free readers
	pinned        atomic.Int64 // slices not yet released (PinnedSlices)
	// cfg.SegmentBytes and cfg.MaxMessageBytes for Append's lock-free
	// validation; written under mu with cfg (Reconfigure).
	segmentBytes    atomic.Int64
	maxMessageBytes atomic.Int64

	group groupCommit
}

// Open opens the log in dir, creating the directory when it does not exist
// and recovering it when it was not closed cleanly.
func Open(dir string, cfg Config) (*Log, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// A new partition directory is an entry of the data directory: it is
	// fsynced there before anything is written inside it.
	if err := vfs.MkdirAll(cfg.FS, dir, 0o755); err != nil {
		return nil, fmt.Errorf("log %s: %w", dir, storageError("create directory", err))
	}
	l := &Log{
		dir:       dir,
		cfg:       cfg,
		fs:        cfg.FS,
		logger:    cfg.Logger.With("log", filepath.Base(dir)),
		producers: make(producers),
		openTxns:  make(map[int64]int64),
	}
	l.firstUnstable.Store(math.MaxInt64)
	l.publishLimits()
	l.group.init()
	if err := l.load(); err != nil {
		if segs := l.segs.Load(); segs != nil {
			for _, s := range *segs {
				s.closeFiles()
			}
		}
		return nil, fmt.Errorf("log %s: open: %w", dir, err)
	}
	return l, nil
}

// Offline returns the storage error that took the log offline (wrapping
// ErrOffline and kerr.KafkaStorageError), nil while the log is online.
func (l *Log) Offline() error {
	if p := l.fault.Load(); p != nil {
		return *p
	}
	return nil
}

// goOffline takes the log offline after a failed write, fsync or roll and
// returns the error every later call gets. The first failure is the one
// kept: later ones are consequences.
func (l *Log) goOffline(cause error) error {
	err := fmt.Errorf("%w: %w", ErrOffline, cause)
	if l.fault.CompareAndSwap(nil, &err) {
		l.logger.Error("log offline after a storage error; it stays offline until reopened", "err", cause)
	}
	return *l.fault.Load()
}

// Dir is the partition directory.
func (l *Log) Dir() string { return l.dir }

// EndOffset is the offset the next appended record gets; on a single node
// it is also the high watermark.
func (l *Log) EndOffset() int64 { return l.endOffset.Load() }

// LogStartOffset is the first offset still in the log.
func (l *Log) LogStartOffset() int64 { return l.logStart.Load() }

// SyncedOffset is the end offset the last completed fsync covered.
func (l *Log) SyncedOffset() int64 { return l.synced.Load() }

// Size is the total size of the .log files in bytes (Kafka's log size,
// which retention.bytes bounds; index files are not counted).
func (l *Log) Size() int64 { return l.size.Load() }

// NumSegments is how many segments the log has.
func (l *Log) NumSegments() int { return len(*l.segs.Load()) }

// ProducerState returns the epoch and last sequence the log knows for an
// idempotent producer; lastSeq is -1 when no batch of the epoch is known.
func (l *Log) ProducerState(pid int64) (epoch int16, lastSeq int32, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.producers[pid]
	if e == nil {
		return 0, 0, false
	}
	lastSeq = -1
	if m := e.last(); m != nil {
		lastSeq = m.lastSeq
	}
	return e.epoch, lastSeq, true
}

// segmentFor returns the segment holding offset in segs (sorted by base):
// the last one whose base offset is <= offset.
func segmentFor(segs []*segment, offset int64) int {
	return sort.Search(len(segs), func(i int) bool { return segs[i].base > offset }) - 1
}

func (l *Log) active() *segment {
	segs := *l.segs.Load()
	return segs[len(segs)-1]
}

// publish replaces the segment list readers see.
func (l *Log) publish(segs []*segment) {
	l.segs.Store(&segs)
}

// Close seals the active segment, persists its indexes, writes a
// producer-state snapshot at the end offset, fsyncs everything, writes the
// clean-shutdown marker and closes the files. Reads still running finish on
// their own references; later calls return ErrClosed.
func (l *Log) Close() error {
	if !l.group.close() {
		return ErrClosed
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	l.isClosed.Store(true)
	segs := *l.segs.Load()
	var errs []error
	// An offline log is left as it is on disk, without the clean-shutdown
	// marker, so that opening it again runs the full recovery.
	if l.Offline() == nil {
		act := segs[len(segs)-1]
		act.seal()
		if err := act.trimPreallocation(); err != nil {
			l.logger.Warn("giving back the active segment's preallocated space", "segment", act.base, "err", err)
		}
		for _, s := range segs {
			if s.dirty.Swap(false) {
				errs = append(errs, s.log.Sync())
			}
			errs = append(errs, s.syncTxnIndex())
			errs = append(errs, s.persistIndexes(true))
		}
		end := l.endOffset.Load()
		errs = append(errs, writeSnapshot(l.fs, l.dir, end, l.producers))
		if err := errors.Join(errs...); err == nil {
			l.synced.Store(end)
			errs = append(errs, l.writeCleanMarker())
		}
	}
	for _, s := range segs {
		s.release()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("log %s: close: %w", l.dir, err)
	}
	return nil
}

// Delete closes the log and removes its directory.
func (l *Log) Delete() error {
	err := l.Close()
	if err != nil && !errors.Is(err, ErrClosed) {
		l.logger.Warn("close before delete failed", "err", err)
	}
	if err := l.fs.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("log %s: delete: %w", l.dir, err)
	}
	return nil
}

// writeCleanMarker creates the clean-shutdown marker; its directory fsync
// also makes the snapshot Close renamed into place durable.
func (l *Log) writeCleanMarker() error {
	f, err := l.fs.OpenFile(filepath.Join(l.dir, cleanShutdownFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	err = errors.Join(f.Sync(), f.Close())
	if err != nil {
		return err
	}
	return l.fs.SyncDir(l.dir)
}

// storageError wraps an I/O failure as KAFKA_STORAGE_ERROR.
func storageError(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", kerr.KafkaStorageError, op, err)
}
