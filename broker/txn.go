package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/skiffkit/skiff/internal/coordinator"
	"github.com/skiffkit/skiff/internal/log"
	"github.com/skiffkit/skiff/internal/txncoord"
	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnStateDir holds the transaction coordinator's log, named after the
// internal topic Kafka keeps transaction state in.
const txnStateDir = "__transaction_state"

// startTxnCoordinator starts the transaction coordinator (internal/txncoord)
// on DataDir/__transaction_state. It must run after the group coordinator
// (offsets of committed transactions go there) and the flusher (markers are
// appended to partition logs): loading the log resumes the markers of
// every transaction a crash left in Prepare* at once.
func (b *Broker) startTxnCoordinator() error {
	tc, err := txncoord.New(txncoord.Config{
		DataDir:            filepath.Join(b.cfg.DataDir, txnStateDir),
		ProducerIDs:        txnProducerIDs{b.pids},
		Partitions:         txnPartitions{b},
		Markers:            txnMarkers{b},
		Offsets:            txnOffsets{b.groups},
		MaxTimeout:         b.cfg.TransactionMaxTimeout,
		AbortCheckInterval: b.cfg.TransactionAbortCheckInterval,
		Logger:             b.log,
	})
	if err != nil {
		return fmt.Errorf("broker: transaction coordinator: %w", err)
	}
	b.txns = tc
	return nil
}

// closeTxnCoordinator stops the transaction coordinator. It runs before the
// group coordinator and the logs close: its marker goroutines write to
// both, and Close waits for them.
func (b *Broker) closeTxnCoordinator() error {
	if b.txns == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.txns.Close(ctx); err != nil && !errors.Is(err, txncoord.ErrClosed) {
		return err
	}
	return nil
}

// txnErrorCode is the code of a coordinator error: NOT_COORDINATOR once it
// closed (the client looks it up again, as after a coordinator move).
func txnErrorCode(err error) int16 {
	if errors.Is(err, txncoord.ErrClosed) {
		return kerr.NotCoordinator.Code
	}
	return kerr.Code(err)
}

// txnCompletionWait bounds how long answerAfterCompletion holds a request:
// markers that keep failing (a partition's disk) must not hold a client
// past its request timeout (30 s by default in Kafka's clients); it then
// gets CONCURRENT_TRANSACTIONS, as from Kafka, and retries.
const txnCompletionWait = 5 * time.Second

// answerAfterCompletion parks r, which the coordinator answered
// CONCURRENT_TRANSACTIONS, until txnID's transaction in PrepareCommit or
// PrepareAbort has completed (txncoord.Completing), then answers it with
// answer(), which runs the request again. It reports false, and leaves r
// to its handler, when the id is not completing (the answer stands: a log
// write in flight, which lasts one fsync) or the broker is stopping.
//
// Kafka answers at once; its Java producer retries after 20 ms, others
// after their retry backoff (100 ms for franz-go and sarama), and a
// producer committing transactions back to back spent most of each
// transaction in that wait (docs/transactions.md, "Measured"). Answering
// when the markers are durable gives every client the earliest moment its
// next transaction can start; the client sees the success it would have
// got from its retry.
func (b *Broker) answerAfterCompletion(r *request, txnID string, answer func() kmsg.Response) bool {
	done := b.txns.Completing(txnID)
	if done == nil {
		return false
	}
	return b.goroutine(func() {
		t := time.NewTimer(txnCompletionWait)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
		case <-b.stopping:
		}
		r.respond(answer())
	})
}

// runTxnRequest answers r with run's response, unless run reports that the
// coordinator answered CONCURRENT_TRANSACTIONS while txnID's previous
// transaction completes: then r waits for that (answerAfterCompletion) and
// run runs again. It returns nil when r is answered later.
func (b *Broker) runTxnRequest(r *request, txnID string, run func() (kmsg.Response, bool)) kmsg.Response {
	resp, concurrent := run()
	if concurrent && b.answerAfterCompletion(r, txnID, func() kmsg.Response {
		resp, _ := run()
		return resp
	}) {
		return nil
	}
	return resp
}

// txnProducerIDs shares the idempotent producers' id blocks, which are
// reserved durably, so an id is never issued twice across restarts.
type txnProducerIDs struct{ p *producerIDs }

func (s txnProducerIDs) NextProducerID() (int64, error) { return s.p.allocate() }

type txnPartitions struct{ b *Broker }

func (s txnPartitions) PartitionExists(topic string, partition int32) bool {
	p := s.b.topics.partition(topic, partition)
	return p != nil && !p.deleted.Load()
}

// txnMarkers appends transaction markers to partition logs
// (WriteTxnMarkers).
type txnMarkers struct{ b *Broker }

