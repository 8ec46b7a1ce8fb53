package broker

import (
	"errors"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/log"
	"github.com/skiffkit/skiff/kerr"
)

// fetchRegions is the record data of a Fetch answered on a zero-copy
// connection: instead of reading batches into memory, fetchOp.read pins
// the byte ranges of segment files that hold them (log.Slice), and the
// connection's writer sends those with sendfile. Limits, the first-batch
// rule (KIP-74), read_committed and the aborted transactions list are
// decided exactly as on the copying path, from the same ranges, so both
// paths answer byte for byte the same.
type fetchRegions struct {
	slices []log.Slice
	parts  []regionPart
	// marks holds a byte per partition of the request, the RecordBatches
	// of the partitions with data (see regionPart); sized before the
	// first is taken, never grown after.
	marks []byte
}

var fetchRegionsPool = sync.Pool{New: func() any { return new(fetchRegions) }}

// regionsFor returns the region state of a fetch on c, nil when c copies.
func regionsFor(c *conn) *fetchRegions {
	if c.zc == nil {
		return nil
	}
	return fetchRegionsPool.Get().(*fetchRegions)
}

// reset unpins everything read so far: a fetch that parks in the purgatory
// holds no segment, and reads again when it completes.
func (z *fetchRegions) reset() {
	log.ReleaseSlices(z.slices)
	clear(z.slices)
	z.slices = z.slices[:0]
	clear(z.parts)
	z.parts = z.parts[:0]
}

// readRegions is the zero-copy branch of fetchOp.read for one partition:
// it pins the partition's batches and fills in sp, returning the bytes
// taken and whether the partition failed. A partition with batches gets a
// one-byte mark as its RecordBatches (see regionPart): non-empty, as the
// copying path's would be, for whatever looks at the response before it
// is encoded.
func (o *fetchOp) readRegions(p *partition, rp *kmsg.FetchRequestTopicPartition, sp *kmsg.FetchResponseTopicPartition, limit int, first bool) (n int, failed bool) {
	z := o.zc
	from := len(z.slices)
	var err error
	if o.req.IsolationLevel == 1 {
		z.slices, sp.LastStableOffset, err = p.log.ReadCommittedSlices(rp.FetchOffset, max(limit, 1), z.slices)
	} else {
		z.slices, err = p.log.ReadSlices(rp.FetchOffset, max(limit, 1), z.slices)
	}
	if err != nil {
		switch {
		case errors.Is(err, kerr.OffsetOutOfRange):
			sp.ErrorCode = kerr.OffsetOutOfRange.Code
		case errors.Is(err, log.ErrClosed):
			sp.ErrorCode = kerr.NotLeaderForPartition.Code
		default:
			sp.ErrorCode = kerr.Code(err)
			o.b.log.Warn("fetch read failed", "topic", p.t.name, "partition", p.index, "err", err)
		}
		return 0, true
	}
	got := z.slices[from:]
	for i := range got {
		n += int(got[i].Len)
	}
	drop := func() {
		log.ReleaseSlices(got)
		clear(got)
		z.slices = z.slices[:from]
	}
	if !first && n > limit {
		drop()
		return 0, false // only the first partition may overshoot (KIP-74)
	}
	if n == 0 {
		return 0, false
	}
	if o.req.IsolationLevel == 1 {
		upTo := got[len(got)-1].LastOffset + 1
		list, err := p.log.AbortedTransactions(rp.FetchOffset, upTo, nil)
		if err != nil {
			// As on the copying path: without the list a read_committed
			// consumer would take aborted records as committed.
			drop()
			sp.ErrorCode = produceErrorCode(err)
			return 0, true
		}
		for _, a := range list {
			e := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
			e.ProducerID, e.FirstOffset = a.ProducerID, a.FirstOffset
			sp.AbortedTransactions = append(sp.AbortedTransactions, e)
		}
	}
	if len(z.parts) == 0 {
		all := 0
		for i := range o.req.Topics {
			all += len(o.req.Topics[i].Partitions)
		}
		if cap(z.marks) < all {
			z.marks = make([]byte, all)
		}
		z.marks = z.marks[:all]
	}
	k := len(z.parts)
	z.parts = append(z.parts, regionPart{mark: &z.marks[k], from: from, to: len(z.slices)})
	sp.RecordBatches = z.marks[k : k+1 : k+1]
	return n, false
}

// respondRegions answers the fetch with a frame whose record batches the
// writer sends from the segment files; the frame takes the pinned slices
// over.
func (o *fetchOp) respondRegions(resp *kmsg.FetchResponse) {
	r, z := o.r, o.zc
	o.zc = nil
	defer func() {
		z.slices, z.parts = z.slices[:0], z.parts[:0]
		fetchRegionsPool.Put(z)
	}()
	resp.SetVersion(r.version)
	f := encodeFetchFrame(r.corr, resp, z.parts, z.slices)
	z.reset() // what the frame did not take: partitions no longer in resp
	if t := r.c.b.quotas.table(fetchQuota); (t != nil || r.timed()) && r.c.b.fetchThrottled(r, t, resp, f.size, o.sess) {
		f.release() // the throttled answer went out instead
		return
	}
	if !r.answered.CompareAndSwap(false, true) {
		r.c.b.log.Error("bug: request answered twice", "api_key", r.key, "client", r.clientID)
		f.release()
		return
	}
	o.sess.commit()
	r.c.unwritten.Add(f.size)
	r.c.sendFetchFrame(response{seq: r.seq, fetch: f})
}

// releaseRegions unpins what the op read; the op keeps its region state
// for a read after the purgatory.
func (o *fetchOp) releaseRegions() {
	if z := o.zc; z != nil {
		z.reset()
	}
}
