package sasl

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// ScramSHA256 returns the SCRAM-SHA-256 mechanism (RFC 7677) for user and
// password, as Kafka's ScramLoginModule with sasl.mechanism=SCRAM-SHA-256.
func ScramSHA256(user, password string) Mechanism {
	return &scramMech{name: "SCRAM-SHA-256", newHash: sha256.New, user: user, pass: password}
}

// ScramSHA512 returns the SCRAM-SHA-512 mechanism for user and password.
func ScramSHA512(user, password string) Mechanism {
	return &scramMech{name: "SCRAM-SHA-512", newHash: sha512.New, user: user, pass: password}
}

// Iteration bounds. Kafka's broker stores credentials with 4096 to 16384
// iterations and its client refuses fewer than 4096 (ScramMechanism's
// minIterations); we do the same. The upper cap is ours: a hostile broker
// sending i=2147483647 would otherwise keep a core busy for minutes.
const (
	scramMinIterations = 4096
	scramMaxIterations = 1 << 20
)

type scramMech struct {
	name    string
	newHash func() hash.Hash
	user    string
	pass    string
	nonce   func() (string, error) // nil: 24 random bytes, base64; tests pin it
}

func (m *scramMech) Name() string { return m.name }

// String keeps the password out of %v and %+v of configs holding the
// mechanism.
func (m *scramMech) String() string { return m.name + "(user=" + m.user + ")" }

func randomNonce() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	// Base64 never contains ',' and is printable, as RFC 5802's nonce
	// grammar requires.
	return base64.RawStdEncoding.EncodeToString(b[:]), nil
}

