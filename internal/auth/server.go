package auth

import (
	"fmt"
	"slices"
	"time"

	"github.com/skiffkit/skiff/kerr"
)

// Session is the server half of one SASL exchange on one connection.
type Session interface {
	// Next takes the client's token (the SaslAuthenticate request's
	// bytes) and returns the token to answer with. done is true once the
	// client is authenticated. An error ends the exchange: the broker
	// answers with the kerr code it wraps (SASL_AUTHENTICATION_FAILED),
	// its message, and closes the connection. A non-nil token with a nil
	// error and done false is a challenge: another round follows.
	Next(token []byte) (out []byte, done bool, err error)
	// Principal is the authenticated user name, valid once done.
	Principal() string
}

// Expiring is implemented by sessions whose credential ends (OAUTHBEARER
// tokens): KIP-368 caps the session lifetime the broker grants at it.
type Expiring interface {
	Expiry() time.Time
}

// Mechanism names.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
	OAuthBearer = "OAUTHBEARER"
)

// Authenticator starts sessions for the mechanisms a listener enables.
type Authenticator struct {
	// Users backs PLAIN and SCRAM. Nil disables them.
	Users *Users
	// Mechanisms lists the enabled mechanisms (sasl.enabled.mechanisms),
	// in the order SaslHandshake reports them.
	Mechanisms []string
	// OAuth configures OAUTHBEARER's unsecured-JWT validation.
	OAuth UnsecuredJWT
}

// Enabled reports whether mechanism is enabled.
func (a *Authenticator) Enabled(mechanism string) bool {
	return slices.Contains(a.Mechanisms, mechanism)
}

// Start begins a session for mechanism, as named in SaslHandshake. An
// unknown or disabled mechanism wraps kerr.UnsupportedSaslMechanism.
func (a *Authenticator) Start(mechanism string) (Session, error) {
	if !a.Enabled(mechanism) {
		return nil, fmt.Errorf("mechanism %q is not enabled (enabled: %q): %w", truncate(mechanism, 64), a.Mechanisms, kerr.UnsupportedSaslMechanism)
	}
	switch mechanism {
	case Plain:
		if a.Users != nil {
			return &plainServer{users: a.Users}, nil
		}
	case ScramSHA256, ScramSHA512:
		if a.Users != nil {
			return newScram(a.Users, mechanism == ScramSHA512), nil
		}
	case OAuthBearer:
		return &oauthServer{cfg: a.OAuth}, nil
	}
	return nil, fmt.Errorf("mechanism %q has no credentials configured: %w", mechanism, kerr.UnsupportedSaslMechanism)
}
