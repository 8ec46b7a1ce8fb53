package log

// Preallocation of the active segment's .log.
//
// Extending a file by a write costs ext4 (and xfs) a block allocation for
// every write that crosses into unallocated space: measured on this
// project's ext4, a 16 KiB pwrite at the end of a growing file took about
// 10 µs, against 6.5–7.5 µs into space reserved beforehand with
// fallocate(2). A produce request writes one such batch per partition, so
// that is most of what the broker spends per request in the kernel.
//
// Kafka has log.preallocate for the same reason, but it extends the file
// itself and must then find the real end by scanning on recovery. skiff
// reserves with FALLOC_FL_KEEP_SIZE instead: the blocks are allocated, the
// file size still ends at the last whole batch, so recovery, readers and
// the size-based checks see exactly what they saw before. The reservation
// past the end is given back (a truncate to the same size) when the
// segment is sealed or the log closed; after a crash it stays until the
// segment is sealed or deleted.
//
// The reserve grows with the segment, from preallocMin up to preallocMax:
// a thousand barely written partitions hold 64 KiB each, not 16 MiB.
const (
	preallocMin = 64 << 10
	preallocMax = 16 << 20
)

// preallocEnabled switches preallocation; benchmarks turn it off to
// measure what it saves.
var preallocEnabled = true

// preallocate reserves room for the .log to reach end (and some way past
// it, see preallocMin), within segment.bytes. A filesystem that cannot
// preallocate (or a vfs that is not the operating system's) is simply
// written to as before: this is an optimisation, never a condition.
// Caller holds log.mu.
func (s *segment) preallocate(end, segmentBytes int64) {
	if !preallocEnabled || s.noPrealloc || end <= s.allocated {
		return
	}
	from := max(s.allocated, s.size.Load())
	n := min(max(from, preallocMin), preallocMax)
	n = max(n, end-from)
	if limit := segmentBytes - from; n > limit {
		n = limit
	}
	if n <= 0 {
		return
	}
	if err := fallocateKeepSize(s.log, from, n); err != nil {
		s.noPrealloc = true
		return
	}
	s.allocated = from + n
}

// trimPreallocation gives back the reservation past the last batch of a
// segment that stops being written to. Caller holds log.mu.
func (s *segment) trimPreallocation() error {
	if s.allocated <= s.size.Load() {
		return nil
	}
	s.allocated = 0
	return s.log.Truncate(s.size.Load())
}
