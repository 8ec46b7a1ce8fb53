package log

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/skiffkit/skiff/internal/batch"
)

// maxPendingWrites bounds the appends an Appender holds before it writes
// them: the logs' mutexes stay held that long, and one AIO context takes
// this many writes.
const maxPendingWrites = 256

var (
	// aioDisabled turns Linux AIO off (aio_linux.go): the Appender then
	// writes each batch with its own pwrite. Tests use it to run both
	// paths.
	aioDisabled atomic.Bool
	// aioBroken is set once io_setup failed (no AIO in the kernel, a
	// seccomp filter, fs.aio-max-nr reached): writes go one pwrite each.
	aioBroken atomic.Bool
	// aioWrites counts the writes submitted through AIO (AIOWrites).
	aioWrites atomic.Int64
)

// AIOWrites is the number of writes Appenders have submitted through Linux
// AIO since the process started; tests outside the package check with it
// that a path they drive really batches its writes.
func AIOWrites() int64 { return aioWrites.Load() }

// AIOSupported says this build has the AIO path (Linux on amd64 or arm64).
const AIOSupported = aioSupported

// An Appender appends record sets to many logs and writes them together:
// a Produce request's batches, one per partition, go to the kernel in one
// io_submit on Linux (aio_linux.go) instead of one pwrite each.
//
// Add validates a record set and prepares its append (producer checks,
// roll, offsets) under the log's mutex, which it keeps; Flush writes every
// prepared set, then indexes and publishes each and releases its mutex.
// Readers see an append only once Flush published it, as with Append, and
// an append's answer is the same as Append's would have been.
//
// Holding several logs' mutexes cannot deadlock: Add only ever waits for
// a mutex when it holds none, flushing first when the log is busy (or
// already in the Appender). An Appender is not safe for concurrent use;
// the zero value is ready.
type Appender struct {
	pending []appendSlot // prepared, holding their log's mu
	results []appendResult
	writes  []aioWrite
	// hdrs[i] holds the headers of pending[i] (validate appends into it).
	// When hdrs grows, pending slots keep pointing into the old array,
	// which nothing writes any more: their headers stay theirs.
	hdrs [][maxBatchesPerAppend]batch.Header
}

type appendSlot struct {
	l       *Log
	w       preparedWrite
	result  int // index in results
	headers []batch.Header
}

type appendResult struct {
	info AppendInfo
	err  error
}

// aioWrite is one write of a flush.
type aioWrite struct {
	fd  int
	buf []byte
	off int64
	n   int
	err error
}

// Add validates recordSet and prepares its append to l; it returns the
// number under which Result gives the outcome once Flush returned (Result
// may be ready earlier: an invalid set or a duplicate is not written).
// recordSet is rewritten in place as by Append and must stay untouched
// until Flush.
func (a *Appender) Add(l *Log, recordSet []byte, now time.Time) int {
	id := len(a.results)
	a.results = append(a.results, appendResult{})
	slot := len(a.pending)
	if slot == len(a.hdrs) {
		a.hdrs = append(a.hdrs, [maxBatchesPerAppend]batch.Header{})
	}
	headers, err := l.validate(recordSet, a.hdrs[slot][:0])
	if err != nil {
		a.results[id] = appendResult{AppendInfo{LogAppendTime: -1}, fmt.Errorf("log %s: append: %w", l.dir, err)}
		return id
	}
	if !l.mu.TryLock() {
		// Busy, or ours already: write what is pending, which releases
		// every mutex held, before waiting. That empties the pending
		// list, so this set's headers move to the first slot's storage,
		// where the next Add will not write over them.
		a.Flush()
		if slot != 0 && len(headers) <= maxBatchesPerAppend {
			headers = a.hdrs[0][:copy(a.hdrs[0][:], headers)]
		}
		l.mu.Lock()
	}
	w, err := l.prepareLocked(recordSet, headers, now)
	if err != nil || w.act == nil {
		l.mu.Unlock()
		a.results[id] = appendResult{w.info, wrapAppendErr(l, err)}
		return id
	}
	a.pending = append(a.pending, appendSlot{l: l, w: w, result: id, headers: headers})
	if len(a.pending) == maxPendingWrites {
		a.Flush()
	}
	return id
}

// Result returns the outcome of the append Add numbered i.
func (a *Appender) Result(i int) (AppendInfo, error) {
	r := &a.results[i]
	return r.info, r.err
}

// Reset forgets the results, for the next request. Nothing may be pending.
func (a *Appender) Reset() {
	clear(a.results)
	a.results = a.results[:0]
}

// Flush writes every prepared append, publishes those written and
// releases their logs.
func (a *Appender) Flush() {
	if len(a.pending) == 0 {
		return
	}
	a.writes = a.writes[:0]
	for i := range a.pending {
		s := &a.pending[i]
		a.writes = append(a.writes, aioWrite{fd: s.w.act.fd, buf: s.w.set, off: s.w.pos})
	}
	a.write()
	for i := range a.pending {
		s, w := &a.pending[i], &a.writes[i]
		info, err := s.l.finishLocked(&s.w, s.headers, w.n, w.err)
		s.l.mu.Unlock()
		a.results[s.result] = appendResult{info, wrapAppendErr(s.l, err)}
	}
	clear(a.pending)
	a.pending = a.pending[:0]
	clear(a.writes)
}

// write performs a.writes: in one io_submit when every file is the
// operating system's and AIO works, else one WriteAt each (through the
// log's vfs, so fault-injecting filesystems see every write).
func (a *Appender) write() {
	if c := a.aioFor(); c != nil {
		c.writeAll(a.writes)
		putAIO(c)
		return
	}
	for i := range a.pending {
		s, w := &a.pending[i], &a.writes[i]
		w.n, w.err = s.w.act.log.WriteAt(w.buf, w.off)
	}
}

// aioFor returns an AIO context when a.writes can all go through it.
func (a *Appender) aioFor() *aioContext {
	if len(a.writes) < 2 {
		return nil // one pwrite is one system call already
	}
	for i := range a.writes {
		if a.writes[i].fd < 0 {
			return nil
		}
	}
	return getAIO()
}

// completion maps an AIO write's result (res, an io_event's, for a write
// of want bytes) to what WriteAt would return.
func completion(res int64, want int) (int, error) {
	switch {
	case res < 0:
		return 0, syscall.Errno(-res)
	case int(res) < want:
		return int(res), io.ErrShortWrite
	}
	return int(res), nil
}

func wrapAppendErr(l *Log, err error) error {
	if err != nil && !errors.Is(err, ErrClosed) {
		return fmt.Errorf("log %s: append: %w", l.dir, err)
	}
	return err
}

// fileDescriptor returns f's descriptor when it is the operating system's
// file, for the Appender's AIO writes, and -1 otherwise. The descriptor
// lives as long as f.
func fileDescriptor(f any) int {
	sc, ok := f.(syscall.Conn)
	if !ok {
		return -1
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	if err := rc.Control(func(d uintptr) { fd = int(d) }); err != nil {
		return -1
	}
	return fd
}
