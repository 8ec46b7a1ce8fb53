package auth_test

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/auth"
	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/sasl"
)

const secret = "us3rs-f1le-secret"

func TestParseUsers(t *testing.T) {
	u, err := auth.ParseUsers([]byte("# brokers' users\n\n alice : " + secret + "\r\nbob:pa:ss:word\n  # indented comment\n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"alice", "bob"}, u.Names())

	for _, tc := range []struct {
		name, in, want string
	}{
		{"no colon", "alice " + secret, "line 1: want username:password"},
		{"empty user", ":" + secret, "line 1: empty user name"},
		{"empty password", "# x\nalice:", `line 2: user "alice": empty password`},
		{"duplicate", "alice:" + secret + "\nalice:" + secret, `line 2: user "alice" given twice`},
		{"no users", "# nothing\n", "no users"},
		{"invalid UTF-8", "alice:\xff" + secret, "line 1: invalid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := auth.ParseUsers([]byte(tc.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), secret)
		})
	}
}

// RFC 7677 section 3 from the server's side: with the RFC's salt,
// iterations and server nonce, the RFC's client messages log in and the
// server answers with the RFC's verifier.
func TestScramServerRFC7677Vector(t *testing.T) {
	salt, err := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	require.NoError(t, err)
	cred, err := auth.DeriveCredential(sha256.New, "pencil", salt, 4096)
	require.NoError(t, err)
	a := &auth.Authenticator{Users: auth.UsersWith("user", cred, auth.Credential{}), Mechanisms: []string{auth.ScramSHA256}}
	s, err := a.Start(auth.ScramSHA256)
	require.NoError(t, err)
	s = auth.WithServerNonce(s, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")

	first, done, err := s.Next([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	require.NoError(t, err)
	assert.False(t, done)
	assert.Equal(t, "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", string(first))
	final, done, err := s.Next([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	require.NoError(t, err)
	assert.True(t, done)
	assert.Equal(t, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", string(final))
	assert.Equal(t, "user", s.Principal())
	_, _, err = s.Next(nil)
	assert.ErrorIs(t, err, auth.ErrSessionDone)
}

// converse runs a client mechanism against a server session the way the
// broker and client do over SaslAuthenticate.
func converse(t testing.TB, client sasl.Mechanism, server auth.Session) error {
	t.Helper()
	cs, msg, err := client.Start(context.Background(), "127.0.0.1:9092")
	require.NoError(t, err)
	for range 5 {
		out, srvDone, err := server.Next(msg)
		if err != nil {
			return err
		}
		done, next, err := cs.Challenge(out)
		if err != nil {
			return err
		}
		if done && next == nil {
			if !srvDone {
				t.Fatalf("client finished before the server")
			}
			return nil
		}
		msg = next
	}
	t.Fatal("no end after 5 rounds")
	return nil
}

func unsecuredJWT(claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "none"})
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

func TestConversationsWithClientMechanisms(t *testing.T) {
	users, err := auth.ParseUsers([]byte("alice:" + secret + "\nb=o,b:other\n"))
	require.NoError(t, err)
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	a := &auth.Authenticator{Users: users, Mechanisms: []string{auth.Plain, auth.ScramSHA256, auth.ScramSHA512, auth.OAuthBearer},
		OAuth: auth.UnsecuredJWT{Now: func() time.Time { return now }, RequiredScopes: []string{"kafka"}}}
	token := func(claims map[string]any) sasl.Mechanism {
		return sasl.OAuthBearer(func(context.Context) (sasl.Token, error) { return sasl.Token{Value: unsecuredJWT(claims)}, nil })
	}
	valid := map[string]any{"sub": "alice", "exp": float64(now.Add(time.Hour).Unix()), "iat": float64(now.Unix()), "scope": "kafka read"}
	for _, tc := range []struct {
		name      string
		mech      string
		client    sasl.Mechanism
		principal string
		wantErr   error
	}{
		{"PLAIN", auth.Plain, sasl.Plain("alice", secret), "alice", nil},
		{"PLAIN wrong password", auth.Plain, sasl.Plain("alice", secret+"!"), "", auth.ErrAuthFailed},
		{"PLAIN unknown user", auth.Plain, sasl.Plain("mallory", secret), "", auth.ErrAuthFailed},
		{"PLAIN impersonation", auth.Plain, sasl.PlainAuthz("b=o,b", "alice", secret), "", auth.ErrAuthFailed},
		{"SCRAM-SHA-256", auth.ScramSHA256, sasl.ScramSHA256("alice", secret), "alice", nil},
		{"SCRAM-SHA-512", auth.ScramSHA512, sasl.ScramSHA512("alice", secret), "alice", nil},
		{"SCRAM escaped user name", auth.ScramSHA512, sasl.ScramSHA512("b=o,b", "other"), "b=o,b", nil},
		{"SCRAM-SHA-256 wrong password", auth.ScramSHA256, sasl.ScramSHA256("alice", "wrong"), "", auth.ErrAuthFailed},
		{"SCRAM-SHA-512 unknown user", auth.ScramSHA512, sasl.ScramSHA512("mallory", secret), "", auth.ErrAuthFailed},
		{"OAUTHBEARER", auth.OAuthBearer, token(valid), "alice", nil},
		{"OAUTHBEARER expired", auth.OAuthBearer, token(map[string]any{"sub": "alice", "exp": float64(now.Add(-time.Second).Unix()), "scope": "kafka"}), "", auth.ErrAuthFailed},
		{"OAUTHBEARER no scope", auth.OAuthBearer, token(map[string]any{"sub": "alice", "exp": float64(now.Add(time.Hour).Unix())}), "", auth.ErrAuthFailed},
		{"OAUTHBEARER no subject", auth.OAuthBearer, token(map[string]any{"exp": float64(now.Add(time.Hour).Unix()), "scope": "kafka"}), "", auth.ErrAuthFailed},
		{"OAUTHBEARER signed", auth.OAuthBearer, sasl.OAuthBearer(func(context.Context) (sasl.Token, error) {
			return sasl.Token{Value: unsecuredJWT(valid) + "c2ln"}, nil
		}), "", auth.ErrAuthFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := a.Start(tc.mech)
			require.NoError(t, err)
			err = converse(t, tc.client, s)
			if tc.wantErr != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tc.wantErr)
				assert.ErrorIs(t, err, kerr.SaslAuthenticationFailed)
				assert.NotContains(t, err.Error(), secret)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.principal, s.Principal())
			if e, ok := s.(auth.Expiring); ok {
				assert.True(t, now.Add(time.Hour).Equal(e.Expiry()), "expiry %v", e.Expiry())
			}
		})
	}
}

func TestDisabledMechanism(t *testing.T) {
	a := &auth.Authenticator{Mechanisms: []string{auth.ScramSHA512}}
	_, err := a.Start(auth.Plain)
	assert.ErrorIs(t, err, kerr.UnsupportedSaslMechanism)
	_, err = a.Start(auth.ScramSHA512) // enabled but no users file
	assert.ErrorIs(t, err, kerr.UnsupportedSaslMechanism)
}

func TestParseClientFirst(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    auth.ClientFirst
		wantErr string
	}{
		{in: "n,,n=user,r=abc", want: auth.ClientFirst{GS2: "n,,", User: "user", Nonce: "abc", Bare: "n=user,r=abc"}},
		{in: "n,a=us=3Der,n=us=3Der,r=abc", want: auth.ClientFirst{GS2: "n,a=us=3Der,", Authzid: "us=er", User: "us=er", Nonce: "abc", Bare: "n=us=3Der,r=abc"}},
		{in: "n,,n=a=2Cb,r=x", want: auth.ClientFirst{GS2: "n,,", User: "a,b", Nonce: "x", Bare: "n=a=2Cb,r=x"}},
		{in: "y,,n=user,r=abc", wantErr: "channel binding"},
		{in: "p=tls-unique,,n=user,r=abc", wantErr: "channel binding"},
		{in: "x,,n=user,r=abc", wantErr: "GS2 header"},
		{in: "n,", wantErr: "not terminated"},
		{in: "n,b=x,n=user,r=abc", wantErr: "unknown attribute"},
		{in: "n,,n=user", wantErr: "needs n= and r="},
		{in: "n,,m=ext,n=user,r=abc", wantErr: "mandatory extensions"},
		{in: "n,,u=user,r=abc", wantErr: "does not start with n="},
		{in: "n,,n=us=4er,r=abc", wantErr: "bad '=' escape"},
		{in: "n,,n=,r=abc", wantErr: "user name length 0"},
		{in: "n,,n=user,r=", wantErr: "nonce"},
		{in: "n,,n=user,r=a\x7fb", wantErr: "nonce"},
		{in: "n,,n=user,r=abc,tokenauth=true", wantErr: `extension "tokenauth"`},
		{in: "n,a=admin,n=user,r=abc", wantErr: "authorization id differs"},
		{in: "n,,n=\xff,r=abc", wantErr: "not UTF-8"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := auth.ParseClientFirst([]byte(tc.in))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.ErrorIs(t, err, kerr.SaslAuthenticationFailed)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseOAuthMessage(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     auth.OAuthMessage
		wantErr  string
	}{
		{"token", "n,,\x01auth=Bearer abc\x01\x01", auth.OAuthMessage{Token: "abc"}, ""},
		{"authzid and extensions", "n,a=alice,\x01auth=Bearer abc\x01logicalCluster=lkc-1\x01\x01",
			auth.OAuthMessage{Authzid: "alice", Token: "abc", Extensions: map[string]string{"logicalCluster": "lkc-1"}}, ""},
		{"no GS2", "\x01auth=Bearer abc\x01\x01", auth.OAuthMessage{}, "GS2 header"},
		{"no framing", "n,,auth=Bearer abc", auth.OAuthMessage{}, "framed by 0x01"},
		{"no bearer", "n,,\x01auth=Basic abc\x01\x01", auth.OAuthMessage{}, "Bearer <token>"},
		{"no auth", "n,,\x01k=v\x01\x01", auth.OAuthMessage{}, "no auth=Bearer"},
		{"auth twice", "n,,\x01auth=Bearer a\x01auth=Bearer b\x01\x01", auth.OAuthMessage{}, "auth given twice"},
		{"bad key", "n,,\x01auth=Bearer a\x01k1=v\x01\x01", auth.OAuthMessage{}, "letters only"},
		{"no equals", "n,,\x01auth=Bearer a\x01kv\x01\x01", auth.OAuthMessage{}, "without '='"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := auth.ParseOAuthMessage([]byte(tc.in))
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestCredentialsDoNotKeepPasswords(t *testing.T) {
	c, err := auth.NewCredential(sha512.New, secret)
	require.NoError(t, err)
	assert.Equal(t, auth.Iterations, c.Iterations)
	assert.Len(t, c.Salt, 32)
	again, err := auth.NewCredential(sha512.New, secret)
	require.NoError(t, err)
	assert.NotEqual(t, c.Salt, again.Salt, "a fresh salt per derivation")
	assert.NotEqual(t, c.StoredKey, again.StoredKey)
}

func TestErrorsCarryKafkaCodes(t *testing.T) {
	for _, err := range []error{auth.ErrAuthFailed, auth.ErrMalformed} {
		assert.Equal(t, kerr.SaslAuthenticationFailed.Code, kerr.Code(err))
		assert.NotContains(t, err.Error(), "SASL_AUTHENTICATION_FAILED", "the broker's message does not repeat the code")
	}
}
