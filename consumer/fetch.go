package consumer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/compress"
	"github.com/skiffkit/skiff/internal/wire"
	"github.com/skiffkit/skiff/kerr"
)

// chunk is the decoded records of one partition from one fetch response.
type chunk struct {
	ps    *partState
	gen   uint64
	seq   uint64 // position among the partition's chunks
	recs  []Record
	pos   int   // records before pos were returned
	next  int64 // offset after the last batch, control batches included
	bytes int   // raw batch bytes, counted against fetch.max.bytes
}

// fetchPart is one partition of a fetch request, as planned.
type fetchPart struct {
	ps     *partState
	gen    uint64
	offset int64
	epoch  int32
	topic  [16]byte
}

// fetchLoop owns the decision of what to fetch: it resolves positions and
// leaders, then keeps one fetch in flight per broker for the fetchable
// partitions it leads, while buffered data stays below fetch.max.bytes.
func (c *Consumer) fetchLoop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := c.resolve()
		if d := c.dispatch(); d < wait {
			wait = d
		}
		timer.Reset(wait)
		select {
		case <-c.ctx.Done():
			return
		case <-c.wakeFetch:
		case <-timer.C:
		}
	}
}

// dispatch starts a fetch for every broker that has fetchable partitions
// and none in flight. It returns how long until a backed-off partition may
// be fetched again.
func (c *Consumer) dispatch() time.Duration {
	now := time.Now()
	wait := time.Hour
	c.mu.Lock()
	if c.closed || c.queueBytes >= int(c.cfg.FetchMaxBytes) {
		c.mu.Unlock()
		return wait
	}
	var plans map[int32][]fetchPart
	for _, ps := range c.parts {
		if ps.state != posReady || ps.held || ps.paused || ps.inflight || ps.leader < 0 || c.inflightNodes[ps.leader] {
			continue
		}
		if d := ps.retryAt.Sub(now); d > 0 {
			wait = min(wait, d)
			continue
		}
		if plans == nil {
			plans = make(map[int32][]fetchPart)
		}
		plans[ps.leader] = append(plans[ps.leader], fetchPart{ps: ps, gen: ps.gen, offset: ps.fetchOffset, epoch: ps.leaderEpoch, topic: ps.topicID})
	}
	sessions := make(map[int32]*fetchSession, len(plans))
	for node, parts := range plans {
		c.inflightNodes[node] = true
		for _, fp := range parts {
			fp.ps.inflight = true
		}
		sessions[node] = c.sessionForLocked(node)
	}
	c.mu.Unlock()
	for node, parts := range plans {
		sess := sessions[node]
		c.goFunc(func() { c.fetch(node, sess, parts) })
	}
	return wait
}

// fetchRequest builds the Fetch for parts, sorted in place. With a session
// (fetch_session.go) it lists only what the broker's session lacks.
func (c *Consumer) fetchRequest(sess *fetchSession, parts []fetchPart) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = int32(c.cfg.FetchMaxWait / time.Millisecond)
	req.MinBytes = c.cfg.FetchMinBytes
	req.MaxBytes = c.cfg.FetchMaxBytes
	req.IsolationLevel = int8(c.cfg.IsolationLevel)
	if c.cfg.ClientRack != "" {
		req.Rack = c.cfg.ClientRack
	}
	// Sort so each topic is one entry and the order is deterministic.
	slices.SortFunc(parts, func(a, b fetchPart) int {
		if a.ps.tp.Topic != b.ps.tp.Topic {
			if a.ps.tp.Topic < b.ps.tp.Topic {
				return -1
			}
			return 1
		}
		return int(a.ps.tp.Partition - b.ps.tp.Partition)
	})
	for _, fp := range sess.fill(req, parts, c.cfg.MaxPartitionFetchBytes) {
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != fp.ps.tp.Topic {
			t := kmsg.NewFetchRequestTopic()
			t.Topic = fp.ps.tp.Topic
			t.TopicID = fp.topic
			req.Topics = append(req.Topics, t)
		}
		p := kmsg.NewFetchRequestTopicPartition()
		p.Partition = fp.ps.tp.Partition
		p.CurrentLeaderEpoch = fp.epoch
		p.FetchOffset = fp.offset
		p.LastFetchedEpoch = -1
		p.LogStartOffset = -1
		p.PartitionMaxBytes = c.cfg.MaxPartitionFetchBytes
		t := &req.Topics[len(req.Topics)-1]
		t.Partitions = append(t.Partitions, p)
	}
	return req
}

