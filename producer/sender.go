package producer

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/accum"
	"github.com/skiffkit/skiff/internal/wire"
	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/partitioner"
)

// sender is the state of the sender goroutine; only that goroutine touches
// it. It wakes on the accumulator's signal (a batch filled or opened, a
// retry was queued, a batch completed, memory ran short, flush or close),
// on events (responses, dials), on its timer (the earliest linger, backoff
// or expiry deadline) and on metadata updates while a leader is unknown.
type sender struct {
	p      *Producer
	acc    *accum.Accumulator[RecordMetadata]
	client *wire.Client
	cfg    *Config

	nodes map[int32]*nodeState
	timer *time.Timer
	next  time.Time // earliest deadline found in this round

	readyBuf  []int32
	drainBuf  []*sendBatch
	expireBuf []*sendBatch
	eventBuf  []event
	doneBuf   []completion
	respIdx   respIndex

	idem idempotence
	txn  txnSender // a transactional producer's partitions joining transactions

	lastRefresh time.Time
	waitMeta    bool // a leader is unknown: wake on metadata updates

	load      partitioner.LoadAware // the partitioner, if it weighs load
	lastLoad  time.Time
	topicBuf  []string
	loadParts []int32
	loadSizes []int32
	aborting  bool // Close gave up: fail instead of retrying
}

// nodeState is the sender's view of one broker connection.
type nodeState struct {
	cn       *wire.Conn
	dialing  bool
	retryAt  time.Time // earliest next dial after a failure
	inFlight int       // Produce requests sent and not answered
}

func newSender(p *Producer) *sender {
	s := &sender{
		p:      p,
		acc:    p.acc,
		client: p.client,
		cfg:    &p.cfg,
		nodes:  make(map[int32]*nodeState),
		timer:  time.NewTimer(time.Hour),
	}
	s.timer.Stop()
	s.idem.init(s)
	s.txn.t = p.txn
	s.load, _ = p.part.(partitioner.LoadAware)
	return s
}

func (s *sender) run() {
	defer s.timer.Stop()
	for {
		s.p.senderLoops.Add(1)
		s.handleEvents()
		select {
		case <-s.p.quit:
			s.shutdown()
			return
		default:
		}
		s.acc.Awake() // new batches leave their linger deadline for SleepUntil
		// A wake-up signalled before the Ready below is answered by it:
		// every signal follows the change it reports. Most are the
		// sender's own, from the Done calls of the responses just
		// handled, and each used to cost a loop for nothing.
		select {
		case <-s.acc.Wakeup():
		default:
		}
		now := time.Now()
		s.next = time.Time{}
		s.expire(now)
		if s.idem.enabled && s.txn.t == nil {
			// A transactional producer's id comes from InitTransactions.
			s.idem.maintain(now)
		}
		nodes, next, unknown := s.acc.Ready(now, s.readyBuf[:0])
		s.readyBuf = nodes
		s.wakeAt(next)
		s.waitMeta = unknown
		if unknown {
			s.refreshMetadata(now)
		}
		for _, node := range nodes {
			s.sendTo(node, now)
		}
		if len(nodes) > 0 {
			s.publishLoad(now)
		}
		s.sleep()
	}
}

// wakeAt lowers the next wake-up to t (zero t is ignored).
func (s *sender) wakeAt(t time.Time) {
	if !t.IsZero() && (s.next.IsZero() || t.Before(s.next)) {
		s.next = t
	}
}

func (s *sender) sleep() {
	s.next = s.acc.SleepUntil(s.next)
	if !s.next.IsZero() {
		s.timer.Reset(max(time.Until(s.next), 0))
	}
	var meta <-chan struct{}
	if s.waitMeta {
		meta = s.client.MetadataUpdated()
	}
	select {
	case <-s.acc.Wakeup():
	case <-s.p.events.wake:
	case <-s.timer.C:
	case <-meta:
	case <-s.p.quit:
	}
	if !s.next.IsZero() && !s.timer.Stop() {
		select {
		case <-s.timer.C:
		default:
		}
	}
}

