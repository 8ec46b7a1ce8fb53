package coordinator

import "errors"

// ErrClosed is returned by Close when called twice. Requests handled after
// Close are answered with NOT_COORDINATOR so clients look the coordinator up
// again instead of failing.
var ErrClosed = errors.New("coordinator: closed")

// Offsets-log decode errors. Load treats both as the end of the valid log and
// truncates there, as Kafka recovers a log segment at its first bad batch.
var (
	// errTorn means the log ends inside a frame: a crash during append.
	errTorn = errors.New("offsets log: torn frame")
	// errCorrupt means a complete frame failed its CRC or does not parse.
	errCorrupt = errors.New("offsets log: corrupt frame")
)
