package broker

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/certs"
	"github.com/skiffkit/skiff/kerr"
)

const (
	secUser     = "alice"
	secPassword = "alice-secret-pw"
)

// secureBroker is a broker with TLS and SASL listeners and what its
// clients need (skifftest.NewSecureBroker for tests outside the package).
type secureBroker struct {
	*Broker
	clientTLS *tls.Config
	caFile    string
	certFile  string // the broker's, for CLI tests
	keyFile   string
	logs      *lockedBuffer
}

// lockedBuffer collects the broker's log lines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startSecure(t testing.TB, listeners string, edit func(*Config)) *secureBroker {
	t.Helper()
	ca, err := certs.NewCA("broker test CA")
	require.NoError(t, err)
	srv, err := ca.Server("127.0.0.1", "localhost")
	require.NoError(t, err)
	dir := t.TempDir()
	sb := &secureBroker{
		clientTLS: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12},
		caFile:    filepath.Join(dir, "ca.pem"),
		certFile:  filepath.Join(dir, "broker.pem"),
		keyFile:   filepath.Join(dir, "broker.key"),
		logs:      &lockedBuffer{},
	}
	require.NoError(t, os.WriteFile(sb.caFile, ca.PEM(), 0o600))
	require.NoError(t, os.WriteFile(sb.certFile, srv.CertPEM, 0o600))
	require.NoError(t, os.WriteFile(sb.keyFile, srv.KeyPEM, 0o600))
	cfg := Config{
		Listeners:     listeners,
		NumPartitions: 1,
		TLS:           &tls.Config{Certificates: []tls.Certificate{srv.TLS}},
		SASLUsers:     map[string]string{secUser: secPassword, "bob": "bob:with:colons"},
		Logger:        slog.New(slog.NewTextHandler(sb.logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	if edit != nil {
		edit(&cfg)
	}
	sb.Broker = startBroker(t, cfg)
	return sb
}

// dialAt is dialRaw to one listener, through TLS when cfg is set.
func dialAt(t testing.TB, addr string, cfg *tls.Config) *rawConn {
	t.Helper()
	var (
		c   net.Conn
		err error
	)
	d := &net.Dialer{Timeout: 5 * time.Second}
	if cfg != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, cfg)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c}
}

func handshake(rc *rawConn, mechanism string, version int16) *kmsg.SASLHandshakeResponse {
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.Mechanism = mechanism
	return rc.roundTrip(req, version).(*kmsg.SASLHandshakeResponse)
}

func authenticate(rc *rawConn, token []byte, version int16) *kmsg.SASLAuthenticateResponse {
	req := kmsg.NewPtrSASLAuthenticateRequest()
	req.SASLAuthBytes = token
	return rc.roundTrip(req, version).(*kmsg.SASLAuthenticateResponse)
}

func plainToken(user, pw string) []byte { return []byte("\x00" + user + "\x00" + pw) }

func apiRange(keys []kmsg.ApiVersionsResponseApiKey, key int16) (int16, int16, bool) {
	for _, k := range keys {
		if k.ApiKey == key {
			return k.MinVersion, k.MaxVersion, true
		}
	}
	return 0, 0, false
}

func TestListenersConfig(t *testing.T) {
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{{}}}
	users := map[string]string{"u": "p"}
	cases := []struct {
		name string
		cfg  Config
		want string // "" means valid
	}{
		{"listen shorthand", Config{Listen: "127.0.0.1:0"}, ""},
		{"all four", Config{Listeners: "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0", TLS: tlsCfg, SASLUsers: users}, ""},
		{"unknown protocol", Config{Listeners: "HTTP://127.0.0.1:0"}, "unknown protocol"},
		{"SSL without a certificate", Config{Listeners: "SSL://127.0.0.1:0"}, "needs a certificate"},
		// SCRAM users may come from AlterUserScramCredentials alone.
		{"SASL without users", Config{Listeners: "SASL_PLAINTEXT://127.0.0.1:0"}, ""},
		{"PLAIN without users", Config{Listeners: "SASL_PLAINTEXT://127.0.0.1:0", SASLMechanisms: []string{"PLAIN", "SCRAM-SHA-256"}}, "PLAIN needs SASLUsers"},
		{"unknown mechanism", Config{Listeners: "SASL_PLAINTEXT://127.0.0.1:0", SASLUsers: users, SASLMechanisms: []string{"GSSAPI"}}, "unknown mechanism"},
		{"OAUTHBEARER alone", Config{Listeners: "SASL_PLAINTEXT://127.0.0.1:0", SASLMechanisms: []string{"OAUTHBEARER"}}, ""},
		{"both user sources", Config{SASLUsers: users, SASLUsersFile: "x"}, "set one"},
		{"user name with a colon", Config{Listeners: "SASL_PLAINTEXT://127.0.0.1:0", SASLUsers: map[string]string{"a:b": "p"}}, "without ':'"},
		{"negative reauth", Config{MaxReauth: -1}, "MaxReauth"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.DataDir = "x"
			err := c.cfg.withDefaults().validate()
			if c.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.ErrorContains(t, err, c.want)
		})
	}
}

