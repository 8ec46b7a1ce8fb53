package partitioner

// Partitioner chooses the partition of a record that has none set.
//
// numPartitions is the topic's partition count from metadata; an
// implementation returns a partition in [0, numPartitions), or -1 when
// numPartitions is not positive (the producer then fails the record
// rather than dividing by zero). Partition is called concurrently from
// every goroutine that sends, so implementations must be safe for
// concurrent use and should not take a lock per record.
//
// A record with an explicit partition never reaches the partitioner: the
// producer sends it to that partition, as Kafka's producer does for a
// ProducerRecord with a partition.
type Partitioner interface {
	Partition(topic string, key []byte, numPartitions int32) int32
}

// SizeAware is an optional interface of a Partitioner that wants to know
// how many bytes each record adds to its batch. The producer calls
// PartitionSized instead of Partition when the partitioner implements it,
// with recordBytes the record's encoded size in the batch (the varint
// length prefix included), the number Java's producer feeds to its
// BuiltInPartitioner (KIP-794).
type SizeAware interface {
	PartitionSized(topic string, key []byte, recordBytes int, numPartitions int32) int32
}

// LoadAware is an optional interface of a Partitioner that uses the
// producer's view of each partition, as Java's adaptive partitioning does
// (partitioner.adaptive.partitioning.enable, KIP-794). The producer calls
// UpdateLoad per topic when it drains batches, not per record.
//
// partitions lists the partitions that can take records now (a leader is
// known and, like partitioner.availability.timeout.ms, not stalled);
// queueSizes[i] is the number of batches queued for partitions[i]. The
// partitioner copies what it keeps, so the caller may reuse both slices.
type LoadAware interface {
	UpdateLoad(topic string, partitions, queueSizes []int32)
}

// PartitionerFunc adapts a function to a Partitioner. The function must be
// safe for concurrent use.
type PartitionerFunc func(topic string, key []byte, numPartitions int32) int32

// Partition calls f(topic, key, numPartitions).
func (f PartitionerFunc) Partition(topic string, key []byte, numPartitions int32) int32 {
	return f(topic, key, numPartitions)
}
