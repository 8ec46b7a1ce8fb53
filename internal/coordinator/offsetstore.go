package coordinator

import (
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/skiffkit/skiff/internal/framelog"
)

const (
	offsetsFile = "offsets.log"
	// compactRatio: the log is rewritten with only its live entries once it
	// is this many times larger than they are.
	compactRatio = 4
	// defaultCompactMin keeps small logs from being rewritten over and over.
	defaultCompactMin = 1 << 20
	// A compacted log is written in frames of at most this many entries
	// or bytes, so that no frame nears the uint32 length limit.
	compactFrameEntries = 1024
	compactFrameBytes   = 1 << 20
)

type topicPartition struct {
	topic     string
	partition int32
}

// storeOp is one atomic change of the log: its entries become one frame.
// prepare, when set, computes the entries in the writer goroutine after every
// earlier op is applied, so that expiry decisions see the latest commits.
// done is called exactly once, from the writer goroutine, after the frame is
// durable and applied (or failed).
type storeOp struct {
	entries []logEntry
	prepare func() []logEntry
	done    func(error)
}

// offsetStore holds committed offsets in memory and durably in offsets.log.
// One writer goroutine appends frames and fsyncs: every op queued while a
// write is in flight shares the next fsync (group commit).
//
// Lock order: Coordinator.mu, then offsetStore.mu; qmu is a leaf. The writer
// goroutine takes Coordinator.mu only in an op's prepare, holding nothing.
type offsetStore struct {
	path   string
	logger *slog.Logger
	// file is the log's open, append and compaction steps
	// (internal/framelog).
	file framelog.Log

	// mu guards offsets, groups and liveBytes. Only the writer goroutine
	// (and load, before it starts) mutates them.
	mu      sync.Mutex
	offsets map[string]map[topicPartition]offsetValue
	// groups is the last durable metadata record of each group
	// (grouplog.go): what New restores and compaction rewrites.
	groups    map[string]*groupRecord
	liveBytes int64

	// qmu guards queue and closing.
	qmu     sync.Mutex
	queue   []*storeOp
	closing bool
	kick    chan struct{}
	stopped chan struct{}

	// Owned by the writer goroutine once it runs.
	f    *os.File
	size int64
	buf  []byte
	// compactMin is the smallest log that is compacted; after a failed
	// compaction the next try waits until the log reaches retryAt.
	compactMin int64
	retryAt    int64

	// syncs counts appends (one fsync each); beforeWrite, if set by a
	// test, runs in the writer before each append.
	syncs       atomic.Int64
	beforeWrite func()
}

// openOffsetStore loads dir/offsets.log, truncating a torn or corrupt tail,
// and creates the file if it does not exist. A file that does not start with
// the log's magic is an error rather than overwritten: it is not ours.
func openOffsetStore(dir string, logger *slog.Logger) (*offsetStore, error) {
	s := &offsetStore{
		path:       filepath.Join(dir, offsetsFile),
		logger:     logger,
		offsets:    make(map[string]map[topicPartition]offsetValue),
		groups:     make(map[string]*groupRecord),
		kick:       make(chan struct{}, 1),
		stopped:    make(chan struct{}),
		compactMin: defaultCompactMin,
	}
	s.file = framelog.Log{Format: &logFormat, Path: s.path, Name: "offsets log", Logger: logger}
	f, size, err := s.file.Open(func(data []byte) (int, error) { return replayLog(data, s.apply) })
	if err != nil {
		return nil, err
	}
	s.f, s.size = f, size
	return s, nil
}