func (s *sender) refreshMetadata(now time.Time) {
	// At most one refresh per retry.backoff.ms, so a leaderless partition
	// does not turn the loop into a metadata storm.
	if at := s.lastRefresh.Add(s.cfg.RetryBackoff); now.Before(at) {
		s.wakeAt(at)
		return
	}
	s.lastRefresh = now
	s.client.RefreshMetadata()
	// Look again even if the refresh fails and no update arrives.
	s.wakeAt(now.Add(s.cfg.RetryBackoff))
}

func (s *sender) node(id int32) *nodeState {
	ns, ok := s.nodes[id]
	if !ok {
		ns = &nodeState{}
		s.nodes[id] = ns
	}
	return ns
}

// sendTo drains one Produce request's worth of batches for node and sends
// it, if the connection is up and has room in flight.
func (s *sender) sendTo(node int32, now time.Time) {
	ns := s.node(node)
	if ns.cn != nil {
		select {
		case <-ns.cn.Closed():
			ns.cn = nil
		default:
		}
	}
	if ns.cn == nil {
		s.dial(node, ns, now)
		return
	}
	for ns.inFlight < s.cfg.MaxInFlight {
		batches := s.acc.Drain(node, s.cfg.MaxRequestSize, now, s.drainBuf[:0])
		if len(batches) == 0 {
			return
		}
		r := &request{node: node, batches: append([]*sendBatch(nil), batches...), sent: now.UnixNano()}
		clear(batches)
		s.drainBuf = batches[:0]
		ns.inFlight++
		if s.txn.t != nil {
			s.txn.dispatch(s, r)
			continue
		}
		s.dispatch(r)
	}
}

// dispatch sends r, counted in flight already, on its node's connection.
func (s *sender) dispatch(r *request) {
	ns := s.node(r.node)
	if ns.cn == nil {
		// Gone while r waited for AddPartitionsToTxn: retried as a
		// dropped connection is.
		s.handleResponse(r, nil, wire.ErrConnClosed)
		return
	}
	req, haveIDs := s.buildRequest(r.batches)
	r.req = req
	for _, h := range s.p.hooks.sent {
		for _, b := range r.batches {
			h.OnBatchSent(b.Topic(), b.Partition(), b.NumRecords(), len(b.Records()))
		}
	}
	events := &s.p.events
	ns.cn.DoAsync(produceVersions(req, haveIDs), func(resp kmsg.Response, err error) {
		events.push(event{kind: eventResponse, req: r, resp: resp, err: err})
	})
}

func (s *sender) buildRequest(batches []*sendBatch) (*kmsg.ProduceRequest, bool) {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = s.cfg.Acks.wire()
	req.TimeoutMillis = int32(s.cfg.RequestTimeout / time.Millisecond)
	if s.txn.t != nil {
		req.TransactionID = &s.txn.t.id
	}
	haveIDs := true
	for _, b := range batches {
		topic := b.Topic()
		ti := -1
		for i := range req.Topics {
			if req.Topics[i].Topic == topic {
				ti = i
				break
			}
		}
		if ti < 0 {
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = topic
			// Produce v13 (KIP-516) names topics by id only; both are set
			// and the version decides which goes on the wire.
			if info, ok := s.client.CachedTopic(topic); ok && info.ID != ([16]byte{}) {
				rt.TopicID = info.ID
			} else {
				haveIDs = false
			}
			req.Topics = append(req.Topics, rt)
			ti = len(req.Topics) - 1
		}
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = b.Partition()
		rp.Records = b.Records()
		req.Topics[ti].Partitions = append(req.Topics[ti].Partitions, rp)
	}
	return req, haveIDs
}

// dial starts connecting to node on a tracked goroutine; its result comes
// back as an event.
func (s *sender) dial(node int32, ns *nodeState, now time.Time) {
	if ns.dialing {
		return
	}
	if now.Before(ns.retryAt) {
		s.wakeAt(ns.retryAt)
		return
	}
	ns.dialing = true
	p := s.p
	p.goTracked(func() {
		cn, err := s.client.Conn(p.ctx, node)
		p.events.push(event{kind: eventDial, dialNode: node, cn: cn, err: err})
	})
}