// fetchResult is one partition's outcome of a fetch.
type fetchResult struct {
	fp      *fetchPart
	rp      *kmsg.FetchResponseTopicPartition
	err     error  // the partition's error code
	next    int64  // offset after the last complete batch
	seq     uint64 // order of this partition's chunks
	scanErr bool   // a batch header is broken: decode reports it
	take    bool   // accepted in advance: decode and queue it
}

// fetch runs one Fetch against node. As soon as the response arrives it
// moves the partitions' fetch offsets past the complete batches (a header
// scan, no decoding) and frees the broker for the next fetch; decoding then
// overlaps that next round trip. Chunks carry a per-partition sequence so
// Poll returns them in offset order whatever order decoding finishes in.
func (c *Consumer) fetch(node int32, sess *fetchSession, parts []fetchPart) {
	req := c.fetchRequest(sess, parts)
	// Fetch v4 is the first that carries record batch v2 semantics
	// (isolation level, last stable offset); below it, fail clearly.
	kresp, err := c.cl.requestNode(c.ctx, node, wire.MinVersion(req, 4))
	results := make([]fetchResult, len(parts))
	for i := range parts {
		results[i].fp = &parts[i]
	}
	if err == nil {
		resp := kresp.(*kmsg.FetchResponse)
		if serr := sess.answered(resp); serr != nil {
			// The session was evicted, or the epochs disagree: the
			// next fetch is a full one, at once. Nothing was read.
			c.log.Debug("fetch session reset", "broker", node, "err", serr)
			if errors.Is(serr, kerr.FetchSessionTopicIDError) {
				c.cl.invalidate()
			}
			c.advance(node, results, nil)
			return
		}
		if err = kerr.ForCode(resp.ErrorCode); err == nil {
			c.scanResponse(resp, parts, results)
		}
	} else {
		sess.failed()
	}
	c.advance(node, results, err)
	if err != nil {
		return
	}
	var dec batch.Decoder
	chunks := make([]*chunk, len(results))
	errs := make([]error, len(results))
	any := false
	for i := range results {
		if res := &results[i]; res.take {
			chunks[i], errs[i] = c.decodePartition(&dec, res.fp, res.rp)
			chunks[i].seq = res.seq
			any = true
		}
	}
	if any {
		c.queueChunks(chunks, errs)
	}
}

// scanResponse matches the response's partitions to the request and finds
// where each partition's complete batches end.
func (c *Consumer) scanResponse(resp *kmsg.FetchResponse, parts []fetchPart, results []fetchResult) {
	byTP := make(map[TopicPartition]int, len(parts))
	byID := make(map[[16]byte]string)
	for j := range parts {
		byTP[parts[j].ps.tp] = j
		byID[parts[j].topic] = parts[j].ps.tp.Topic
	}
	for ti := range resp.Topics {
		rt := &resp.Topics[ti]
		topic := rt.Topic
		if topic == "" {
			topic = byID[rt.TopicID] // Fetch v13+ names topics by id
		}
		for pi := range rt.Partitions {
			rp := &rt.Partitions[pi]
			j, ok := byTP[TopicPartition{topic, rp.Partition}]
			if !ok {
				continue // not asked for: ignore, as Java does
			}
			res := &results[j]
			res.rp = rp
			if res.err = kerr.ForCode(rp.ErrorCode); res.err != nil {
				continue
			}
			res.next = parts[j].offset
			for b := rp.RecordBatches; len(b) > 0; {
				_, rest, h, err := batch.Next(b)
				if errors.Is(err, batch.ErrShort) {
					break
				}
				if err != nil {
					res.scanErr = true
					break
				}
				res.next = max(res.next, h.LastOffset()+1)
				b = rest
			}
		}
	}
}

// advance applies the scan under the lock: fetch offsets move, errors are
// handled, the broker is free for the next fetch.
func (c *Consumer) advance(node int32, results []fetchResult, reqErr error) {
	now := time.Now()
	refresh := reqErr != nil
	c.mu.Lock()
	delete(c.inflightNodes, node)
	for i := range results {
		res := &results[i]
		fp := res.fp
		ps := fp.ps
		if ps.gen != fp.gen || ps.removed {
			continue // seeked, revoked or reassigned meanwhile
		}
		ps.inflight = false
		if reqErr != nil {
			ps.retryAt = now.Add(c.cfg.RetryBackoff)
			ps.leader = -1
			continue
		}
		if res.rp == nil {
			continue
		}
		if res.err != nil {
			refresh = c.fetchErrLocked(ps, res.err, now) || refresh
			continue
		}
		if res.next > fp.offset || res.scanErr {
			res.take = true
			res.seq = ps.fetchSeq
			ps.fetchSeq++
			ps.fetchOffset = res.next
			c.queueBytes += len(res.rp.RecordBatches)
		}
	}
	c.mu.Unlock()
	if reqErr != nil && c.ctx.Err() == nil {
		c.logRetry("fetch failed; retrying", reqErr, "broker", node)
	}
	if refresh {
		c.cl.invalidate()
	}
	signal(c.wakeFetch)
}

