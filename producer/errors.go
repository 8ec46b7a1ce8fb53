package producer

import (
	"errors"

	"github.com/skiffkit/skiff/accumulator"
	"github.com/skiffkit/skiff/internal/accum"
	"github.com/skiffkit/skiff/internal/wire"
)

var (
	// ErrClosed is returned by Send after Close began, and is the error
	// of every record Close could not deliver within its context.
	ErrClosed = errors.New("producer: closed")

	// ErrBufferFull is wrapped by Send when buffer.memory stayed exhausted
	// for max.block or until ctx ended (the context's error is wrapped as
	// well). Records accepted earlier are unaffected; slow down or raise
	// BufferMemory.
	ErrBufferFull = accumulator.ErrBufferFull

	// ErrRecordTooLarge is wrapped, with kerr.MessageTooLarge, by Send for
	// a record above max.request.size or buffer.memory. Nothing is sent.
	ErrRecordTooLarge = accumulator.ErrRecordTooLarge

	// ErrDeliveryTimeout is wrapped by callbacks of records not
	// acknowledged within delivery.timeout.ms. With a retry in flight the
	// outcome is unknown: the record may have been written.
	ErrDeliveryTimeout = accum.ErrDeliveryTimeout

	// ErrUnknownTopic is wrapped, with kerr.UnknownTopicOrPartition, by
	// Send when the topic's metadata did not appear within max.block.
	ErrUnknownTopic = errors.New("producer: unknown topic")

	// ErrNoBrokers is wrapped by Send and Ping when no broker could be
	// reached; the error names each address with its OS error, and the
	// OS errors (syscall.ECONNREFUSED, *net.OpError) stay matchable.
	ErrNoBrokers = wire.ErrNoBrokers

	// ErrInvalidPartition is returned by Send for an explicit partition
	// the topic does not have.
	ErrInvalidPartition = errors.New("producer: partition out of range")

	// ErrFatalTxn is matched (errors.Is) by every error after which a
	// transactional producer cannot go on: it was fenced by a newer
	// producer with the same transactional.id (PRODUCER_FENCED,
	// INVALID_PRODUCER_EPOCH, also wrapped and matchable), or it may not
	// use its id. Every later call returns it; only Close is left.
	ErrFatalTxn = errors.New("producer: fatal transaction error")

	// ErrAbortableTxn is matched by errors that doom the current
	// transaction but not the producer: a record failed, AddPartitionsToTxn
	// or TxnOffsetCommit was refused. Call AbortTransaction, then begin a
	// new transaction.
	ErrAbortableTxn = errors.New("producer: transaction must be aborted")

	// ErrTxnState is returned for a transactional call in the wrong state
	// (BeginTransaction twice, CommitTransaction without a transaction,
	// Send outside one on a transactional producer) or on a producer
	// without TransactionalID. Nothing changed.
	ErrTxnState = errors.New("producer: invalid transaction state")

	// ErrAbortedTxn is wrapped by callbacks of records that
	// AbortTransaction discarded before they were sent.
	ErrAbortedTxn = errors.New("producer: transaction aborted")
)
