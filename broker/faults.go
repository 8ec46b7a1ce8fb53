package broker

import "time"

// Fault is what to do to one request instead of, or before, handling it.
type Fault struct {
	// ErrCode, when nonzero, answers the request with this Kafka error code
	// in every error field of its response, without handling it.
	ErrCode int16
	// Delay handles the request this much later; the connection's later
	// responses wait behind it, as they would behind a slow request.
	Delay time.Duration
	// Drop closes the connection instead of answering.
	Drop bool
}

// Faults is consulted for every parsed request when set in Config; it must
// be safe for concurrent use. skifftest builds its FailNext, DelayNext and
// DropNext hooks on it.
type Faults func(apiKey, version int16) Fault
