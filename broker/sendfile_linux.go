package broker

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

const sendfileSupported = true

// sendfile sends n bytes of f from offset off to the socket of rc with
// sendfile(2), waiting in the netpoller while the socket buffer is full
// (so the connection's write deadline applies). The explicit offset
// leaves f's position alone: every connection shares the segment's
// descriptor. It returns the bytes sent.
func sendfile(rc syscall.RawConn, f *os.File, off, n int64) (int64, error) {
	fc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var sent int64
	var serr error
	// Control keeps the file descriptor open for as long as it runs.
	cerr := fc.Control(func(src uintptr) {
		werr := rc.Write(func(dst uintptr) bool {
			for sent < n {
				m, err := syscall.Sendfile(int(dst), int(src), &off, int(min(n-sent, 1<<30)))
				if m > 0 {
					sent += int64(m)
				}
				switch {
				case errors.Is(err, syscall.EAGAIN):
					return false // wait until the socket takes more
				case errors.Is(err, syscall.EINTR):
					continue
				case err != nil:
					serr = os.NewSyscallError("sendfile", err)
					return true
				case m == 0:
					// The file ended before the range: it never
					// shrinks below a published size, so this is
					// storage gone wrong, and the frame cannot be
					// completed.
					serr = fmt.Errorf("sendfile: %w at offset %d of %s", io.ErrUnexpectedEOF, off, f.Name())
					return true
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if serr == nil {
		serr = cerr
	}
	return sent, serr
}
