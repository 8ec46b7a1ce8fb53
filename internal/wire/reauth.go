package wire

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// KIP-368 re-authentication. A broker with connections.max.reauth.ms set
// returns a session lifetime in SaslAuthenticate (v1+) and closes the
// connection on its first request after the session ended. Before that,
// the client logs in again on the same connection: SaslHandshake and
// SaslAuthenticate, as on connect.
//
// Requests already in flight stay in flight: the broker answers a
// connection's requests in order, so their responses arrive before the
// handshake's. But while the login runs, the broker's authenticator reads
// the connection, and anything that is not a SASL request there fails the
// connection. So requests sent during re-authentication are held (without
// a correlation id) and queued, in order, once the login succeeded; if it
// fails they fail with the connection's error. This mirrors the Java
// client, which stops writing while its authenticator is swapped in.

// reauthHold is the Conn's state during a re-authentication. Guarded by
// Conn.mu.
type reauthHold struct {
	active bool
	held   []*pending
}

// holdLocked parks p if a re-authentication is running and p is not part
// of it, and reports whether it did.
func (h *reauthHold) holdLocked(p *pending) bool {
	if !h.active {
		return false
	}
	if k := kmsg.Key(p.req.Key()); k == kmsg.SASLHandshake || k == kmsg.SASLAuthenticate {
		return false
	}
	h.held = append(h.held, p)
	return true
}

// login authenticates a new connection and, if the broker granted a
// session lifetime, starts the goroutine that renews it.
func (c *Client) login(ctx context.Context, cn *Conn) error {
	lifetime, err := c.authenticate(ctx, cn)
	if err != nil || lifetime <= 0 {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClientClosed
	}
	c.goLocked(func() { c.reauthLoop(cn, time.Now(), lifetime) })
	return nil
}

// reauthDelay is when to log in again: at a random point between 85% and
// 95% of the session, as the Java client does, so that the connections of
// many clients do not all re-authenticate at once and a slow login still
// finishes in time.
func reauthDelay(lifetime time.Duration) time.Duration {
	return time.Duration(float64(lifetime) * (0.85 + 0.1*rand.Float64()))
}

// reauthLoop renews cn's session until cn closes. It is owned by the
// client (started with goLocked) and exits when cn closes, which Close
// guarantees.
func (c *Client) reauthLoop(cn *Conn, started time.Time, lifetime time.Duration) {
	for {
		t := time.NewTimer(time.Until(started.Add(reauthDelay(lifetime))))
		select {
		case <-cn.closed:
			t.Stop()
			return
		case <-t.C:
		}
		started = time.Now()
		var err error
		lifetime, err = c.reauthenticate(cn)
		if err != nil {
			cn.fail(fmt.Errorf("re-authentication (KIP-368): %w", err))
			return
		}
		cn.log.Debug("re-authenticated", "session", lifetime)
		if lifetime <= 0 {
			return
		}
	}
}

// reauthenticate logs in again on a live connection, holding new requests
// meanwhile, and returns the new session lifetime.
func (c *Client) reauthenticate(cn *Conn) (time.Duration, error) {
	// The login's own traffic must not count as use, or an idle
	// connection would never reach connections.max.idle.ms.
	lastUse := cn.lastUse.Load()
	cn.mu.Lock()
	cn.reauth.active = true
	busy := len(cn.order) > 0
	cn.mu.Unlock()

	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.RequestTimeout)
	lifetime, err := c.authenticate(ctx, cn)
	cancel()

	cn.mu.Lock()
	held := cn.reauth.held
	cn.reauth = reauthHold{}
	if err == nil && !cn.dead {
		if !busy && len(held) == 0 {
			cn.lastUse.Store(lastUse)
		}
		for _, p := range held {
			cn.enqueueLocked(p)
		}
		cn.mu.Unlock()
		select {
		case cn.wake <- struct{}{}:
		default:
		}
		return lifetime, nil
	}
	cn.mu.Unlock()
	if err == nil {
		err = cn.Err()
	}
	// The connection is, or is about to be, dead: the held requests never
	// went out, so they fail like any request on a dead connection.
	cn.fail(fmt.Errorf("re-authentication (KIP-368): %w", err))
	failErr := cn.Err()
	for _, p := range held {
		putBuf(p.buf)
		p.buf = nil
		p.fn(nil, failErr)
	}
	return 0, err
}
