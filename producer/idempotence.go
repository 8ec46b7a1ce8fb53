package producer

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/wire"
	"github.com/skiffkit/skiff/kerr"
)

// idempotence is the sender's producer-id state (Kafka's TransactionManager
// for a non-transactional idempotent producer): it gets a producer id with
// InitProducerId before the first batch, and a new epoch (KIP-360) when a
// partition's sequences can no longer be trusted: the broker lost the
// producer's state, or a batch failed or expired after being sent.
//
// InitProducerId runs on its own tracked goroutine and its answer comes back
// as an event, so the sender goroutine never waits for it: responses,
// completions, expiry, Flush and Close go on. During a bump only the
// partitions whose sequences broke are fenced; the others keep sending
// under the old epoch (the broker checks epochs per partition) and move to
// the new one, at sequence 0, once their in-flight batches are back, as the
// Java client does.
type idempotence struct {
	s        *sender
	enabled  bool
	have     bool // a producer id is installed
	bump     bool // a new epoch is wanted
	pending  bool // an InitProducerId is on its way
	retryAt  time.Time
	failures int
}

func (i *idempotence) init(s *sender) {
	i.s = s
	i.enabled = !s.cfg.DisableIdempotence
}

// requestBump fences b's partition and asks for a new epoch, unless one
// arrived since the partition's sequences began.
func (i *idempotence) requestBump(b *sendBatch, reason string) {
	if t := i.s.p.txn; t != nil {
		// A transactional producer bumps after AbortTransaction's EndTxn
		// (Java's bumpIdempotentEpochAndResetIdIfNeeded); meanwhile the
		// partition stays fenced.
		i.s.acc.Fence(b)
		t.needBump.Store(true)
		return
	}
	if !i.s.acc.Fence(b) {
		return
	}
	if !i.bump {
		i.s.p.log.Info("producer: bumping producer epoch", "reason", reason)
		i.bump = true
	}
}

// onSequenceError decides whether an OUT_OF_ORDER_SEQUENCE_NUMBER,
// UNKNOWN_PRODUCER_ID or INVALID_PRODUCER_EPOCH means lost broker state
// (KIP-360): only when the batch is the partition's first unacknowledged
// one. For later batches an earlier one is still unresolved, and resending
// in order fixes it.
func (i *idempotence) onSequenceError(b *sendBatch, err error) {
	if i.s.acc.IsNextExpected(b) {
		i.requestBump(b, fmt.Sprintf("%s[%d] seq %d: %v", b.Topic(), b.Partition(), b.BaseSequence(), err))
	}
}

// maintain starts an InitProducerId when an id or a new epoch is needed and
// none is on its way.
func (i *idempotence) maintain(now time.Time) {
	acc := i.s.acc
	if i.pending || (i.have && !i.bump) {
		return
	}
	if !i.have && acc.NumIncomplete() == 0 {
		return // like the Java client, ask only once there is something to send
	}
	if now.Before(i.retryAt) {
		i.s.wakeAt(i.retryAt)
		return
	}
	pid, epoch := acc.ProducerID()
	if !i.have {
		pid, epoch = -1, -1
	}
	i.pending = true
	p := i.s.p
	p.goTracked(func() {
		id, ep, err := i.initProducerID(pid, epoch)
		if err != nil && pid >= 0 {
			// A broker that cannot bump (pre-2.5, or it forgot the id)
			// hands out a fresh id instead, which is just as good for an
			// idempotent producer.
			id, ep, err = i.initProducerID(-1, -1)
		}
		p.events.push(event{kind: eventProducerID, producerID: id, epoch: ep, err: err})
	})
}

// onProducerID installs the outcome of maintain's InitProducerId. A
// partition fenced while it was on its way is served by it too: its
// sequences belong to the older identity, which the answer replaces.
func (i *idempotence) onProducerID(e *event) {
	i.pending = false
	acc := i.s.acc
	if e.err != nil {
		i.failures++
		i.retryAt = time.Now().Add(acc.Backoff(i.failures))
		i.s.wakeAt(i.retryAt)
		level := slog.LevelWarn
		if wire.Unreachable(e.err) {
			level = slog.LevelDebug // logged once by the client (wire's reachState)
		}
		i.s.p.log.Log(context.Background(), level, "producer: InitProducerId failed", "err", e.err, "retry_in", time.Until(i.retryAt))
		return
	}
	i.failures = 0
	acc.SetProducerID(e.producerID, e.epoch)
	i.have, i.bump = true, false
	i.s.p.log.Debug("producer: producer id", "id", e.producerID, "epoch", e.epoch)
}

func (i *idempotence) initProducerID(pid int64, epoch int16) (int64, int16, error) {
	ctx, cancel := context.WithTimeout(i.s.p.ctx, i.s.cfg.RequestTimeout)
	defer cancel()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionTimeoutMillis = -1
	req.ProducerID = pid
	req.ProducerEpoch = epoch
	kresp, err := i.s.client.Request(ctx, req)
	if err != nil {
		return 0, 0, fmt.Errorf("init producer id: %w", err)
	}
	resp, ok := kresp.(*kmsg.InitProducerIDResponse)
	if !ok {
		return 0, 0, fmt.Errorf("init producer id: unexpected response %T", kresp)
	}
	if err := kerr.ForCode(resp.ErrorCode); err != nil {
		return 0, 0, fmt.Errorf("init producer id: %w", err)
	}
	return resp.ProducerID, resp.ProducerEpoch, nil
}
