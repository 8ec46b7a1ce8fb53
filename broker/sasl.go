package broker

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/auth"
	"github.com/skiffkit/skiff/internal/reqframe"
	"github.com/skiffkit/skiff/kerr"
)

// The connection lifecycle on a secured listener, in Kafka's order:
//
//	accept ─▶ TLS handshake (SSL, SASL_SSL; TLSHandshakeTimeout)
//	       ─▶ SASL login (SASL_*): ApiVersions*, SaslHandshake, SaslAuthenticate+
//	       ─▶ requests through the queue and the workers, as on PLAINTEXT
//	       ─▶ KIP-368: SaslHandshake, SaslAuthenticate+ again before the
//	          session lifetime ends, or the connection is closed
//
// The login runs on the connection's reader goroutine, one request at a
// time: nothing of it reaches the I/O workers, so a client that has not
// logged in cannot make the broker touch a topic, and the worker path of an
// authenticated connection is the plaintext one.

// maxSaslReceive is sasl.server.max.receive.size: Kafka's bound on any
// request before authentication, far below socket.request.max.bytes, so
// that a client without credentials cannot make the broker buffer 100 MiB.
const maxSaslReceive = 512 << 10

// SASL API keys, answered only on SASL listeners.
const (
	saslHandshakeKey    int16 = 17
	saslAuthenticateKey int16 = 36
)

// saslAPIs are the versions advertised on SASL listeners: SaslHandshake v0
// (librdkafka refuses a broker without it) and v1, SaslAuthenticate v0-v2.
var saslAPIs = []api{
	{key: saslHandshakeKey, min: 0, max: 1},
	{key: saslAuthenticateKey, min: 0, max: 2},
}

// withSASLAPIs adds the SASL keys to an ApiVersions answer, in key order.
func withSASLAPIs(keys []kmsg.ApiVersionsResponseApiKey) []kmsg.ApiVersionsResponseApiKey {
	for _, a := range saslAPIs {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.key, a.min, a.max
		i := 0
		for i < len(keys) && keys[i].ApiKey < a.key {
			i++
		}
		if i < len(keys) && keys[i].ApiKey == a.key {
			keys[i] = k
			continue
		}
		keys = append(keys[:i], append([]kmsg.ApiVersionsResponseApiKey{k}, keys[i:]...)...)
	}
	return keys
}

// saslState is a SASL connection's login. Only its reader goroutine uses
// it.
type saslState struct {
	mechanism string       // of the last SaslHandshake
	sess      auth.Session // the exchange in progress, nil between them
	user      string       // the user name the client gave, for logs
	// raw is set by SaslHandshake v0: the tokens that follow are bare
	// size-prefixed bytes, not SaslAuthenticate requests.
	raw bool
	// principal is the authenticated user, kept across re-authentication
	// (KIP-368 forbids changing it).
	principal string
	// end is when the session lifetime ends (KIP-368); zero for none.
	end time.Time
}

// errBeforeAuth marks a request a client sent before logging in.
var errBeforeAuth = errors.New("request before authentication")

// handshakeTLS runs the TLS handshake within TLSHandshakeTimeout. A client
// that stalls, or speaks plaintext to the TLS port, is closed, and the
// broker serves the others meanwhile (each connection has its own reader).
func (c *conn) handshakeTLS() bool {
	tc := c.nc.(*tls.Conn)
	// Close (shutdown) also ends a handshake in progress: it closes the
	// socket under it.
	ctx, cancel := context.WithTimeout(context.Background(), c.b.cfg.TLSHandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		if !c.closed() {
			c.b.log.Info("closing connection: TLS handshake failed", "remote", c.remote,
				"listener", string(c.ln.proto), "err", err)
		}
		return false
	}
	if cs := tc.ConnectionState(); len(cs.PeerCertificates) > 0 {
		// mTLS: Kafka's DefaultKafkaPrincipalBuilder names the client by
		// its certificate's subject.
		c.principal = auth.CertPrincipal(cs)
		c.b.log.Debug("TLS client authenticated", "remote", c.remote, "listener", string(c.ln.proto),
			"principal", c.principal)
	}
	return true
}

