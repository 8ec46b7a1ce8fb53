package skifftest_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/broker"
	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/producer"
	"github.com/skiffkit/skiff/sasl"
	"github.com/skiffkit/skiff/skifftest"
)

// The skiff client against the bundled broker on every security protocol,
// and the failures a user must see named.

// allListeners is one listener of each protocol.
const allListeners = "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0"

// secureClient is what a client of one listener sets.
type secureClient struct {
	addr string
	tls  *tls.Config
	sasl sasl.Mechanism
}

func secureProducer(t testing.TB, sc secureClient, cfg producer.Config) (*producer.Producer, error) {
	t.Helper()
	cfg.Brokers, cfg.TLS, cfg.SASL = []string{sc.addr}, sc.tls, sc.sasl
	cfg.RetryBackoff = 10 * time.Millisecond
	p, err := producer.New(cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.Close(c)
	})
	return p, nil
}

func secureConsumer(t testing.TB, sc secureClient, cfg consumer.Config) *consumer.Consumer {
	t.Helper()
	cfg.Brokers, cfg.TLS, cfg.SASL = []string{sc.addr}, sc.tls, sc.sasl
	cfg.FetchMaxWait = 100 * time.Millisecond
	cfg.HeartbeatInterval = 200 * time.Millisecond
	cfg.SessionTimeout = 6 * time.Second
	c, err := consumer.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

// produceOne sends one record and returns the send's error.
func produceOne(ctx context.Context, p *producer.Producer, topic, value string) error {
	errc := make(chan error, 1)
	if err := p.Send(ctx, producer.Record{Topic: topic, Value: []byte(value)}, func(_ producer.RecordMetadata, err error) { errc <- err }); err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestSecureListenersSkiffClient(t *testing.T) {
	b := skifftest.NewSecureBroker(t, skifftest.WithListeners(allListeners), skifftest.WithTopic("secure", 2))
	ls := b.Listeners()
	require.Len(t, ls, 4)
	for i, proto := range []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"} {
		assert.Equal(t, proto, ls[i].Protocol)
		assert.Equal(t, ls[i].Addr, b.ListenerAddr(proto))
	}
	mechanisms := map[string]func(u, p string) sasl.Mechanism{
		"PLAIN": sasl.Plain, "SCRAM-SHA-256": sasl.ScramSHA256, "SCRAM-SHA-512": sasl.ScramSHA512,
	}
	type tc struct {
		name string
		sc   secureClient
	}
	cases := []tc{
		{"PLAINTEXT", secureClient{addr: b.ListenerAddr("PLAINTEXT")}},
		{"SSL", secureClient{addr: b.ListenerAddr("SSL"), tls: b.ClientTLS()}},
	}
	for name, mech := range mechanisms {
		cases = append(cases,
			tc{"SASL_PLAINTEXT/" + name, secureClient{addr: b.ListenerAddr("SASL_PLAINTEXT"), sasl: mech(b.User, b.Password)}},
			tc{"SASL_SSL/" + name, secureClient{addr: b.ListenerAddr("SASL_SSL"), tls: b.ClientTLS(), sasl: mech(b.User, b.Password)}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := e2eCtx(t)
			p, err := secureProducer(t, c.sc, producer.Config{})
			require.NoError(t, err)
			const n = 50
			for i := range n {
				require.NoError(t, p.Send(ctx, producer.Record{Topic: "secure", Key: []byte(fmt.Sprint(i)), Value: []byte(c.name)}, nil))
			}
			require.NoError(t, p.Flush(ctx))

			// A group consumer: its coordinator connection is found
			// through FindCoordinator, which must name this listener.
			cons := secureConsumer(t, c.sc, consumer.Config{GroupID: "g-" + c.name, Topics: []string{"secure"}, AutoOffsetReset: "earliest"})
			got := 0
			for got < n {
				recs, err := cons.Poll(ctx)
				require.NoError(t, err)
				for _, r := range recs {
					if string(r.Value) == c.name {
						got++
					}
				}
			}
			assert.Equal(t, n, got)
			require.NoError(t, cons.CommitSync(ctx))
		})
	}
}

func TestSecureBrokerRejects(t *testing.T) {
	b := skifftest.NewSecureBroker(t, skifftest.WithListeners(allListeners), skifftest.WithTopic("secure", 1))
	saslSSL, saslPlain := b.ListenerAddr("SASL_SSL"), b.ListenerAddr("SASL_PLAINTEXT")
	cases := []struct {
		name string
		sc   secureClient
		want error // matched with errors.Is, and the failure is prompt
		// hint is in the message of a connection the broker refuses
		// below SASL: the client retries those until max.block.
		hint string
	}{
		{"wrong password/PLAIN", secureClient{addr: saslSSL, tls: b.ClientTLS(), sasl: sasl.Plain(b.User, "nope")}, kerr.SaslAuthenticationFailed, ""},
		{"wrong password/SCRAM-SHA-256", secureClient{addr: saslSSL, tls: b.ClientTLS(), sasl: sasl.ScramSHA256(b.User, "nope")}, kerr.SaslAuthenticationFailed, ""},
		{"wrong password/SCRAM-SHA-512", secureClient{addr: saslPlain, sasl: sasl.ScramSHA512(b.User, "nope")}, kerr.SaslAuthenticationFailed, ""},
		{"unknown user/PLAIN", secureClient{addr: saslPlain, sasl: sasl.Plain("mallory", "x")}, kerr.SaslAuthenticationFailed, ""},
		{"unknown user/SCRAM-SHA-512", secureClient{addr: saslSSL, tls: b.ClientTLS(), sasl: sasl.ScramSHA512("mallory", "x")}, kerr.SaslAuthenticationFailed, ""},
		{"disabled mechanism OAUTHBEARER", secureClient{addr: saslPlain, sasl: sasl.OAuthBearer(staticToken(unsecuredJWT("alice", time.Hour)))}, kerr.UnsupportedSaslMechanism, ""},
		{"untrusted CA", secureClient{addr: b.ListenerAddr("SSL"), tls: &tls.Config{MinVersion: tls.VersionTLS12}}, nil, "signed by an unknown authority"},
		// A request before authentication: the broker closes unanswered.
		{"no SASL on a SASL listener", secureClient{addr: saslSSL, tls: b.ClientTLS()}, nil, "connection closed"},
		// Told at once, not after max.block: the port answers a TLS handshake.
		{"plaintext client on the SSL listener", secureClient{addr: b.ListenerAddr("SSL")}, nil, "speaks TLS and this client does not"},
		{"plaintext client on the SASL_SSL listener", secureClient{addr: saslSSL, sasl: sasl.Plain(b.User, b.Password)}, nil, "speaks TLS and this client does not"},
		{"TLS client on the PLAINTEXT listener", secureClient{addr: b.ListenerAddr("PLAINTEXT"), tls: b.ClientTLS()}, nil, "TLS handshake"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			p, err := secureProducer(t, c.sc, producer.Config{MaxBlock: 3 * time.Second})
			if err == nil {
				err = produceOne(ctx, p, "secure", "x")
			}
			require.Error(t, err)
			if c.want != nil {
				assert.ErrorIs(t, err, c.want)
				assert.NotErrorIs(t, err, context.DeadlineExceeded, "the failure must come from the broker, not a timeout")
				assert.Less(t, time.Since(start), 2*time.Second, "an authentication failure is fatal, not retried")
			} else {
				assert.Contains(t, err.Error(), c.hint)
				if strings.Contains(c.hint, "speaks TLS") {
					assert.Less(t, time.Since(start), 2*time.Second, "a plaintext client on a TLS port is told at once")
					assert.NotContains(t, err.Error(), "unknown topic")
				}
			}
			assert.NotContains(t, err.Error(), "nope", "the error must not carry the password")
			t.Logf("%s: %v", c.name, err)
		})
	}
	// The broker kept serving: a good login still works.
	p, err := secureProducer(t, secureClient{addr: saslSSL, tls: b.ClientTLS(), sasl: sasl.ScramSHA512(b.User, b.Password)}, producer.Config{})
	require.NoError(t, err)
	require.NoError(t, produceOne(e2eCtx(t), p, "secure", "after"))
}

