package sasl

import "context"

// Mechanism is a SASL mechanism: a name the broker knows it by and a way to
// start a login. A Mechanism is shared by every connection of a client, so
// it must be safe for concurrent use; per-connection state lives in the
// Session it returns.
type Mechanism interface {
	// Name is the mechanism's name as sent in SaslHandshake (and as
	// written in sasl.mechanism): "PLAIN", "SCRAM-SHA-256", "OAUTHBEARER".
	Name() string

	// Start begins a login on a new connection to the broker at addr
	// (host:port, as dialed: mechanisms that sign for a host, such as
	// AWS_MSK_IAM or GSSAPI, need it). It returns the session and the
	// first message to send; every mechanism Kafka supports sends first.
	// ctx bounds the whole login, including the session's Challenge calls.
	Start(ctx context.Context, addr string) (Session, []byte, error)
}

// Session is one login in progress on one connection.
type Session interface {
	// Challenge receives the broker's answer to the last message sent.
	// It returns done once the login succeeded from the client's side
	// (for SCRAM: after checking the server's signature), else the next
	// message to send. When done is true and msg is not nil, msg is sent
	// as a last message and the broker's answer ends the login. An error
	// ends the login and the connection.
	Challenge(serverMsg []byte) (done bool, msg []byte, err error)
}