// queueChunks hands decoded chunks to Poll. A chunk whose decoding failed
// keeps the records before the bad batch; the partition stops there
// (chunks after it are dropped) and Poll reports the error.
func (c *Consumer) queueChunks(chunks []*chunk, errs []error) {
	c.mu.Lock()
	for i, ch := range chunks {
		if ch == nil {
			continue
		}
		ps := ch.ps
		if ps.gen != ch.gen || ps.removed || ch.seq > ps.stopSeq {
			c.queueBytes -= ch.bytes
			continue
		}
		if n := len(ch.recs); n > 0 {
			ps.fetchEpoch = ch.recs[n-1].LeaderEpoch
		}
		c.queue = append(c.queue, ch)
		if err := errs[i]; err != nil {
			ps.stopSeq = ch.seq
			ps.state = posFailed
			ps.fetchOffset = ch.next
			c.pushErrLocked(fmt.Errorf("consumer: %w (Seek past it to continue)", err))
		}
	}
	c.mu.Unlock()
	signal(c.wakePoll)
}

// decodePartition decodes one partition's record batches into a chunk. It
// allocates the chunk's record slice once, sized by the batch headers, and
// one header arena; keys and values alias the response or the decompressed
// batch.
func (c *Consumer) decodePartition(dec *batch.Decoder, fp *fetchPart, rp *kmsg.FetchResponseTopicPartition) (*chunk, error) {
	data := rp.RecordBatches
	n := 0
	for b := data; len(b) > 0; {
		_, rest, h, err := batch.Next(b)
		if err != nil {
			break
		}
		if !h.IsControl() {
			// The header's count sizes the slice, bounded by what the
			// bytes can hold (a record takes at least 7 bytes; compressed
			// ones at least one), so a lying header cannot make us
			// allocate gigabytes. append grows past a low hint.
			bound := h.Size() / 7
			if h.Codec() != compress.None {
				bound = h.Size()
			}
			n += min(int(h.NumRecords), bound)
		}
		b = rest
	}
	ch := &chunk{ps: fp.ps, gen: fp.gen, next: fp.offset, bytes: len(data)}
	if n > 0 {
		ch.recs = make([]Record, 0, n)
	}
	var aborted *abortTracker
	if c.cfg.IsolationLevel == ReadCommitted && len(rp.AbortedTransactions) > 0 {
		aborted = newAbortTracker(rp.AbortedTransactions)
	}
	topic, partition := fp.ps.tp.Topic, fp.ps.tp.Partition
	// One sink and one method value per partition, not a closure per
	// batch: the callback escapes into the decoder.
	sink := &recordSink{ch: ch, topic: topic, partition: partition, from: fp.offset}
	add := sink.add
	for b := data; len(b) > 0; {
		raw, rest, h, err := batch.Next(b)
		if errors.Is(err, batch.ErrShort) {
			break // the response was cut at its size limit
		}
		if err != nil {
			return ch, fmt.Errorf("fetch %s[%d] at offset %d: %w", topic, partition, ch.next, err)
		}
		b = rest
		if h.LastOffset() < fp.offset {
			continue // a batch before the fetch offset, re-sent whole
		}
		if _, err := batch.Validate(raw); err != nil {
			return ch, fmt.Errorf("fetch %s[%d] batch at offset %d: %w", topic, partition, h.BaseOffset, err)
		}
		if aborted != nil && aborted.skip(dec, raw, &h) {
			ch.next = h.LastOffset() + 1
			continue
		}
		if h.IsControl() {
			ch.next = h.LastOffset() + 1
			continue
		}
		if err := dec.Records(raw, add); err != nil {
			return ch, fmt.Errorf("fetch %s[%d] batch at offset %d: %w", topic, partition, h.BaseOffset, err)
		}
		ch.next = h.LastOffset() + 1
	}
	return ch, nil
}

// recordSink appends decoded records to a chunk.
type recordSink struct {
	ch        *chunk
	hdrs      []Header // arena the records' Headers slice
	topic     string
	partition int32
	from      int64 // records before the fetch offset are skipped
}

