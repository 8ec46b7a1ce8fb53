package log

import "sort"

// ProducerInfo is what the log knows of one idempotent producer, the
// fields Kafka's DescribeProducers reports.
type ProducerInfo struct {
	ID            int64
	Epoch         int16
	LastSequence  int32 // -1 when no batch of the epoch is remembered
	LastTimestamp int64 // the last batch's max timestamp; -1 when none
}

// Producers lists the producer state, by producer id.
func (l *Log) Producers() []ProducerInfo {
	l.mu.Lock()
	out := make([]ProducerInfo, 0, len(l.producers))
	for id, e := range l.producers {
		pi := ProducerInfo{ID: id, Epoch: e.epoch, LastSequence: -1, LastTimestamp: -1}
		if m := e.last(); m != nil {
			pi.LastSequence, pi.LastTimestamp = m.lastSeq, m.timestamp
		}
		out = append(out, pi)
	}
	l.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
