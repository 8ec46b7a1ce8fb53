package sasl

import "errors"

var (
	// ErrServerRejected is wrapped when the broker answered the login with
	// an error inside the mechanism's own protocol (SCRAM's "e=" in the
	// server-final message, an OAUTHBEARER error challenge). The client
	// reports it as an authentication failure; check the credentials.
	ErrServerRejected = errors.New("sasl: broker rejected the login")

	// ErrBadServerMessage is wrapped when a broker message does not follow
	// the mechanism's grammar, asks for too much work (SCRAM iteration
	// counts outside 4096..16384·64) or does not prove that the broker
	// knows the password (SCRAM's server signature). Do not trust such a
	// broker.
	ErrBadServerMessage = errors.New("sasl: malformed or untrusted server message")

	// ErrProtocol is wrapped when Challenge is called after the session
	// finished: the broker kept talking after the mechanism was done.
	ErrProtocol = errors.New("sasl: unexpected message after login finished")
)
