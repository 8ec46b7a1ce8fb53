package producer

import (
	"math"
	"sync/atomic"

	"github.com/skiffkit/skiff/internal/wire"
)

// leaderCache answers the accumulator's leader lookups, which Ready and
// Drain make for every partition with data on every sender wake-up, from
// one topic's partition list taken from the current metadata snapshot: an
// index and a pointer compare instead of hashing the topic name per
// partition (the map lookup was ~5% of the CPU at 1,000 partitions). Each
// snapshot has its own MetadataUpdated channel, so comparing it tells
// whether the cached list is still current. Other topics fall back to the
// client's lookup, so a producer writing to many topics never allocates
// here.
type leaderCache struct {
	client *wire.Client
	cur    atomic.Pointer[leaderEntry]
}

type leaderEntry struct {
	updated <-chan struct{}
	topic   string
	// leaders[i] is partition i's leader, -1 for none, notDense where
	// the metadata's i-th entry is another partition. A dense array of
	// int32 rather than the metadata's PartitionInfo (80 bytes each): at
	// 1,000 partitions the lookups of one Drain read 4 KB, not 80 KB.
	leaders []int32
}

// notDense marks a partition the metadata does not list at its index.
const notDense = math.MinInt32

func (lc *leaderCache) leader(topic string, partition int32) (int32, bool) {
	upd := lc.client.MetadataUpdated()
	e := lc.cur.Load()
	if e == nil || e.updated != upd {
		ti, ok := lc.client.CachedTopic(topic)
		if !ok {
			return -1, false
		}
		e = &leaderEntry{updated: upd, topic: topic, leaders: make([]int32, len(ti.Partitions))}
		for i, p := range ti.Partitions {
			e.leaders[i] = notDense
			if p.Partition == int32(i) {
				e.leaders[i] = p.Leader
			}
		}
		lc.cur.Store(e)
	}
	if e.topic == topic && partition >= 0 && int(partition) < len(e.leaders) {
		if l := e.leaders[partition]; l != notDense {
			return l, l >= 0
		}
	}
	node, _, ok := lc.client.Leader(topic, partition)
	return node, ok
}
