//go:build !linux

package broker

import (
	"errors"
	"os"
	"syscall"
)

// sendfileSupported is false off Linux: every connection copies.
const sendfileSupported = false

func sendfile(syscall.RawConn, *os.File, int64, int64) (int64, error) {
	return 0, errors.New("sendfile: not supported on this platform")
}
