package broker

import (
	"errors"
	"time"

	"github.com/skiffkit/skiff/internal/log"
	"github.com/skiffkit/skiff/internal/purgatory"
	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleFetch reads every requested partition; when fewer than
// fetch.min.bytes are there it parks the request in the purgatory, where an
// append to any of its partitions or fetch.max.wait.ms answers it.
//
// Fetch sessions (KIP-227, fetch_session.go) sit at both ends: the request's
// session context chooses the partitions to read (all of an incremental
// fetch's session, not only those it lists), and the response passes
// through the context once, when it is sent, which creates the session of
// a full fetch or keeps an incremental fetch's changed partitions only.
func handleFetch(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.FetchRequest)
	fc, code := b.fetchSessions.newFetchContext(r.version, req)
	if code != 0 {
		// Kafka's SessionErrorContext: the code, session id 0, no topics.
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = code
		return resp
	}
	req = fc.view

	// Resolve partitions once; the parked op re-reads the same ones.
	parts := make([][]*partition, len(req.Topics))
	keys := make([]purgatory.Key, 0, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		var t *topic
		if r.version >= 13 {
			t = b.topics.byID(rt.TopicID)
		} else {
			t = b.topics.byName(rt.Topic)
		}
		parts[i] = make([]*partition, len(rt.Partitions))
		if t == nil {
			continue
		}
		for j, rp := range rt.Partitions {
			if rp.Partition >= 0 && int(rp.Partition) < len(t.parts) {
				p := t.parts[rp.Partition]
				parts[i][j] = p
				keys = append(keys, p.key)
			}
		}
	}

	op := &fetchOp{b: b, r: r, req: req, sess: fc, parts: parts, zc: regionsFor(r.c)}
	op.snapshot()
	resp, bytes, errored := op.read()
	if errored || bytes >= int(req.MinBytes) || req.MaxWaitMillis <= 0 || len(keys) == 0 {
		op.respond(resp)
		return nil
	}
	op.releaseData()
	op.have = bytes
	b.purg.Watch(keys, op, time.Now().Add(time.Duration(req.MaxWaitMillis)*time.Millisecond))
	return nil
}

// fetchOp is a fetch waiting for fetch.min.bytes.
type fetchOp struct {
	b     *Broker
	r     *request
	req   *kmsg.FetchRequest // what to read: the session context's view
	sess  *fetchContext      // shapes the response; finished once, in respond
	parts [][]*partition     // by request topic and partition; nil when unknown

	// base is each partition's appended counter before the first read, and
	// have the bytes that read found: have plus what was appended since is
	// what a read would find now, without reading (fetch.min.bytes).
	base [][]int64
	have int

	// data holds the record batches of every partition of the response
	// being built, from fetchDataPool; the response's RecordBatches alias
	// it until the response is encoded into its frame.
	data *[]byte
	// zc, on a zero-copy connection, holds pinned segment ranges instead
	// of data (sendfile_fetch.go).
	zc *fetchRegions
}

// respond encodes resp, which aliases o.data, and gives o.data back. The
// fetch session sees the response first, exactly once, whether it was
// answered at once or after waiting in the purgatory.
func (o *fetchOp) respond(resp *kmsg.FetchResponse) {
	// The session shapes the handler's answer first, while its topics are
	// still the view's in order; then the authorizer's answers (withheld
	// topics, redactions) go in, once, as both paths below encode resp
	// themselves; the session commits only if the answer is not throttled.
	o.sess.prepare(resp)
	if done := o.r.authzDone; done != nil {
		o.r.authzDone = nil
		done(resp)
	}
	if o.zc != nil {
		o.respondRegions(resp) // sendfile_fetch.go
	} else {
		o.b.respondFetch(o.r, resp, o.sess) // consumer_byte_rate (throttle_conn.go)
	}
	o.releaseData()
}

func (o *fetchOp) releaseData() {
	o.releaseRegions()
	bp := o.data
	if bp == nil {
		return
	}
	o.data = nil
	fetchDataPool.put(bp)
}

func (o *fetchOp) snapshot() {
	o.base = make([][]int64, len(o.parts))
	for i, ps := range o.parts {
		o.base[i] = make([]int64, len(ps))
		for j, p := range ps {
			if p != nil {
				o.base[i][j] = p.appended.Load()
			}
		}
	}
}

func (o *fetchOp) TryComplete() bool {
	n := int64(o.have)
	for i, ps := range o.parts {
		for j, p := range ps {
			if p == nil {
				continue
			}
			if p.deleted.Load() {
				return true // answer UNKNOWN_TOPIC_OR_PARTITION now
			}
			n += p.appended.Load() - o.base[i][j]
		}
	}
	return n >= int64(o.req.MinBytes)
}

func (o *fetchOp) OnComplete() { o.answer() }
func (o *fetchOp) OnExpire()   { o.answer() }

