package log

import "errors"

// Errors of the package that are not Kafka protocol errors. Protocol-level
// failures (a corrupt batch, a sequence gap, an offset out of range) wrap the
// matching kerr value instead, so the broker can put kerr.Code(err)
// straight into its response.
var (
	// ErrClosed is returned by every method called after Close or Delete.
	// The broker closes a log only when it drops or stops the partition,
	// so a request racing with that should answer NOT_LEADER_OR_FOLLOWER.
	ErrClosed = errors.New("log: closed")
	// ErrOffline is wrapped, together with kerr.KafkaStorageError, in what
	// every method of a log returns once a write, fsync or roll failed.
	// The log stays offline until it is closed and opened again, which
	// recovers it from what is really on disk: after a failed write or
	// fsync the page cache can no longer be trusted (Linux may have dropped
	// the dirty pages and reports the error once), so Kafka likewise takes
	// the whole log directory offline instead of retrying.
	ErrOffline = errors.New("log: offline after a storage error")
	// ErrConfig wraps every problem Config validation finds.
	ErrConfig = errors.New("log: invalid config")
)
