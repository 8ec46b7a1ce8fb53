package certs_test

import (
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/certs"
)

func TestIssuedCertificatesVerify(t *testing.T) {
	ca, err := certs.NewCA("test CA")
	require.NoError(t, err)
	srv, err := ca.Server("127.0.0.1", "kafka.test")
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(srv.TLS.Certificate[0])
	require.NoError(t, err)
	for _, host := range []string{"127.0.0.1", "kafka.test"} {
		_, err = leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: host})
		assert.NoError(t, err, host)
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "other.test"})
	assert.Error(t, err)

	other, err := certs.NewCA("other CA")
	require.NoError(t, err)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: other.Pool()})
	assert.Error(t, err)

	cl, err := ca.Client("alice")
	require.NoError(t, err)
	cleaf, err := x509.ParseCertificate(cl.TLS.Certificate[0])
	require.NoError(t, err)
	assert.Equal(t, "alice", cleaf.Subject.CommonName)
	_, err = cleaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	assert.NoError(t, err)
	assert.Contains(t, string(ca.PEM()), "BEGIN CERTIFICATE")
	assert.Contains(t, string(cl.KeyPEM), "BEGIN PRIVATE KEY")
}
