package sasl_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/internal/certs"
	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/producer"
	"github.com/skiffkit/skiff/sasl"
)

func mechanism(name, user, pass string) sasl.Mechanism {
	switch name {
	case "PLAIN":
		return sasl.Plain(user, pass)
	case "SCRAM-SHA-256":
		return sasl.ScramSHA256(user, pass)
	default:
		return sasl.ScramSHA512(user, pass)
	}
}

func ctxFor(tb testing.TB, d time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// The whole client over SASL against kfake: a producer, and a group
// consumer whose coordinator connection must log in too.
func TestProduceConsumeOverSASL(t *testing.T) {
	for _, tc := range []struct {
		mech string
		tls  bool
	}{
		{"PLAIN", false},
		{"SCRAM-SHA-256", false},
		{"SCRAM-SHA-512", false},
		{"SCRAM-SHA-512", true},
		{"PLAIN", true},
	} {
		name := "SASL_PLAINTEXT/" + tc.mech
		if tc.tls {
			name = "SASL_SSL/" + tc.mech
		}
		t.Run(name, func(t *testing.T) {
			opts := []kfake.Opt{kfake.NumBrokers(2), kfake.SeedTopics(2, "orders"), kfake.EnableSASL(), kfake.Superuser(tc.mech, "alice", secret)}
			var clientTLS *tls.Config
			if tc.tls {
				ca, err := certs.NewCA("test CA")
				require.NoError(t, err)
				srv, err := ca.Server("127.0.0.1")
				require.NoError(t, err)
				opts = append(opts, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{srv.TLS}}))
				clientTLS = &tls.Config{RootCAs: ca.Pool()}
			}
			c, err := kfake.NewCluster(opts...)
			require.NoError(t, err)
			t.Cleanup(c.Close)

			p, err := producer.New(producer.Config{Brokers: c.ListenAddrs(), TLS: clientTLS, SASL: mechanism(tc.mech, "alice", secret)})
			require.NoError(t, err)
			t.Cleanup(func() { _ = p.Close(context.Background()) })
			ctx := ctxFor(t, 30*time.Second)
			for i := range 10 {
				_, err := p.SendSync(ctx, producer.Record{Topic: "orders", Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
				require.NoError(t, err)
			}

			cons, err := consumer.New(consumer.Config{
				Brokers: c.ListenAddrs(), GroupID: "g", Topics: []string{"orders"}, AutoOffsetReset: "earliest",
				TLS: clientTLS, SASL: mechanism(tc.mech, "alice", secret),
			})
			require.NoError(t, err)
			t.Cleanup(func() { _ = cons.Close(context.Background()) })
			got := map[string]string{}
			for len(got) < 10 {
				recs, err := cons.Poll(ctx)
				require.NoError(t, err)
				for _, r := range recs {
					got[string(r.Key)] = string(r.Value)
				}
			}
			assert.Equal(t, "v7", got["k7"])
			require.NoError(t, cons.CommitSync(ctx))
		})
	}
}

func TestWrongPasswordFailsFast(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders"), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "alice", secret))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	wrong := sasl.ScramSHA256("alice", "not-"+secret)

	t.Run("producer", func(t *testing.T) {
		p, err := producer.New(producer.Config{Brokers: c.ListenAddrs(), SASL: wrong})
		require.NoError(t, err)
		t.Cleanup(func() { _ = p.Close(context.Background()) })
		start := time.Now()
		_, err = p.SendSync(ctxFor(t, 60*time.Second), producer.Record{Topic: "orders", Value: []byte("v")})
		require.Error(t, err)
		t.Log(err)
		assert.Less(t, time.Since(start), 10*time.Second)
		assert.ErrorIs(t, err, kerr.SaslAuthenticationFailed)
		assert.NotContains(t, err.Error(), secret)
	})
	t.Run("consumer", func(t *testing.T) {
		cons, err := consumer.New(consumer.Config{Brokers: c.ListenAddrs(), GroupID: "g", Topics: []string{"orders"}, SASL: wrong})
		require.NoError(t, err)
		t.Cleanup(func() { _ = cons.Close(context.Background()) })
		start := time.Now()
		_, err = cons.Poll(ctxFor(t, 60*time.Second))
		require.Error(t, err)
		t.Log(err)
		assert.Less(t, time.Since(start), 10*time.Second)
		assert.ErrorIs(t, err, kerr.SaslAuthenticationFailed)
		assert.NotContains(t, err.Error(), secret)
	})
}