// Each listener's clients are told that listener's address, in Metadata
// and FindCoordinator: a SASL_SSL client sent to the plaintext port would
// fail, or worse, succeed without TLS.
func TestListenersAdvertiseTheirOwnAddress(t *testing.T) {
	sb := startSecure(t, "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0", nil)
	ls := sb.Listeners()
	require.Len(t, ls, 4)
	assert.Equal(t, sb.Addr(), ls[0].Addr)
	for _, l := range ls {
		t.Run(l.Protocol, func(t *testing.T) {
			opts := []kgo.Opt{kgo.SeedBrokers(l.Addr)}
			if strings.HasSuffix(l.Protocol, "SSL") {
				opts = append(opts, kgo.DialTLSConfig(sb.clientTLS.Clone()))
			}
			if strings.HasPrefix(l.Protocol, "SASL") {
				opts = append(opts, kgo.SASL(scram.Auth{User: secUser, Pass: secPassword}.AsSha512Mechanism()))
			}
			cl, err := kgo.NewClient(opts...)
			require.NoError(t, err)
			defer cl.Close()
			md, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx(t), cl)
			require.NoError(t, err)
			require.Len(t, md.Brokers, 1)
			assert.Equal(t, l.Addr, net.JoinHostPort(md.Brokers[0].Host, strconv.Itoa(int(md.Brokers[0].Port))))

			fc := kmsg.NewPtrFindCoordinatorRequest()
			fc.CoordinatorKey = "g"
			fr, err := fc.RequestWith(ctx(t), cl)
			require.NoError(t, err)
			assert.Equal(t, l.Addr, net.JoinHostPort(fr.Host, strconv.Itoa(int(fr.Port))))
		})
	}
}

func TestSASLApiVersions(t *testing.T) {
	sb := startSecure(t, "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0", nil)
	for _, c := range []struct {
		proto string
		sasl  bool
	}{{"PLAINTEXT", false}, {"SASL_PLAINTEXT", true}} {
		rc := dialAt(t, sb.ListenerAddr(c.proto), nil)
		resp := rc.roundTrip(kmsg.NewPtrApiVersionsRequest(), 3).(*kmsg.ApiVersionsResponse)
		require.Zero(t, resp.ErrorCode)
		lo, hi, ok := apiRange(resp.ApiKeys, saslHandshakeKey)
		assert.Equal(t, c.sasl, ok, "%s advertises SaslHandshake", c.proto)
		if c.sasl {
			assert.Equal(t, [2]int16{0, 1}, [2]int16{lo, hi}, "SaslHandshake: librdkafka needs v0")
			lo, hi, ok = apiRange(resp.ApiKeys, saslAuthenticateKey)
			assert.True(t, ok)
			assert.Equal(t, [2]int16{0, 2}, [2]int16{lo, hi})
			for i := 1; i < len(resp.ApiKeys); i++ {
				assert.Less(t, resp.ApiKeys[i-1].ApiKey, resp.ApiKeys[i].ApiKey, "keys in order")
			}
		}
	}
}

