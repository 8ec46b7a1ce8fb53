package auth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Protocol is a listener's security.protocol.
type Protocol string

// Kafka's security protocols.
const (
	ProtocolPlaintext     Protocol = "PLAINTEXT"
	ProtocolSSL           Protocol = "SSL"
	ProtocolSASLPlaintext Protocol = "SASL_PLAINTEXT"
	ProtocolSASLSSL       Protocol = "SASL_SSL"
)

// TLS reports whether the protocol encrypts.
func (p Protocol) TLS() bool { return p == ProtocolSSL || p == ProtocolSASLSSL }

// SASL reports whether the protocol authenticates with SASL.
func (p Protocol) SASL() bool { return p == ProtocolSASLPlaintext || p == ProtocolSASLSSL }

// Listener is one entry of Kafka's listeners setting.
type Listener struct {
	Protocol Protocol
	Addr     string // host:port
}

// ParseListeners parses Kafka's listeners syntax, for example
// "PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9093", keeping the
// order given. Names other than the four protocols (Kafka's
// listener.security.protocol.map) are not supported; two listeners may
// not share a port.
func ParseListeners(s string) ([]Listener, error) {
	var (
		out   []Listener
		errs  []error
		ports = map[string]bool{}
	)
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		proto, addr, ok := strings.Cut(item, "://")
		if !ok {
			errs = append(errs, fmt.Errorf("listener %q: want PROTOCOL://host:port", item))
			continue
		}
		p := Protocol(strings.ToUpper(proto))
		switch p {
		case ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL:
		default:
			errs = append(errs, fmt.Errorf("listener %q: unknown protocol %q (want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)", item, proto))
			continue
		}
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("listener %q: %w", item, err))
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("listener %q: invalid port", item))
			continue
		}
		if port != "0" && ports[port] {
			errs = append(errs, fmt.Errorf("listener %q: port %s used twice", item, port))
			continue
		}
		ports[port] = true
		out = append(out, Listener{Protocol: p, Addr: addr})
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("no listeners"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// ServerTLS builds a listener's TLS config from PEM files: the broker's
// certificate and key, and, when clientCAFile is set, the CAs whose client
// certificates are required (mTLS, Kafka's ssl.client.auth=required).
// Versions below TLS 1.2 are refused, as Kafka does since 3.0.
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("broker certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	if clientCAFile != "" {
		data, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("client CA %s: no PEM certificate found", clientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// CertPrincipal is the principal of an mTLS client: its certificate's
// subject, in the RFC 2253 form Kafka's DefaultKafkaPrincipalBuilder
// uses ("CN=alice,O=example"), or "ANONYMOUS" without a certificate.
func CertPrincipal(cs tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 {
		return "ANONYMOUS"
	}
	return cs.PeerCertificates[0].Subject.String()
}

// SessionLifetime is the session lifetime the broker returns in
// SaslAuthenticate (KIP-368): connections.max.reauth.ms, capped by the
// credential's own expiry (an OAUTHBEARER token), zero for none. A
// lifetime that already ended means the login must fail.
func SessionLifetime(maxReauth time.Duration, s Session, now time.Time) time.Duration {
	lifetime := maxReauth
	if e, ok := s.(Expiring); ok && !e.Expiry().IsZero() {
		left := e.Expiry().Sub(now)
		if left <= 0 {
			return -1
		}
		if lifetime <= 0 || left < lifetime {
			lifetime = left
		}
	}
	return max(lifetime, 0)
}
