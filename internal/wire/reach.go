package wire

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"time"
)

// ConnectError is a failed dial, TLS handshake, version negotiation or
// login to one broker. A seed broker is named by its address only: its node
// id is a placeholder (see SeedNode) that would mean nothing to a reader.
// Unwrap gives the cause, so errors.As(*net.OpError), errors.Is
// (syscall.ECONNREFUSED, ErrTLSHandshake, kerr values) keep working.
type ConnectError struct {
	Addr string
	Node int32 // the broker's node id; negative for a seed broker
	Err  error
}

func (e *ConnectError) Error() string {
	cause := e.Err
	// A failed handshake on the new connection already names the broker.
	if ce, ok := cause.(*connErr); ok && ce.addr == e.Addr {
		cause = ce.err
	}
	return brokerName(e.Node, e.Addr) + ": " + Reason(cause)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// NoBrokersError says that no broker, seed or known, could be reached: each
// address tried once with its latest error, and how long the client kept
// trying. It wraps ErrNoBrokers, every per-address error and, when the
// caller's context ended the wait, the context's error.
type NoBrokersError struct {
	Tried  []*ConnectError // one per address, in the order tried
	Waited time.Duration   // from the first attempt to giving up
	Ctx    error           // the context's error if it ended the wait
}

func (e *NoBrokersError) Error() string {
	var b strings.Builder
	b.WriteString("no broker reachable")
	if e.Ctx != nil && e.Waited > 0 {
		b.WriteString(" (retried for ")
		b.WriteString(roundWait(e.Waited).String())
		if errors.Is(e.Ctx, context.Canceled) {
			b.WriteString(", then canceled")
		}
		b.WriteString(")")
	}
	if len(e.Tried) == 0 && e.Ctx != nil {
		b.WriteString(": ")
		b.WriteString(e.Ctx.Error())
	}
	for i, ce := range e.Tried {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(ce.Error())
	}
	return b.String()
}

func (e *NoBrokersError) Unwrap() []error {
	out := make([]error, 0, len(e.Tried)+2)
	out = append(out, ErrNoBrokers)
	if e.Ctx != nil {
		out = append(out, e.Ctx)
	}
	for _, ce := range e.Tried {
		out = append(out, ce)
	}
	return out
}

// roundWait keeps a wait readable: "1m0s", "2.5s", "340ms".
func roundWait(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// Reason is the operating system's word for why a connection failed
// ("connection refused", "no such host", "i/o timeout") without the
// "dial tcp 127.0.0.1:1: connect:" prefix that repeats the address the
// caller already names; other errors (TLS, SASL, Kafka codes) as they are.
func Reason(err error) string {
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" {
		return err.Error()
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.Err
	}
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	if oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

// Unreachable reports whether err means a broker could not be reached (a
// failed connect, or no broker at all) rather than a broker's answer. The
// Client logs that state itself (see Config.Logger), so callers retrying
// such errors log them at Debug only.
func Unreachable(err error) bool {
	var ce *ConnectError
	return errors.Is(err, ErrNoBrokers) || errors.As(err, &ce)
}

// reachState is the client-wide "no broker reachable" state, logged on its
// edges only: Warn once when every broker failed a full round, Debug for
// each later failed round, Info once when a connect succeeds again. A
// client retrying every second would otherwise print a Warn line a second
// for as long as the cluster is away. Guarded by Client.mu.
type reachState struct {
	down  bool
	since time.Time
}

// noteUnreachable records a round in which every candidate failed.
func (c *Client) noteUnreachable(e *NoBrokersError) {
	c.mu.Lock()
	first := !c.reach.down
	if first {
		c.reach = reachState{down: true, since: time.Now()}
	}
	c.mu.Unlock()
	if first {
		c.log.Warn("no broker reachable; retrying", "brokers", triedList(e.Tried))
		return
	}
	c.log.Debug("no broker reachable yet; retrying", "brokers", triedList(e.Tried))
}

// noteReachable records a successful connect.
func (c *Client) noteReachable(addr string) {
	c.mu.Lock()
	was := c.reach
	c.reach = reachState{}
	c.mu.Unlock()
	if was.down {
		c.log.Info("broker reachable again", "addr", addr, "unreachable_for", roundWait(time.Since(was.since)))
	}
}

func triedList(tried []*ConnectError) string {
	var b strings.Builder
	for i, ce := range tried {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(ce.Error())
	}
	return b.String()
}

// Ping connects to a broker, trying the live connections, the known
// brokers and the seeds each once, and asks it for the cluster's brokers.
// Unlike Request it does not retry the round: it returns a
// *NoBrokersError naming every address and its error as soon as all have
// failed, so a caller can tell a user within one DialTimeout (or ctx) that
// the cluster is not there, instead of waiting out max.block.
func (c *Client) Ping(ctx context.Context) error {
	if _, err := c.connectRound(ctx); err != nil {
		return err
	}
	_, err := c.Metadata(ctx, []string{})
	return err
}