func TestSecureBrokerMTLS(t *testing.T) {
	b := skifftest.NewSecureBroker(t, skifftest.WithListeners("SSL://127.0.0.1:0"), skifftest.WithClientCertRequired(), skifftest.WithTopic("mtls", 1))
	ok := secureClient{addr: b.ListenerAddr("SSL"), tls: b.ClientTLS()}
	require.NotEmpty(t, ok.tls.Certificates)
	p, err := secureProducer(t, ok, producer.Config{})
	require.NoError(t, err)
	require.NoError(t, produceOne(e2eCtx(t), p, "mtls", "with a certificate"))

	noCert := secureClient{addr: b.ListenerAddr("SSL"), tls: &tls.Config{RootCAs: b.RootCAs, MinVersion: tls.VersionTLS12}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err = secureProducer(t, noCert, producer.Config{MaxBlock: 3 * time.Second})
	if err == nil {
		err = produceOne(ctx, p, "mtls", "without")
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")
}

// unsecuredJWT is an alg "none" token for sub expiring in ttl (negative:
// already expired), what Kafka's unsecured validator accepts.
func unsecuredJWT(sub string, ttl time.Duration) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	now := time.Now()
	return enc(map[string]string{"alg": "none"}) + "." +
		enc(map[string]any{"sub": sub, "iat": now.Unix(), "exp": now.Add(ttl).Unix()}) + "."
}

func staticToken(tok string) sasl.TokenProvider {
	return func(context.Context) (sasl.Token, error) {
		return sasl.Token{Value: tok, Expiry: time.Now().Add(time.Hour)}, nil
	}
}

func TestSecureBrokerOAuthBearer(t *testing.T) {
	b := skifftest.NewSecureBroker(t, skifftest.WithTopic("oauth", 1), skifftest.WithConfig(func(c *broker.Config) {
		c.SASLMechanisms = []string{"OAUTHBEARER", "SCRAM-SHA-512"}
	}))
	addr := b.ListenerAddr("SASL_SSL")
	p, err := secureProducer(t, secureClient{addr: addr, tls: b.ClientTLS(), sasl: sasl.OAuthBearer(staticToken(unsecuredJWT("alice", time.Hour)))}, producer.Config{})
	require.NoError(t, err)
	require.NoError(t, produceOne(e2eCtx(t), p, "oauth", "valid token"))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err = secureProducer(t, secureClient{addr: addr, tls: b.ClientTLS(), sasl: sasl.OAuthBearer(staticToken(unsecuredJWT("alice", -time.Minute)))},
		producer.Config{MaxBlock: 10 * time.Second})
	if err == nil {
		err = produceOne(ctx, p, "oauth", "expired token")
	}
	require.Error(t, err)
	assert.ErrorIs(t, err, kerr.SaslAuthenticationFailed)
}
