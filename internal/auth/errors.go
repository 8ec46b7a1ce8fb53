package auth

import (
	"errors"
	"fmt"

	"github.com/skiffkit/skiff/internal/kerr"
)

var (
	// ErrAuthFailed is wrapped when the credentials are wrong or the user is
	// unknown. It wraps kerr.SaslAuthenticationFailed, the code the broker
	// answers with; the message is the same for both causes so that a
	// client cannot probe which users exist.
	ErrAuthFailed = fmt.Errorf("authentication failed: invalid credentials: %w", kerr.SaslAuthenticationFailed)

	// ErrMalformed is wrapped when a client token does not follow the
	// mechanism's grammar. Kafka answers these with
	// SASL_AUTHENTICATION_FAILED too, and so does ErrMalformed.
	ErrMalformed = fmt.Errorf("malformed SASL token: %w", kerr.SaslAuthenticationFailed)

	// ErrSessionDone is returned when a client sends a token after the
	// exchange finished.
	ErrSessionDone = errors.New("SASL exchange already finished")
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
