package accum

import "errors"

var (
	// ErrBufferFull is wrapped by Append when no memory became available
	// within max.block or before the context ended (the context's error is
	// wrapped too). Records accepted before are unaffected; retry later or
	// raise BufferMemory.
	ErrBufferFull = errors.New("accumulator: buffer.memory exhausted")

	// ErrClosed is returned by Append after Close, and is the error batches
	// aborted by Abort are failed with unless the caller gives another.
	ErrClosed = errors.New("accumulator: closed")

	// ErrRecordTooLarge is wrapped (together with kerr.MessageTooLarge) when
	// a record can never be sent: larger than max.request.size or than the
	// whole buffer.memory. The record is rejected at once.
	ErrRecordTooLarge = errors.New("accumulator: record too large")

	// ErrDeliveryTimeout is what Expire's batches are failed with: they
	// stayed unacknowledged for delivery.timeout.ms.
	ErrDeliveryTimeout = errors.New("accumulator: delivery.timeout.ms expired")
)