func (o *fetchOp) answer() {
	resp, _, _ := o.read()
	o.respond(resp)
}

// read builds the response from the logs as they are now. It reports the
// record bytes read and whether any partition failed (which answers the
// fetch at once, as Kafka does).
//
// Limits (KIP-74): the response holds at most min(MaxBytes, fetch.max.bytes
// less the connection's unwritten answers) of batches and each partition at
// most PartitionMaxBytes, except that the
// first batch of the first partition with data is returned whole, however
// large, so a big batch cannot stall a consumer; that batch passed the
// topic's max.message.bytes (message.max.bytes) when it was produced, which
// bounds the overshoot. Later partitions only get what fits.
func (o *fetchOp) read() (resp *kmsg.FetchResponse, total int, errored bool) {
	req, version := o.req, o.r.version
	resp = req.ResponseKind().(*kmsg.FetchResponse)
	// fetch.max.bytes caps what the client asks for (KIP-541), as Kafka's
	// KafkaApis takes min(request max_bytes, fetch.max.bytes): without it
	// a max_bytes of 2^31-1 reads a whole log into one buffer. Versions
	// before 3 have no max_bytes and get the cap alone.
	budget := int(o.b.cfg.FetchMaxBytes)
	if version >= 3 && req.MaxBytes > 0 {
		budget = min(budget, int(req.MaxBytes))
	}
	// fetch.max.bytes also bounds what one connection holds in answers not
	// yet written: Kafka mutes a connection until its answer is sent, so it
	// holds one response at most; pipelining up to maxInFlight fetches
	// here must not multiply that. A fetch behind unread answers gets what
	// is left (its first batch at least, as always).
	budget = min(budget, int(int64(o.b.cfg.FetchMaxBytes)-o.r.c.unwritten.Load()))
	budget = min(budget, o.b.fetchQuotaBytes(o.r)) // consumer_byte_rate's window
	resp.Topics = make([]kmsg.FetchResponseTopic, len(req.Topics))
	// Every partition's batches are read into one pooled buffer; a
	// partition's slice is taken only once the buffer stops growing.
	if o.data == nil {
		o.data = fetchDataPool.get()
	}
	buf := (*o.data)[:0]
	type span struct {
		sp         *kmsg.FetchResponseTopicPartition
		start, end int
	}
	var spansArr [8]span
	spans := spansArr[:0]
	defer func() {
		for _, x := range spans {
			x.sp.RecordBatches = buf[x.start:x.end:x.end]
		}
		*o.data = buf
	}()
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := &resp.Topics[i]
		st.Default()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		st.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			sp.Default()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			sp.PreferredReadReplica = -1
			// Empty, not null: Kafka sends a zero-length record set, and
			// librdkafka 2.0 rejects a null one ("invalid MessageSetSize -1").
			sp.RecordBatches = []byte{}
			if req.IsolationLevel == 1 {
				sp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			}
			p := o.parts[i][j]
			switch {
			case p == nil || p.deleted.Load():
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				if version >= 13 && o.b.topics.byID(rt.TopicID) == nil {
					sp.ErrorCode = kerr.UnknownTopicID.Code
				}
				errored = true
				continue
			case version >= 9 && rp.CurrentLeaderEpoch > 0:
				// Single node: the leader epoch is always 0.
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
				errored = true
				continue
			}
			hw := p.log.EndOffset()
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = hw, p.log.LastStableOffset(), p.log.LogStartOffset()
			limit := min(int(rp.PartitionMaxBytes), budget)
			if limit <= 0 && total > 0 {
				continue
			}
			first := total == 0
			if o.zc != nil {
				n, failed := o.readRegions(p, rp, sp, limit, first)
				errored = errored || failed
				total += n
				budget -= n
				continue
			}
			start := len(buf)
			var data []byte
			var err error
			if req.IsolationLevel == 1 {
				// read_committed: nothing past the last stable offset.
				data, sp.LastStableOffset, err = p.log.ReadCommitted(rp.FetchOffset, max(limit, 1), buf)
			} else {
				data, err = p.log.Read(rp.FetchOffset, max(limit, 1), buf)
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
				errored = true
				continue
			}
			n := len(data) - start
			if !first && n > limit {
				buf = data[:start]
				continue // only the first partition may overshoot (KIP-74)
			}
			if n > 0 && req.IsolationLevel == 1 {
				if sp.AbortedTransactions, err = abortedTxns(p, rp.FetchOffset, data[start:]); err != nil {
					// Without the list a read_committed consumer would take
					// aborted records as committed: answer no data.
					buf = data[:start]
					sp.ErrorCode = produceErrorCode(err)
					errored = true
					continue
				}
			}
			buf = data
			if n > 0 {
				spans = append(spans, span{sp, start, len(buf)})
			}
			total += n
			budget -= n
		}
	}
	return resp, total, errored
}