// The login by hand, message by message, including what no client sends.
func TestSASLLogin(t *testing.T) {
	sb := startSecure(t, "SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0", func(c *Config) {
		c.FailedAuthenticationDelay = 300 * time.Millisecond
	})
	addr := sb.ListenerAddr("SASL_PLAINTEXT")

	t.Run("PLAIN v1 then requests", func(t *testing.T) {
		for _, v := range []int16{0, 1, 2} {
			rc := dialAt(t, addr, nil)
			hs := handshake(rc, "PLAIN", 1)
			require.Zero(t, hs.ErrorCode)
			assert.Equal(t, []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}, hs.SupportedMechanisms)
			ar := authenticate(rc, plainToken(secUser, secPassword), v)
			require.Zero(t, ar.ErrorCode, "v%d: %v", v, ar.ErrorMessage)
			assert.Zero(t, ar.SessionLifetimeMillis, "no connections.max.reauth.ms")
			md := rc.roundTrip(kmsg.NewPtrMetadataRequest(), 9).(*kmsg.MetadataResponse)
			assert.Len(t, md.Brokers, 1)
		}
	})
	t.Run("password with colons", func(t *testing.T) {
		rc := dialAt(t, addr, nil)
		require.Zero(t, handshake(rc, "PLAIN", 1).ErrorCode)
		require.Zero(t, authenticate(rc, plainToken("bob", "bob:with:colons"), 2).ErrorCode)
	})
	t.Run("PLAIN over SaslHandshake v0 (bare tokens)", func(t *testing.T) {
		rc := dialAt(t, addr, nil)
		require.Zero(t, handshake(rc, "PLAIN", 0).ErrorCode)
		tok := plainToken(secUser, secPassword)
		rc.write(binary.BigEndian.AppendUint32(nil, uint32(len(tok))))
		rc.write(tok)
		body, err := rc.readFrame(5 * time.Second)
		require.NoError(t, err)
		assert.Empty(t, body, "PLAIN success is an empty bare token")
		md := rc.roundTrip(kmsg.NewPtrMetadataRequest(), 1).(*kmsg.MetadataResponse)
		assert.Len(t, md.Brokers, 1)
	})
	t.Run("wrong password over v0 closes unanswered", func(t *testing.T) {
		rc := dialAt(t, addr, nil)
		require.Zero(t, handshake(rc, "PLAIN", 0).ErrorCode)
		tok := plainToken(secUser, "wrong-v0")
		rc.write(append(binary.BigEndian.AppendUint32(nil, uint32(len(tok))), tok...))
		rc.requireClosed()
	})

	fails := []struct {
		name      string
		mechanism string
		token     []byte
		code      int16
		delayed   bool
	}{
		{"wrong password", "PLAIN", plainToken(secUser, "hunter2-wrong"), kerr.SaslAuthenticationFailed.Code, true},
		{"unknown user", "PLAIN", plainToken("mallory", "hunter2-wrong"), kerr.SaslAuthenticationFailed.Code, true},
		{"garbage PLAIN token", "PLAIN", []byte("no separators at all"), kerr.SaslAuthenticationFailed.Code, true},
		{"oversized PLAIN token", "PLAIN", bytes.Repeat([]byte{'a'}, 64<<10), kerr.SaslAuthenticationFailed.Code, true},
		{"garbage SCRAM client-first", "SCRAM-SHA-256", []byte("y,,n=alice,r=abc"), kerr.SaslAuthenticationFailed.Code, true},
		{"SCRAM client-first without nonce", "SCRAM-SHA-512", []byte("n,,n=alice"), kerr.SaslAuthenticationFailed.Code, true},
	}
	for _, f := range fails {
		t.Run(f.name, func(t *testing.T) {
			rc := dialAt(t, addr, nil)
			require.Zero(t, handshake(rc, f.mechanism, 1).ErrorCode)
			start := time.Now()
			ar := authenticate(rc, f.token, 2)
			took := time.Since(start)
			assert.Equal(t, f.code, ar.ErrorCode)
			require.NotNil(t, ar.ErrorMessage)
			assert.NotEmpty(t, *ar.ErrorMessage)
			assert.NotContains(t, *ar.ErrorMessage, "hunter2")
			if f.delayed {
				assert.GreaterOrEqual(t, took, 300*time.Millisecond, "connection.failed.authentication.delay.ms")
			}
			rc.requireClosed()
		})
	}
	logs := sb.logs.String()
	assert.Contains(t, logs, "failed authentication")
	assert.Contains(t, logs, "user=mallory")
	assert.Contains(t, logs, "user=alice")
	assert.Contains(t, logs, "remote=127.0.0.1:")
	assert.NotContains(t, logs, "hunter2", "the log must never carry a password")

	protocolErrors := []struct {
		name string
		run  func(rc *rawConn)
	}{
		{"request before authentication", func(rc *rawConn) {
			rc.write(frame(kmsg.NewPtrMetadataRequest(), 9, 1))
		}},
		{"produce before authentication", func(rc *rawConn) {
			rc.write(frame(produceReq("t", 0, makeBatch(1, 10, batch.Params{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, PartitionLeaderEpoch: -1})), 9, 1))
		}},
		{"SaslAuthenticate before SaslHandshake", func(rc *rawConn) {
			rc.corr++
			rc.write(frame(&kmsg.SASLAuthenticateRequest{SASLAuthBytes: plainToken(secUser, secPassword)}, 1, rc.corr))
			body, err := rc.readFrame(5 * time.Second)
			require.NoError(t, err)
			resp := kmsg.NewPtrSASLAuthenticateResponse()
			resp.SetVersion(1)
			require.NoError(t, resp.ReadFrom(body[4:]))
			assert.Equal(t, kerr.IllegalSaslState.Code, resp.ErrorCode)
		}},
		{"unsupported mechanism", func(rc *rawConn) {
			hs := handshake(rc, "GSSAPI", 1)
			assert.Equal(t, kerr.UnsupportedSaslMechanism.Code, hs.ErrorCode)
			assert.Equal(t, []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}, hs.SupportedMechanisms)
		}},
		{"second SaslHandshake", func(rc *rawConn) {
			require.Zero(t, handshake(rc, "PLAIN", 1).ErrorCode)
			assert.Equal(t, kerr.IllegalSaslState.Code, handshake(rc, "PLAIN", 1).ErrorCode)
		}},
		{"oversized frame before authentication", func(rc *rawConn) {
			rc.write(binary.BigEndian.AppendUint32(nil, maxSaslReceive+1))
		}},
		{"truncated token", func(rc *rawConn) {
			require.Zero(t, handshake(rc, "PLAIN", 1).ErrorCode)
			f := frame(&kmsg.SASLAuthenticateRequest{SASLAuthBytes: plainToken(secUser, secPassword)}, 1, 9)
			rc.write(f[:len(f)-5])
			rc.c.(*net.TCPConn).CloseWrite()
		}},
		{"bytes that are no request", func(rc *rawConn) {
			rc.write([]byte{0, 0, 0, 12, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8})
		}},
	}
	for _, pe := range protocolErrors {
		t.Run(pe.name, func(t *testing.T) {
			rc := dialAt(t, addr, nil)
			rc.t = t
			pe.run(rc)
			rc.requireClosed()
		})
	}

	// After all that, the broker still serves a good login.
	rc := dialAt(t, sb.ListenerAddr("SASL_SSL"), sb.clientTLS)
	require.Zero(t, handshake(rc, "PLAIN", 1).ErrorCode)
	require.Zero(t, authenticate(rc, plainToken(secUser, secPassword), 2).ErrorCode)
}

