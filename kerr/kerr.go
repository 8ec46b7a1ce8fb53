package kerr

import (
	"errors"
	"strconv"
)

// Error is one Kafka protocol error code. Values in this package are
// singletons: compare with errors.Is, extract with errors.As.
type Error struct {
	// Message is the protocol name of the code, e.g. "NOT_LEADER_OR_FOLLOWER".
	Message string
	// Code is the int16 error code on the wire.
	Code int16
	// Retriable reports whether Kafka classifies the error as retriable:
	// the request may succeed if sent again, possibly after a metadata
	// refresh or a backoff.
	Retriable bool
	// Description is the broker's human-readable explanation.
	Description string
}

// Error returns "NAME: description", the form Kafka's own tooling prints.
func (e *Error) Error() string {
	if e.Description == "" {
		return e.Message
	}
	return e.Message + ": " + e.Description
}

// ForCode returns the error for a Kafka error code: nil for 0 (NONE), the
// table value for a known code, and for a code this table does not know a
// new non-retriable *Error carrying the code, so newer brokers degrade to a
// readable fatal error instead of being silently ignored.
func ForCode(code int16) error {
	if code == 0 {
		return nil
	}
	if e := lookup(code); e != nil {
		return e
	}
	return &Error{
		Message:     "UNKNOWN_CODE_" + strconv.Itoa(int(code)),
		Code:        code,
		Description: "The broker returned an error code this client does not know.",
	}
}

// Lookup returns the table value for a code and whether the code is known.
// Code 0 is not an error and returns (nil, false).
func Lookup(code int16) (*Error, bool) {
	e := lookup(code)
	return e, e != nil
}

// IsRetriable reports whether err wraps a Kafka *Error that Kafka classifies
// as retriable. It deliberately ignores network errors (timeouts, resets):
// whether a connection failure is safe to retry depends on the request, and
// the wire package exposes that separately (wire.ErrConnClosed).
func IsRetriable(err error) bool {
	var ke *Error
	return errors.As(err, &ke) && ke.Retriable
}

// Code returns the Kafka error code wrapped in err, 0 for nil, and
// UnknownServerError's code (-1) for an error that wraps no *Error. Brokers
// use it to turn an internal error into a response field.
func Code(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return UnknownServerError.Code
}

// All returns every known error in ascending code order. The slice is a
// copy; the *Error values are the shared singletons.
func All() []*Error {
	out := make([]*Error, 0, len(table))
	for _, e := range table {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

// table is indexed by code+1 so that UNKNOWN_SERVER_ERROR (-1) sits at 0 and
// lookup is a bounds check and an index, not a map probe, on the hot path
// of every partition in every response. Duplicate codes in known are caught
// by TestTableUnique.
var table = func() []*Error {
	maxCode := int16(0)
	for _, e := range known {
		maxCode = max(maxCode, e.Code)
	}
	t := make([]*Error, int(maxCode)+2)
	for _, e := range known {
		t[e.Code+1] = e
	}
	return t
}()

func lookup(code int16) *Error {
	i := int(code) + 1
	if i < 0 || i >= len(table) {
		return nil
	}
	return table[i]
}
