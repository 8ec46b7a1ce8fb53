// Package errorfs wraps a vfs.FS so that tests can make its operations fail
// on command, like pebble's errorfs: write, fsync, rename, open and the
// other operations fail with EIO, ENOSPC or any error, for the paths a
// predicate selects, once or until Heal. It also records the operations
// that change the filesystem, so a test can check that a directory fsync
// follows the creation it must make durable.
//
//	fsys := errorfs.Wrap(vfs.Default)
//	fsys.Inject(errorfs.Fault{Ops: errorfs.OpSync, Path: errorfs.Suffix(".log"), Err: errorfs.EIO})
//	l, err := log.Open(dir, log.Config{FS: fsys})
package errorfs

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/skiffkit/skiff/internal/log/vfs"
)

// The errors a failing disk reports most: an I/O error (a bad sector, a
// vanished device) and a full filesystem.
var (
	EIO    error = syscall.EIO
	ENOSPC error = syscall.ENOSPC
)

// Op is a set of filesystem operations.
type Op uint32

// The operations; combine them with |.
const (
	OpOpen     Op = 1 << iota // FS.OpenFile: open or create
	OpRead                    // File.ReadAt
	OpWrite                   // File.Write, File.WriteAt
	OpSync                    // File.Sync
	OpTruncate                // File.Truncate
	OpRename                  // FS.Rename
	OpRemove                  // FS.Remove, FS.RemoveAll
	OpMkdir                   // FS.Mkdir
	OpReadDir                 // FS.ReadDir
	OpStat                    // FS.Stat
	OpSyncDir                 // FS.SyncDir

	// OpAll is every operation.
	OpAll = OpOpen | OpRead | OpWrite | OpSync | OpTruncate | OpRename | OpRemove | OpMkdir | OpReadDir | OpStat | OpSyncDir
)

var opNames = []string{"open", "read", "write", "sync", "truncate", "rename", "remove", "mkdir", "readdir", "stat", "syncdir"}

