package wire

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/auth"
	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/sasl"
)

// saslBroker is a fake broker that authenticates with internal/auth, the
// way a Kafka broker's SaslServerAuthenticator does, and answers Metadata
// only after a successful login.
func saslBroker(t testing.TB, a *auth.Authenticator) *fakeBroker {
	var (
		mu     sync.Mutex
		sess   auth.Session
		authed bool
	)
	return newFakeBroker(t, func(req kmsg.Request, corrID int32) fakeReply {
		mu.Lock()
		defer mu.Unlock()
		switch r := req.(type) {
		case *kmsg.ApiVersionsRequest:
			return fakeReply{resp: apiVersionsReply(r.Version, map[int16][2]int16{18: {0, 3}, 3: {0, 12}, 17: {0, 1}, 36: {0, 2}})}
		case *kmsg.SASLHandshakeRequest:
			resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
			resp.SupportedMechanisms = a.Mechanisms
			s, err := a.Start(r.Mechanism)
			if err != nil {
				resp.ErrorCode = kerr.Code(err)
			}
			sess, authed = s, false
			return fakeReply{resp: resp}
		case *kmsg.SASLAuthenticateRequest:
			resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
			out, done, err := sess.Next(r.SASLAuthBytes)
			if err != nil {
				resp.ErrorCode = kerr.Code(err)
				msg := err.Error()
				resp.ErrorMessage = &msg
				return fakeReply{resp: resp}
			}
			resp.SASLAuthBytes = out
			if done {
				authed = true
				if e, ok := sess.(auth.Expiring); ok {
					resp.SessionLifetimeMillis = time.Until(e.Expiry()).Milliseconds()
				}
			}
			return fakeReply{resp: resp}
		case *kmsg.MetadataRequest:
			if !authed {
				return fakeReply{close: true} // as Kafka does before authentication
			}
			return fakeReply{resp: r.ResponseKind()}
		}
		return fakeReply{close: true}
	})
}

func jwtFor(sub string, exp time.Time) string {
	h, _ := json.Marshal(map[string]string{"alg": "none"})
	c, _ := json.Marshal(map[string]any{"sub": sub, "exp": exp.Unix()})
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

func TestOAuthBearerLogin(t *testing.T) {
	fb := saslBroker(t, &auth.Authenticator{Mechanisms: []string{auth.OAuthBearer}})
	exp := time.Now().Add(time.Hour)
	m := sasl.OAuthBearer(func(context.Context) (sasl.Token, error) {
		return sasl.Token{Value: jwtFor("alice", exp), Expiry: exp}, nil
	})
	cl := newTestClient(t, Config{SeedBrokers: []string{fb.addr()}, SASL: wireMech(m)})
	require.NoError(t, metadataOnce(testCtx(t, 10*time.Second), cl))
}

// A token the broker finds expired (the provider's clock or Expiry was
// wrong): RFC 7628's error challenge, the client's 0x01, then
// SASL_AUTHENTICATION_FAILED with the broker's reason.
func TestOAuthBearerExpiredTokenFails(t *testing.T) {
	fb := saslBroker(t, &auth.Authenticator{Mechanisms: []string{auth.OAuthBearer}})
	m := sasl.OAuthBearer(func(context.Context) (sasl.Token, error) {
		return sasl.Token{Value: jwtFor("alice", time.Now().Add(-time.Minute)), Expiry: time.Now().Add(time.Hour)}, nil
	})
	cl := newTestClient(t, Config{SeedBrokers: []string{fb.addr()}, SASL: wireMech(m)})
	start := time.Now()
	err := metadataOnce(testCtx(t, 30*time.Second), cl)
	require.Error(t, err)
	t.Log(err)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.ErrorIs(t, err, kerr.SaslAuthenticationFailed)
	assert.Contains(t, err.Error(), "SASL OAUTHBEARER authentication failed")
	assert.Contains(t, err.Error(), "token expired")
}

// SCRAM through the whole wire path against internal/auth's server.
func TestScramAgainstAuthServer(t *testing.T) {
	users, err := auth.ParseUsers([]byte("alice:" + testPassword + "\n"))
	require.NoError(t, err)
	fb := saslBroker(t, &auth.Authenticator{Users: users, Mechanisms: []string{auth.ScramSHA512}})
	t.Run("right password", func(t *testing.T) {
		cl := newTestClient(t, Config{SeedBrokers: []string{fb.addr()}, SASL: wireMech(sasl.ScramSHA512("alice", testPassword))})
		require.NoError(t, metadataOnce(testCtx(t, 10*time.Second), cl))
	})
	t.Run("wrong password", func(t *testing.T) {
		cl := newTestClient(t, Config{SeedBrokers: []string{fb.addr()}, SASL: wireMech(sasl.ScramSHA512("alice", "wrong"))})
		err := metadataOnce(testCtx(t, 10*time.Second), cl)
		require.Error(t, err)
		assert.ErrorIs(t, err, kerr.SaslAuthenticationFailed)
		assert.Contains(t, err.Error(), "invalid credentials")
	})
}
