package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/skiffkit/skiff/internal/certs"
)

// lockedWriter lets the test read stderr while the broker writes it.
type lockedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startBrokerCmd runs `skiff broker args...` until the test ends and
// returns the first n stdout lines.
func startBrokerCmd(t *testing.T, n int, args ...string) ([]string, *lockedWriter) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &lockedWriter{}
	done := make(chan int, 1)
	go func() {
		done <- brokerMain(ctx, append(args, "--data", t.TempDir()), pw, stderr)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			assert.Zero(t, code, "stderr:\n%s", stderr.String())
		case <-time.After(30 * time.Second):
			t.Error("skiff broker did not stop")
		}
	})
	lines := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		var got []string
		for len(got) < n && sc.Scan() {
			got = append(got, sc.Text())
		}
		lines <- got
		io.Copy(io.Discard, pr)
	}()
	select {
	case got := <-lines:
		require.Len(t, got, n, "stderr:\n%s", stderr.String())
		return got, stderr
	case <-time.After(30 * time.Second):
		t.Fatalf("no listening lines; stderr:\n%s", stderr.String())
	}
	return nil, nil
}

func TestBrokerListenersFlags(t *testing.T) {
	ca, err := certs.NewCA("cli test CA")
	require.NoError(t, err)
	srv, err := ca.Server("127.0.0.1")
	require.NoError(t, err)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o600))
		return p
	}
	certFile, keyFile := write("broker.pem", srv.CertPEM), write("broker.key", srv.KeyPEM)
	users := write("users", []byte("# test users\nalice:s3cret:with:colons\n\nbob:pw\n"))

	lines, stderr := startBrokerCmd(t, 3, "--listeners", "SASL_SSL://127.0.0.1:0,PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
		"--ssl-cert", certFile, "--ssl-key", keyFile, "--sasl-users", users, "--sasl-mechanisms", "SCRAM-SHA-512,PLAIN")
	addrs := map[string]string{}
	for i, want := range []string{"SASL_SSL", "PLAINTEXT", "SASL_PLAINTEXT"} {
		f := strings.Fields(lines[i])
		require.Len(t, f, 3, "line %q", lines[i])
		assert.Equal(t, "listening", f[0])
		assert.True(t, strings.HasPrefix(f[1], "127.0.0.1:"), "line %q", lines[i])
		assert.Equal(t, want, f[2])
		addrs[want] = f[1]
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs["SASL_SSL"]),
		kgo.DialTLSConfig(&tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}),
		kgo.SASL(scram.Auth{User: "alice", Pass: "s3cret:with:colons"}.AsSha512Mechanism()))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Len(t, md.Brokers, 1)

	// SCRAM-SHA-256 was left out by --sasl-mechanisms.
	cl256, err := kgo.NewClient(kgo.SeedBrokers(addrs["SASL_PLAINTEXT"]), kgo.RequestRetries(0),
		kgo.SASL(scram.Auth{User: "bob", Pass: "pw"}.AsSha256Mechanism()))
	require.NoError(t, err)
	defer cl256.Close()
	_, err = kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl256)
	assert.ErrorContains(t, err, "UNSUPPORTED_SASL_MECHANISM")
	assert.NotContains(t, stderr.String(), "s3cret")
}

// --listen keeps its one-line "listening <addr>" output, which scripts
// (and soak_test.go) wait for.
func TestBrokerListenOutputUnchanged(t *testing.T) {
	lines, _ := startBrokerCmd(t, 1, "--listen", "127.0.0.1:0")
	f := strings.Fields(lines[0])
	require.Len(t, f, 2, "line %q", lines[0])
	assert.Equal(t, "listening", f[0])
}

func TestBrokerSecurityFlagErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"SSL listener without a certificate", []string{"--listeners", "SSL://127.0.0.1:0"}, "needs a certificate"},
		{"missing key file", []string{"--ssl-cert", "/nonexistent.pem", "--ssl-key", "/nonexistent.key"}, "broker certificate"},
		{"PLAIN without users", []string{"--listeners", "SASL_PLAINTEXT://127.0.0.1:0", "--sasl-mechanisms", "PLAIN"}, "needs SASLUsers"},
		{"unknown protocol", []string{"--listeners", "QUIC://127.0.0.1:0"}, "unknown protocol"},
		{"both --listen and --listeners", []string{"--listen", "127.0.0.1:0", "--listeners", "PLAINTEXT://127.0.0.1:0"}, "give one"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := brokerMain(context.Background(), append(c.args, "--data", t.TempDir()), &stdout, &stderr)
			assert.NotZero(t, code)
			assert.Contains(t, stderr.String(), c.want)
			assert.Empty(t, stdout.String())
		})
	}
}