// apply changes the in-memory state by one entry. Callers hold mu, or own
// the store exclusively (load).
func (s *offsetStore) apply(e *logEntry) {
	switch e.kind {
	case entryCommit:
		tps := s.offsets[e.key.group]
		if tps == nil {
			tps = make(map[topicPartition]offsetValue)
			s.offsets[e.key.group] = tps
		}
		tp := topicPartition{e.key.topic, e.key.partition}
		if old, ok := tps[tp]; ok {
			s.liveBytes -= int64(liveSize(e.key, old))
		}
		tps[tp] = e.value
		s.liveBytes += int64(liveSize(e.key, e.value))
	case entryPartitionDelete:
		tps := s.offsets[e.key.group]
		tp := topicPartition{e.key.topic, e.key.partition}
		if old, ok := tps[tp]; ok {
			s.liveBytes -= int64(liveSize(e.key, old))
			delete(tps, tp)
			if len(tps) == 0 {
				delete(s.offsets, e.key.group)
			}
		}
	case entryGroupDelete:
		for tp, old := range s.offsets[e.key.group] {
			s.liveBytes -= int64(liveSize(offsetKey{e.key.group, tp.topic, tp.partition}, old))
		}
		delete(s.offsets, e.key.group)
		s.setGroup(e.key.group, nil)
	case entryGroupMetadata:
		s.setGroup(e.key.group, e.meta)
	case entryGroupMetadataDelete:
		s.setGroup(e.key.group, nil)
	}
}

// setGroup replaces group's metadata record (nil forgets it), keeping
// liveBytes in step. Callers hold mu, or own the store exclusively.
func (s *offsetStore) setGroup(group string, r *groupRecord) {
	if old, ok := s.groups[group]; ok {
		s.liveBytes -= int64(groupEntrySize(group, old))
		delete(s.groups, group)
	}
	if r != nil {
		s.groups[group] = r
		s.liveBytes += int64(groupEntrySize(group, r))
	}
}

func groupEntrySize(group string, r *groupRecord) int {
	return entrySize(&logEntry{kind: entryGroupMetadata, key: offsetKey{group: group}, meta: r})
}

func liveSize(k offsetKey, v offsetValue) int {
	return entrySize(&logEntry{kind: entryCommit, key: k, value: v})
}

// start runs the writer goroutine; wg is the coordinator's.
func (s *offsetStore) start(wg *sync.WaitGroup) {
	wg.Go(s.run)
}

