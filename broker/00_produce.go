package broker

import (
	"errors"
	"time"

	"github.com/skiffkit/skiff/internal/log"
	"github.com/skiffkit/skiff/internal/purgatory"
	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleProduce appends each partition's record set to its log. The log
// validates every batch (CRC, structure, max.message.bytes, producer
// sequence) and appends nothing of a set that fails.
//
// When the answer is sent depends on acks and the fsync policy:
//
//	acks=0                     no answer at all (a failure closes the connection, as Kafka does)
//	acks=1                     after the append
//	acks=all, fsync interval   after the append: the single node is the whole ISR
//	acks=all, fsync always     parked in the purgatory until a group-commit
//	                           fsync covers the last offset of every partition
//
// With replication, acks=all gains one more completion condition in
// produceOp.TryComplete (the high watermark reaching the last offset);
// nothing else changes.
//
// The steps: validateProduce (request-wide checks), appendProduce (each
// partition: produceTopic, then the worker's log.Appender, then appended),
// respondProduce.
func handleProduce(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.ProduceRequest)
	now := time.Now()
	failCode := validateProduce(req)
	resp, pending, failed := b.appendProduce(w, r, req, failCode, now)
	hold := b.throttleProduce(r, resp) // producer_byte_rate (throttle_conn.go)
	return b.holdAnswer(r, b.respondProduce(r, req, resp, pending, failed, now), hold)
}

// validateProduce checks what applies to the whole request; a nonzero code
// fails every partition of it.
func validateProduce(req *kmsg.ProduceRequest) int16 {
	switch {
	case req.Acks != 0 && req.Acks != 1 && req.Acks != -1:
		return kerr.InvalidRequiredAcks.Code
	}
	return 0
}

