package broker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	kgosasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/sasl"
)

// scramLogin runs a SCRAM login with skiff's own client mechanism over a
// raw connection, reporting the SaslAuthenticate error code of the round
// that ended it (0 for success).
func scramLogin(t testing.TB, rc *rawConn, m sasl.Mechanism) int16 {
	t.Helper()
	require.Zero(t, handshake(rc, m.Name(), 1).ErrorCode)
	sess, msg, err := m.Start(context.Background(), "127.0.0.1")
	require.NoError(t, err)
	for range 4 {
		ar := authenticate(rc, msg, 2)
		if ar.ErrorCode != 0 {
			return ar.ErrorCode
		}
		done, next, err := sess.Challenge(ar.SASLAuthBytes)
		require.NoError(t, err, "the broker's server-final message must verify")
		if done {
			return 0
		}
		msg = next
	}
	t.Fatal("SCRAM login did not finish in 4 rounds")
	return -1
}

// pingWith reports whether a kgo client logging in with m can reach addr.
func pingWith(t testing.TB, sb *secureBroker, addr string, tls bool, m kgosasl.Mechanism) error {
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.SASL(m), kgo.RequestRetries(0),
		kgo.RetryTimeout(time.Second)}
	if tls {
		opts = append(opts, kgo.DialTLSConfig(sb.clientTLS.Clone()))
	}
	cl, err := kgo.NewClient(opts...)
	require.NoError(t, err)
	defer cl.Close()
	c, cancel := context.WithTimeout(ctx(t), 10*time.Second)
	defer cancel()
	_, err = kmsg.NewPtrMetadataRequest().RequestWith(c, cl)
	return err
}

