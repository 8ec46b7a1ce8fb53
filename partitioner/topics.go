package partitioner

import (
	"maps"
	"sync"
	"sync/atomic"
)

// topicMap holds per-topic state for the hot path without a lock per
// record: readers load an immutable map through an atomic pointer and
// index it (no allocation; sync.Map would box the string key). Only the
// first record of a new topic takes mu, to publish a copy with the topic
// added, so the cost is one copy per topic over the producer's life.
type topicMap[T any] struct {
	m  atomic.Pointer[map[string]*T]
	mu sync.Mutex // serializes writers; readers never take it
}

func (t *topicMap[T]) get(topic string, init func() *T) *T {
	if m := t.m.Load(); m != nil {
		if s, ok := (*m)[topic]; ok {
			return s
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.m.Load()
	if old != nil {
		if s, ok := (*old)[topic]; ok {
			return s
		}
	}
	next := make(map[string]*T)
	if old != nil {
		maps.Copy(next, *old)
	}
	s := init()
	next[topic] = s
	t.m.Store(&next)
	return s
}