func (s *recordSink) add(h *batch.Header, r *batch.Record) error {
	if r.Offset < s.from {
		return nil
	}
	// Fill the slot in place: one store per field, no temporary Record
	// moved with bulk write barriers.
	i := len(s.ch.recs)
	if i == cap(s.ch.recs) {
		s.ch.recs = append(s.ch.recs, Record{})
	} else {
		s.ch.recs = s.ch.recs[:i+1]
	}
	rec := &s.ch.recs[i]
	rec.Topic = s.topic
	rec.Partition = s.partition
	rec.Offset = r.Offset
	rec.Key = r.Key
	rec.Value = r.Value
	// UTC keeps the location pointer nil: less for the GC to follow.
	rec.Timestamp = time.UnixMilli(r.Timestamp).UTC()
	rec.LeaderEpoch = h.PartitionLeaderEpoch
	if len(r.Headers) > 0 {
		start := len(s.hdrs)
		for _, rh := range r.Headers {
			s.hdrs = append(s.hdrs, Header(rh))
		}
		rec.Headers = s.hdrs[start:len(s.hdrs):len(s.hdrs)]
	}
	return nil
}

// abortTracker skips the batches of aborted transactions in a
// read_committed fetch, as Java's Fetcher does: a producer becomes aborted
// at its first aborted offset, and stays so until its abort marker.
type abortTracker struct {
	txns    []kmsg.FetchResponseTopicPartitionAbortedTransaction
	aborted map[int64]bool
}

func newAbortTracker(txns []kmsg.FetchResponseTopicPartitionAbortedTransaction) *abortTracker {
	t := &abortTracker{txns: slices.Clone(txns), aborted: make(map[int64]bool)}
	slices.SortFunc(t.txns, func(a, b kmsg.FetchResponseTopicPartitionAbortedTransaction) int {
		switch {
		case a.FirstOffset < b.FirstOffset:
			return -1
		case a.FirstOffset > b.FirstOffset:
			return 1
		}
		return 0
	})
	return t
}

func (t *abortTracker) skip(dec *batch.Decoder, raw []byte, h *batch.Header) bool {
	for len(t.txns) > 0 && t.txns[0].FirstOffset <= h.LastOffset() {
		t.aborted[t.txns[0].ProducerID] = true
		t.txns = t.txns[1:]
	}
	if !h.IsTransactional() || !t.aborted[h.ProducerID] {
		return false
	}
	if h.IsControl() {
		// The control record key is version int16, type int16 (0 abort).
		_ = dec.Records(raw, func(_ *batch.Header, r *batch.Record) error {
			if len(r.Key) >= 4 && binary.BigEndian.Uint16(r.Key[2:]) == 0 {
				delete(t.aborted, h.ProducerID)
			}
			return nil
		})
		return true
	}
	return true
}

// fetchErrLocked handles one partition's fetch error and reports whether
// metadata must be refreshed.
func (c *Consumer) fetchErrLocked(ps *partState, err error, now time.Time) bool {
	ps.retryAt = now.Add(c.cfg.RetryBackoff)
	switch {
	case errors.Is(err, kerr.OffsetOutOfRange):
		if reset := c.cfg.resetOffset(); reset != 0 {
			c.log.Info("fetch offset out of range; resetting", "partition", ps.tp.String(), "offset", ps.fetchOffset, "reset", c.cfg.AutoOffsetReset)
			ps.state, ps.resetTo = posNeedReset, reset
			ps.retryAt = time.Time{}
			return false
		}
		ps.state = posFailed
		c.pushErrLocked(fmt.Errorf("fetch %s at offset %d: %w: %w", ps.tp, ps.fetchOffset, ErrOffsetOutOfRange, err))
		return false
	case errors.Is(err, kerr.NotLeaderForPartition), errors.Is(err, kerr.FencedLeaderEpoch),
		errors.Is(err, kerr.UnknownLeaderEpoch), errors.Is(err, kerr.UnknownTopicOrPartition),
		errors.Is(err, kerr.UnknownTopicID), errors.Is(err, kerr.InconsistentTopicID),
		errors.Is(err, kerr.LeaderNotAvailable), errors.Is(err, kerr.ReplicaNotAvailable),
		errors.Is(err, kerr.KafkaStorageError), errors.Is(err, kerr.OffsetNotAvailable):
		// The leader moved or the broker is behind: refresh metadata
		// and fetch from whoever leads now.
		ps.leader = -1
		return true
	case kerr.IsRetriable(err):
		return false
	default:
		ps.state = posFailed
		c.pushErrLocked(fmt.Errorf("fetch %s: %w", ps.tp, err))
		return false
	}
}
