package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// seedDialTimeout bounds one TCP connect to a seed broker in the CLI's
// reachability check. A broker that does not accept a connection within
// this on a LAN or loopback is not going to answer a request either; the
// libraries' own dial timeout (10 s) and max.block (60 s) are for
// long-running clients that ride out restarts, not for a person waiting.
const seedDialTimeout = 3 * time.Second

// unreachableError says that no seed broker accepted a connection, with
// each address's reason. Unwrap exposes every dial error, so errors.Is
// (syscall.ECONNREFUSED) and errors.As (*net.OpError) still work.
type unreachableError struct {
	addrs []string
	errs  []error
}

func (e *unreachableError) Error() string {
	var b strings.Builder
	b.WriteString("no broker reachable: ")
	for i, a := range e.addrs {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s", a, osReason(e.errs[i]))
	}
	return b.String()
}

func (e *unreachableError) Unwrap() []error { return e.errs }

// osReason is the operating system's word for why a dial failed
// ("connection refused", "no such host", "i/o timeout"), without the
// "dial tcp 127.0.0.1:1: connect:" prefix that repeats the address.
func osReason(err error) string {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}

// dialer is how reachSeeds connects; tests replace it.
var dialer = func(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// dialSeeds tries every address at once and returns nil as soon as one
// accepts a TCP connection, else an *unreachableError after all failed.
func dialSeeds(parent context.Context, addrs []string) error {
	ctx, cancel := context.WithTimeout(parent, seedDialTimeout)
	defer cancel()
	errs := make([]error, len(addrs))
	ok := make(chan struct{}, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Go(func() {
			c, err := dialer(ctx, a)
			if err != nil {
				errs[i] = err
				return
			}
			c.Close()
			ok <- struct{}{}
			cancel() // one is enough: stop the others
		})
	}
	wg.Wait()
	if len(ok) > 0 {
		return nil
	}
	if err := parent.Err(); err != nil {
		return err
	}
	return &unreachableError{addrs: addrs, errs: errs}
}

// reachSeeds checks that at least one seed broker accepts connections
// before a command hands the addresses to a client library, so a wrong
// address or a broker that is not running is reported once, within
// seedDialTimeout, instead of as a minute of silence or a WARN line a
// second. With wait, it keeps trying until maxWait, writing a progress
// line to progress every few seconds.
func reachSeeds(ctx context.Context, addrs []string, wait bool, maxWait time.Duration, progress io.Writer) error {
	if len(addrs) == 0 {
		return errors.New("no broker addresses: pass --brokers host:port or set SKIFF_BROKERS")
	}
	start := time.Now()
	lastNote := time.Time{}
	for {
		err := dialSeeds(ctx, addrs)
		if err == nil || !wait {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		waited := time.Since(start)
		if waited >= maxWait {
			return fmt.Errorf("%w (waited %v)", err, waited.Round(time.Second))
		}
		if time.Since(lastNote) >= 5*time.Second {
			fmt.Fprintf(progress, "waiting for a broker (%v of %v): %v\n", waited.Round(time.Second), maxWait, err)
			lastNote = time.Now()
		}
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

var (
	wirePrefix = regexp.MustCompile(`\bwire: `)
	// "connect to node -2147483648 (127.0.0.1:1)" and "node 0 (host:9092)"
	// name the broker by an id only the library knows (negative for seeds).
	nodeWithAddr = regexp.MustCompile(`node -?\d+ \(([^()]+)\)`)
)

// humanError renders err for a person: the library prefixes repeated at
// every layer ("wire: topic: wire: metadata: wire: ...") are folded and
// internal node ids are replaced by the address they stand for. Only the
// text changes; callers still match err itself with errors.Is/As.
func humanError(err error) string {
	s := err.Error()
	s = wirePrefix.ReplaceAllString(s, "")
	s = nodeWithAddr.ReplaceAllString(s, "$1")
	return s
}

// isTerminal reports whether w is a terminal; progress notes meant for a
// person watching ("joining group G…") are written only then. Tests
// replace it.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