// WriteMarker appends the marker and fsyncs it (unless fsync is off):
// the coordinator logs the transaction complete after this returns, so a
// marker lost in a crash would leave the partition's transaction open
// forever. It wakes the fetches parked on the partition, for which the last
// stable offset may just have moved.
func (s txnMarkers) WriteMarker(topic string, partition int32, producerID int64, epoch int16, coordinatorEpoch int32, commit bool) error {
	b := s.b
	p := b.topics.partition(topic, partition)
	if p == nil || p.deleted.Load() {
		return nil // deleted since it joined the transaction: no one to tell
	}
	m := log.Marker{ProducerID: producerID, ProducerEpoch: epoch, CoordinatorEpoch: coordinatorEpoch, Commit: commit}
	_, err := p.log.AppendMarker(m, time.Now())
	switch {
	case errors.Is(err, kerr.InvalidProducerEpoch):
		// The partition saw a newer epoch of the producer: the transaction
		// this marker ends was fenced there already, as Kafka's marker
		// handler drops the marker on INVALID_PRODUCER_EPOCH.
		b.log.Warn("transaction marker for an older producer epoch dropped", "topic", topic, "partition", partition, "producer_id", producerID, "epoch", epoch, "err", err)
		return nil
	case err != nil:
		return err
	}
	if b.cfg.Fsync != FsyncNone {
		if _, err := p.log.Sync(); err != nil {
			return fmt.Errorf("sync marker: %w", err)
		}
	}
	p.appended.Add(controlBatchBytes)
	b.flush.appended(p)
	b.purg.Notify(p.key)
	return nil
}

// controlBatchBytes is the size of a marker's control batch: the 61-byte
// batch header and one 17-byte record with a 4-byte key and 6-byte value.
const controlBatchBytes = 78

// txnOffsets hands the group coordinator the offsets of TxnOffsetCommit.
type txnOffsets struct{ g *coordinator.Coordinator }

func (s txnOffsets) ValidateTxnOffsetCommit(group, memberID string, groupInstanceID *string, generation int32) error {
	return s.g.ValidateTxnOffsetCommit(group, memberID, groupInstanceID, generation)
}

func (s txnOffsets) CommitTxnOffsets(group string, _ int64, offsets []txncoord.TxnOffset) error {
	out := make([]coordinator.TxnOffset, len(offsets))
	for i, o := range offsets {
		out[i] = coordinator.TxnOffset(o)
	}
	return s.g.CommitTxnOffsets(group, out)
}

// Offsets in a record batch v2 header of the fields checkTxnProduce reads.
const (
	batchLengthAt     = 8
	batchAttributesAt = 21
	batchProducerAt   = 43
	batchEpochAt      = 51
	batchHeaderLen    = 61
	batchLogOverhead  = 12 // base offset and length, not counted in length
	attrTransactional = 0x10
)

// checkTxnProduce checks the transactional bit of every batch of a produced
// record set against the request's transactional id, and has the
// coordinator verify a transactional one: INVALID_TXN_STATE for a
// partition the transaction never added (AddPartitionsToTxn), the
// producer's fencing errors for a stale epoch. A transactional batch
// without a transactional id is INVALID_RECORD: it would open a
// transaction no coordinator ever ends and hold the partition's last stable
// offset back forever. Headers the log would reject are left to it (a short
// or torn record set is INVALID_RECORD or CORRUPT_MESSAGE there). It reads
// only the batch headers and allocates nothing.
func (b *Broker) checkTxnProduce(transactional bool, p *partition, rs []byte) int16 {
	for off := 0; off+batchHeaderLen <= len(rs); {
		attrs := binary.BigEndian.Uint16(rs[off+batchAttributesAt:])
		switch isTxn := attrs&attrTransactional != 0; {
		case isTxn && !transactional:
			return kerr.InvalidRecord.Code
		case !isTxn && transactional:
			// Kafka's ProduceRequest.validateRecords: a transactional
			// produce carries only transactional batches.
			return kerr.InvalidRecord.Code
		case isTxn:
			pid := int64(binary.BigEndian.Uint64(rs[off+batchProducerAt:]))
			epoch := int16(binary.BigEndian.Uint16(rs[off+batchEpochAt:]))
			tp := txncoord.TopicPartition{Topic: p.t.name, Partition: p.index}
			if err := b.txns.VerifyProduce(pid, epoch, tp); err != nil {
				return txnErrorCode(err)
			}
		}
		length := int32(binary.BigEndian.Uint32(rs[off+batchLengthAt:]))
		if length <= 0 {
			break
		}
		off += batchLogOverhead + int(length)
	}
	return 0
}

// nextOffsetAfter returns the offset after the last batch of batches, the
// end of the range a Fetch returns (Kafka's fetchUpperBoundOffset).
func nextOffsetAfter(batches []byte) int64 {
	next := int64(-1)
	for off := 0; off+batchHeaderLen <= len(batches); {
		base := int64(binary.BigEndian.Uint64(batches[off:]))
		lastDelta := int32(binary.BigEndian.Uint32(batches[off+23:]))
		next = base + int64(lastDelta) + 1
		length := int32(binary.BigEndian.Uint32(batches[off+batchLengthAt:]))
		if length <= 0 {
			break
		}
		off += batchLogOverhead + int(length)
	}
	return next
}

// abortedTxns is the aborted-transactions list of a read_committed Fetch
// (v4+) for the batches returned from fetchOffset on.
func abortedTxns(p *partition, fetchOffset int64, batches []byte) ([]kmsg.FetchResponseTopicPartitionAbortedTransaction, error) {
	upTo := nextOffsetAfter(batches)
	out := []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
	if upTo < 0 {
		return out, nil
	}
	list, err := p.log.AbortedTransactions(fetchOffset, upTo, nil)
	if err != nil {
		return out, err
	}
	for _, a := range list {
		e := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		e.ProducerID, e.FirstOffset = a.ProducerID, a.FirstOffset
		out = append(out, e)
	}
	return out, nil
}
