package broker

import (
	"encoding/binary"
	"sync"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/log"
)

// fetchFrame is a Fetch response on its way to a zero-copy connection: the
// in-memory bytes of the frame with, spliced in at recorded places, byte
// ranges of segment files that the writer sends with sendfile(2), so record
// batches go from the page cache to the socket without passing through
// user space (Kafka's FileRecords.writeTo / TransferableRecords).
//
//	buf:   | size | corr | header tags | ... partition fields | len | ... | tags
//	                                                              ^ splice: segment file bytes go here
//
// size counts the spliced bytes, so the frame on the wire is exactly the
// one kmsg would encode with the bytes in RecordBatches.
type fetchFrame struct {
	buf     *[]byte // from framePool: every byte that is not in a file
	splices []fetchSplice
	size    int64 // the frame's bytes on the wire, size prefix included
	// copied, from fetchDataPool, holds the small ranges the writer read
	// into memory instead of sending them with sendfile (writeFetchFrame);
	// nil until it does.
	copied *[]byte
}

// fetchSplice puts the bytes of sl at offset at of the frame's buf (before
// the byte that is at at). Consecutive splices at the same offset are one
// partition's batches spanning a segment roll.
type fetchSplice struct {
	at int
	sl log.Slice
}

var fetchFrames = sync.Pool{New: func() any { return new(fetchFrame) }}

// release gives the frame's buffer back and unpins its segments: after
// the write, or instead of it when the connection is gone.
func (f *fetchFrame) release() {
	for i := range f.splices {
		f.splices[i].sl.Release()
	}
	clear(f.splices)
	f.splices = f.splices[:0]
	if f.buf != nil {
		framePool.put(f.buf)
		f.buf = nil
	}
	if f.copied != nil {
		fetchDataPool.put(f.copied)
		f.copied = nil
	}
	f.size = 0
	fetchFrames.Put(f)
}

// regionPart is one partition of a response whose record batches are
// slices[from:to] of its fetchRegions. The partition's RecordBatches holds
// one byte of the fetch's marks, the part's mark: it stands for the batches
// (non-empty, as they are), and finds its part again even if the
// partition struct was copied or the response rebuilt around it, as a
// fetch session may do.
type regionPart struct {
	mark     *byte
	from, to int
}

// regionFor is the part whose mark b is, nil when b is not a mark.
func regionFor(parts []regionPart, b []byte) *regionPart {
	if len(b) != 1 {
		return nil
	}
	for i := range parts {
		if parts[i].mark == &b[0] {
			return &parts[i]
		}
	}
	return nil
}

// encodeFetchFrame encodes resp (its version set) as the response frame of
// correlation id corr, taking the record batches of a partition whose
// RecordBatches is the mark of one of parts from slices instead. The
// frame takes over those slices: each is zeroed in slices, and the caller
// releases whatever is left there (parts whose partition the response no
// longer holds).
//
// This is kmsg's FetchResponse.AppendTo (v4 to v18) and
// reqframe.AppendResponse with the record bytes left out; a test checks
// them byte for byte against kmsg for every version the broker serves.
func encodeFetchFrame(corr int32, resp *kmsg.FetchResponse, parts []regionPart, slices []log.Slice) *fetchFrame {
	f := fetchFrames.Get().(*fetchFrame)
	f.buf = framePool.get()
	version := resp.Version
	flex := version >= 12
	dst := (*f.buf)[:0]
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	if flex {
		dst = append(dst, 0) // response header v1: no tags
	}
	if version >= 1 {
		dst = kbin.AppendInt32(dst, resp.ThrottleMillis)
	}
	if version >= 7 {
		dst = kbin.AppendInt16(dst, resp.ErrorCode)
		dst = kbin.AppendInt32(dst, resp.SessionID)
	}
	var spliced int64
	dst = appendLen(dst, len(resp.Topics), flex)
	for i := range resp.Topics {
		t := &resp.Topics[i]
		if version <= 12 {
			dst = appendStr(dst, t.Topic, flex)
		} else {
			dst = kbin.AppendUuid(dst, t.TopicID)
		}
		dst = appendLen(dst, len(t.Partitions), flex)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			dst = kbin.AppendInt32(dst, p.Partition)
			dst = kbin.AppendInt16(dst, p.ErrorCode)
			dst = kbin.AppendInt64(dst, p.HighWatermark)
			if version >= 4 {
				dst = kbin.AppendInt64(dst, p.LastStableOffset)
			}
			if version >= 5 {
				dst = kbin.AppendInt64(dst, p.LogStartOffset)
			}
			if version >= 4 {
				a := p.AbortedTransactions
				if flex {
					dst = kbin.AppendCompactNullableArrayLen(dst, len(a), a == nil)
				} else {
					dst = kbin.AppendNullableArrayLen(dst, len(a), a == nil)
				}
				for k := range a {
					dst = kbin.AppendInt64(dst, a[k].ProducerID)
					dst = kbin.AppendInt64(dst, a[k].FirstOffset)
					if flex {
						dst = appendTagsWithCount(dst, &a[k].UnknownTags)
					}
				}
			}
			if version >= 11 {
				dst = kbin.AppendInt32(dst, p.PreferredReadReplica)
			}
			if rp := regionFor(parts, p.RecordBatches); rp != nil && rp.from >= 0 {
				var n int64
				for k := rp.from; k < rp.to; k++ {
					n += slices[k].Len
				}
				dst = appendBytesLen(dst, int(n), flex)
				for k := rp.from; k < rp.to; k++ {
					f.splices = append(f.splices, fetchSplice{at: len(dst), sl: slices[k]})
					slices[k] = log.Slice{}
				}
				rp.from = -1 // taken: a partition listed twice must not send it twice
				spliced += n
			} else {
				b := p.RecordBatches
				switch {
				case b == nil && flex:
					dst = append(dst, 0)
				case b == nil:
					dst = kbin.AppendInt32(dst, -1)
				default:
					dst = appendBytesLen(dst, len(b), flex)
					dst = append(dst, b...)
				}
			}
			if flex {
				dst = appendPartitionTags(dst, p)
			}
		}
		if flex {
			dst = appendTagsWithCount(dst, &t.UnknownTags)
		}
	}
	if flex {
		dst = appendResponseTags(dst, resp)
	}
	size := int64(len(dst)) - 4 + spliced
	binary.BigEndian.PutUint32(dst, uint32(size))
	*f.buf = dst
	f.size = size + 4
	return f
}

