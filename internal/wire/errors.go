package wire

import (
	"errors"
	"strconv"
)

// Sentinel errors of the wire package. Callers match them with errors.Is; the
// returned errors wrap them together with the cause and the broker they came
// from.
var (
	// ErrConnClosed is wrapped by every error of a request that failed
	// because its connection died: a write or read error, a request timeout,
	// a response frame that could not be parsed, or Close. The request may or
	// may not have reached the broker; it is safe to retry for idempotent
	// requests (and for Produce with idempotence, whose sequence numbers
	// dedupe). The Client redials on the next use of that broker.
	ErrConnClosed = errors.New("connection closed")

	// ErrRequestTimeout is the cause (wrapped alongside ErrConnClosed) when a
	// response did not arrive within Config.RequestTimeout. As in Kafka's
	// NetworkClient, the connection is closed: responses arrive in order, so
	// nothing behind a lost response can be trusted either.
	ErrRequestTimeout = errors.New("request timed out")

	// ErrResponseTooLarge is the cause (wrapped alongside ErrConnClosed) when
	// a response's size prefix exceeds Config.MaxResponseSize. A peer that is
	// not Kafka (TLS or HTTP on a plaintext port) usually shows up this way.
	ErrResponseTooLarge = errors.New("response too large")

	// ErrCorrelationMismatch is the cause (wrapped alongside ErrConnClosed)
	// when a response's correlation id is not the one of the oldest
	// outstanding request: the stream is out of sync and must be dropped.
	ErrCorrelationMismatch = errors.New("correlation id mismatch")

	// ErrClientClosed is returned by every Client method after Close.
	ErrClientClosed = errors.New("client closed")

	// ErrUnknownBroker is returned when a node id is neither in the cached
	// metadata nor learned from a FindCoordinator response.
	ErrUnknownBroker = errors.New("unknown broker")

	// ErrNoBrokers is wrapped when no seed or known broker could be reached.
	ErrNoBrokers = errors.New("no broker reachable")
)

// ErrTLSHandshake is wrapped when the TLS handshake failed for a reason
// that retrying cannot fix: the broker's certificate is signed by an
// unknown authority, is not valid for the host dialed, or the broker
// refused our client certificate. Like authentication failures it is
// returned at once instead of being retried until a timeout.
var ErrTLSHandshake = errors.New("TLS handshake failed")

// connErr names the broker a request or connection error came from: a
// seed broker by its address (its node id is a placeholder), a known
// broker by node id and address.
type connErr struct {
	node int32
	addr string
	err  error
}

func (e *connErr) Error() string { return brokerName(e.node, e.addr) + ": " + e.err.Error() }

func (e *connErr) Unwrap() error { return e.err }

func brokerName(node int32, addr string) string {
	if node < 0 {
		return addr
	}
	return "broker " + strconv.Itoa(int(node)) + " at " + addr
}

// ErrTLSRequired is wrapped when a client without TLS reached a listener
// that speaks TLS (its plaintext request was cut off, and a TLS handshake on
// the same address succeeded). Like ErrTLSHandshake it is fatal: retrying
// cannot fix a configuration.
var ErrTLSRequired = errors.New("the broker requires TLS")
