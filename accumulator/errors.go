package accumulator

import "github.com/skiffkit/skiff/internal/accum"

var (
	// ErrBufferFull is wrapped by Append when no memory became available
	// within max.block or before the context ended (the context's error is
	// wrapped too). Records accepted before are unaffected; retry later or
	// raise BufferMemory.
	ErrBufferFull = accum.ErrBufferFull

	// ErrClosed is returned by Append after Close.
	ErrClosed = accum.ErrClosed

	// ErrRecordTooLarge is wrapped (together with kerr.MessageTooLarge) when
	// a record can never be sent: larger than max.request.size or than the
	// whole buffer.memory. The record is rejected at once.
	ErrRecordTooLarge = accum.ErrRecordTooLarge
)
