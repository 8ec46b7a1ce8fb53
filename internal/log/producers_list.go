package log

import (
	"cmp"
	"slices"
)

// ProducerInfo is the state of one producer id, the fields of a
// DescribeProducers (KIP-664) response.
type ProducerInfo struct {
	ProducerID    int64
	ProducerEpoch int16
	// LastSequence is the last sequence of the producer's last batch, -1
	// when none of its epoch is known.
	LastSequence int32
	// LastTimestamp is the max timestamp of its last batch, -1 when
	// unknown.
	LastTimestamp    int64
	CoordinatorEpoch int32 // -1: no transaction markers here
	TxnStartOffset   int64 // -1: no transactions here
}

// Producers appends to dst the state of every producer the log knows, in
// ascending producer id, for DescribeProducers.
func (l *Log) Producers(dst []ProducerInfo) []ProducerInfo {
	l.mu.Lock()
	start := len(dst)
	for id, e := range l.producers {
		p := ProducerInfo{ProducerID: id, ProducerEpoch: e.epoch, LastSequence: -1, LastTimestamp: -1, CoordinatorEpoch: -1, TxnStartOffset: -1}
		if m := e.last(); m != nil {
			p.LastSequence, p.LastTimestamp = m.lastSeq, m.timestamp
		}
		dst = append(dst, p)
	}
	l.mu.Unlock()
	slices.SortFunc(dst[start:], func(a, b ProducerInfo) int { return cmp.Compare(a.ProducerID, b.ProducerID) })
	return dst
}
