package partitioner

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
)

// DefaultBatchSize is Kafka's batch.size default, in bytes.
const DefaultBatchSize = 16384

// unsizedRecordBytes is what Partition charges a record when the caller
// cannot say its size (PartitionSized is the real entry point; the
// producer always uses it). 100 bytes is a small record with a short key.
const unsizedRecordBytes = 100

// StickyConfig configures a StickyPartitioner. The zero value is Java's
// default partitioner.
type StickyConfig struct {
	// BatchSize is batch.size: how many bytes of records go to one
	// partition before the partitioner switches to another (KIP-794).
	// Zero means the default, 16384. Use the producer's batch.size so a
	// switch coincides with a full batch.
	BatchSize int

	// IgnoreKeys is partitioner.ignore.keys. Default false: keyed records
	// go to KeyPartition(key, n) and only keyless records stick. True
	// makes every record sticky.
	IgnoreKeys bool

	// DisableAdaptive turns off partitioner.adaptive.partitioning.enable
	// (default on): with it on, and the producer publishing load through
	// UpdateLoad, a new sticky partition is drawn with probability
	// weighted against its queue length, so slow brokers get less.
	// Availability from UpdateLoad is honoured either way.
	DisableAdaptive bool
}

func (c StickyConfig) validate() error {
	var errs []error
	if c.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("partitioner: BatchSize (batch.size) %d must not be negative", c.BatchSize))
	}
	return errors.Join(errs...)
}

// StickyPartitioner is Kafka's built-in uniform sticky partitioner
// (KIP-480, refined by KIP-794): keyless records stick to one partition
// until BatchSize bytes have been produced to it, then a new partition is
// drawn uniformly at random (or weighted by queue length, see
// StickyConfig.DisableAdaptive), so batches fill up while the load evens
// out over time. It implements Partitioner, SizeAware and LoadAware.
//
// Hot path: a lookup in an immutable per-topic map, one atomic add and,
// once per BatchSize bytes, one compare-and-swap and one small
// allocation; no lock. Concurrent senders may overshoot BatchSize by the
// records in flight at the switch, as in Java.
//
// Unlike Java, it does not hold off a switch while the current batch is
// not yet ready to send (KAFKA-14156): it cannot see the batch, so with a
// long linger.ms a switch may leave a partly filled batch behind.
type StickyPartitioner struct {
	batchSize  int64
	ignoreKeys bool
	adaptive   bool
	topics     topicMap[stickyTopic]
}

// stickyTopic is one topic's state. cur is replaced, never mutated (but
// for the byte count), so a sender holding an old pick only adds bytes to
// a pick nobody switches from again.
type stickyTopic struct {
	cur  atomic.Pointer[stickyPick]
	load atomic.Pointer[loadStats]
}

type stickyPick struct {
	partition int32
	produced  atomic.Int64
}

// loadStats is Java's PartitionLoadStats: the available partitions and,
// when their queues differ, a cumulative frequency table of inverted
// queue sizes.
type loadStats struct {
	partitions []int32
	cft        []int64 // nil: uniform over partitions
	maxPart    int32
}

// NewSticky returns a uniform sticky partitioner, or an error naming every
// invalid field of cfg.
func NewSticky(cfg StickyConfig) (*StickyPartitioner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	bs := cfg.BatchSize
	if bs == 0 {
		bs = DefaultBatchSize
	}
	return &StickyPartitioner{batchSize: int64(bs), ignoreKeys: cfg.IgnoreKeys, adaptive: !cfg.DisableAdaptive}, nil
}

// Default returns Java's default partitioner (BuiltInPartitioner since
// Kafka 3.3): keyed records by KeyPartition, keyless records uniform
// sticky with batch.size 16384. A producer with another batch.size should
// use NewSticky(StickyConfig{BatchSize: ...}) so switches match its batches.
func Default() *StickyPartitioner {
	p, _ := NewSticky(StickyConfig{}) // the zero config is valid
	return p
}

