package auth_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/auth"
	"github.com/skiffkit/skiff/internal/certs"
)

func TestParseListeners(t *testing.T) {
	got, err := auth.ParseListeners("PLAINTEXT://127.0.0.1:9092, sasl_ssl://127.0.0.1:9093,SSL://:9094,SASL_PLAINTEXT://kafka.test:0,SASL_PLAINTEXT://127.0.0.1:0")
	require.NoError(t, err)
	assert.Equal(t, []auth.Listener{
		{auth.ProtocolPlaintext, "127.0.0.1:9092"},
		{auth.ProtocolSASLSSL, "127.0.0.1:9093"},
		{auth.ProtocolSSL, ":9094"},
		{auth.ProtocolSASLPlaintext, "kafka.test:0"},
		{auth.ProtocolSASLPlaintext, "127.0.0.1:0"},
	}, got)
	assert.True(t, got[1].Protocol.TLS())
	assert.True(t, got[1].Protocol.SASL())
	assert.False(t, got[0].Protocol.TLS())

	for in, want := range map[string]string{
		"":                                    "no listeners",
		"127.0.0.1:9092":                      "want PROTOCOL://host:port",
		"HTTP://127.0.0.1:80":                 `unknown protocol "HTTP"`,
		"PLAINTEXT://127.0.0.1":               "missing port",
		"PLAINTEXT://127.0.0.1:99999":         "invalid port",
		"SSL://a:9093,SASL_SSL://b:9093":      "port 9093 used twice",
		"PLAINTEXT://a:1,BAD://b:2,SSL://c:x": `unknown protocol "BAD"`,
	} {
		_, err := auth.ParseListeners(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
	}
}

func TestServerTLSAndPrincipal(t *testing.T) {
	ca, err := certs.NewCA("broker CA")
	require.NoError(t, err)
	srv, err := ca.Server("127.0.0.1")
	require.NoError(t, err)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o600))
		return p
	}
	certFile, keyFile, caFile := write("srv.pem", srv.CertPEM), write("srv.key", srv.KeyPEM), write("ca.pem", ca.PEM())

	cfg, err := auth.ServerTLS(certFile, keyFile, "")
	require.NoError(t, err)
	assert.Equal(t, tls.NoClientCert, cfg.ClientAuth)
	cfg, err = auth.ServerTLS(certFile, keyFile, caFile)
	require.NoError(t, err)
	assert.Equal(t, tls.RequireAndVerifyClientCert, cfg.ClientAuth)

	_, err = auth.ServerTLS(certFile, certFile, "")
	assert.ErrorContains(t, err, "broker certificate")
	_, err = auth.ServerTLS(certFile, keyFile, keyFile)
	assert.ErrorContains(t, err, "no PEM certificate")

	cl, err := ca.Client("alice")
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(cl.TLS.Certificate[0])
	require.NoError(t, err)
	assert.Equal(t, "CN=alice", auth.CertPrincipal(tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}))
	assert.Equal(t, "ANONYMOUS", auth.CertPrincipal(tls.ConnectionState{}))
}

type expiring struct {
	auth.Session
	at time.Time
}

func (e expiring) Expiry() time.Time { return e.at }

func TestSessionLifetime(t *testing.T) {
	now := time.Unix(1000, 0)
	var plain auth.Session
	assert.Equal(t, time.Duration(0), auth.SessionLifetime(0, plain, now))
	assert.Equal(t, time.Hour, auth.SessionLifetime(time.Hour, plain, now))
	assert.Equal(t, time.Minute, auth.SessionLifetime(time.Hour, expiring{at: now.Add(time.Minute)}, now), "capped by the token")
	assert.Equal(t, time.Minute, auth.SessionLifetime(0, expiring{at: now.Add(time.Minute)}, now), "the token alone")
	assert.Equal(t, time.Duration(-1), auth.SessionLifetime(time.Hour, expiring{at: now.Add(-time.Second)}, now), "expired")
}
