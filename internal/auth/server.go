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

// CredentialStore is a changing source of SCRAM credentials: the broker's
// store of AlterUserScramCredentials (KIP-554), which Kafka's SCRAM
// authenticator reads on every login, so a user created through the Admin
// API logs in at once and a deleted one no longer can.
type CredentialStore interface {
	// ScramCredential returns user's credential for SCRAM-SHA-512 (sha512)
	// or SCRAM-SHA-256. It must be safe for concurrent use.
	ScramCredential(user string, sha512 bool) (Credential, bool)
}

// Authenticator starts sessions for the mechanisms a listener enables.
type Authenticator struct {
	// Users backs PLAIN and SCRAM. Nil disables PLAIN.
	Users *Users
	// Store backs SCRAM beside Users, and is asked first: a credential
	// stored through AlterUserScramCredentials replaces the users file's
	// for that user and mechanism, as Kafka's dynamic SCRAM credentials
	// are the only ones its SCRAM login reads. Nil means Users alone.
	Store CredentialStore
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
		if a.Users != nil || a.Store != nil {
			return newScram(a.credential, mechanism == ScramSHA512), nil
		}
	case OAuthBearer:
		return &oauthServer{cfg: a.OAuth}, nil
	}
	return nil, fmt.Errorf("mechanism %q has no credentials configured: %w", mechanism, kerr.UnsupportedSaslMechanism)
}

// credential looks a SCRAM user up in Store, then in Users. Both are read
// at each login, never cached in a session beyond its exchange: a
// re-authentication (KIP-368) of a deleted user fails and its connection
// is closed.
func (a *Authenticator) credential(user string, sha512 bool) (Credential, bool) {
	if a.Store != nil {
		if c, ok := a.Store.ScramCredential(user, sha512); ok {
			return c, true
		}
	}
	if a.Users != nil {
		return a.Users.credential(user, sha512)
	}
	return Credential{}, false
}
