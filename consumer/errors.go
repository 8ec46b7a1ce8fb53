package consumer

import (
	"errors"

	"github.com/skiffkit/skiff/internal/wire"
)

// Sentinel errors. Kafka error codes are returned as kerr values
// wrapped with the partition or group they concern; test them with
// errors.Is against these sentinels or the kerr values.
var (
	// ErrClosed is returned by every method after Close, except Close
	// itself, which returns nil after the first call.
	ErrClosed = errors.New("consumer: closed")
	// ErrNoGroup is returned by commit methods when Config.GroupID is empty.
	ErrNoGroup = errors.New("consumer: no group id configured")
	// ErrNotAssigned is returned by Seek, Pause and Resume for a partition
	// the consumer does not own.
	ErrNotAssigned = errors.New("consumer: partition not assigned")
	// ErrOffsetOutOfRange is returned from Poll when a fetch position is out
	// of range and auto.offset.reset is "none". The partition stops until
	// Seek gives it a new position.
	ErrOffsetOutOfRange = errors.New("consumer: offset out of range and auto.offset.reset is none")
	// ErrNoOffset is returned from Poll when a partition has no committed
	// offset and auto.offset.reset is "none".
	ErrNoOffset = errors.New("consumer: no committed offset and auto.offset.reset is none")
	// ErrCommitFailed means a commit was rejected because the group
	// rebalanced (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
	// REBALANCE_IN_PROGRESS); the partitions may now belong to another member,
	// and the records since the last successful commit may be consumed again.
	ErrCommitFailed = errors.New("consumer: commit failed: the group rebalanced")
	// ErrFenced is returned from Poll when another consumer with the same
	// group.instance.id took over (FENCED_INSTANCE_ID); the consumer stops
	// consuming and must be closed.
	ErrFenced = errors.New("consumer: fenced by another member with the same group.instance.id")
	// ErrNoBrokers is wrapped by Ping (and by errors of requests that
	// could not reach any broker): the error names each address with its
	// OS error, and the OS errors (syscall.ECONNREFUSED, *net.OpError)
	// stay matchable.
	ErrNoBrokers = wire.ErrNoBrokers
	// ErrTopicNotAvailable is returned from Poll, once per topic, when the
	// metadata says a subscribed or assigned topic does not exist
	// (kerr.UnknownTopicOrPartition, wrapped too; auto-creation disabled
	// or refused by the broker) or may not be read
	// (kerr.TopicAuthorizationFailed). It is informational: the consumer
	// keeps its subscription (or assignment), checks again every second,
	// and consumes the topic's partitions once it appears (Kafka's consumer logs
	// "Error while fetching metadata ... UNKNOWN_TOPIC_OR_PARTITION" and
	// waits). Calling Poll again goes on waiting.
	ErrTopicNotAvailable = errors.New("consumer: topic not available")
)
