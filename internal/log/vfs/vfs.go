// Package vfs is the filesystem seam of the commit log: every file
// operation internal/log performs (create, open, read, write, fsync,
// truncate, rename, remove, mkdir, readdir and directory fsync) goes
// through an FS, so that tests can put a fault-injecting filesystem
// (package errorfs) where the operating system's would be, as pebble's vfs
// and errorfs packages do.
//
// Default is the operating system. The seam costs one interface call per
// operation and no allocation: a File is the *os.File itself.
package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// File is an open file. *os.File implements it.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Writer
	// Sync is fsync(2): the file's data and metadata are on stable storage
	// when it returns nil.
	Sync() error
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
	Close() error
}

// FS is a filesystem as the log uses it. Names are host paths, as for the
// os package.
type FS interface {
	// OpenFile is os.OpenFile.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// ReadDir is os.ReadDir: the entries sorted by name.
	ReadDir(name string) ([]fs.DirEntry, error)
	// Stat is os.Stat.
	Stat(name string) (fs.FileInfo, error)
	// Mkdir is os.Mkdir; see MkdirAll for the durable form.
	Mkdir(name string, perm fs.FileMode) error
	// Rename is os.Rename: atomic replacement of newname, durable only
	// after SyncDir of its directory.
	Rename(oldname, newname string) error
	// Remove is os.Remove.
	Remove(name string) error
	// RemoveAll is os.RemoveAll.
	RemoveAll(name string) error
	// SyncDir fsyncs a directory, which makes the creations, renames and
	// removals of its entries durable: fsync of a file covers its data,
	// not the name that leads to it (fsync(2), "Calling fsync() does not
	// necessarily ensure that the entry in the directory containing the
	// file has also reached disk").
	SyncDir(name string) error
}

// Default is the operating system's filesystem.
var Default FS = osFS{}

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // not a typed nil inside the interface
	}
	return f, nil
}

func (osFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }
func (osFS) Stat(name string) (fs.FileInfo, error)      { return os.Stat(name) }
func (osFS) Mkdir(name string, perm fs.FileMode) error  { return os.Mkdir(name, perm) }
func (osFS) Rename(oldname, newname string) error       { return os.Rename(oldname, newname) }
func (osFS) Remove(name string) error                   { return os.Remove(name) }
func (osFS) RemoveAll(name string) error                { return os.RemoveAll(name) }

func (osFS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// ReadFile reads a whole file through fsys.
func ReadFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, st.Size())
	n, err := f.ReadAt(b, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(b)) {
		return nil, err
	}
	return b, nil
}

// MkdirAll creates dir and every missing parent, and fsyncs the parent of
// each directory it creates, so that a directory it returned survives a
// power loss: a new directory is an entry of its parent, durable only
// once the parent is fsynced (see FS.SyncDir). A directory that already exists is left alone and costs no fsync.
func MkdirAll(fsys FS, dir string, perm fs.FileMode) error {
	dir = filepath.Clean(dir)
	if st, err := fsys.Stat(dir); err == nil {
		if !st.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := MkdirAll(fsys, parent, perm); err != nil {
			return err
		}
	}
	if err := fsys.Mkdir(dir, perm); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
		// Created concurrently: its creator may not have synced yet.
	}
	return fsys.SyncDir(parent)
}
