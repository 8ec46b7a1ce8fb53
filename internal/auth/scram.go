package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
	"unicode/utf8"
)

// DeriveCredential computes a SCRAM credential from a password, salt and
// iteration count.
func DeriveCredential(h func() hash.Hash, password string, salt []byte, iterations int) (Credential, error) {
	salted, err := pbkdf2.Key(h, password, salt, iterations, h().Size())
	if err != nil {
		return Credential{}, fmt.Errorf("pbkdf2: %w", err)
	}
	clientKey := mac(h, salted, []byte("Client Key"))
	d := h()
	d.Write(clientKey)
	return Credential{
		Salt:       bytes.Clone(salt),
		Iterations: iterations,
		StoredKey:  d.Sum(nil),
		ServerKey:  mac(h, salted, []byte("Server Key")),
	}, nil
}

func mac(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}

// Limits on client tokens. Kafka's own limit on a SASL frame is
// sasl.server.max.receive.size (512 KiB); SCRAM and PLAIN tokens are tiny,
// so anything near that is hostile.
const (
	maxScramToken = 4 << 10
	maxNameLen    = 1 << 10
)

// scramServer is the server half of SCRAM-SHA-256/512 (RFC 5802 section 5).
type scramServer struct {
	name   string
	h      func() hash.Hash
	sha512 bool
	lookup func(user string, sha512 bool) (Credential, bool)

	serverNonce string // fixed by tests; empty: 24 random bytes

	step        int
	user        string
	cred        Credential
	nonce       string // client nonce + server nonce
	gs2         string // the client's GS2 header, echoed in c=
	authMsgHead string // client-first-bare "," server-first
}

func newScram(lookup func(string, bool) (Credential, bool), sha512bits bool) *scramServer {
	if sha512bits {
		return &scramServer{name: "SCRAM-SHA-512", h: sha512.New, sha512: true, lookup: lookup}
	}
	return &scramServer{name: "SCRAM-SHA-256", h: sha256.New, lookup: lookup}
}

func (s *scramServer) Principal() string { return s.user }

func (s *scramServer) Next(token []byte) ([]byte, bool, error) {
	if len(token) > maxScramToken {
		return nil, false, malformed("%s token of %d bytes", s.name, len(token))
	}
	step := s.step
	s.step++
	switch step {
	case 0:
		out, err := s.serverFirst(token)
		return out, false, err
	case 1:
		out, err := s.serverFinal(token)
		return out, err == nil, err
	}
	return nil, false, ErrSessionDone
}

// ClientFirst is a parsed client-first-message:
//
//	gs2-header: "n," ["a=" saslname] ","
//	client-first-message-bare: "n=" saslname ",r=" c-nonce ["," extensions]
//
// Kafka accepts only "n" (no channel binding) and an authzid equal to the
// user; extensions (tokenauth=true for delegation tokens) are parsed and
// rejected here, since delegation tokens are not supported.
type ClientFirst struct {
	GS2     string
	Authzid string
	User    string
	Nonce   string
	Bare    string
}

