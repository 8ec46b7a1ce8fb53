package txncoord

import "errors"

// ErrClosed is returned by operations after Close began and by a second
// Close. The broker answers such requests with NOT_COORDINATOR (Kafka's
// answer while a coordinator unloads), so clients look the coordinator up
// again instead of failing.
var ErrClosed = errors.New("txncoord: closed")

// Transaction-log decode errors. Loading treats both as the end of the
// valid log and truncates there, as Kafka recovers a segment at its first
// bad batch.
var (
	// errTorn means the log ends inside a frame: a crash during append.
	errTorn = errors.New("transaction log: torn frame")
	// errCorrupt means a complete frame failed its CRC or does not parse.
	errCorrupt = errors.New("transaction log: corrupt frame")
)
