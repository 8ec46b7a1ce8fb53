package txncoord

import (
	"slices"
	"strings"
	"time"
)

// Listing is one transactional id as ListTransactions shows it (KIP-664).
type Listing struct {
	TransactionalID string
	ProducerID      int64
	State           State
}

// ListFilter is ListTransactions' filters; the zero value lists everything.
type ListFilter struct {
	// States keeps the ids in one of these states (Kafka's names).
	States []string
	// ProducerIDs keeps the ids with one of these producer ids.
	ProducerIDs []int64
	// MinDuration keeps transactions running for at least this long
	// (KIP-994, ListTransactions v1's DurationFilter). 0 means no filter.
	MinDuration time.Duration
}

// List returns the transactional ids matching f, sorted by id, and the
// state filters it did not know, which Kafka returns as
// UnknownStateFilters instead of failing.
func (c *Coordinator) List(f ListFilter) (list []Listing, unknownStates []string) {
	var states []State
	for _, name := range f.States {
		if s, ok := ParseState(name); ok {
			states = append(states, s)
		} else {
			unknownStates = append(unknownStates, name)
		}
	}
	if len(f.States) > 0 && len(states) == 0 {
		return nil, unknownStates // only unknown states: nothing can match
	}
	now := nowMs()
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, m := range c.txns {
		if len(states) > 0 && !slices.Contains(states, m.state) {
			continue
		}
		if len(f.ProducerIDs) > 0 && !slices.Contains(f.ProducerIDs, m.producerID) {
			continue
		}
		if f.MinDuration > 0 && (m.startMs < 0 || now-m.startMs < f.MinDuration.Milliseconds()) {
			continue
		}
		list = append(list, Listing{TransactionalID: id, ProducerID: m.producerID, State: m.state})
	}
	slices.SortFunc(list, func(a, b Listing) int { return strings.Compare(a.TransactionalID, b.TransactionalID) })
	return list, unknownStates
}