// authenticate runs a SASL login: ApiVersions, SaslHandshake and
// SaslAuthenticate only, until the client is authenticated. Anything else
// closes the connection, as Kafka does. first, when set, is a SaslHandshake
// already read (re-authentication). It reports whether the client logged
// in; when not, the connection is being closed.
func (c *conn) authenticate(rd *bufio.Reader, seq *uint64, first *request) bool {
	st := c.sasl
	st.sess, st.raw, st.user = nil, false, ""
	reauth := first != nil
	var size [4]byte
	for {
		r := first
		first = nil
		if r == nil {
			select {
			case c.inflight <- struct{}{}:
			case <-c.done:
				return false
			}
			c.nc.SetReadDeadline(time.Now().Add(c.b.cfg.ConnectionsMaxIdle))
			n, err := reqframe.ReadSize(rd, &size, maxSaslReceive)
			if errors.Is(err, reqframe.ErrTooLarge) {
				c.b.log.Warn("closing connection: request before authentication above sasl.server.max.receive.size",
					"remote", c.remote, "size", n, "max", maxSaslReceive)
				return false
			}
			if err != nil {
				c.logReadErr(err)
				return false
			}
			frame, err := reqframe.ReadBody(rd, int(n), nil)
			if err != nil {
				c.logReadErr(err)
				return false
			}
			if st.raw {
				// SaslHandshake v0: a bare token, answered with a bare
				// token (Kafka before KIP-152).
				if ok, done := c.saslStepRaw(frame, *seq); !ok || done {
					*seq++
					return ok
				}
				*seq++
				continue
			}
			if r, err = parseRequest(frame); err != nil {
				// Info, not Warn: anyone who can connect can send these,
				// and must not be able to flood the operator's warnings.
				c.b.log.Info("closing connection: unparseable request before authentication",
					"remote", c.remote, "err", err)
				return false
			}
			r.c, r.seq = c, *seq
			*seq++
		}
		switch {
		case r.key == apiVersionsKey && !reauth:
			c.b.handle(nil, r)
		case r.key == saslHandshakeKey && r.kreq != nil && r.version <= 1:
			if !c.saslHandshake(r, reauth) {
				return false
			}
		case r.key == saslAuthenticateKey && r.kreq != nil && r.version <= 2:
			ok, done := c.saslAuthenticate(r, reauth)
			if !ok || done {
				return ok
			}
		default:
			// Kafka: "Unexpected Kafka request of type X during SASL
			// handshake", and the connection is closed unanswered.
			c.b.log.Info("closing connection: "+errBeforeAuth.Error(), "remote", c.remote,
				"listener", string(c.ln.proto), "api_key", r.key, "version", r.version, "client", r.clientID)
			return false
		}
	}
}

// saslHandshake answers a SaslHandshake with the enabled mechanisms and
// starts the exchange of the one asked for.
func (c *conn) saslHandshake(r *request, reauth bool) bool {
	st := c.sasl
	req := r.kreq.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.SupportedMechanisms = c.b.sasl.Mechanisms
	if st.sess != nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		c.respondAndClose(r, resp)
		return false
	}
	if reauth && (r.version < 1 || req.Mechanism != st.mechanism) {
		// KIP-368: re-authentication uses SaslAuthenticate and the same
		// mechanism as the first login.
		c.b.log.Warn("closing connection: re-authentication changed mechanism or used SaslHandshake v0",
			"remote", c.remote, "mechanism", req.Mechanism, "was", st.mechanism)
		resp.ErrorCode = kerr.IllegalSaslState.Code
		c.respondAndClose(r, resp)
		return false
	}
	sess, err := c.b.sasl.Start(req.Mechanism)
	if err != nil {
		c.b.log.Warn("closing connection: unsupported SASL mechanism", "remote", c.remote,
			"listener", string(c.ln.proto), "err", err)
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		c.respondAndClose(r, resp)
		return false
	}
	st.sess, st.mechanism, st.raw = sess, req.Mechanism, r.version == 0
	r.respond(resp)
	return true
}

// saslAuthenticate feeds one SaslAuthenticate token to the exchange. It
// reports ok false when the connection is being closed, and done once the
// client is authenticated.
func (c *conn) saslAuthenticate(r *request, reauth bool) (ok, done bool) {
	st := c.sasl
	req := r.kreq.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	if st.sess == nil || st.raw {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		resp.ErrorMessage = kmsg.StringPtr("SaslAuthenticate before SaslHandshake v1")
		c.respondAndClose(r, resp)
		return false, false
	}
	out, done, err := c.saslStep(req.SASLAuthBytes)
	if err == nil && done {
		err = c.loggedIn(reauth)
	}
	if err != nil {
		c.failAuth(err)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		if code := kerr.Code(err); code != 0 && code != kerr.UnknownServerError.Code {
			resp.ErrorCode = code
		}
		resp.ErrorMessage = kmsg.StringPtr(err.Error())
		c.respondAndClose(r, resp)
		return false, false
	}
	resp.SASLAuthBytes = out
	if done && !st.end.IsZero() {
		resp.SessionLifetimeMillis = max(time.Until(st.end).Milliseconds(), 1)
	}
	r.respond(resp)
	return true, done
}