// A user created with AlterUserScramCredentials (KIP-554) logs in at once
// on the SASL listeners, with either mechanism, through franz-go's and
// skiff's own SCRAM clients; the users file's users keep working; a
// deleted user can neither log in again nor re-authenticate (KIP-368).
func TestSCRAMStoredCredentialsLogin(t *testing.T) {
	// Only a re-authentication below depends on it, which the test starts
	// itself: long enough that no session ends on a loaded machine.
	const life = 30 * time.Second
	sb := startSecure(t, "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
		func(c *Config) { c.MaxReauth = life; c.FailedAuthenticationDelay = -1 })
	saslAddr, sslAddr := sb.ListenerAddr("SASL_PLAINTEXT"), sb.ListenerAddr("SASL_SSL")
	adm := kadm.NewClient(newClientAt(t, sb.ListenerAddr("PLAINTEXT")))

	const pw256, pw512 = "carol-256-pw", "carol-512-pw"
	rs, err := adm.AlterUserSCRAMs(ctx(t), nil, []kadm.UpsertSCRAM{
		{User: "carol", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: pw256},
		{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: pw512},
	})
	require.NoError(t, err)
	require.NoError(t, rs["carol"].Err)

	for _, c := range []struct {
		name string
		addr string
		tls  bool
		mech kgosasl.Mechanism
		ok   bool
	}{
		{"stored SHA-256", saslAddr, false, scram.Auth{User: "carol", Pass: pw256}.AsSha256Mechanism(), true},
		{"stored SHA-512 over TLS", sslAddr, true, scram.Auth{User: "carol", Pass: pw512}.AsSha512Mechanism(), true},
		{"each mechanism has its own password", saslAddr, false, scram.Auth{User: "carol", Pass: pw256}.AsSha512Mechanism(), false},
		{"wrong password", saslAddr, false, scram.Auth{User: "carol", Pass: "nope"}.AsSha256Mechanism(), false},
		{"users file user", saslAddr, false, scram.Auth{User: secUser, Pass: secPassword}.AsSha512Mechanism(), true},
		{"unknown user", saslAddr, false, scram.Auth{User: "mallory", Pass: "x"}.AsSha256Mechanism(), false},
	} {
		t.Run("franz-go/"+c.name, func(t *testing.T) {
			err := pingWith(t, sb, c.addr, c.tls, c.mech)
			if c.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
	t.Run("skiff sasl", func(t *testing.T) {
		assert.Zero(t, scramLogin(t, dialAt(t, saslAddr, nil), sasl.ScramSHA256("carol", pw256)))
		assert.Zero(t, scramLogin(t, dialAt(t, sslAddr, sb.clientTLS.Clone()), sasl.ScramSHA512("carol", pw512)))
		assert.Equal(t, kerr.SaslAuthenticationFailed.Code, scramLogin(t, dialAt(t, saslAddr, nil), sasl.ScramSHA512("carol", "x")))
	})

	// A stored credential replaces the users file's for that user and
	// mechanism (the Admin API rotates a file user's password).
	t.Run("store overrides the users file", func(t *testing.T) {
		rs, err := adm.AlterUserSCRAMs(ctx(t), nil, []kadm.UpsertSCRAM{{User: secUser, Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "rotated"}})
		require.NoError(t, err)
		require.NoError(t, rs[secUser].Err)
		assert.Zero(t, scramLogin(t, dialAt(t, saslAddr, nil), sasl.ScramSHA256(secUser, "rotated")))
		assert.NotZero(t, scramLogin(t, dialAt(t, saslAddr, nil), sasl.ScramSHA256(secUser, secPassword)))
		assert.Zero(t, scramLogin(t, dialAt(t, saslAddr, nil), sasl.ScramSHA512(secUser, secPassword)), "the other mechanism still comes from the file")
	})

	t.Run("deleted user", func(t *testing.T) {
		live := dialAt(t, saslAddr, nil)
		require.Zero(t, scramLogin(t, live, sasl.ScramSHA256("carol", pw256)))
		rs, err := adm.AlterUserSCRAMs(ctx(t), []kadm.DeleteSCRAM{{User: "carol", Mechanism: kadm.ScramSha256}}, nil)
		require.NoError(t, err)
		require.NoError(t, rs["carol"].Err)

		// The session in progress lives until it must re-authenticate
		// (KIP-368), which now fails and closes the connection.
		md := live.roundTrip(kmsg.NewPtrMetadataRequest(), 9).(*kmsg.MetadataResponse)
		assert.Len(t, md.Brokers, 1)
		assert.Equal(t, kerr.SaslAuthenticationFailed.Code, scramLogin(t, live, sasl.ScramSHA256("carol", pw256)))
		live.requireClosed()

		assert.Equal(t, kerr.SaslAuthenticationFailed.Code, scramLogin(t, dialAt(t, saslAddr, nil), sasl.ScramSHA256("carol", pw256)))
		assert.Error(t, pingWith(t, sb, saslAddr, false, scram.Auth{User: "carol", Pass: pw256}.AsSha256Mechanism()))
		assert.NoError(t, pingWith(t, sb, saslAddr, false, scram.Auth{User: "carol", Pass: pw512}.AsSha512Mechanism()),
			"the SHA-512 credential was not deleted")
	})
}

// newClientAt is newClient for a listener other than the first.
func newClientAt(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

// A broker with SASL listeners and no users file: SCRAM users come from
// the store alone, created over the plaintext listener; PLAIN is not
// offered, having no users to check.
func TestSCRAMWithoutUsersFile(t *testing.T) {
	sb := startSecure(t, "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0", func(c *Config) { c.SASLUsers = nil })
	addr := sb.ListenerAddr("SASL_PLAINTEXT")
	hs := handshake(dialAt(t, addr, nil), "PLAIN", 1)
	assert.Equal(t, kerr.UnsupportedSaslMechanism.Code, hs.ErrorCode)
	assert.Equal(t, []string{"SCRAM-SHA-256", "SCRAM-SHA-512"}, hs.SupportedMechanisms)

	adm := kadm.NewClient(newClientAt(t, sb.ListenerAddr("PLAINTEXT")))
	rs, err := adm.AlterUserSCRAMs(ctx(t), nil, []kadm.UpsertSCRAM{{User: "dan", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "dan-pw"}})
	require.NoError(t, err)
	require.NoError(t, rs["dan"].Err)
	assert.NoError(t, pingWith(t, sb, addr, false, scram.Auth{User: "dan", Pass: "dan-pw"}.AsSha512Mechanism()))
}