func (s *sender) handleEvents() {
	events := s.p.events.take(s.eventBuf)
	for i := range events {
		e := &events[i]
		switch e.kind {
		case eventResponse:
			s.handleResponse(e.req, e.resp, e.err)
		case eventDial:
			s.handleDial(e)
		case eventProducerID:
			s.idem.onProducerID(e)
		case eventTxnAdded:
			s.txn.onAdded(s, e)
		}
		*e = event{}
	}
	s.eventBuf = events[:0]
	s.flushCompletions()
}

func (s *sender) handleDial(e *event) {
	ns := s.node(e.dialNode)
	ns.dialing = false
	if e.err != nil {
		// Debug: the client logs a broker it cannot reach once, at Warn
		// (wire's reachState), not every retry.backoff.ms.
		s.p.log.Debug("producer: connecting to broker failed", "node", e.dialNode, "err", e.err)
		ns.retryAt = time.Now().Add(s.cfg.RetryBackoff)
		s.client.RefreshMetadata()
		return
	}
	ns.cn = e.cn
}

// flushCompletions hands finished batches to the completer.
func (s *sender) flushCompletions() {
	if len(s.doneBuf) == 0 {
		return
	}
	s.p.completer.push(s.doneBuf...)
	clear(s.doneBuf)
	s.doneBuf = s.doneBuf[:0]
}

func (s *sender) handleResponse(r *request, kresp kmsg.Response, err error) {
	now := time.Now()
	s.node(r.node).inFlight--
	for _, h := range s.p.hooks.response {
		h.OnProduceResponse(r.node, now.Sub(time.Unix(0, r.sent)), err)
	}
	if err != nil {
		// The whole request failed. A dropped connection may or may not
		// have delivered it: retrying is safe with idempotence (the broker
		// dedupes by sequence), and what Kafka does without it too.
		retriable := errors.Is(err, wire.ErrConnClosed) || kerr.IsRetriable(err)
		if retriable {
			s.client.RefreshMetadata()
		}
		for _, b := range r.batches {
			s.retryOrFail(b, err, retriable, now)
		}
		return
	}
	if kresp == nil { // acks=0: done once written
		for _, b := range r.batches {
			s.succeed(b, -1, -1)
		}
		return
	}
	resp, ok := kresp.(*kmsg.ProduceResponse)
	if !ok {
		for _, b := range r.batches {
			s.retryOrFail(b, fmt.Errorf("unexpected response %T", kresp), false, now)
		}
		return
	}
	s.respIdx.reset(resp)
	for _, b := range r.batches {
		rp := s.respIdx.find(resp, b.Topic(), r.topicID(b.Topic()), b.Partition())
		if rp == nil {
			s.retryOrFail(b, fmt.Errorf("partition missing from produce response: %w", kerr.UnknownServerError), false, now)
			continue
		}
		s.handlePartition(b, rp, now)
	}
}

// respIndex finds partitions' answers in a Produce response, by topic name
// (v3-v12) or by topic id (v13+). Brokers answer in request order, so it
// remembers per topic where the next partition should be: looking up every
// batch of a request costs O(batches), not O(batches²), which mattered at
// 1,000 partitions (issue 14's profile: 4.6% of CPU in the scan).
type respIndex struct {
	next []int // per response topic: index of the partition expected next
}

func (x *respIndex) reset(resp *kmsg.ProduceResponse) {
	x.next = append(x.next[:0], make([]int, len(resp.Topics))...)
}

func (x *respIndex) find(resp *kmsg.ProduceResponse, topic string, id [16]byte, partition int32) *kmsg.ProduceResponseTopicPartition {
	for i := range resp.Topics {
		t := &resp.Topics[i]
		if t.Topic != topic && (t.Topic != "" || t.TopicID != id || id == [16]byte{}) {
			continue
		}
		if j := x.next[i]; j < len(t.Partitions) && t.Partitions[j].Partition == partition {
			x.next[i] = j + 1
			return &t.Partitions[j]
		}
		for j := range t.Partitions {
			if t.Partitions[j].Partition == partition {
				return &t.Partitions[j]
			}
		}
	}
	return nil
}

