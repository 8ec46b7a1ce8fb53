package partitioner

import (
	"math/rand/v2"
	"sync/atomic"
)

// RoundRobin returns a Partitioner that cycles through a topic's
// partitions record by record, ignoring keys, like Java's
// RoundRobinPartitioner. Each topic has its own counter (an atomic, no
// lock), started at a random partition so that many short-lived producers
// do not all begin on partition 0.
//
// Round robin makes many small batches when records are small; prefer
// Default or Sticky unless every record must rotate.
func RoundRobin() Partitioner { return &roundRobin{} }

// Hash returns a Partitioner that places keyed records with KeyPartition
// (as Java does) and cycles keyless records through the partitions like
// RoundRobin. It is Java's pre-2.4 DefaultPartitioner behaviour and
// sarama's hash partitioner with Kafka's hash.
func Hash() Partitioner { return &hash{} }

type roundRobin struct {
	topics topicMap[atomic.Uint32]
}

func newCounter() *atomic.Uint32 {
	c := new(atomic.Uint32)
	c.Store(rand.Uint32())
	return c
}

func (r *roundRobin) Partition(topic string, _ []byte, n int32) int32 {
	if n <= 0 {
		return -1
	}
	next := r.topics.get(topic, newCounter).Add(1) - 1
	return int32(next % uint32(n))
}

type hash struct {
	rr roundRobin
}

func (h *hash) Partition(topic string, key []byte, n int32) int32 {
	if key != nil {
		return KeyPartition(key, n)
	}
	return h.rr.Partition(topic, nil, n)
}
