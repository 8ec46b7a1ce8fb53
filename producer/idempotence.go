package producer

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/kerr"
)

// idempotence is the sender's producer-id state (Kafka's TransactionManager
// for a non-transactional idempotent producer): it gets a producer id with
// InitProducerId before the first batch, and bumps the epoch (KIP-360) when
// a partition's sequences can no longer be trusted: the broker lost the
// producer's state, or a batch failed or expired after being sent.
//
// Bumping waits for every in-flight batch to come back (the accumulator is
// paused meanwhile), then asks InitProducerId with the current id and
// epoch; the accumulator then restarts every partition at sequence 0 and
// resends queued batches in their original order.
type idempotence struct {
	s        *sender
	enabled  bool
	have     bool // a producer id is installed
	bump     bool // an epoch bump is pending
	reason   string
	retryAt  time.Time
	failures int
}

func (i *idempotence) init(s *sender) {
	i.s = s
	i.enabled = !s.cfg.DisableIdempotence
}

// ready reports whether batches may be drained.
func (i *idempotence) ready() bool { return i.have && !i.bump }

// requestBump schedules an epoch bump before anything else is sent.
func (i *idempotence) requestBump(reason string) {
	if !i.bump {
		i.s.p.log.Info("producer: bumping producer epoch", "reason", reason)
		i.bump = true
		i.reason = reason
	}
	i.s.acc.Pause(true)
}

// onSequenceError decides whether an OUT_OF_ORDER_SEQUENCE_NUMBER,
// UNKNOWN_PRODUCER_ID or INVALID_PRODUCER_EPOCH means lost broker state
// (KIP-360): only when the batch is the partition's first unacknowledged
// one. For later batches an earlier one is still unresolved, and resending
// in order fixes it.
func (i *idempotence) onSequenceError(b *sendBatch, err error) {
	if !i.bump && i.s.acc.IsNextExpected(b) {
		i.requestBump(fmt.Sprintf("%s[%d] seq %d: %v", b.Topic(), b.Partition(), b.BaseSequence(), err))
	}
}

// maintain gets or bumps the producer id when needed and possible. It
// blocks for at most one InitProducerId round trip.
func (i *idempotence) maintain(now time.Time) {
	acc := i.s.acc
	if i.have && !i.bump {
		return
	}
	if i.bump && acc.InFlight() > 0 {
		return // responses wake the sender
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
	id, ep, err := i.initProducerID(pid, epoch)
	if err != nil && pid >= 0 {
		// A broker that cannot bump (pre-2.5, or it forgot the id) hands out
		// a fresh id instead, which is just as good for an idempotent producer.
		id, ep, err = i.initProducerID(-1, -1)
	}
	if err != nil {
		i.failures++
		i.retryAt = time.Now().Add(acc.Backoff(i.failures))
		i.s.wakeAt(i.retryAt)
		i.s.p.log.Warn("producer: InitProducerId failed", "err", err, "retry_in", time.Until(i.retryAt))
		return
	}
	i.failures = 0
	acc.SetProducerID(id, ep)
	i.have, i.bump = true, false
	acc.Pause(false)
	i.s.p.log.Debug("producer: producer id", "id", id, "epoch", ep)
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
