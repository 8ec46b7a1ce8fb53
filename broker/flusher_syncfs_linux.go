package broker

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// openSyncfs opens the data directory for syncfs(2). The descriptor is
// opened once, when the broker starts and before it writes a record:
// syncfs reports a writeback error of the filesystem to a descriptor only
// if it happened after the descriptor sampled the superblock's error
// sequence, or was seen by no one before.
func openSyncfs(dataDir string) (syncfs func() error, dir *os.File, err error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil || !syncfsReportsErrors(unix.ByteSliceToString(u.Release[:])) {
		return nil, nil, fmt.Errorf("kernel %q: syncfs(2) reports writeback errors from Linux 5.8 on", unix.ByteSliceToString(u.Release[:]))
	}
	dir, err = os.Open(dataDir)
	if err != nil {
		return nil, nil, err
	}
	return func() error {
		for {
			err := unix.Syncfs(int(dir.Fd()))
			if err != unix.EINTR {
				if err != nil {
					return &os.SyscallError{Syscall: "syncfs", Err: err}
				}
				return nil
			}
		}
	}, dir, nil
}

// onDataFilesystem reports whether dir is on the filesystem of dataDir,
// whose syncfs(2) then covers it; false when either cannot be examined.
func onDataFilesystem(dataDir, dir string) bool {
	var a, b syscall.Stat_t
	if syscall.Stat(dataDir, &a) != nil || syscall.Stat(dir, &b) != nil {
		return false
	}
	return a.Dev == b.Dev
}

// syncfsReportsErrors reports whether a kernel of this release (uname -r)
// has syncfs(2) return writeback errors, which it does from Linux 5.8 on
// (syncfs(2): "since Linux 5.8, syncfs() will also report an error if one
// or more inodes failed to be written back since the last syncfs() call").
// Before, it returned 0 whatever failed, and the flusher would count lost
// data as durable; those kernels keep per-file fsyncs.
func syncfsReportsErrors(release string) bool {
	major, rest, _ := strings.Cut(release, ".")
	minor, _, _ := strings.Cut(rest, ".")
	minor, _, _ = strings.Cut(minor, "-")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > 5 || ma == 5 && mi >= 8
}
