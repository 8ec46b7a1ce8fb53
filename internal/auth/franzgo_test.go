package auth_test

import (
	"context"
	"crypto/sha512"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	kgosasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/skiffkit/skiff/internal/auth"
)

// The server sessions against a client we did not write: franz-go's
// mechanisms, driven the way kgo drives them.
func TestServerWithFranzGoClients(t *testing.T) {
	users, err := auth.ParseUsers([]byte("alice:" + secret + "\n"))
	require.NoError(t, err)
	a := &auth.Authenticator{Users: users, Mechanisms: []string{auth.Plain, auth.ScramSHA256, auth.ScramSHA512, auth.OAuthBearer}}
	jwt := unsecuredJWT(map[string]any{"sub": "alice", "exp": float64(time.Now().Add(time.Hour).Unix())})
	for _, tc := range []struct {
		name   string
		client kgosasl.Mechanism
		ok     bool
	}{
		{"PLAIN", plain.Auth{User: "alice", Pass: secret}.AsMechanism(), true},
		{"PLAIN wrong password", plain.Auth{User: "alice", Pass: "x"}.AsMechanism(), false},
		{"SCRAM-SHA-256", scram.Auth{User: "alice", Pass: secret}.AsSha256Mechanism(), true},
		{"SCRAM-SHA-512", scram.Auth{User: "alice", Pass: secret}.AsSha512Mechanism(), true},
		{"SCRAM-SHA-512 wrong password", scram.Auth{User: "alice", Pass: "x"}.AsSha512Mechanism(), false},
		{"OAUTHBEARER", oauth.Auth{Token: jwt}.AsMechanism(), true},
		{"OAUTHBEARER bad token", oauth.Auth{Token: "not.a.jwt"}.AsMechanism(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := a.Start(tc.client.Name())
			require.NoError(t, err)
			cs, msg, err := tc.client.Authenticate(context.Background(), "127.0.0.1:9092")
			require.NoError(t, err)
			var srvErr error
			for round := 0; ; round++ {
				require.Less(t, round, 5)
				out, srvDone, err := s.Next(msg)
				if err != nil {
					srvErr = err
					break
				}
				done, next, err := cs.Challenge(out)
				if err != nil {
					srvErr = err
					break
				}
				if done {
					assert.True(t, srvDone)
					break
				}
				msg = next
			}
			if tc.ok {
				require.NoError(t, srvErr)
				assert.Equal(t, "alice", s.Principal())
			} else {
				require.Error(t, srvErr)
			}
		})
	}
}

// mapStore is a CredentialStore that changes under the authenticator.
type mapStore map[string]auth.Credential

func (m mapStore) ScramCredential(user string, sha512 bool) (auth.Credential, bool) {
	if !sha512 {
		return auth.Credential{}, false
	}
	c, ok := m[user]
	return c, ok
}

// SCRAM reads Store at each login, ahead of Users; PLAIN never reads it.
func TestAuthenticatorStore(t *testing.T) {
	store := mapStore{}
	a := &auth.Authenticator{Store: store, Mechanisms: []string{auth.Plain, auth.ScramSHA512}}
	login := func(m kgosasl.Mechanism) error {
		s, err := a.Start(m.Name())
		if err != nil {
			return err
		}
		cs, msg, err := m.Authenticate(context.Background(), "127.0.0.1:9092")
		require.NoError(t, err)
		for range 3 {
			out, _, err := s.Next(msg)
			if err != nil {
				return err
			}
			done, next, err := cs.Challenge(out)
			if err != nil || done {
				return err
			}
			msg = next
		}
		return nil
	}
	mech := scram.Auth{User: "carol", Pass: secret}.AsSha512Mechanism()
	require.ErrorIs(t, login(mech), auth.ErrAuthFailed, "not stored yet")
	c, err := auth.DeriveCredential(sha512.New, secret, []byte("salt"), 4096)
	require.NoError(t, err)
	store["carol"] = c
	assert.NoError(t, login(mech))
	assert.Error(t, login(plain.Auth{User: "carol", Pass: secret}.AsMechanism()), "PLAIN has no users")
	delete(store, "carol")
	assert.ErrorIs(t, login(mech), auth.ErrAuthFailed, "deleted")
}
