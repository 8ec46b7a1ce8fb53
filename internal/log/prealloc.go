package log

import (
	"syscall"

	"github.com/skiffkit/skiff/internal/batch"
)

// Preallocation of the active segment's .log.
//
// Extending a file by a write costs ext4 (and xfs) a block allocation for
// every write that crosses into unallocated space: measured on this
// project's ext4, a 16 KiB pwrite at the end of a growing file took about
// 10 µs, against 6.5–7.5 µs into space reserved beforehand with
// fallocate(2). A produce request writes one such batch per partition, so
// that is most of what the broker spends per request in the kernel.
//
// Kafka has log.preallocate for the same reason, extending the file to
// segment.bytes. skiff reserves with FALLOC_FL_KEEP_SIZE, which leaves the
// file size alone, and extends the file only a little way, with zeros, for
// large batches (zeroAhead below). The reservation past the end is given
// back (a truncate to the same size) when the segment is sealed or the log
// closed; after a crash it stays until the segment is sealed or deleted.
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

// Zeros written ahead. The kernel's cost of a pwrite that extends a file
// is mostly putting new pages into the page cache, and it is much higher
// when the write starts inside a page the previous one left half full, as
// every batch but the first of a segment does. Measured on this project's
// ext4 (kernel 6.18, three files written round robin, blocks reserved with
// KEEP_SIZE): a 16,684-byte append cost 16 µs against 9 µs for exactly
// 16 KiB, while writing zeros ahead in 256 KiB chunks and the batches over
// them cost 7.5 µs per batch, zeros included (1,700-byte batches: 2.8 and
// 2.2 µs). So for large batches the active segment's file is extended with
// zeros ahead of its last batch, as Kafka's log.preallocate extends it to
// segment.bytes, and the batches then overwrite cached pages.
//
// The zeros never count: the segment's size is its last whole batch, and
// readers, the indexes and the fetch path stop there. They are cut off when
// the segment is sealed or the log closed (trimPreallocation), so a clean
// log's files hold batches only. After a crash, recovery's scanner takes
// an all-zero tail for the end of the log, not for a torn batch
// (scanner.zeroTail), and truncates it away.
//
// Only segments whose batches are large write ahead: the moving average of
// their batch sizes (avgBatch, weight 1/8 per batch, starting from zero)
// must reach zeroAheadMinBatch, so about three 16 KiB batches in a row.
// Small batches lose by it. The kernel writes the chunk as one large folio
// (256 KiB), and every later write into that folio walks all its block
// buffers. With a thousand partitions those are cold: on this project's
// ext4 (kernel 6.18, 1,000 files written round robin) a 1,700-byte append
// cost 8.1-9.0 µs without zeros ahead and 18.6-19.2 µs into them
// (BenchmarkKernelAppend). A single large batch
// is not enough, because that is how a partition often starts: the
// client's first batches carry what it buffered while it connected, and
// then at a thousand partitions it sends batches of about 2 KB. Gating on
// each batch's own size zeroed the first chunk of such partitions, and a
// partition of the 1,000-partition benchmark (bench/broker-ingest.sh,
// 2,000,000 records) takes about 220 KB in all, so all of it could go
// into that chunk.
const (
	zeroAheadChunk    = 256 << 10
	zeroAheadMinBatch = 4 << 10
)

// zeroAheadEnabled switches writing zeros ahead; benchmarks turn it off to
// measure what it saves.
var zeroAheadEnabled = true

var zeroChunk [zeroAheadChunk]byte

// zeroAhead makes the .log file run past pos+n, the end of a batch about to
// be written at pos, with zeros up to the next zeroAheadChunk boundary
// (within segment.bytes). Like preallocate it is an optimisation: a file
// that is not the operating system's, or a failed write, turns it off for
// the segment (a failure to write at all shows in the batch's own write).
// Caller holds log.mu.
func (s *segment) zeroAhead(pos, n, segmentBytes int64) {
	end := pos + n
	s.avgBatch += (n - s.avgBatch) / 8
	if !zeroAheadEnabled || s.noPrealloc || s.avgBatch < zeroAheadMinBatch || end <= s.zeroed {
		return
	}
	if _, ok := s.log.(syscall.Conn); !ok {
		return
	}
	from := max(s.zeroed, pos)
	to := min(((end+batch.HeaderSize)/zeroAheadChunk+1)*zeroAheadChunk, segmentBytes)
	if to-end < batch.HeaderSize || to-from > zeroAheadChunk {
		// Near the segment's limit (a zero tail shorter than a batch
		// header could not be told from a torn batch by recovery), or a
		// batch larger than a chunk, which gains nothing from it.
		return
	}
	if _, err := s.log.WriteAt(zeroChunk[:to-from], from); err != nil {
		s.noPrealloc = true
		return
	}
	s.zeroed = to
}

// trimPreallocation gives back the reservation and the zeros past the last
// batch of a segment that stops being written to. Caller holds log.mu.
func (s *segment) trimPreallocation() error {
	size := s.size.Load()
	if s.allocated <= size && s.zeroed <= size {
		return nil
	}
	s.allocated, s.zeroed = 0, 0
	return s.log.Truncate(size)
}
