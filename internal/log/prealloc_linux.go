package log

import (
	"errors"
	"syscall"
)

// fallocKeepSize is FALLOC_FL_KEEP_SIZE: allocate blocks without moving the
// file size.
const fallocKeepSize = 1

var errNoPrealloc = errors.New("preallocation not available")

// fallocateKeepSize reserves n bytes from off in f when f is an operating
// system file.
func fallocateKeepSize(f any, off, n int64) error {
	sc, ok := f.(syscall.Conn)
	if !ok {
		return errNoPrealloc
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		ferr = syscall.Fallocate(int(fd), fallocKeepSize, off, n)
	}); err != nil {
		return err
	}
	return ferr
}