func appendLen(dst []byte, n int, flex bool) []byte {
	if flex {
		return kbin.AppendCompactArrayLen(dst, n)
	}
	return kbin.AppendArrayLen(dst, n)
}

func appendStr(dst []byte, s string, flex bool) []byte {
	if flex {
		dst = kbin.AppendUvarint(dst, 1+uint32(len(s)))
	} else {
		dst = kbin.AppendInt16(dst, int16(len(s)))
	}
	return append(dst, s...)
}

func appendBytesLen(dst []byte, n int, flex bool) []byte {
	if flex {
		return kbin.AppendUvarint(dst, 1+uint32(n))
	}
	return kbin.AppendInt32(dst, int32(n))
}

func appendTagsWithCount(dst []byte, t *kmsg.Tags) []byte {
	dst = kbin.AppendUvarint(dst, uint32(t.Len()))
	return t.AppendEach(dst)
}

// appendPartitionTags is the tag section of a flexible partition:
// DivergingEpoch (0), CurrentLeader (1) and SnapshotID (2) when not at
// their defaults, then unknown tags, as kmsg writes them.
func appendPartitionTags(dst []byte, p *kmsg.FetchResponseTopicPartition) []byte {
	de, cl, si := &p.DivergingEpoch, &p.CurrentLeader, &p.SnapshotID
	hasDE := de.Epoch != -1 || de.EndOffset != -1 || de.UnknownTags.Len() > 0
	hasCL := cl.LeaderID != -1 || cl.LeaderEpoch != -1 || cl.UnknownTags.Len() > 0
	hasSI := si.EndOffset != -1 || si.Epoch != -1 || si.UnknownTags.Len() > 0
	n := p.UnknownTags.Len()
	for _, has := range [...]bool{hasDE, hasCL, hasSI} {
		if has {
			n++
		}
	}
	dst = kbin.AppendUvarint(dst, uint32(n))
	// Each tagged field is its tag, its length, and its body.
	if hasDE {
		body := kbin.AppendInt64(kbin.AppendInt32(nil, de.Epoch), de.EndOffset)
		dst = appendTagged(dst, 0, appendTagsWithCount(body, &de.UnknownTags))
	}
	if hasCL {
		body := kbin.AppendInt32(kbin.AppendInt32(nil, cl.LeaderID), cl.LeaderEpoch)
		dst = appendTagged(dst, 1, appendTagsWithCount(body, &cl.UnknownTags))
	}
	if hasSI {
		body := kbin.AppendInt32(kbin.AppendInt64(nil, si.EndOffset), si.Epoch)
		dst = appendTagged(dst, 2, appendTagsWithCount(body, &si.UnknownTags))
	}
	return p.UnknownTags.AppendEach(dst)
}

// appendResponseTags is the response's tag section: NodeEndpoints (0)
// when there are any (KIP-951), then unknown tags.
func appendResponseTags(dst []byte, resp *kmsg.FetchResponse) []byte {
	n := resp.UnknownTags.Len()
	if len(resp.Brokers) > 0 {
		n++
	}
	dst = kbin.AppendUvarint(dst, uint32(n))
	if len(resp.Brokers) > 0 {
		body := kbin.AppendCompactArrayLen(nil, len(resp.Brokers))
		for i := range resp.Brokers {
			b := &resp.Brokers[i]
			body = kbin.AppendInt32(body, b.NodeID)
			body = appendStr(body, b.Host, true)
			body = kbin.AppendInt32(body, b.Port)
			if b.Rack == nil {
				body = append(body, 0)
			} else {
				body = appendStr(body, *b.Rack, true)
			}
			body = appendTagsWithCount(body, &b.UnknownTags)
		}
		dst = appendTagged(dst, 0, body)
	}
	return resp.UnknownTags.AppendEach(dst)
}

func appendTagged(dst []byte, tag uint32, body []byte) []byte {
	dst = kbin.AppendUvarint(dst, tag)
	dst = kbin.AppendUvarint(dst, uint32(len(body)))
	return append(dst, body...)
}
