package broker

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/skiffkit/skiff/internal/auth"
	"github.com/skiffkit/skiff/kerr"
)

// scramFile holds the SCRAM credentials of AlterUserScramCredentials,
// rewritten whole on every change as the topic metadata is.
const scramFile = "skiff-scram.json"

// SCRAM mechanisms by Kafka's ScramMechanism code, and Kafka's iteration
// bounds (ScramMechanism.minIterations, and 16384 as the maximum the
// controller accepts).
const (
	scramSHA256      int8 = 1
	scramSHA512      int8 = 2
	scramMinIter          = 4096
	scramMaxIter          = 16384
	scramMaxUserName      = 1 << 10
)

// scramCredential is what a SCRAM server keeps (RFC 5802 section 3), as
// Kafka's ScramCredential: never the salted password itself.
type scramCredential struct {
	Salt       []byte `json:"salt"`
	Iterations int32  `json:"iterations"`
	StoredKey  []byte `json:"stored_key"` // H(HMAC(SaltedPassword, "Client Key"))
	ServerKey  []byte `json:"server_key"` // HMAC(SaltedPassword, "Server Key")
}

// scramStore keeps credentials by user and mechanism, durably. The SASL
// SCRAM authenticator reads them through ScramCredential.
type scramStore struct {
	dir   string
	mu    sync.Mutex // guards users and the file
	users map[string]map[int8]scramCredential
}

func openSCRAM(dir string) (*scramStore, error) {
	s := &scramStore{dir: dir, users: map[string]map[int8]scramCredential{}}
	raw, err := os.ReadFile(filepath.Join(dir, scramFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("broker: read %s: %w", scramFile, err)
	}
	if err := json.Unmarshal(raw, &s.users); err != nil {
		return nil, fmt.Errorf("broker: parse %s: %w", scramFile, err)
	}
	return s, nil
}

// lookup returns user's credential for mechanism.
func (s *scramStore) lookup(user string, mechanism int8) (scramCredential, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.users[user][mechanism]
	return c, ok
}

// ScramCredential serves the SASL SCRAM authenticator
// (auth.CredentialStore): every login reads the store as it is then, so a
// user created by AlterUserScramCredentials logs in at once, and once
// deleted cannot log in or re-authenticate (KIP-368) any more.
func (s *scramStore) ScramCredential(user string, sha512 bool) (auth.Credential, bool) {
	mech := scramSHA256
	if sha512 {
		mech = scramSHA512
	}
	c, ok := s.lookup(user, mech)
	if !ok {
		return auth.Credential{}, false
	}
	return auth.Credential{Salt: c.Salt, Iterations: int(c.Iterations), StoredKey: c.StoredKey, ServerKey: c.ServerKey}, true
}

// describe returns the mechanisms and iterations of each user (all users
// with credentials when users is empty), sorted by user.
func (s *scramStore) describe(users []string) map[string]map[int8]int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[int8]int32{}
	if len(users) == 0 {
		for u := range s.users {
			users = append(users, u)
		}
	}
	for _, u := range users {
		if cs, ok := s.users[u]; ok {
			m := map[int8]int32{}
			for mech, c := range cs {
				m[mech] = c.Iterations
			}
			out[u] = m
		}
	}
	return out
}

func scramHash(mechanism int8) func() hash.Hash {
	switch mechanism {
	case scramSHA256:
		return sha256.New
	case scramSHA512:
		return sha512.New
	}
	return nil
}

// deriveSCRAM turns the salted password the client sent into the stored
// and server keys (RFC 5802).
func deriveSCRAM(mechanism int8, iterations int32, salt, salted []byte) scramCredential {
	h := scramHash(mechanism)
	m := hmac.New(h, salted)
	m.Write([]byte("Client Key"))
	d := h()
	d.Write(m.Sum(nil))
	sm := hmac.New(h, salted)
	sm.Write([]byte("Server Key"))
	return scramCredential{Salt: append([]byte(nil), salt...), Iterations: iterations, StoredKey: d.Sum(nil), ServerKey: sm.Sum(nil)}
}

// scramChange is one user's deletions (mechanisms) and upsertions.
type scramChange struct {
	deletions  []int8
	upsertions map[int8]scramCredential
}

// apply makes every user's change durable at once; changes of users whose
// validation failed are not passed here.
func (s *scramStore) apply(changes map[string]*scramChange) error {
	if len(changes) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]map[int8]scramCredential, len(s.users))
	for u, cs := range s.users {
		m := make(map[int8]scramCredential, len(cs))
		for k, v := range cs {
			m[k] = v
		}
		next[u] = m
	}
	names := make([]string, 0, len(changes))
	for u := range changes {
		names = append(names, u)
	}
	sort.Strings(names)
	for _, u := range names {
		ch := changes[u]
		for _, mech := range ch.deletions {
			delete(next[u], mech)
		}
		for mech, c := range ch.upsertions {
			if next[u] == nil {
				next[u] = map[int8]scramCredential{}
			}
			next[u][mech] = c
		}
		if len(next[u]) == 0 {
			delete(next, u)
		}
	}
	raw, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.dir, scramFile, raw); err != nil {
		return fmt.Errorf("%w: persist SCRAM credentials: %v", kerr.KafkaStorageError, err)
	}
	s.users = next
	return nil
}
