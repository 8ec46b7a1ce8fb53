package sasl

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Token is an OAuth 2 bearer token for OAUTHBEARER, as a TokenProvider
// returns it.
type Token struct {
	// Value is the token itself (for example a JWT), sent as
	// "auth=Bearer <Value>".
	Value string
	// Expiry is when the token stops being valid. The mechanism fetches a
	// new one once 80% of its lifetime has passed (Kafka's
	// sasl.login.refresh.window.factor). Zero means the token never
	// expires and is fetched once.
	Expiry time.Time
	// Extensions are SASL extensions sent with the token (KIP-342), such
	// as Confluent Cloud's logicalCluster and identityPoolId. Keys are
	// letters only; "auth" is reserved.
	Extensions map[string]string
}

// TokenProvider fetches a token, typically from an OAuth authorization
// server with the client-credentials grant. It is called on the first
// login and whenever the cached token is due for refresh; calls never
// overlap. ctx is the login's context.
type TokenProvider func(ctx context.Context) (Token, error)

// Kafka's sasl.login.refresh.window.factor: refresh after 80% of the
// token's lifetime, which leaves the rest for logins in flight and for
// KIP-368 re-authentication to pick up the new token before the old one
// ends.
const refreshWindowFactor = 0.8

// OAuthBearer returns the OAUTHBEARER mechanism (KIP-255) fed by provider.
// The token is cached across connections and refreshed before it expires;
// if a refresh fails while the cached token is still valid, the cached one
// is used and the refresh is retried on the next login.
func OAuthBearer(provider TokenProvider) Mechanism {
	return &oauthMech{provider: provider, now: time.Now}
}

type oauthMech struct {
	provider TokenProvider
	now      func() time.Time

	mu        sync.Mutex // guards the cache and serializes provider calls
	tok       Token
	have      bool
	refreshAt time.Time // zero: never
}

func (*oauthMech) Name() string { return "OAUTHBEARER" }

// token returns the cached token, refreshing it when due.
func (m *oauthMech) token(ctx context.Context) (Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if m.have && (m.refreshAt.IsZero() || now.Before(m.refreshAt)) {
		return m.tok, nil
	}
	tok, err := m.provider(ctx)
	if err == nil {
		err = validateToken(tok)
	}
	if err != nil {
		if m.have && (m.tok.Expiry.IsZero() || now.Before(m.tok.Expiry)) {
			return m.tok, nil
		}
		return Token{}, fmt.Errorf("sasl: OAUTHBEARER: token provider: %w", err)
	}
	if !tok.Expiry.IsZero() && !now.Before(tok.Expiry) {
		return Token{}, fmt.Errorf("sasl: OAUTHBEARER: token provider returned a token that expired at %v", tok.Expiry)
	}
	m.tok, m.have = tok, true
	m.refreshAt = time.Time{}
	if !tok.Expiry.IsZero() {
		m.refreshAt = now.Add(time.Duration(float64(tok.Expiry.Sub(now)) * refreshWindowFactor))
	}
	return tok, nil
}

// forget drops tok from the cache after the broker rejected it, so that
// the next login asks the provider again.
func (m *oauthMech) forget(tok Token) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.have && m.tok.Value == tok.Value {
		m.have = false
	}
}

func validateToken(t Token) error {
	if t.Value == "" {
		return errors.New("empty token")
	}
	// RFC 6750 b64token: the characters a bearer token may hold.
	for i := range len(t.Value) {
		c := t.Value[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=') {
			return fmt.Errorf("token has byte %#x at offset %d, outside RFC 6750's b64token", c, i)
		}
	}
	for k, v := range t.Extensions {
		// KIP-342's grammar, which the broker enforces too.
		if k == "auth" {
			return errors.New(`extension key "auth" is reserved`)
		}
		if k == "" {
			return errors.New("empty extension key")
		}
		for i := range len(k) {
			if c := k[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
				return fmt.Errorf("extension key %q: only letters are allowed", k)
			}
		}
		if v == "" {
			return fmt.Errorf("extension %q: empty value", k)
		}
		for i := range len(v) {
			if c := v[i]; !(c >= 0x21 && c <= 0x7e || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
				return fmt.Errorf("extension %q: value has byte %#x outside KIP-342's grammar", k, c)
			}
		}
	}
	return nil
}

func (m *oauthMech) Start(ctx context.Context, _ string) (Session, []byte, error) {
	tok, err := m.token(ctx)
	if err != nil {
		return nil, nil, err
	}
	return &oauthSession{mech: m, tok: tok}, appendClientFirst(nil, tok), nil
}

// appendClientFirst writes RFC 7628's initial client response:
//
//	gs2-header kvsep "auth=Bearer " token kvsep *(key "=" value kvsep) kvsep
//
// with gs2-header "n,," (no channel binding, no authzid) and kvsep 0x01.
// Extensions go in key order so that the bytes are deterministic.
func appendClientFirst(dst []byte, tok Token) []byte {
	dst = append(dst, "n,,\x01auth=Bearer "...)
	dst = append(dst, tok.Value...)
	dst = append(dst, 1)
	for _, k := range slices.Sorted(maps.Keys(tok.Extensions)) {
		dst = append(dst, k...)
		dst = append(dst, '=')
		dst = append(dst, tok.Extensions[k]...)
		dst = append(dst, 1)
	}
	return append(dst, 1)
}

type oauthSession struct {
	mech      *oauthMech
	tok       Token
	serverErr string
	done      bool
}

// Challenge handles the broker's answer. An empty answer is success. A
// non-empty one is RFC 7628's error challenge (JSON with status and
// scope); the client must answer it with a lone kvsep, after which the
// broker fails the login, so we send that and report the challenge.
func (s *oauthSession) Challenge(msg []byte) (bool, []byte, error) {
	if s.serverErr != "" {
		return false, nil, fmt.Errorf("sasl: OAUTHBEARER: %w: %s", ErrServerRejected, s.serverErr)
	}
	if s.done {
		return false, nil, fmt.Errorf("sasl: OAUTHBEARER: %w", ErrProtocol)
	}
	if len(msg) == 0 {
		s.done = true
		return true, nil, nil
	}
	s.serverErr = string(msg)
	s.mech.forget(s.tok)
	return false, []byte{1}, nil
}