// ParseClientFirst parses a SCRAM client-first-message.
func ParseClientFirst(msg []byte) (ClientFirst, error) {
	if !utf8.Valid(msg) {
		return ClientFirst{}, malformed("client-first-message is not UTF-8")
	}
	s := string(msg)
	var cf ClientFirst
	switch {
	case strings.HasPrefix(s, "n,"):
	case strings.HasPrefix(s, "y,"), strings.HasPrefix(s, "p="):
		return cf, malformed("channel binding is not supported")
	default:
		return cf, malformed("client-first-message must start with the GS2 header \"n,\"")
	}
	rest := s[2:]
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return cf, malformed("GS2 header is not terminated")
	}
	if authz != "" {
		a, found := strings.CutPrefix(authz, "a=")
		if !found {
			return cf, malformed("GS2 header has an unknown attribute")
		}
		name, err := unescapeSaslname(a)
		if err != nil {
			return cf, err
		}
		cf.Authzid = name
	}
	cf.GS2 = s[:len(s)-len(bare)]
	cf.Bare = bare
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 {
		return cf, malformed("client-first-message-bare needs n= and r=")
	}
	if strings.HasPrefix(attrs[0], "m=") {
		return cf, malformed("mandatory extensions are not supported")
	}
	u, found := strings.CutPrefix(attrs[0], "n=")
	if !found {
		return cf, malformed("client-first-message-bare does not start with n=")
	}
	user, err := unescapeSaslname(u)
	if err != nil {
		return cf, err
	}
	if user == "" || len(user) > maxNameLen {
		return cf, malformed("user name length %d", len(user))
	}
	cf.User = user
	nonce, found := strings.CutPrefix(attrs[1], "r=")
	if !found || !printableNonce(nonce) {
		return cf, malformed("client nonce missing or not printable")
	}
	cf.Nonce = nonce
	for _, ext := range attrs[2:] {
		k, _, _ := strings.Cut(ext, "=")
		return cf, malformed("extension %q is not supported", truncate(k, 32))
	}
	if cf.Authzid != "" && cf.Authzid != cf.User {
		// Kafka's ScramSaslServer refuses impersonation.
		return cf, fmt.Errorf("%w: authorization id differs from the user name", ErrAuthFailed)
	}
	return cf, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func printableNonce(n string) bool {
	if n == "" {
		return false
	}
	for i := range len(n) {
		if c := n[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// unescapeSaslname reverses RFC 5802's "=2C" and "=3D"; any other '='
// is malformed.
func unescapeSaslname(s string) (string, error) {
	if !strings.Contains(s, "=") {
		if strings.Contains(s, ",") {
			return "", malformed("unescaped ',' in saslname")
		}
		return s, nil
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			sb.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			sb.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			sb.WriteByte('=')
		default:
			return "", malformed("bad '=' escape in saslname")
		}
		i += 2
	}
	return sb.String(), nil
}

func (s *scramServer) serverFirst(token []byte) ([]byte, error) {
	cf, err := ParseClientFirst(token)
	if err != nil {
		return nil, err
	}
	cred, ok := s.lookup(cf.User, s.sha512)
	if !ok || len(cred.StoredKey) != s.h().Size() || len(cred.ServerKey) != s.h().Size() {
		return nil, ErrAuthFailed
	}
	serverNonce := s.serverNonce
	if serverNonce == "" {
		var b [24]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		serverNonce = base64.RawStdEncoding.EncodeToString(b[:])
	}
	s.user, s.cred, s.gs2 = cf.User, cred, cf.GS2
	s.nonce = cf.Nonce + serverNonce
	first := fmt.Sprintf("r=%s,s=%s,i=%d", s.nonce, base64.StdEncoding.EncodeToString(cred.Salt), cred.Iterations)
	s.authMsgHead = cf.Bare + "," + first
	return []byte(first), nil
}

// ClientFinal is a parsed client-final-message:
//
//	"c=" base64(gs2-header) ",r=" nonce ["," extensions] ",p=" base64(proof)
type ClientFinal struct {
	ChannelBinding string // still base64
	Nonce          string
	Proof          []byte
	WithoutProof   string
}

// ParseClientFinal parses a SCRAM client-final-message.
func ParseClientFinal(msg []byte) (ClientFinal, error) {
	s := string(msg)
	var cf ClientFinal
	i := strings.LastIndex(s, ",p=")
	if i < 0 {
		return cf, malformed("client-final-message has no proof")
	}
	cf.WithoutProof = s[:i]
	proof, err := base64.StdEncoding.DecodeString(s[i+3:])
	if err != nil {
		return cf, malformed("proof is not base64")
	}
	cf.Proof = proof
	attrs := strings.Split(cf.WithoutProof, ",")
	if len(attrs) < 2 {
		return cf, malformed("client-final-message needs c= and r=")
	}
	cb, ok := strings.CutPrefix(attrs[0], "c=")
	if !ok {
		return cf, malformed("client-final-message does not start with c=")
	}
	cf.ChannelBinding = cb
	nonce, ok := strings.CutPrefix(attrs[1], "r=")
	if !ok {
		return cf, malformed("client-final-message has no nonce")
	}
	cf.Nonce = nonce
	return cf, nil
}

func (s *scramServer) serverFinal(token []byte) ([]byte, error) {
	cf, err := ParseClientFinal(token)
	if err != nil {
		return nil, err
	}
	if cf.ChannelBinding != base64.StdEncoding.EncodeToString([]byte(s.gs2)) {
		return nil, malformed("channel binding does not match the GS2 header")
	}
	// Kafka's ScramSaslServer checks that the client's nonce ends with
	// the server-first nonce (endsWith), not equality: librdkafka (2.0.2
	// at least) sends its own nonce again in front of the combined one,
	// and a broker that insists on RFC 5802's equality locks it out.
	// The proof still covers the message as sent.
	if !strings.HasSuffix(cf.Nonce, s.nonce) {
		return nil, malformed("nonce does not match")
	}
	if len(cf.Proof) != len(s.cred.StoredKey) {
		return nil, ErrAuthFailed
	}
	authMsg := []byte(s.authMsgHead + "," + cf.WithoutProof)
	clientKey := mac(s.h, s.cred.StoredKey, authMsg) // ClientSignature for now
	for i := range clientKey {
		clientKey[i] ^= cf.Proof[i] // ClientKey = ClientProof XOR ClientSignature
	}
	d := s.h()
	d.Write(clientKey)
	if !hmac.Equal(d.Sum(nil), s.cred.StoredKey) {
		return nil, ErrAuthFailed
	}
	return []byte("v=" + base64.StdEncoding.EncodeToString(mac(s.h, s.cred.ServerKey, authMsg))), nil
}
