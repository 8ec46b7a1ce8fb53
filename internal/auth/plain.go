package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha512"
	"fmt"
	"unicode/utf8"
)

// plainServer checks RFC 4616's [authzid] NUL authcid NUL passwd against
// the user's SCRAM-SHA-512 credential: the file's password is not kept, so
// PLAIN recomputes the salted password (which also makes each guess cost
// 4096 PBKDF2 rounds).
type plainServer struct {
	users *Users
	user  string
	done  bool
}

func (s *plainServer) Principal() string { return s.user }

// maxPlainToken bounds a PLAIN token: three fields of at most 255 UTF-8
// characters each in RFC 4616, which we read as 1 KiB apiece.
const maxPlainToken = 3 << 10

// PlainToken is a parsed PLAIN message.
type PlainToken struct {
	Authzid, User, Password string
}

// ParsePlain parses a PLAIN message.
func ParsePlain(token []byte) (PlainToken, error) {
	if len(token) > maxPlainToken {
		return PlainToken{}, malformed("PLAIN token of %d bytes", len(token))
	}
	parts := bytes.Split(token, []byte{0})
	if len(parts) != 3 {
		return PlainToken{}, malformed("PLAIN token must hold exactly two NUL separators")
	}
	for _, p := range parts {
		if !utf8.Valid(p) {
			return PlainToken{}, malformed("PLAIN token is not UTF-8")
		}
	}
	t := PlainToken{Authzid: string(parts[0]), User: string(parts[1]), Password: string(parts[2])}
	if t.User == "" || t.Password == "" {
		return PlainToken{}, malformed("PLAIN token has an empty user name or password")
	}
	return t, nil
}

func (s *plainServer) Next(token []byte) ([]byte, bool, error) {
	if s.done {
		return nil, false, ErrSessionDone
	}
	s.done = true
	t, err := ParsePlain(token)
	if err != nil {
		return nil, false, err
	}
	if t.Authzid != "" && t.Authzid != t.User {
		// Kafka's PlainSaslServer: "Authentication failed: Client
		// requested an authorization id that is different from username".
		return nil, false, fmt.Errorf("%w: authorization id differs from the user name", ErrAuthFailed)
	}
	cred, ok := s.users.credential(t.User, true)
	if !ok {
		return nil, false, ErrAuthFailed
	}
	got, err := DeriveCredential(sha512.New, t.Password, cred.Salt, cred.Iterations)
	if err != nil || !hmac.Equal(got.StoredKey, cred.StoredKey) {
		return nil, false, ErrAuthFailed
	}
	s.user = t.User
	return []byte{}, true, nil
}