// saslStepRaw is saslAuthenticate for the bare tokens after SaslHandshake
// v0. A failure closes the connection unanswered: v0 has no error format.
func (c *conn) saslStepRaw(token []byte, seq uint64) (ok, done bool) {
	out, done, err := c.saslStep(token)
	if err == nil && done {
		err = c.loggedIn(false)
	}
	if err != nil {
		c.failAuth(err)
		return false, false
	}
	bp := framePool.get()
	*bp = binary.BigEndian.AppendUint32(*bp, uint32(len(out)))
	*bp = append(*bp, out...)
	c.unwritten.Add(int64(len(*bp)))
	c.send(response{seq: seq, frame: bp})
	return true, done
}

// saslStep runs one round of the exchange, noting the user name the client
// claims for the logs.
func (c *conn) saslStep(token []byte) ([]byte, bool, error) {
	st := c.sasl
	if st.user == "" {
		switch st.mechanism {
		case auth.Plain:
			if t, err := auth.ParsePlain(token); err == nil {
				st.user = t.User
			}
		case auth.ScramSHA256, auth.ScramSHA512:
			if cf, err := auth.ParseClientFirst(token); err == nil {
				st.user = cf.User
			}
		}
	}
	return st.sess.Next(token)
}

// loggedIn ends a successful exchange: the session lifetime is fixed
// (KIP-368), and a re-authentication must keep the principal.
func (c *conn) loggedIn(reauth bool) error {
	st := c.sasl
	principal := st.sess.Principal()
	now := time.Now()
	life := auth.SessionLifetime(c.b.cfg.MaxReauth, st.sess, now)
	if life < 0 {
		return fmt.Errorf("%w: the token has expired", auth.ErrAuthFailed)
	}
	if reauth && principal != st.principal {
		return fmt.Errorf("%w: re-authentication may not change the principal", auth.ErrAuthFailed)
	}
	st.sess, st.principal, st.user = nil, principal, principal
	st.end = time.Time{}
	if life > 0 {
		st.end = now.Add(life)
	}
	if !reauth {
		// Only the first login sets it: a parked request's completion
		// (quotas, throttle_conn.go) may read it while a re-authentication,
		// which keeps the same principal, runs on the reader.
		c.principal = principal
		c.b.log.Debug("authenticated", "remote", c.remote, "listener", string(c.ln.proto),
			"mechanism", st.mechanism, "principal", principal)
	}
	return nil
}

// failAuth logs a failed login (client address and user, never the
// password: errors from auth carry none) and waits
// connection.failed.authentication.delay.ms before the answer goes out.
func (c *conn) failAuth(err error) {
	st := c.sasl
	st.sess = nil
	c.b.log.Warn("failed authentication", "remote", c.remote, "listener", string(c.ln.proto),
		"mechanism", st.mechanism, "user", st.user, "err", err)
	if d := c.b.cfg.FailedAuthenticationDelay; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.done:
		case <-c.b.stopping:
		}
	}
}

// respondAndClose answers r, then closes the connection once the writer
// wrote everything before it. The reader waits for that: returning would
// close the socket under the writer.
func (c *conn) respondAndClose(r *request, resp kmsg.Response) {
	if r.answered.CompareAndSwap(false, true) {
		frame := r.encodeResponse(resp)
		c.unwritten.Add(int64(len(*frame)))
		c.send(response{seq: r.seq, frame: frame, close: true})
	}
	<-c.done
}

// reauthenticate handles what differs on an authenticated SASL
// connection: a SaslHandshake starts a re-authentication (KIP-368), run
// here after every earlier request was handled, and once the session
// lifetime ended any other request closes the connection, as Kafka's
// "expired session" check does. handled means r needs nothing more; ok
// false that the connection is being closed.
func (c *conn) reauthenticate(r *request, rd *bufio.Reader, seq *uint64) (handled, ok bool) {
	st := c.sasl
	switch r.key {
	case saslHandshakeKey, saslAuthenticateKey:
	default:
		if !st.end.IsZero() && time.Now().After(st.end) {
			c.b.log.Info("closing connection: SASL session expired without re-authentication (connections.max.reauth.ms)",
				"remote", c.remote, "principal", st.principal)
			c.b.queueBytes.release(int64(r.size))
			return false, false
		}
		return false, true
	}
	// Wait for the requests before it to be handled, as a worker would.
	select {
	case c.turn <- struct{}{}:
	case <-c.done:
		c.b.queueBytes.release(int64(r.size))
		return false, false
	}
	c.b.queueBytes.release(int64(r.size))
	r.size = 0
	defer c.endTurn()
	if r.key != saslHandshakeKey {
		c.b.log.Warn("closing connection: SaslAuthenticate without SaslHandshake", "remote", c.remote)
		resp := kmsg.NewPtrSASLAuthenticateResponse()
		resp.ErrorCode = kerr.IllegalSaslState.Code
		if r.kreq != nil {
			c.respondAndClose(r, resp)
		}
		return false, false
	}
	return true, c.authenticate(rd, seq, r)
}