func (o Op) String() string {
	var parts []string
	for i, n := range opNames {
		if o&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Fault is one injected failure.
type Fault struct {
	// Ops are the operations that fail. Zero means every operation.
	Ops Op
	// Path selects the files (for a rename, the source or the target) the
	// fault applies to. Nil means every path.
	Path func(path string) bool
	// Err is what the failing operation returns, wrapped in an
	// *fs.PathError as the os package does. Nil means EIO.
	Err error
	// Once disarms the fault after its first failure; otherwise it stays
	// until Heal.
	Once bool
	// Torn makes a failing write store the first half of its bytes before
	// it returns the error, as a write that runs out of space midway does.
	Torn bool
}

// Suffix selects the paths ending in suffix.
func Suffix(suffix string) func(string) bool {
	return func(p string) bool { return strings.HasSuffix(p, suffix) }
}

// Under selects dir and every path inside it.
func Under(dir string) func(string) bool {
	dir = filepath.Clean(dir)
	return func(p string) bool {
		p = filepath.Clean(p)
		return p == dir || strings.HasPrefix(p, dir+string(filepath.Separator))
	}
}

// Record is one recorded operation.
type Record struct {
	Op   Op
	Path string // for a rename, the target
	Err  error  // nil when it succeeded
}

// FS is a vfs.FS that fails on command. Its methods are safe for concurrent
// use.
type FS struct {
	inner vfs.FS

	mu       sync.Mutex
	faults   []*Fault // mu
	stalls   []*stall // mu
	injected int      // mu: failures injected so far
	records  []Record // mu
}

// stall is a slow operation armed by Stall.
type stall struct {
	ops  Op
	path func(string) bool
	fn   func()
}

var _ vfs.FS = (*FS)(nil)

// Wrap returns an FS that passes every operation to inner until a fault is
// injected.
func Wrap(inner vfs.FS) *FS { return &FS{inner: inner} }

// Inject arms a fault. Faults are checked in the order they were injected;
// the first that matches fails the operation.
func (e *FS) Inject(f Fault) {
	if f.Ops == 0 {
		f.Ops = OpAll
	}
	if f.Err == nil {
		f.Err = EIO
	}
	e.mu.Lock()
	e.faults = append(e.faults, &f)
	e.mu.Unlock()
}

// Heal disarms every fault and stall: the disk works again.
func (e *FS) Heal() {
	e.mu.Lock()
	e.faults = nil
	e.stalls = nil
	e.mu.Unlock()
}

// Stall makes the operations in ops on the paths path selects (nil: every
// path) call fn before they run, and then succeed or fail as they would
// have: a test blocks fn on a channel to hold an fsync or a write
// mid-flight, like a slow disk, and checks what else still makes progress
// meanwhile. It stays until Heal.
func (e *FS) Stall(ops Op, path func(string) bool, fn func()) {
	e.mu.Lock()
	e.stalls = append(e.stalls, &stall{ops: ops, path: path, fn: fn})
	e.mu.Unlock()
}

// stallFor runs the stalls matching op on path, outside mu.
func (e *FS) stallFor(op Op, path string) {
	e.mu.Lock()
	var fns []func()
	for _, s := range e.stalls {
		if s.ops&op != 0 && matches(s.path, []string{path}) {
			fns = append(fns, s.fn)
		}
	}
	e.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// Injected is the number of operations that failed by a fault.
func (e *FS) Injected() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.injected
}

// Records returns the recorded operations of the kinds in ops, in the
// order they ran. Reads, writes and stats are never recorded (there are
// too many); every other operation is.
func (e *FS) Records(ops Op) []Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Record
	for _, r := range e.records {
		if r.Op&ops != 0 {
			out = append(out, r)
		}
	}
	return out
}

const unrecorded = OpRead | OpWrite | OpStat

// check returns whether a fault tears a write and the injected error for
// op on the paths, or nil.
func (e *FS) check(op Op, paths ...string) (torn bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, f := range e.faults {
		if f.Ops&op == 0 || !matches(f.Path, paths) {
			continue
		}
		if f.Once {
			e.faults = append(e.faults[:i:i], e.faults[i+1:]...)
		}
		e.injected++
		return f.Torn, &fs.PathError{Op: "errorfs " + op.String(), Path: paths[0], Err: f.Err}
	}
	return false, nil
}

func matches(pred func(string) bool, paths []string) bool {
	if pred == nil {
		return true
	}
	for _, p := range paths {
		if pred(p) {
			return true
		}
	}
	return false
}

func (e *FS) record(op Op, path string, err error) {
	if op&unrecorded != 0 {
		return
	}
	e.mu.Lock()
	e.records = append(e.records, Record{Op: op, Path: path, Err: err})
	e.mu.Unlock()
}

// do runs one path operation unless a fault fails it, and records it.
func (e *FS) do(op Op, path string, fn func() error) error {
	e.stallFor(op, path)
	_, err := e.check(op, path)
	if err == nil {
		err = fn()
	}
	e.record(op, path, err)
	return err
}

func (e *FS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	var f vfs.File
	err := e.do(OpOpen, name, func() (err error) {
		f, err = e.inner.OpenFile(name, flag, perm)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &file{File: f, fs: e, name: name}, nil
}

func (e *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	var des []fs.DirEntry
	err := e.do(OpReadDir, name, func() (err error) {
		des, err = e.inner.ReadDir(name)
		return err
	})
	return des, err
}

func (e *FS) Stat(name string) (fs.FileInfo, error) {
	var st fs.FileInfo
	err := e.do(OpStat, name, func() (err error) {
		st, err = e.inner.Stat(name)
		return err
	})
	return st, err
}

func (e *FS) Mkdir(name string, perm fs.FileMode) error {
	return e.do(OpMkdir, name, func() error { return e.inner.Mkdir(name, perm) })
}

func (e *FS) Rename(oldname, newname string) error {
	e.stallFor(OpRename, newname)
	_, err := e.check(OpRename, oldname, newname)
	if err == nil {
		err = e.inner.Rename(oldname, newname)
	}
	e.record(OpRename, newname, err)
	return err
}

func (e *FS) Remove(name string) error {
	return e.do(OpRemove, name, func() error { return e.inner.Remove(name) })
}

func (e *FS) RemoveAll(name string) error {
	return e.do(OpRemove, name, func() error { return e.inner.RemoveAll(name) })
}

func (e *FS) SyncDir(name string) error {
	return e.do(OpSyncDir, name, func() error { return e.inner.SyncDir(name) })
}

// file fails its reads, writes, fsyncs and truncations on command.
type file struct {
	vfs.File
	fs   *FS
	name string
}

func (f *file) ReadAt(b []byte, off int64) (int, error) {
	f.fs.stallFor(OpRead, f.name)
	if _, err := f.fs.check(OpRead, f.name); err != nil {
		return 0, err
	}
	return f.File.ReadAt(b, off)
}

func (f *file) WriteAt(b []byte, off int64) (int, error) {
	f.fs.stallFor(OpWrite, f.name)
	if torn, err := f.fs.check(OpWrite, f.name); err != nil {
		if !torn {
			return 0, err
		}
		n, werr := f.File.WriteAt(b[:len(b)/2], off)
		return n, errors.Join(err, werr)
	}
	return f.File.WriteAt(b, off)
}

func (f *file) Write(b []byte) (int, error) {
	f.fs.stallFor(OpWrite, f.name)
	if torn, err := f.fs.check(OpWrite, f.name); err != nil {
		if !torn {
			return 0, err
		}
		n, werr := f.File.Write(b[:len(b)/2])
		return n, errors.Join(err, werr)
	}
	return f.File.Write(b)
}

func (f *file) Sync() error {
	return f.fs.do(OpSync, f.name, f.File.Sync)
}

func (f *file) Truncate(size int64) error {
	return f.fs.do(OpTruncate, f.name, func() error { return f.File.Truncate(size) })
}
