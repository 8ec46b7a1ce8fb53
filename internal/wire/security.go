package wire

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// A connection's lifecycle with security on (Kafka's security.protocol):
//
//	dial TCP → TLS handshake (SSL, SASL_SSL) → ApiVersions →
//	SaslHandshake → SaslAuthenticate… (SASL_PLAINTEXT, SASL_SSL) → requests
//
// ApiVersions comes before SASL, as in Kafka's Java client since KIP-35:
// it tells us which SaslHandshake and SaslAuthenticate versions to send,
// and every broker answers it before authentication. Nothing else is sent
// until the login succeeded, because the broker closes a connection that
// sends anything else first.

// startTLS wraps a freshly dialed connection in TLS and completes the
// handshake, bounded by ctx (the dial timeout). The user's config is
// cloned per connection; ServerName defaults to the host being dialed, so
// hostname verification (ssl.endpoint.identification.algorithm=https) is
// on unless the user set InsecureSkipVerify.
func (c *Client) startTLS(ctx context.Context, nc net.Conn, addr string) (net.Conn, error) {
	if c.cfg.TLS == nil {
		return nc, nil
	}
	cfg := c.cfg.TLS.Clone()
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg.ServerName = host
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = nc.Close()
		return nil, describeTLSError(err)
	}
	return tc, nil
}

// describeTLSError turns a handshake failure into one line that says what
// failed, and marks the ones that retrying cannot fix (wrong CA, wrong
// host, expired certificate) as ErrTLSHandshake so the client gives up.
func describeTLSError(err error) error {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		alert     tls.AlertError
		recHeader tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknownCA):
		return fmt.Errorf("%w: the broker's certificate (%s) is signed by an unknown authority: set its CA with ssl.ca.location / tls.Config.RootCAs", ErrTLSHandshake, certName(unknownCA.Cert))
	case errors.As(err, &hostname):
		return fmt.Errorf("%w: the broker's certificate is not valid for %q (%v)", ErrTLSHandshake, hostname.Host, hostname.Error())
	case errors.As(err, &invalid):
		return fmt.Errorf("%w: the broker's certificate is invalid: %v", ErrTLSHandshake, invalid.Error())
	case errors.As(err, &verify):
		return fmt.Errorf("%w: verifying the broker's certificate: %v", ErrTLSHandshake, verify.Err)
	case errors.As(err, &alert):
		return fmt.Errorf("%w: the broker refused the handshake with TLS alert %q (a client certificate may be missing or untrusted)", ErrTLSHandshake, alert.Error())
	case isRemoteAlert(err):
		return fmt.Errorf("%w: the broker refused the handshake: %v (a client certificate may be missing or untrusted)", ErrTLSHandshake, err)
	case errors.Is(err, context.DeadlineExceeded):
		// kfake and other servers that wait for the rest of a "frame"
		// as large as a ClientHello's first bytes say never answer.
		return fmt.Errorf("TLS handshake: no answer before the dial timeout (is this a PLAINTEXT or SASL_PLAINTEXT listener?): %w", err)
	case errors.As(err, &recHeader):
		return fmt.Errorf("%w: the broker did not answer in TLS: is this a PLAINTEXT or SASL_PLAINTEXT listener? (%v)", ErrTLSHandshake, err)
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET):
		// A Kafka plaintext listener reads the ClientHello as a huge
		// frame size and hangs up.
		return fmt.Errorf("TLS handshake: the broker closed the connection (is this a PLAINTEXT or SASL_PLAINTEXT listener?): %w", err)
	}
	return fmt.Errorf("TLS handshake: %w", err)
}

func certName(c *x509.Certificate) string {
	if c == nil {
		return "?"
	}
	return c.Subject.String()
}

// isRemoteAlert reports whether err is a TLS alert the broker sent;
// crypto/tls reports those as a *net.OpError with Op "remote error".
func isRemoteAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

// explainNegotiateFailure adds a hint to a failed ApiVersions exchange.
//
// With TLS 1.3 the broker checks our client certificate after our side of
// the handshake finished, so a missing or untrusted one arrives as an
// alert on the first read; that is as fatal as a failed handshake.
//
// Without TLS, a TLS listener answers our plaintext either by hanging up
// (Kafka, Go's crypto/tls) or with an alert record whose first bytes read
// as a frame of hundreds of megabytes. Either happens within one round
// trip, so the user learns it in milliseconds, not after max.block.
func (c *Client) explainNegotiateFailure(ctx context.Context, addr string, err error) error {
	if c.cfg.TLS != nil {
		if isRemoteAlert(err) {
			return fmt.Errorf("%w: the broker ended the TLS session: %v (a client certificate may be missing or untrusted)", ErrTLSHandshake, err)
		}
		return err
	}
	if errors.Is(err, ErrResponseTooLarge) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) {
		// A broker restarting or refusing connections hangs up too, so a
		// hang-up alone proves nothing; a TLS handshake that succeeds on
		// the same port does, and no retry will fix that.
		if c.speaksTLS(ctx, addr) {
			return fmt.Errorf("%w: %s speaks TLS and this client does not: set TLS (security.protocol SSL or SASL_SSL)", ErrTLSRequired, addr)
		}
		return fmt.Errorf("%w (if this is an SSL or SASL_SSL listener, set TLS / security.protocol)", err)
	}
	return err
}

