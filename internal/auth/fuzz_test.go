package auth_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/auth"
	"github.com/skiffkit/skiff/sasl"
)

var fuzzUsers = func() *auth.Users {
	u, err := auth.ParseUsers([]byte("alice:" + secret + "\n"))
	if err != nil {
		panic(err)
	}
	return u
}()

func fuzzAuthenticator() *auth.Authenticator {
	return &auth.Authenticator{Users: fuzzUsers, Mechanisms: []string{auth.Plain, auth.ScramSHA256, auth.ScramSHA512, auth.OAuthBearer}}
}

// Tokens from unauthenticated peers: no input may panic or log anyone in.
func FuzzPlain(f *testing.F) {
	f.Add([]byte("\x00alice\x00" + secret + "x"))
	f.Add([]byte("alice\x00alice\x00pw"))
	f.Add([]byte("\x00\x00"))
	f.Fuzz(func(t *testing.T, token []byte) {
		s, err := fuzzAuthenticator().Start(auth.Plain)
		require.NoError(t, err)
		_, done, err := s.Next(token)
		if done {
			// Only the real password gets in.
			tok, perr := auth.ParsePlain(token)
			require.NoError(t, perr)
			assert.Equal(t, secret, tok.Password)
			return
		}
		require.Error(t, err)
		assert.NotContains(t, err.Error(), secret)
	})
}

func FuzzScramClientFirst(f *testing.F) {
	f.Add([]byte("n,,n=alice,r=abc"))
	f.Add([]byte("n,a=alice,n=alice,r=abc,ext=1"))
	f.Add([]byte("n,,n=al=2Cice,r=abc"))
	f.Add([]byte("y,,n=alice,r=abc"))
	f.Fuzz(func(t *testing.T, token []byte) {
		s, err := fuzzAuthenticator().Start(auth.ScramSHA256)
		require.NoError(t, err)
		out, done, err := s.Next(token)
		assert.False(t, done)
		if err == nil {
			assert.NotEmpty(t, out)
		}
	})
}

// The client-final message is fuzzed after a genuine client-first, so the
// fuzzer reaches the proof check; it cannot forge a proof.
func FuzzScramClientFinal(f *testing.F) {
	f.Add([]byte("c=biws,r=abc,p=AAAA"))
	f.Add([]byte("c=biws,r=,p="))
	f.Add([]byte(",p=====,"))
	f.Fuzz(func(t *testing.T, final []byte) {
		s, err := fuzzAuthenticator().Start(auth.ScramSHA512)
		require.NoError(t, err)
		_, msg, err := sasl.ScramSHA512("alice", secret).Start(context.Background(), "b:1")
		require.NoError(t, err)
		_, _, err = s.Next(msg)
		require.NoError(t, err)
		_, done, err := s.Next(final)
		assert.False(t, done)
		require.Error(t, err)
	})
}

func FuzzOAuthBearer(f *testing.F) {
	f.Add([]byte("n,,\x01auth=Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwiZXhwIjo5OTk5OTk5OTk5fQ.\x01\x01"))
	f.Add([]byte("n,a=x,\x01auth=Bearer a.b.c\x01k=v\x01\x01"))
	f.Add([]byte("n,,\x01\x01"))
	f.Fuzz(func(t *testing.T, token []byte) {
		s, err := fuzzAuthenticator().Start(auth.OAuthBearer)
		require.NoError(t, err)
		out, done, err := s.Next(token)
		if err != nil || done {
			return
		}
		// An error challenge: the exchange must end in failure.
		assert.NotEmpty(t, out)
		_, done, err = s.Next([]byte{1})
		assert.False(t, done)
		require.Error(t, err)
	})
}