func (s *sender) handlePartition(b *sendBatch, rp *kmsg.ProduceResponseTopicPartition, now time.Time) {
	err := kerr.ForCode(rp.ErrorCode)
	switch {
	case err == nil:
		s.succeed(b, rp.BaseOffset, rp.LogAppendTime)
	case errors.Is(err, kerr.DuplicateSequenceNumber):
		// Kafka treats a duplicate as an acknowledgement: an earlier
		// attempt of this batch was written.
		s.succeed(b, -1, -1)
	case errors.Is(err, kerr.MessageTooLarge) && !s.aborting && now.Before(b.Deadline()) && s.acc.Split(b, now):
		// Java's producer splits such a batch and retries the halves.
		s.p.log.Info("producer: batch too large for the broker, split in two", "topic", b.Topic(), "partition", b.Partition(), "records", b.NumRecords())
	case s.txn.t != nil && isFatalTxnErr(err):
		// Fenced by a newer producer with our transactional id: retrying
		// cannot help, and the producer is done (Java: fatal error).
		s.retryOrFail(b, err, false, now)
	case s.txn.t != nil && isSequenceError(err):
		// The broker lost or rejected the transaction's sequences: the
		// transaction cannot complete intact, so fail it now rather than
		// retry on a fenced partition until delivery.timeout.ms; the abort
		// moves to a new epoch (Java: abortable error with epoch bump).
		s.retryOrFail(b, err, false, now)
	case s.idem.enabled && isSequenceError(err):
		s.idem.onSequenceError(b, err)
		s.retryOrFail(b, err, true, now)
	case kerr.IsRetriable(err):
		if needsMetadata(err) {
			s.client.RefreshMetadata()
		}
		s.retryOrFail(b, err, true, now)
	default:
		if rp.ErrorMessage != nil && *rp.ErrorMessage != "" {
			err = fmt.Errorf("%w (broker: %s)", err, *rp.ErrorMessage)
		}
		s.retryOrFail(b, err, false, now)
	}
}

func isSequenceError(err error) bool {
	return errors.Is(err, kerr.OutOfOrderSequenceNumber) || errors.Is(err, kerr.UnknownProducerID) || errors.Is(err, kerr.InvalidProducerEpoch)
}

func needsMetadata(err error) bool {
	return errors.Is(err, kerr.NotLeaderForPartition) || errors.Is(err, kerr.LeaderNotAvailable) ||
		errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.NotEnoughReplicas) ||
		errors.Is(err, kerr.NotEnoughReplicasAfterAppend) || errors.Is(err, kerr.RequestTimedOut) ||
		errors.Is(err, kerr.NetworkException)
}

func (s *sender) succeed(b *sendBatch, baseOffset, appendTime int64) {
	s.acc.Done(b, true)
	s.doneBuf = append(s.doneBuf, completion{b: b, baseOffset: baseOffset, appendTime: appendTime})
}

// retryOrFail re-enqueues b after a retriable error, unless retries,
// delivery.timeout.ms or Close say otherwise, in which case it fails.
func (s *sender) retryOrFail(b *sendBatch, err error, retriable bool, now time.Time) {
	switch {
	case s.aborting:
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	case retriable && s.txn.t != nil && s.txn.t.doomed():
		// The transaction is being aborted or must be: retrying cannot
		// save it, and AbortTransaction waits for this batch.
		err = fmt.Errorf("%w: %w", ErrAbortedTxn, err)
	case retriable && b.Attempts() > s.cfg.Retries:
		err = fmt.Errorf("retries (%d) exhausted: %w", s.cfg.Retries, err)
	case retriable && !now.Before(b.Deadline()):
		err = fmt.Errorf("%w: last error: %w", ErrDeliveryTimeout, err)
	case retriable:
		b.SetLastError(err)
		s.p.log.Debug("producer: retrying batch", "topic", b.Topic(), "partition", b.Partition(), "attempt", b.Attempts(), "err", err)
		s.acc.Reenqueue(b, now)
		return
	}
	// A batch that may have been written, or whose sequence range is now a
	// gap, leaves the partition's sequences unusable: bump the epoch
	// before the partition's next batch (the Java client does the same).
	if s.idem.enabled && b.BaseSequence() >= 0 {
		s.idem.requestBump(b, fmt.Sprintf("batch for %s[%d] failed: %v", b.Topic(), b.Partition(), err))
	}
	s.fail(b, err, true)
}