// Sticky returns a uniform sticky partitioner that ignores keys
// (partitioner.ignore.keys=true): every record sticks to a partition for
// batchSize bytes. batchSize <= 0 means the default, 16384.
func Sticky(batchSize int) *StickyPartitioner {
	p, _ := NewSticky(StickyConfig{BatchSize: max(batchSize, 0), IgnoreKeys: true})
	return p
}

// Partition implements Partitioner, charging each keyless record an
// estimated 100 bytes; senders that know the size call PartitionSized.
func (p *StickyPartitioner) Partition(topic string, key []byte, n int32) int32 {
	return p.PartitionSized(topic, key, unsizedRecordBytes, n)
}

// PartitionSized implements SizeAware: the record goes to the topic's
// current sticky partition, and its recordBytes count towards switching.
func (p *StickyPartitioner) PartitionSized(topic string, key []byte, recordBytes int, n int32) int32 {
	if n <= 0 {
		return -1
	}
	if key != nil && !p.ignoreKeys {
		return KeyPartition(key, n)
	}
	t := p.topics.get(topic, newStickyTopic)
	size := int64(max(recordBytes, 0))
	for {
		pick := t.cur.Load()
		if pick == nil || pick.partition >= n {
			fresh := &stickyPick{partition: t.next(n, p.adaptive)}
			if !t.cur.CompareAndSwap(pick, fresh) {
				continue // another sender installed one first; use it
			}
			pick = fresh
		}
		// Java's updatePartitionInfo: count, then switch once the
		// partition has had batch.size bytes. Only the sender whose add
		// crosses the threshold switches, so one switch per batch.
		after := pick.produced.Add(size)
		if after >= p.batchSize && after-size < p.batchSize {
			t.cur.CompareAndSwap(pick, &stickyPick{partition: t.next(n, p.adaptive)})
		}
		return pick.partition
	}
}

func newStickyTopic() *stickyTopic { return new(stickyTopic) }

// next is Java's BuiltInPartitioner.nextPartition: uniform over the
// available partitions (all of them when none are known), or weighted by
// the cumulative frequency table when adaptive. The draw may repeat the
// current partition, as in Java.
func (t *stickyTopic) next(n int32, adaptive bool) int32 {
	r := rand.Uint64()
	ls := t.load.Load()
	if ls == nil || ls.maxPart >= n {
		// No load published, or it is stale (from a larger partition
		// count than metadata now reports).
		return int32(r % uint64(n))
	}
	if adaptive && ls.cft != nil {
		weighted := int64(r % uint64(ls.cft[len(ls.cft)-1]))
		// First entry strictly greater than weighted.
		i, _ := slices.BinarySearch(ls.cft, weighted+1)
		return ls.partitions[i]
	}
	return ls.partitions[r%uint64(len(ls.partitions))]
}

// UpdateLoad implements LoadAware, mirroring Java's
// updatePartitionLoadStats. A partition with queue size q gets weight
// max+1-q, so the longest queue is drawn least, yet still drawn. Calls with
// no partitions, or with slices of different lengths, clear the stats
// (then every partition is drawn uniformly).
func (p *StickyPartitioner) UpdateLoad(topic string, partitions, queueSizes []int32) {
	t := p.topics.get(topic, newStickyTopic)
	if len(partitions) == 0 || len(partitions) != len(queueSizes) {
		t.load.Store(nil)
		return
	}
	if slices.Min(partitions) < 0 {
		t.load.Store(nil)
		return
	}
	ls := &loadStats{partitions: slices.Clone(partitions), maxPart: slices.Max(partitions)}
	maxQ, allEqual := int64(max(queueSizes[0], 0)), true
	for _, q := range queueSizes {
		q64 := int64(max(q, 0))
		allEqual = allEqual && q64 == int64(max(queueSizes[0], 0))
		maxQ = max(maxQ, q64)
	}
	if !allEqual {
		ls.cft = make([]int64, len(queueSizes))
		var sum int64
		for i, q := range queueSizes {
			sum += maxQ + 1 - int64(max(q, 0))
			ls.cft[i] = sum
		}
	}
	t.load.Store(ls)
}
