package auth_test

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/auth"
	"github.com/skiffkit/skiff/kerr"
)

// scramFinal answers server-first the way a client does, with nonce as the
// final message's r= (a correct client echoes the server's nonce).
func scramFinal(t *testing.T, password, clientFirstBare, serverFirst string, nonce func(server string) string) []byte {
	t.Helper()
	attrs := map[string]string{}
	for _, kv := range strings.Split(serverFirst, ",") {
		k, v, ok := strings.Cut(kv, "=")
		require.True(t, ok, serverFirst)
		attrs[k] = v
	}
	salt, err := base64.StdEncoding.DecodeString(attrs["s"])
	require.NoError(t, err)
	iter, err := strconv.Atoi(attrs["i"])
	require.NoError(t, err)
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
	require.NoError(t, err)
	hm := func(key []byte, msg string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	clientKey := hm(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	without := "c=biws,r=" + nonce(attrs["r"])
	sig := hm(stored[:], clientFirstBare+","+serverFirst+","+without)
	for i := range clientKey {
		clientKey[i] ^= sig[i]
	}
	return []byte(without + ",p=" + base64.StdEncoding.EncodeToString(clientKey))
}

// librdkafka (2.0.2, Debian's kcat) puts its own nonce in front of the
// server's combined one in client-final. Kafka's ScramSaslServer accepts
// any nonce that ends with the server's (endsWith), so must we, or kcat
// cannot log in with SCRAM; one that does not end with it still fails.
func TestScramFinalNonceLikeKafka(t *testing.T) {
	users, err := auth.ParseUsers([]byte("alice:" + secret + "\n"))
	require.NoError(t, err)
	a := &auth.Authenticator{Users: users, Mechanisms: []string{auth.ScramSHA256}}
	const bare = "n=alice,r=clientNONCE"
	for _, c := range []struct {
		name  string
		nonce func(server string) string
		ok    bool
	}{
		{"RFC 5802: the server's nonce", func(s string) string { return s }, true},
		{"librdkafka: client nonce in front", func(s string) string { return "clientNONCE" + s }, true},
		{"server nonce cut short", func(s string) string { return s[:len(s)-1] }, false},
		{"another nonce", func(string) string { return "clientNONCEforged" }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := a.Start(auth.ScramSHA256)
			require.NoError(t, err)
			first, done, err := s.Next([]byte("n,," + bare))
			require.NoError(t, err)
			require.False(t, done)
			_, done, err = s.Next(scramFinal(t, secret, bare, string(first), c.nonce))
			if c.ok {
				require.NoError(t, err)
				assert.True(t, done)
				assert.Equal(t, "alice", s.Principal())
				return
			}
			assert.ErrorIs(t, err, kerr.SaslAuthenticationFailed)
			assert.False(t, done)
		})
	}
}
