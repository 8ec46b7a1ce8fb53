// Package log is the commit log of the bundled broker: one *Log per
// partition, stored in Kafka's own on-disk layout so that the files of a
// skiff broker look like those of a Kafka broker (docs/storage.md has every
// byte).
//
// A partition directory <dataDir>/<topic>-<partition>/ holds segments named
// by their base offset in 20 digits: a .log of record batches exactly as
// produced (base offset and leader epoch assigned), a sparse .index
// (relative offset -> file position, one entry per index.interval.bytes), a
// .timeindex (timestamp -> relative offset), a .txnindex of the
// transactions aborted in the segment (only when there is one), plus
// producer-state .snapshot files that let idempotent deduplication and open
// transactions survive restarts.
//
// Usage:
//
//	l, err := log.Open(filepath.Join(dataDir, "orders-0"), log.Config{SegmentBytes: 64 << 20})
//	...
//	info, err := l.Append(recordSet, time.Now()) // Produce
//	if errors.Is(err, kerr.OutOfOrderSequenceNumber) { ... }
//	if _, err := l.Sync(); err != nil { ... }      // acks=all
//	buf, err = l.Read(fetchOffset, maxBytes, buf[:0]) // Fetch
//	...
//	// Transactions (KIP-98): the coordinator ends them with markers, and
//	// read_committed fetches stop at the last stable offset.
//	_, err = l.AppendMarker(log.Marker{ProducerID: pid, ProducerEpoch: epoch, CoordinatorEpoch: ce, Commit: true}, time.Now())
//	buf, lso, err := l.ReadCommitted(fetchOffset, maxBytes, buf[:0])
//	aborted, err := l.AbortedTransactions(fetchOffset, upTo, nil) // Fetch v4+
//	...
//	err = l.Close()
//
// Concurrency: Append, Read, Sync, OffsetForTime and EnforceRetention may be
// called from any number of goroutines. Appends serialize on one mutex;
// reads take no lock on the log data at all: they pread the segment files
// up to an atomically published size, so a reader never sees a partially
// written batch and never waits behind an append or an fsync. Sync is a
// group commit: callers arriving during an fsync share the next one.
//
// Durability: Append writes to the page cache (one pwrite per call); only
// Sync makes data durable. Every new name (a partition directory, the files
// of a rolled segment, a snapshot renamed into place) is made durable by an
// fsync of its directory before the log relies on it. After an unclean stop
// (no clean-shutdown marker) Open rescans with CRCs the segments written
// since the newest producer snapshot, truncates at the first torn or
// corrupt batch, rebuilds their indexes, and replays the producer state
// from that snapshot.
//
// Storage faults: a failed write, fsync or roll takes the log offline, as
// Kafka takes a failed log directory offline. It acknowledges nothing it
// could not write, and every later call returns an error wrapping
// ErrOffline and kerr.KafkaStorageError until the log is closed and opened
// again, which recovers it from what is on disk.
//
// Every file operation goes through Config.FS (package vfs), the seam where
// tests inject faults (package vfs/errorfs).
//
// Caveats:
//   - Append rewrites the caller's record set in place (offsets, leader
//     epoch, LogAppendTime): pass a buffer nobody else reads.
//   - The sparse indexes of the active segment are kept in memory (at most
//     about 0.5% of segment.bytes with the default index.interval.bytes);
//     those of sealed segments are read from their files, so the heap does
//     not grow with the log.
//   - No compaction. Clients cannot append control batches (only
//     AppendMarker writes them). The state of an idempotent producer (5
//     batches, about 200 bytes) is kept until producer.id.expiration.ms
//     after its last batch, that of a producer with an open transaction
//     until a marker ends it. The aborted-transaction entries of every
//     segment stay in memory (34 bytes per aborted transaction).
//   - A producer without state is accepted at any sequence, as Kafka 2.5+
//     does since KIP-360; kerr.UnknownProducerID is never returned.
package log
