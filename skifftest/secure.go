package skifftest

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/skiffkit/skiff/broker"
	"github.com/skiffkit/skiff/internal/certs"
)

// SecureBroker is a broker with TLS and SASL listeners, and what a client
// needs to reach them: the throwaway CA it trusts, credentials, and the
// same as PEM files for clients configured by path (kcat's ssl.ca.location).
type SecureBroker struct {
	*Broker

	// RootCAs holds the test CA that signed the broker's certificate.
	RootCAs *x509.CertPool
	// CAFile is the CA certificate in PEM (ssl.ca.location).
	CAFile string
	// User and Password are the first SASL user's credentials; Users holds
	// all of them.
	User, Password string
	Users          map[string]string
	// ClientCert is a certificate the test CA issued for CN=skifftest-client,
	// for mTLS (WithClientCertRequired); ClientCertFile and ClientKeyFile
	// are it in PEM.
	ClientCert                    tls.Certificate
	ClientCertFile, ClientKeyFile string

	mtls bool
}

// ClientTLS returns a client TLS config that trusts the test CA and
// verifies the broker's certificate (issued for 127.0.0.1 and localhost).
// With WithClientCertRequired it also presents ClientCert.
func (b *SecureBroker) ClientTLS() *tls.Config {
	cfg := &tls.Config{RootCAs: b.RootCAs, MinVersion: tls.VersionTLS12}
	if b.mtls {
		cfg.Certificates = []tls.Certificate{b.ClientCert}
	}
	return cfg
}

// DefaultSecureUser and DefaultSecurePassword are the SASL user of
// NewSecureBroker when the options set none.
const (
	DefaultSecureUser     = "alice"
	DefaultSecurePassword = "alice-secret"
)

// WithListeners sets the broker's listeners (Kafka syntax, ports usually
// 0), e.g. "PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0".
func WithListeners(listeners string) Option {
	return func(o *options) { o.cfg.Listeners = listeners }
}

// WithSASLUsers replaces NewSecureBroker's default user.
func WithSASLUsers(users map[string]string) Option {
	return func(o *options) { o.cfg.SASLUsers = users }
}

// WithClientCertRequired makes the TLS listeners require a client
// certificate from the test CA (mTLS).
func WithClientCertRequired() Option {
	return func(o *options) { o.mtls = true }
}

// NewSecureBroker starts a broker like NewBroker, with one SASL_SSL
// listener on 127.0.0.1 unless WithListeners says otherwise, a certificate
// from a fresh throwaway CA, and the SASL user alice/alice-secret
// (PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512) unless WithSASLUsers says
// otherwise:
//
//	b := skifftest.NewSecureBroker(t)
//	cfg.TLS = b.ClientTLS()
//	cfg.SASL = sasl.ScramSHA512(b.User, b.Password)
//	cfg.Brokers = []string{b.ListenerAddr("SASL_SSL")}
func NewSecureBroker(t testing.TB, opts ...Option) *SecureBroker {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	ca, err := certs.NewCA("skifftest CA")
	if err != nil {
		t.Fatalf("skifftest: CA: %v", err)
	}
	srv, err := ca.Server("127.0.0.1", "localhost")
	if err != nil {
		t.Fatalf("skifftest: server certificate: %v", err)
	}
	cli, err := ca.Client("skifftest-client")
	if err != nil {
		t.Fatalf("skifftest: client certificate: %v", err)
	}
	dir := t.TempDir()
	sb := &SecureBroker{
		RootCAs:        ca.Pool(),
		CAFile:         writeFile(t, dir, "ca.pem", ca.PEM()),
		ClientCert:     cli.TLS,
		ClientCertFile: writeFile(t, dir, "client.pem", cli.CertPEM),
		ClientKeyFile:  writeFile(t, dir, "client.key", cli.KeyPEM),
		mtls:           o.mtls,
	}
	users := o.cfg.SASLUsers
	if users == nil && o.cfg.SASLUsersFile == "" {
		users = map[string]string{DefaultSecureUser: DefaultSecurePassword}
	}
	sb.Users = users
	if _, ok := users[DefaultSecureUser]; ok {
		sb.User, sb.Password = DefaultSecureUser, users[DefaultSecureUser]
	} else {
		for u, p := range users {
			sb.User, sb.Password = u, p
			break
		}
	}
	secure := func(cfg *broker.Config) {
		if cfg.Listeners == "" {
			cfg.Listeners = "SASL_SSL://127.0.0.1:0"
		}
		if cfg.TLS == nil {
			cfg.TLS = &tls.Config{Certificates: []tls.Certificate{srv.TLS}, MinVersion: tls.VersionTLS12}
			if o.mtls {
				cfg.TLS.ClientCAs = ca.Pool()
				cfg.TLS.ClientAuth = tls.RequireAndVerifyClientCert
			}
		}
		if cfg.SASLUsersFile == "" {
			cfg.SASLUsers = users
		}
	}
	sb.Broker = NewBroker(t, append(opts, WithConfig(secure))...)
	return sb
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatalf("skifftest: %v", err)
	}
	return p
}
