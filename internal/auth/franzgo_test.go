package auth_test

import (
	"context"
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
