package auth

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// Users is the broker's credential store: SCRAM-SHA-256 and SCRAM-SHA-512
// credentials per user name. It is immutable and safe to share.
type Users struct {
	creds map[string]userCreds
}

type userCreds struct {
	sha256, sha512 Credential
}

// Iterations is the SCRAM iteration count of derived credentials:
// kafka-configs.sh's default and the minimum Kafka's clients accept.
const Iterations = 4096

// LoadUsers reads a users file (see ParseUsers).
func LoadUsers(path string) (*Users, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	defer clear(data) // the passwords are not kept beyond derivation
	u, err := ParseUsers(data)
	if err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	return u, nil
}

// ParseUsers parses a users file: one "username:password" per line (the
// password runs to the end of the line and may contain ':'), blank lines
// and lines starting with '#' ignored, surrounding blanks of the user name
// trimmed. It derives each user's SCRAM credentials with a fresh random
// salt. Errors name the line, never its content, since it holds a
// password.
func ParseUsers(data []byte) (*Users, error) {
	u := &Users{creds: make(map[string]userCreds)}
	var errs []error
	for i, line := range bytes.Split(data, []byte("\n")) {
		n := i + 1
		line = bytes.TrimSuffix(line, []byte("\r"))
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) == 0 || trimmed[0] == '#' {
			continue
		}
		name, pass, ok := bytes.Cut(line, []byte(":"))
		user := string(bytes.TrimSpace(name))
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("line %d: want username:password", n))
			continue
		case user == "":
			errs = append(errs, fmt.Errorf("line %d: empty user name", n))
			continue
		case len(pass) == 0:
			errs = append(errs, fmt.Errorf("line %d: user %q: empty password", n, user))
			continue
		case !utf8.Valid(line):
			errs = append(errs, fmt.Errorf("line %d: invalid UTF-8", n))
			continue
		case strings.ContainsAny(user, "\x00"):
			errs = append(errs, fmt.Errorf("line %d: user name contains NUL", n))
			continue
		}
		if _, dup := u.creds[user]; dup {
			errs = append(errs, fmt.Errorf("line %d: user %q given twice", n, user))
			continue
		}
		c256, err := NewCredential(sha256.New, string(pass))
		if err != nil {
			return nil, err
		}
		c512, err := NewCredential(sha512.New, string(pass))
		if err != nil {
			return nil, err
		}
		u.creds[user] = userCreds{sha256: c256, sha512: c512}
	}
	if len(errs) == 0 && len(u.creds) == 0 {
		errs = append(errs, errors.New("no users"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return u, nil
}

// Names returns the user names, sorted.
func (u *Users) Names() []string {
	names := make([]string, 0, len(u.creds))
	for n := range u.creds {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (u *Users) credential(user string, sha512 bool) (Credential, bool) {
	c, ok := u.creds[user]
	if sha512 {
		return c.sha512, ok
	}
	return c.sha256, ok
}

// Credential is a stored SCRAM credential (RFC 5802 section 3): what the
// server needs to check a client proof and prove itself, and not enough to
// log in as the user.
type Credential struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte // H(ClientKey)
	ServerKey  []byte // HMAC(SaltedPassword, "Server Key")
}

// NewCredential derives a credential from a password with a random
// 32-byte salt and Iterations iterations.
func NewCredential(h func() hash.Hash, password string) (Credential, error) {
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return Credential{}, fmt.Errorf("salt: %w", err)
	}
	return DeriveCredential(h, password, salt, Iterations)
}