// escapeSaslname applies RFC 5802's saslname escaping: "=" becomes "=3D"
// and "," becomes "=2C", so that a user name cannot end an attribute.
func escapeSaslname(s string) string {
	if !strings.ContainsAny(s, "=,") {
		return s
	}
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

func (m *scramMech) Start(context.Context, string) (Session, []byte, error) {
	if m.user == "" {
		return nil, nil, fmt.Errorf("sasl: %s: empty user name", m.name)
	}
	gen := m.nonce
	if gen == nil {
		gen = randomNonce
	}
	nonce, err := gen()
	if err != nil {
		return nil, nil, fmt.Errorf("sasl: %s: nonce: %w", m.name, err)
	}
	// client-first-message-bare = username "," nonce
	bare := "n=" + escapeSaslname(m.user) + ",r=" + nonce
	// gs2-header "n,,": no channel binding, no authzid (Kafka rejects an
	// authzid that differs from the user anyway).
	const gs2 = "n,,"
	s := &scramSession{mech: m, gs2: gs2, bare: bare, nonce: nonce}
	return s, []byte(gs2 + bare), nil
}

type scramSession struct {
	mech      *scramMech
	gs2, bare string
	nonce     string
	step      int
	serverSig []byte // expected ServerSignature, known after step 0
}

func (s *scramSession) bad(format string, args ...any) error {
	return fmt.Errorf("sasl: %s: %w: %s", s.mech.name, ErrBadServerMessage, fmt.Sprintf(format, args...))
}

func (s *scramSession) Challenge(msg []byte) (bool, []byte, error) {
	step := s.step
	s.step++
	switch step {
	case 0:
		final, err := s.clientFinal(msg)
		return false, final, err
	case 1:
		return s.verifyServerFinal(msg)
	default:
		return false, nil, fmt.Errorf("sasl: %s: %w", s.mech.name, ErrProtocol)
	}
}

// clientFinal answers the server-first-message
//
//	[reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
//
// with the client-final-message carrying the proof.
func (s *scramSession) clientFinal(serverFirst []byte) ([]byte, error) {
	if e, ok := bytes.CutPrefix(serverFirst, []byte("e=")); ok {
		return nil, fmt.Errorf("sasl: %s: %w: %q", s.mech.name, ErrServerRejected, e)
	}
	if bytes.HasPrefix(serverFirst, []byte("m=")) {
		return nil, s.bad("server requires mandatory extension %q", serverFirst)
	}
	attrs := bytes.SplitN(serverFirst, []byte(","), 4)
	if len(attrs) < 3 {
		return nil, s.bad("server-first-message has %d attributes, want at least 3", len(attrs))
	}
	rnonce, ok := bytes.CutPrefix(attrs[0], []byte("r="))
	if !ok {
		return nil, s.bad("server-first-message does not start with the nonce")
	}
	// The server appends its own part; a reply that does not extend ours
	// is a replay or a mix-up of connections.
	if !bytes.HasPrefix(rnonce, []byte(s.nonce)) || len(rnonce) == len(s.nonce) {
		return nil, s.bad("server nonce does not extend the client nonce")
	}
	for _, c := range rnonce {
		if c < 0x21 || c > 0x7e || c == ',' {
			return nil, s.bad("server nonce has a byte outside printable ASCII")
		}
	}
	salt64, ok := bytes.CutPrefix(attrs[1], []byte("s="))
	if !ok {
		return nil, s.bad("server-first-message has no salt")
	}
	salt, err := base64.StdEncoding.DecodeString(string(salt64))
	if err != nil || len(salt) == 0 {
		return nil, s.bad("salt is not base64")
	}
	iters64, ok := bytes.CutPrefix(attrs[2], []byte("i="))
	if !ok {
		return nil, s.bad("server-first-message has no iteration count")
	}
	iters, err := strconv.Atoi(string(iters64))
	if err != nil {
		return nil, s.bad("iteration count %q is not a number", iters64)
	}
	if iters < scramMinIterations || iters > scramMaxIterations {
		return nil, s.bad("iteration count %d outside %d..%d", iters, scramMinIterations, scramMaxIterations)
	}

	h := s.mech.newHash
	salted, err := pbkdf2.Key(h, s.mech.pass, salt, iters, h().Size())
	if err != nil {
		return nil, fmt.Errorf("sasl: %s: deriving the salted password: %w", s.mech.name, err)
	}
	clientKey := hmacSum(h, salted, []byte("Client Key"))
	storedKey := hashSum(h, clientKey)
	serverKey := hmacSum(h, salted, []byte("Server Key"))

	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(s.gs2)) + ",r=" + string(rnonce)
	authMsg := s.bare + "," + string(serverFirst) + "," + withoutProof
	proof := hmacSum(h, storedKey, []byte(authMsg)) // ClientSignature
	for i := range proof {
		proof[i] ^= clientKey[i] // ClientProof := ClientKey XOR ClientSignature
	}
	s.serverSig = hmacSum(h, serverKey, []byte(authMsg))
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// verifyServerFinal checks server-final-message = (server-error /
// verifier) ["," extensions]: the verifier proves the broker holds the
// credentials, so a broker impersonating the real one is caught here.
func (s *scramSession) verifyServerFinal(msg []byte) (bool, []byte, error) {
	first, _, _ := bytes.Cut(msg, []byte(","))
	if e, ok := bytes.CutPrefix(first, []byte("e=")); ok {
		return false, nil, fmt.Errorf("sasl: %s: %w: %q", s.mech.name, ErrServerRejected, e)
	}
	v64, ok := bytes.CutPrefix(first, []byte("v="))
	if !ok {
		return false, nil, s.bad("server-final-message has no verifier")
	}
	v, err := base64.StdEncoding.DecodeString(string(v64))
	if err != nil {
		return false, nil, s.bad("server signature is not base64")
	}
	if !hmac.Equal(v, s.serverSig) {
		return false, nil, s.bad("server signature does not match: the broker does not know the credentials")
	}
	return true, nil, nil
}

func hmacSum(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}

func hashSum(h func() hash.Hash, b []byte) []byte {
	d := h()
	d.Write(b)
	return d.Sum(nil)
}