// A client that opens the TLS port and never completes the handshake is
// closed after TLSHandshakeTimeout, and others are served meanwhile.
func TestTLSHandshakeTimeout(t *testing.T) {
	sb := startSecure(t, "SSL://127.0.0.1:0", func(c *Config) { c.TLSHandshakeTimeout = 300 * time.Millisecond })
	addr := sb.ListenerAddr("SSL")
	stalled := make([]*rawConn, 3)
	for i := range stalled {
		stalled[i] = dialAt(t, addr, nil) // TCP only: no ClientHello
	}
	half := dialAt(t, addr, nil)
	half.write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}) // a ClientHello cut short

	good := dialAt(t, addr, sb.clientTLS)
	md := good.roundTrip(kmsg.NewPtrMetadataRequest(), 9).(*kmsg.MetadataResponse)
	assert.Len(t, md.Brokers, 1)

	for _, rc := range append(stalled, half) {
		start := time.Now()
		rc.requireClosed()
		assert.Less(t, time.Since(start), 3*time.Second)
	}
	// Plaintext Kafka bytes on the TLS port: closed at once.
	pt := dialAt(t, addr, nil)
	pt.write(frame(kmsg.NewPtrApiVersionsRequest(), 3, 1))
	pt.requireClosed()
	assert.Contains(t, sb.logs.String(), "TLS handshake failed")
}