// speaksTLS reports whether a TLS handshake succeeds at addr within a
// short bound. It verifies nothing: it only tells a TLS listener from a
// plaintext one, and the connection is closed at once.
func (c *Client) speaksTLS(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	nc, err := c.cfg.Dial(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer nc.Close()
	tc := tls.Client(nc, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a probe, not a session
	return tc.HandshakeContext(ctx) == nil
}

// authenticate logs in on a new connection with the configured SASL
// mechanism (KIP-152: SaslHandshake v1 then SaslAuthenticate frames) and
// returns the session lifetime the broker granted (KIP-368), zero for
// none. Errors that retrying cannot fix wrap kerr.SaslAuthenticationFailed,
// kerr.UnsupportedSaslMechanism or kerr.IllegalSaslState and are fatal
// to the client's requests (see isFatalConnectError).
func (c *Client) authenticate(ctx context.Context, cn *Conn) (time.Duration, error) {
	m := c.cfg.SASL
	if m == nil {
		return 0, nil
	}
	name := m.Name
	if _, ok := cn.versions.Max(int16(kmsg.SASLHandshake)); !ok {
		return 0, fmt.Errorf("SASL %s: the broker does not offer SaslHandshake: is this a PLAINTEXT or SSL listener? %w", name, kerr.IllegalSaslState)
	}
	if _, ok := cn.versions.Max(int16(kmsg.SASLAuthenticate)); !ok {
		// SaslHandshake v0 brokers (before Kafka 1.0) expect raw tokens
		// outside Kafka's framing, which we do not speak.
		return 0, fmt.Errorf("SASL %s: %w: it does not support SaslAuthenticate (Kafka 1.0+ is required): %w", name, errNoSASLAuthenticate, kerr.UnsupportedVersion)
	}

	hreq := kmsg.NewPtrSASLHandshakeRequest()
	hreq.Mechanism = name
	kresp, err := cn.Do(ctx, hreq)
	if err != nil {
		return 0, fmt.Errorf("SASL %s: SaslHandshake: %w", name, err)
	}
	hresp := kresp.(*kmsg.SASLHandshakeResponse)
	if err := kerr.ForCode(hresp.ErrorCode); err != nil {
		return 0, fmt.Errorf("SASL %s: SaslHandshake: broker enables %q: %w", name, hresp.SupportedMechanisms, err)
	}

	msg, challenge, err := m.Start(ctx, cn.addr)
	if err != nil {
		return 0, fmt.Errorf("SASL %s: %w", name, err)
	}
	for round := 0; ; round++ {
		if round > 16 {
			// Every Kafka mechanism finishes in at most two rounds.
			return 0, fmt.Errorf("SASL %s: no result after %d rounds: %w", name, round, kerr.IllegalSaslState)
		}
		areq := kmsg.NewPtrSASLAuthenticateRequest()
		areq.SASLAuthBytes = msg
		kresp, err := cn.Do(ctx, areq)
		if err != nil {
			if errors.Is(err, ErrConnClosed) && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
				// Brokers before Kafka 1.0, and kfake, reject a login by
				// hanging up instead of answering.
				// Not wrapping ErrConnClosed: that would make callers
				// retry a login that will fail the same way.
				return 0, fmt.Errorf("SASL %s authentication failed: the broker hung up, as brokers before Kafka 1.0 and kfake do on bad credentials: %w", name, kerr.SaslAuthenticationFailed)
			}
			return 0, fmt.Errorf("SASL %s: SaslAuthenticate: %w", name, err)
		}
		aresp := kresp.(*kmsg.SASLAuthenticateResponse)
		if err := kerr.ForCode(aresp.ErrorCode); err != nil {
			detail := ""
			if aresp.ErrorMessage != nil && *aresp.ErrorMessage != "" {
				detail = ": " + *aresp.ErrorMessage
			}
			return 0, fmt.Errorf("SASL %s authentication failed%s: %w", name, detail, err)
		}
		done, next, err := challenge(aresp.SASLAuthBytes)
		if err != nil {
			return 0, fmt.Errorf("SASL %s: %w: %w", name, kerr.SaslAuthenticationFailed, err)
		}
		if done && next == nil {
			return time.Duration(aresp.SessionLifetimeMillis) * time.Millisecond, nil
		}
		msg = next
		if done {
			// A last message whose answer only confirms: send it and
			// finish on a successful response.
			challenge = finalAnswer
		}
	}
}

// errNoSASLAuthenticate marks a broker too old for our SASL framing, which
// no retry fixes.
var errNoSASLAuthenticate = errors.New("broker too old for SASL")

// finalAnswer ends a login after a mechanism's closing message.
func finalAnswer([]byte) (bool, []byte, error) { return true, nil, nil }

// isFatalConnectError reports whether a connection failed for a reason
// that reconnecting cannot fix: rejected credentials, a mechanism the
// broker does not enable, or a certificate that does not verify. Kafka's
// clients treat these (AuthenticationException) as fatal instead of
// retrying until a timeout.
func isFatalConnectError(err error) bool {
	return errors.Is(err, kerr.SaslAuthenticationFailed) ||
		errors.Is(err, kerr.UnsupportedSaslMechanism) ||
		errors.Is(err, kerr.IllegalSaslState) ||
		errors.Is(err, errNoSASLAuthenticate) ||
		errors.Is(err, ErrTLSHandshake) ||
		errors.Is(err, ErrTLSRequired)
}
