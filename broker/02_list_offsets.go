package broker

import (
	"math"

	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Special ListOffsets timestamps.
const (
	listLatest        = -1 // the log end offset (the high watermark on one node)
	listEarliest      = -2 // the log start offset
	listMaxTimestamp  = -3 // v7+, KIP-734: the record with the largest timestamp
	listEarliestLocal = -4 // v8+, KIP-405: the first offset on local disk; all of it here
)

// handleListOffsets answers v1..v8. v0 (the old multi-offset form) is gone
// from Kafka 4.0. v9+ add tiered-storage lookups, which a broker without
// tiered storage has no answer for, so they are not advertised.
func handleListOffsets(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	resp.Topics = make([]kmsg.ListOffsetsResponseTopic, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := &resp.Topics[i]
		st.Default()
		st.Topic = rt.Topic
		t := b.topics.byName(rt.Topic)
		st.Partitions = make([]kmsg.ListOffsetsResponseTopicPartition, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			sp.Default()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
			if t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.parts) {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			if r.version >= 4 && rp.CurrentLeaderEpoch > 0 {
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
				continue
			}
			p := t.parts[rp.Partition]
			sp.LeaderEpoch = 0
			switch ts := rp.Timestamp; {
			case ts == listLatest && req.IsolationLevel == 1:
				// read_committed consumers start at the last stable offset.
				sp.Offset = p.log.LastStableOffset()
			case ts == listLatest:
				sp.Offset = p.log.EndOffset()
			case ts == listEarliest || (ts == listEarliestLocal && r.version >= 8):
				sp.Offset = p.log.LogStartOffset()
			case ts == listMaxTimestamp && r.version >= 7:
				off, found, ok, err := maxTimestamp(p)
				switch {
				case err != nil:
					sp.ErrorCode = produceErrorCode(err)
				case ok && req.IsolationLevel == 1 && off >= p.log.LastStableOffset():
					// As for a timestamp below: Kafka looks the largest
					// timestamp up in the whole log, then answers nothing
					// (-1, -1) when its record is at or past the LSO,
					// in a transaction that may yet abort.
				case ok:
					sp.Offset, sp.Timestamp = off, found
				}
			case ts < 0:
				sp.ErrorCode = kerr.InvalidRequest.Code
			default:
				off, found, ok, err := p.log.OffsetForTime(ts)
				switch {
				case err != nil:
					sp.ErrorCode = produceErrorCode(err)
				case ok && req.IsolationLevel == 1 && off >= p.log.LastStableOffset():
					// Kafka's Partition.fetchOffsetForTimestamp: a
					// read_committed lookup finds nothing at or past the
					// LSO (the record may yet be aborted).
				case ok:
					sp.Offset, sp.Timestamp = off, found
				}
			}
		}
	}
	return resp
}

// maxTimestamp finds the first record carrying the log's largest timestamp.
// The log answers "first record with a timestamp >= t" (OffsetForTime,
// which skips whole segments by their largest timestamp), and whether such
// a record exists is monotone in t, so a binary search over the int64 range
// finds the largest timestamp in at most 64 lookups, without the log
// having to track the offset of its maximum.
func maxTimestamp(p *partition) (offset, timestamp int64, ok bool, err error) {
	exists := func(t int64) (bool, error) {
		_, _, ok, err := p.log.OffsetForTime(t)
		return ok, err
	}
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if ok, err := exists(lo); err != nil || !ok {
		return -1, -1, false, err // empty log
	}
	if ok, err := exists(hi); err != nil {
		return -1, -1, false, err
	} else if ok {
		lo = hi
	}
	for lo != hi && uint64(hi)-uint64(lo) > 1 { // invariant: exists(lo), !exists(hi)
		mid := lo + int64((uint64(hi)-uint64(lo))/2)
		ok, err := exists(mid)
		if err != nil {
			return -1, -1, false, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return p.log.OffsetForTime(lo)
}