// KIP-368: with connections.max.reauth.ms the login answer carries the
// session lifetime, a request after it ends closes the connection, and a
// re-authentication on the same connection extends it.
func TestSASLReauthentication(t *testing.T) {
	// Long enough that a login on a loaded machine takes a small part of
	// it: the extension test logs in every third of a lifetime.
	const life = time.Second
	sb := startSecure(t, "SASL_PLAINTEXT://127.0.0.1:0", func(c *Config) { c.MaxReauth = life })
	addr := sb.ListenerAddr("SASL_PLAINTEXT")
	login := func(rc *rawConn, user, pw string) *kmsg.SASLAuthenticateResponse {
		require.Zero(t, handshake(rc, "PLAIN", 1).ErrorCode)
		return authenticate(rc, plainToken(user, pw), 2)
	}

	t.Run("expired session closes", func(t *testing.T) {
		rc := dialAt(t, addr, nil)
		ar := login(rc, secUser, secPassword)
		require.Zero(t, ar.ErrorCode)
		assert.InDelta(t, life.Milliseconds(), ar.SessionLifetimeMillis, 50)
		rc.roundTrip(kmsg.NewPtrMetadataRequest(), 9)
		// Time itself is the condition: no event marks a session's end.
		time.Sleep(life + 100*time.Millisecond)
		rc.write(frame(kmsg.NewPtrMetadataRequest(), 9, 99))
		rc.requireClosed()
	})
	t.Run("re-authentication extends it", func(t *testing.T) {
		rc := dialAt(t, addr, nil)
		require.Zero(t, login(rc, secUser, secPassword).ErrorCode)
		// Four thirds of a lifetime in all: without the extensions the
		// session would have ended before the Metadata below.
		for range 4 {
			time.Sleep(life / 3)
			ar := login(rc, secUser, secPassword)
			require.Zero(t, ar.ErrorCode, "%v", ar.ErrorMessage)
			assert.Positive(t, ar.SessionLifetimeMillis)
		}
		md := rc.roundTrip(kmsg.NewPtrMetadataRequest(), 9).(*kmsg.MetadataResponse)
		assert.Len(t, md.Brokers, 1)
	})
	t.Run("re-authentication may not change the principal", func(t *testing.T) {
		rc := dialAt(t, addr, nil)
		require.Zero(t, login(rc, secUser, secPassword).ErrorCode)
		ar := login(rc, "bob", "bob:with:colons")
		assert.Equal(t, kerr.SaslAuthenticationFailed.Code, ar.ErrorCode)
		rc.requireClosed()
	})
	t.Run("franz-go re-authenticates by itself", func(t *testing.T) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(plain.Auth{User: secUser, Pass: secPassword}.AsMechanism()),
			kgo.DefaultProduceTopic("reauth"), kgo.AllowAutoTopicCreation())
		require.NoError(t, err)
		defer cl.Close()
		expiredBefore := strings.Count(sb.logs.String(), "session expired")
		deadline := time.Now().Add(3 * life)
		n := 0
		for time.Now().Before(deadline) {
			require.NoError(t, cl.ProduceSync(ctx(t), &kgo.Record{Value: []byte("x")}).FirstErr())
			n++
			time.Sleep(20 * time.Millisecond)
		}
		assert.GreaterOrEqual(t, n, 3, "produced across several session lifetimes")
		assert.Equal(t, expiredBefore, strings.Count(sb.logs.String(), "session expired"),
			"franz-go re-authenticated before its sessions ended: none was closed")
	})
}

// Answers that are ready together go out in one TLS write (writeTLS), in
// request order, the large ones whole: a parked fetch holds back the
// answers behind it, which are then written as one burst.
func TestTLSPipelinedAnswers(t *testing.T) {
	sb := startSecure(t, "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0", nil)
	require.NoError(t, sb.CreateTopic("empty", 1, nil))
	require.NoError(t, sb.CreateTopic("big", 1, nil))
	cl := newClient(t, sb.Broker, kgo.DefaultProduceTopic("big"), kgo.ProducerBatchMaxBytes(1<<20))
	big := make([]byte, 200<<10)
	rand.Read(big) // incompressible: the answer stays above tlsCoalesceMax
	require.NoError(t, cl.ProduceSync(ctx(t), &kgo.Record{Value: big}).FirstErr())

	rc := dialAt(t, sb.ListenerAddr("SSL"), sb.clientTLS)
	var out []byte
	out = append(out, frame(fetchReq("empty", 0, 1, 300), 12, 1)...) // parks 300ms
	out = append(out, frame(fetchReq("big", 0, 1, 0), 12, 2)...)
	const n = 40
	for corr := int32(3); corr < n; corr++ {
		out = append(out, frame(kmsg.NewPtrApiVersionsRequest(), 3, corr)...)
	}
	rc.write(out)
	for want := int32(1); want < n; want++ {
		body, err := rc.readFrame(5 * time.Second)
		require.NoError(t, err)
		require.Equal(t, want, int32(binary.BigEndian.Uint32(body)), "answers in request order")
		if want == 2 {
			assert.Greater(t, len(body), len(big), "the big fetch answer arrives whole")
		}
	}
}