// submit queues op. After close began, op fails with ErrClosed at once.
func (s *offsetStore) submit(op *storeOp) {
	s.qmu.Lock()
	if s.closing {
		s.qmu.Unlock()
		op.done(ErrClosed)
		return
	}
	s.queue = append(s.queue, op)
	s.qmu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// close makes the writer finish every queued op, close the file and exit.
func (s *offsetStore) close() {
	s.qmu.Lock()
	s.closing = true
	s.qmu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *offsetStore) run() {
	defer close(s.stopped)
	for range s.kick {
		s.qmu.Lock()
		ops, closing := s.queue, s.closing
		s.queue = nil
		s.qmu.Unlock()
		s.process(ops)
		if closing {
			if err := s.f.Close(); err != nil {
				s.logger.Error("offsets log: close", "path", s.path, "err", err)
			}
			return
		}
	}
}

// process writes ops in order: plain ops are batched into one write and one
// fsync; an op with prepare first flushes everything before it.
func (s *offsetStore) process(ops []*storeOp) {
	start := 0
	for i, op := range ops {
		if op.prepare == nil {
			continue
		}
		s.write(ops[start:i])
		op.entries = op.prepare()
		s.write(ops[i : i+1])
		start = i + 1
	}
	s.write(ops[start:])
}

func (s *offsetStore) write(ops []*storeOp) {
	s.buf = s.buf[:0]
	for _, op := range ops {
		if len(op.entries) > 0 {
			s.buf = appendFrame(s.buf, op.entries)
		}
	}
	var err error
	if len(s.buf) > 0 {
		if s.beforeWrite != nil {
			s.beforeWrite()
		}
		s.syncs.Add(1)
		if err = s.file.Append(s.f, s.size, s.buf); err != nil {
			s.logger.Error("offsets log: append failed", "err", err)
		} else {
			s.size += int64(len(s.buf))
			s.mu.Lock()
			for _, op := range ops {
				for i := range op.entries {
					s.apply(&op.entries[i])
				}
			}
			s.mu.Unlock()
		}
	}
	for _, op := range ops {
		op.done(err)
	}
	if err == nil {
		s.maybeCompact()
	}
}

// maybeCompact rewrites the log with only live entries once it is
// compactRatio times their size, like a compacted __consumer_offsets.
func (s *offsetStore) maybeCompact() {
	s.mu.Lock()
	live := int64(len(logMagic)) + s.liveBytes
	s.mu.Unlock()
	if s.size < s.compactMin || s.size < s.retryAt || s.size < compactRatio*live {
		return
	}
	if err := s.compact(); err != nil {
		// Keep appending to the old file; retry once it has doubled.
		s.logger.Error("offsets log: compaction failed", "path", s.path, "err", err)
		s.retryAt = 2 * s.size
		return
	}
	s.retryAt = 0
}

func (s *offsetStore) compact() error {
	buf := append(s.buf[:0], logMagic...)
	batch := make([]logEntry, 0, compactFrameEntries)
	batchBytes := 0
	add := func(e logEntry) {
		batch = append(batch, e)
		batchBytes += entrySize(&batch[len(batch)-1])
		if len(batch) == compactFrameEntries || batchBytes >= compactFrameBytes {
			buf = appendFrame(buf, batch)
			batch, batchBytes = batch[:0], 0
		}
	}
	s.mu.Lock()
	for group, r := range s.groups {
		add(logEntry{kind: entryGroupMetadata, key: offsetKey{group: group}, meta: r})
	}
	for group, tps := range s.offsets {
		for tp, v := range tps {
			add(logEntry{kind: entryCommit, key: offsetKey{group, tp.topic, tp.partition}, value: v})
		}
	}
	s.mu.Unlock()
	if len(batch) > 0 {
		buf = appendFrame(buf, batch)
	}
	s.buf = buf
	f, err := s.file.Replace(buf)
	if err != nil {
		return err
	}
	old := s.f
	s.f, s.size = f, int64(len(buf))
	s.logger.Debug("offsets log: compacted", "path", s.path, "bytes", s.size)
	return old.Close()
}

// fetch returns the committed offset of one partition.
func (s *offsetStore) fetch(group string, tp topicPartition) (offsetValue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.offsets[group][tp]
	return v, ok
}

// groupOffsets returns a copy of every committed offset of group.
func (s *offsetStore) groupOffsets(group string) map[topicPartition]offsetValue {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[topicPartition]offsetValue, len(s.offsets[group]))
	for tp, v := range s.offsets[group] {
		out[tp] = v
	}
	return out
}

func (s *offsetStore) hasGroup(group string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.offsets[group]) > 0
}

// hasGroupRecord reports whether group has a durable metadata record.
func (s *offsetStore) hasGroupRecord(group string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.groups[group] != nil
}

// groupRecords returns the metadata record of every group. The records
// are never modified once applied, so they are shared, not copied.
func (s *offsetStore) groupRecords() map[string]*groupRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.groups)
}

func (s *offsetStore) groupNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.offsets))
	for g := range s.offsets {
		out = append(out, g)
	}
	return out
}

// expired lists tombstones for offsets past their retention in groups for
// which keep returns false. An explicit expire time (OffsetCommit v2-v4
// retention) wins over the default retention.
func (s *offsetStore) expired(nowMs, retentionMs int64, keep func(group string) bool) []logEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []logEntry
	for group, tps := range s.offsets {
		if keep(group) {
			continue
		}
		for tp, v := range tps {
			deadline := v.expireTime
			if deadline < 0 {
				deadline = v.commitTime + retentionMs
			}
			if nowMs >= deadline {
				out = append(out, logEntry{kind: entryPartitionDelete, key: offsetKey{group, tp.topic, tp.partition}})
			}
		}
	}
	return out
}