// fail completes b with err; sent says whether it was in flight.
func (s *sender) fail(b *sendBatch, err error, sent bool) {
	if sent {
		s.acc.Done(b, false)
	}
	s.p.log.Debug("producer: batch failed", "topic", b.Topic(), "partition", b.Partition(), "records", b.NumRecords(), "err", err)
	if s.txn.t != nil {
		// A lost record dooms its transaction (Java: abortable error), or
		// the producer if the error is fatal.
		err = s.txn.t.fail(fmt.Errorf("produce %s[%d]: %w", b.Topic(), b.Partition(), err))
		s.doneBuf = append(s.doneBuf, completion{b: b, baseOffset: -1, appendTime: -1, err: err})
		return
	}
	s.doneBuf = append(s.doneBuf, completion{
		b:          b,
		baseOffset: -1,
		appendTime: -1,
		err:        fmt.Errorf("produce %s[%d]: %w", b.Topic(), b.Partition(), err),
	})
}

// expire fails batches that waited longer than delivery.timeout.ms.
func (s *sender) expire(now time.Time) {
	expired := s.acc.Expire(now, s.expireBuf[:0])
	for i, b := range expired {
		if s.idem.enabled && b.Attempts() > 0 {
			s.idem.requestBump(b, fmt.Sprintf("batch for %s[%d] expired after being sent", b.Topic(), b.Partition()))
		}
		err := fmt.Errorf("%w (%v)", ErrDeliveryTimeout, s.cfg.DeliveryTimeout)
		if last := b.LastError(); last != nil {
			err = fmt.Errorf("%w (%v): last error: %w", ErrDeliveryTimeout, s.cfg.DeliveryTimeout, last)
		}
		s.fail(b, err, false)
		expired[i] = nil
	}
	s.expireBuf = expired[:0]
	s.flushCompletions()
}

// shutdown runs when Close gave up waiting (or everything is done): fail
// what is queued, close the connections so in-flight requests fail, and
// fail those too.
func (s *sender) shutdown() {
	s.aborting = true
	for _, b := range s.acc.Abort(s.expireBuf[:0]) {
		s.fail(b, ErrClosed, false)
	}
	s.txn.failHeld(s, ErrClosed)
	s.flushCompletions()
	// Close fails every outstanding request through its callback before it
	// returns, so the events below are the last ones.
	_ = s.client.Close()
	s.handleEvents()
	// Dialers may still push after their Conn call failed; they only
	// carry connections, which the closed client already tore down.
}

// produceVersions bounds a Produce request to v3 (the first with record
// batch v2) and, unless every topic's id is known from metadata, to v12:
// v13 (KIP-516) addresses topics by id only.
func produceVersions(req *kmsg.ProduceRequest, haveIDs bool) kmsg.Request {
	r := wire.MinVersion(req, 3)
	if !haveIDs {
		r = wire.MaxVersion(r, 12)
	}
	return r
}

// loadInterval bounds how often the partitioner's load stats are rebuilt;
// they change with every drain, but a partitioner only needs a recent view.
const loadInterval = 100 * time.Millisecond

// publishLoad tells a LoadAware partitioner, per topic, which partitions
// have a leader and how many batches each has queued, so the sticky
// partitioner steers new records away from slow brokers (KIP-794's
// adaptive partitioning; Java updates these stats in RecordAccumulator.ready).
// It runs on loops that sent something, at most every loadInterval.
func (s *sender) publishLoad(now time.Time) {
	if s.load == nil || now.Sub(s.lastLoad) < loadInterval {
		return
	}
	s.lastLoad = now
	s.topicBuf = s.acc.Topics(s.topicBuf[:0])
	for _, topic := range s.topicBuf {
		ti, ok := s.client.CachedTopic(topic)
		if !ok {
			continue
		}
		s.loadParts = s.loadParts[:0]
		for _, pi := range ti.Partitions {
			if pi.Leader >= 0 {
				s.loadParts = append(s.loadParts, pi.Partition)
			}
		}
		s.loadSizes = append(s.loadSizes[:0], make([]int32, len(s.loadParts))...)
		s.acc.QueueSizes(topic, s.loadParts, s.loadSizes)
		s.load.UpdateLoad(topic, s.loadParts, s.loadSizes)
	}
}
