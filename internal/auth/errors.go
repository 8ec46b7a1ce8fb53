package auth

import (
	"errors"
	"fmt"

	"github.com/skiffkit/skiff/kerr"
)

var (
	// ErrAuthFailed is wrapped when the credentials are wrong or the user is
	// unknown. It matches kerr.SaslAuthenticationFailed with errors.Is, the
	// code the broker answers with, without repeating that code's text in
	// the message the broker sends. The message is the same for a wrong
	// password and an unknown user so that a client cannot probe which
	// users exist.
	ErrAuthFailed error = &codeError{msg: "authentication failed: invalid credentials", code: kerr.SaslAuthenticationFailed}

	// ErrMalformed is wrapped when a client token does not follow the
	// mechanism's grammar. Kafka answers these with
	// SASL_AUTHENTICATION_FAILED too, and ErrMalformed matches it.
	ErrMalformed error = &codeError{msg: "malformed SASL token", code: kerr.SaslAuthenticationFailed}

	// ErrSessionDone is returned when a client sends a token after the
	// exchange finished.
	ErrSessionDone = errors.New("SASL exchange already finished")
)

// codeError is a sentinel that also matches a Kafka error code.
type codeError struct {
	msg  string
	code *kerr.Error
}

func (e *codeError) Error() string        { return e.msg }
func (e *codeError) Is(target error) bool { return target == e.code }

// As lets kerr.Code and errors.As find the Kafka code.
func (e *codeError) As(target any) bool {
	if t, ok := target.(**kerr.Error); ok {
		*t = e.code
		return true
	}
	return false
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
