package log

import "errors"

// Errors of the package that are not Kafka protocol errors. Protocol-level
// failures (a corrupt batch, a sequence gap, an offset out of range) wrap the
// matching internal/kerr value instead, so the broker can put kerr.Code(err)
// straight into its response.
var (
	// ErrClosed is returned by every method called after Close or Delete.
	// The broker closes a log only when it drops or stops the partition,
	// so a request racing with that should answer NOT_LEADER_OR_FOLLOWER.
	ErrClosed = errors.New("log: closed")
	// ErrConfig wraps every problem Config validation finds.
	ErrConfig = errors.New("log: invalid config")
)
