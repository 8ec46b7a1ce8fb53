//go:build unix

package broker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFileName is the lock file in DataDir, after Kafka's .lock in every
// log directory: two brokers appending to the same logs would interleave
// their writes and each trust its own in-memory end offsets.
const lockFileName = ".lock"

// lockDataDir takes an exclusive, non-blocking flock on DataDir/.lock and
// keeps the file open for as long as the broker runs: the kernel releases
// the lock when the file is closed, also when the process dies, so a
// crashed broker never leaves a stale lock behind (unlike a pid file).
func lockDataDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("broker: data dir lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s: another broker holds %s (stop it, or give this one its own data directory)",
				ErrDataDirLocked, dir, path)
		}
		return nil, fmt.Errorf("broker: data dir lock %s: %w", path, err)
	}
	return f, nil
}
