// Package partitioner chooses the partition of each record a producer
// sends, compatible with Kafka's Java client.
//
//	p := partitioner.Default()                        // what Java does by default
//	part := p.Partition("orders", key, numPartitions) // or PartitionSized, see below
//
// # Implementations
//
//	Default()        keyed: KeyPartition (murmur2); keyless: uniform sticky, batch.size 16384
//	NewSticky(cfg)   the same with batch.size, partitioner.ignore.keys and adaptive configurable
//	Sticky(size)     every record uniform sticky, keys ignored
//	Hash()           keyed: KeyPartition; keyless: round robin
//	RoundRobin()     every record to the next partition, keys ignored
//	PartitionerFunc  any function
//
// KeyPartition is (Murmur2(key) & 0x7fffffff) % n exactly as Java's
// BuiltInPartitioner.partitionForKey with Utils.murmur2 (seed 0x9747b28c),
// so Go and Java producers put a key on the same partition. Only a nil key
// is keyless; an empty key is hashed, as Java hashes byte[0].
//
// A record with an explicit partition bypasses the partitioner entirely:
// the producer sends it where it says, as Java does.
//
// # Uniform sticky (KIP-480, KIP-794)
//
// Keyless records stick to one partition until batch.size bytes have been
// produced to it, then a new partition is drawn at random, so batches fill
// up and, over many batches, every partition gets the same share. To count
// bytes, a partitioner implements the optional SizeAware interface, and the
// producer calls PartitionSized with the record's encoded size instead of
// Partition. A partitioner implementing LoadAware also receives, once per
// drain, which partitions are available and how many batches each has
// queued; the sticky partitioner then draws only available partitions,
// weighted against queue length (Java's adaptive partitioning).
//
// # Concurrency
//
// All implementations are safe for concurrent use and take no lock per
// record: per-topic state lives in an immutable map behind an atomic
// pointer (copied once when a topic is first seen), counters are atomics,
// and a sticky switch is one compare-and-swap per batch. Partitioning
// allocates nothing per record (see BenchmarkPartition).
//
// # Caveats
//
// Partition on a sticky partitioner does not know the record size and
// charges 100 bytes; the producer always calls PartitionSized. A sticky
// switch happens at batch.size even if the batch is not ready to send yet
// (Java defers it then, KAFKA-14156). RoundRobin and Hash rotate over all
// partitions, not only those with a leader.
package partitioner