// appendProduce appends every partition's record set (or answers failCode
// for each), building the response. pending lists the appended partitions
// an acks=all answer must wait for (FsyncAlways); failed reports whether
// any partition failed.
//
// The appends go through the worker's log.Appender: every partition's
// set is validated and prepared first, then all are written together (one
// io_submit on Linux rather than a pwrite per partition) and published.
func (b *Broker) appendProduce(w *worker, r *request, req *kmsg.ProduceRequest, failCode int16, now time.Time) (resp *kmsg.ProduceResponse, pending []pendingSync, failed bool) {
	resp = req.ResponseKind().(*kmsg.ProduceResponse)
	waitAll := req.Acks == -1 && b.cfg.Fsync == FsyncAlways
	resp.Topics = make([]kmsg.ProduceResponseTopic, 0, len(req.Topics))
	w.appends = w.appends[:0]
	for ti := range req.Topics {
		rt := &req.Topics[ti]
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		t, unknown := b.produceTopic(r, rt)
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		for pi := range rt.Partitions {
			rp := &rt.Partitions[pi]
			sp := &st.Partitions[pi]
			sp.Default()
			sp.Partition = rp.Partition
			sp.BaseOffset = -1
			sp.LogAppendTime = -1
			sp.LogStartOffset = -1
			switch {
			case failCode != 0:
				sp.ErrorCode = failCode
			case t == nil:
				sp.ErrorCode = unknown
			case rp.Partition < 0 || int(rp.Partition) >= len(t.parts):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				p := t.parts[rp.Partition]
				if code := b.checkTxnProduce(req.TransactionID != nil, p, rp.Records); code != 0 {
					sp.ErrorCode = code
					break
				}
				id := w.app.Add(p.log, rp.Records, now)
				w.appends = append(w.appends, partitionAppend{p: p, rp: rp, sp: sp, ti: len(resp.Topics), pi: pi, id: id})
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	w.app.Flush()
	for i := range w.appends {
		a := &w.appends[i]
		info, err := w.app.Result(a.id)
		if last, ok := b.appended(r, a.p, a.rp, a.sp, info, err); ok && waitAll {
			pending = append(pending, pendingSync{p: a.p, ti: a.ti, pi: a.pi, last: last})
		}
	}
	w.app.Reset()
	clear(w.appends)
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if resp.Topics[i].Partitions[j].ErrorCode != 0 {
				failed = true
			}
		}
	}
	return resp, pending, failed
}

// partitionAppend is one partition of a Produce request between its
// Appender.Add and the Flush that wrote it.
type partitionAppend struct {
	p      *partition
	rp     *kmsg.ProduceRequestTopicPartition
	sp     *kmsg.ProduceResponseTopicPartition
	ti, pi int // sp's place in the response
	id     int // the Appender's number for it
}

// produceTopic resolves a request topic: by id from v13 on, else by name,
// auto-creating it (auto.create.topics.enable). It also returns the code
// for a topic that does not exist.
func (b *Broker) produceTopic(r *request, rt *kmsg.ProduceRequestTopic) (*topic, int16) {
	if r.version >= 13 {
		t := b.topics.byID(rt.TopicID)
		if t == nil && rt.TopicID == b.offsetsTopicID() {
			return nil, kerr.InvalidTopicException.Code // see below
		}
		return t, kerr.UnknownTopicID.Code
	}
	t := b.topics.byName(rt.Topic)
	if t == nil {
		if isInternalTopic(rt.Topic) {
			// Kafka's ReplicaManager: "Cannot append to internal topic".
			return nil, kerr.InvalidTopicException.Code
		}
		t = b.autoCreateForProduce(rt.Topic)
	}
	return t, kerr.UnknownTopicOrPartition.Code
}

// appended fills sp with the outcome of appending rp's record set to p
// and, when records went in, wakes what waits for them. It returns the
// last offset appended, and false when the append failed.
func (b *Broker) appended(r *request, p *partition, rp *kmsg.ProduceRequestTopicPartition, sp *kmsg.ProduceResponseTopicPartition, info log.AppendInfo, err error) (int64, bool) {
	if err != nil {
		sp.ErrorCode = produceErrorCode(err)
		if r.version >= 8 {
			sp.ErrorMessage = kmsg.StringPtr(err.Error())
		}
		b.log.Debug("produce failed", "topic", p.t.name, "partition", rp.Partition, "client", r.clientID, "err", err)
		return 0, false
	}
	sp.BaseOffset = info.BaseOffset
	sp.LogAppendTime = info.LogAppendTime
	sp.LogStartOffset = info.LogStartOffset
	if !info.Duplicate {
		p.appended.Add(int64(len(rp.Records)))
		b.flush.appended(p)
		b.purg.Notify(p.key) // parked fetches
	}
	return info.LastOffset, true
}

// respondProduce answers as acks and the fsync policy say (see
// handleProduce): not at all for acks=0 (closing the connection if any
// partition failed), now, or once fsynced.
func (b *Broker) respondProduce(r *request, req *kmsg.ProduceRequest, resp *kmsg.ProduceResponse, pending []pendingSync, failed bool, now time.Time) kmsg.Response {
	if req.Acks == 0 {
		// authzDone is set when the authorizer took denied topics out
		// of the request: those failed too.
		if failed || r.authzDone != nil {
			r.drop()
		} else {
			r.skip()
		}
		return nil
	}
	if len(pending) == 0 {
		return resp
	}
	op := &produceOp{r: r, resp: resp, pending: pending}
	keys := make([]purgatory.Key, len(pending))
	for i := range pending {
		keys[i] = pending[i].p.key
	}
	b.purg.Watch(keys, op, now.Add(time.Duration(req.TimeoutMillis)*time.Millisecond))
	return nil
}

// autoCreateForProduce creates a topic a Produce names before any Metadata
// did (auto.create.topics.enable, num.partitions). Clients normally learn a
// topic through Metadata first, which auto-creates it already; this covers
// those that produce to a partition they assume exists. Nil when disabled,
// invalid or failed: the partition then answers UNKNOWN_TOPIC_OR_PARTITION.
func (b *Broker) autoCreateForProduce(name string) *topic {
	if b.cfg.DisableAutoCreateTopics || validateTopicName(name) != nil {
		return nil
	}
	t, err := b.topics.create(name, b.cfg.NumPartitions, nil)
	if errors.Is(err, kerr.TopicAlreadyExists) {
		return b.topics.byName(name) // created concurrently
	}
	if err != nil {
		b.log.Warn("auto-create failed", "topic", name, "err", err)
		return nil
	}
	return t
}

// produceErrorCode maps an append error to its response code. A closed log
// means its partition is being deleted or the broker is stopping: the
// client should refresh metadata and retry, as after a leader move.
func produceErrorCode(err error) int16 {
	if errors.Is(err, log.ErrClosed) {
		return kerr.NotLeaderForPartition.Code
	}
	return kerr.Code(err)
}

// pendingSync is one appended partition of a parked acks=all produce.
type pendingSync struct {
	p      *partition
	ti, pi int   // its place in the response
	last   int64 // last offset appended
}

// produceOp is an acks=all produce waiting for fsync (FsyncAlways).
type produceOp struct {
	r       *request
	resp    *kmsg.ProduceResponse
	pending []pendingSync
}

func (o *produceOp) synced(ps *pendingSync) bool {
	// Replication adds: && ps.p.highWatermark() > ps.last.
	return ps.p.deleted.Load() || ps.p.log.SyncedOffset() > ps.last
}

// failed reports a partition whose log went offline (a failed fsync)
// before covering the records: they will never be durable, so the answer
// is KAFKA_STORAGE_ERROR now rather than a timeout.
func (o *produceOp) failed(ps *pendingSync) bool {
	return !o.synced(ps) && ps.p.log.Offline() != nil
}

func (o *produceOp) TryComplete() bool {
	for i := range o.pending {
		if ps := &o.pending[i]; !o.synced(ps) && !o.failed(ps) {
			return false
		}
	}
	return true
}

func (o *produceOp) OnComplete() {
	for i := range o.pending {
		if ps := &o.pending[i]; ps.p.deleted.Load() {
			// Deleted before its fsync: the records are gone with it.
			o.resp.Topics[ps.ti].Partitions[ps.pi].ErrorCode = kerr.UnknownTopicOrPartition.Code
		} else if o.failed(ps) {
			o.resp.Topics[ps.ti].Partitions[ps.pi].ErrorCode = kerr.KafkaStorageError.Code
		}
	}
	o.r.respond(o.resp)
}

// OnExpire answers REQUEST_TIMED_OUT (Kafka's DelayedProduce) for every
// partition the fsync did not reach within the request's timeout; the
// records are appended and a retry will be deduplicated.
func (o *produceOp) OnExpire() {
	for i := range o.pending {
		ps := &o.pending[i]
		switch {
		case ps.p.deleted.Load():
			o.resp.Topics[ps.ti].Partitions[ps.pi].ErrorCode = kerr.UnknownTopicOrPartition.Code
		case o.failed(ps):
			o.resp.Topics[ps.ti].Partitions[ps.pi].ErrorCode = kerr.KafkaStorageError.Code
		case !o.synced(ps):
			o.resp.Topics[ps.ti].Partitions[ps.pi].ErrorCode = kerr.RequestTimedOut.Code
		}
	}
	o.r.respond(o.resp)
}
