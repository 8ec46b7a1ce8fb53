package txncoord

import (
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
)

// Completing a transaction, after Kafka's TransactionMarkerChannelManager:
//
//  1. PrepareCommit/PrepareAbort is durable (EndTxn, a fence, a timeout,
//     or found by New in the log): the outcome is decided.
//  2. A marker is written to every partition of the transaction. A
//     partition that no longer exists is skipped, as Kafka skips one
//     without a leader; a failed write is retried after MarkerRetryBackoff
//     until it succeeds or the coordinator closes.
//  3. On commit, the staged offsets of each group go to
//     OffsetCommitter.CommitTxnOffsets, retried the same way.
//  4. CompleteCommit/CompleteAbort is logged, retried the same way.
//
// Nothing is logged as complete before every marker is durable, so a crash
// at any step leaves Prepare* in the log and the next New redoes steps 2–4;
// MarkerWriter and CommitTxnOffsets are idempotent for that reason. The
// offsets become visible after the last marker and before the transaction
// is complete, which is when Kafka's group coordinator materialises them
// (on the marker of its __consumer_offsets partition).

// completion is what a completing transaction needs, copied under mu so
// the goroutine never reads txnMeta without it.
type completion struct {
	txnID      string
	producerID int64
	epoch      int16
	commit     bool
	partitions []TopicPartition
	groups     []string // sorted, for a deterministic order of commits
	offsets    map[string][]TxnOffset
}

// startCompletion starts the goroutine that completes m, which is in
// PrepareCommit or PrepareAbort. Callers hold mu. After Close it does
// nothing: the Prepare* record in the log is finished by the next New.
func (c *Coordinator) startCompletion(m *txnMeta) {
	if m.completing || c.closed {
		return
	}
	m.completing = true
	job := completion{
		txnID:      m.id,
		producerID: m.producerID,
		epoch:      m.epoch,
		commit:     m.state == PrepareCommit,
		partitions: slices.Clone(m.partitions),
	}
	if job.commit && len(m.staged) > 0 {
		job.offsets = make(map[string][]TxnOffset, len(m.staged))
		for g, offs := range m.staged {
			list := slices.Collect(maps.Values(offs))
			slices.SortFunc(list, func(a, b TxnOffset) int {
				return comparePartitions(TopicPartition{a.Topic, a.Partition}, TopicPartition{b.Topic, b.Partition})
			})
			job.offsets[g] = list
		}
		job.groups = slices.Sorted(maps.Keys(job.offsets))
	}
	c.wg.Go(func() { c.complete(m, job) })
}

func (c *Coordinator) complete(m *txnMeta, job completion) {
	defer func() {
		c.mu.Lock()
		m.completing = false
		c.mu.Unlock()
	}()
	log := c.cfg.Logger.With("transactional_id", job.txnID, "producer_id", job.producerID, "epoch", job.epoch, "commit", job.commit)

	remaining := job.partitions
	for {
		failed, errs := c.writeMarkers(log, job, remaining)
		if len(failed) == 0 {
			break
		}
		log.Warn("transaction markers failed, retrying", "partitions", len(failed), "err", errors.Join(errs...))
		if !c.sleep(c.cfg.MarkerRetryBackoff) {
			return
		}
		remaining = failed
	}

	for _, g := range job.groups {
		for {
			err := c.cfg.Offsets.CommitTxnOffsets(g, job.producerID, job.offsets[g])
			if err == nil {
				break
			}
			log.Warn("transaction offsets: commit failed, retrying", "group", g, "err", err)
			if !c.sleep(c.cfg.MarkerRetryBackoff) {
				return
			}
		}
	}

	for {
		c.mu.Lock()
		rec := m.txnRecord
		rec.state = CompleteAbort
		if job.commit {
			rec.state = CompleteCommit
		}
		rec.partitions, rec.groups = nil, nil
		rec.lastUpdateMs = nowMs()
		err := c.transit(m, rec)
		if err == nil {
			m.wakeCompleted()
		}
		c.mu.Unlock()
		if err == nil {
			if c.completed != nil {
				c.completed(job.txnID)
			}
			return
		}
		if errors.Is(err, ErrClosed) {
			return
		}
		log.Warn("transaction log: completion record failed, retrying", "err", err)
		if !c.sleep(c.cfg.MarkerRetryBackoff) {
			return
		}
	}
}

// writeMarkers writes job's marker to each of parts and returns the
// partitions that failed, with their errors. The partitions are written
// concurrently, as Kafka's TransactionMarkerChannelManager sends one
// WriteTxnMarkers per broker for all its partitions at once: each marker
// is fsynced (MarkerWriter), and a transaction's completion, for which the
// producer's next transaction waits, then costs about one fsync instead of
// one per partition.
func (c *Coordinator) writeMarkers(log *slog.Logger, job completion, parts []TopicPartition) (failed []TopicPartition, errs []error) {
	results := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, tp := range parts {
		if !c.cfg.Partitions.PartitionExists(tp.Topic, tp.Partition) {
			log.Warn("transaction marker: partition is gone, skipped", "topic", tp.Topic, "partition", tp.Partition)
			continue
		}
		write := func() {
			results[i] = c.cfg.Markers.WriteMarker(tp.Topic, tp.Partition, job.producerID, job.epoch, c.cfg.CoordinatorEpoch, job.commit)
		}
		if len(parts) == 1 {
			write() // no goroutine for the common one-partition case
			continue
		}
		wg.Go(write)
	}
	wg.Wait()
	for i, err := range results {
		if err != nil {
			failed = append(failed, parts[i])
			errs = append(errs, err)
		}
	}
	return failed, errs
}
