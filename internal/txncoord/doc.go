// Package txncoord is the transaction coordinator of skiff's bundled
// single-node broker: Kafka's TransactionCoordinator, the state machine of
// every transactional.id with its durable log, the markers that end a
// transaction, and the timeouts that abort a forgotten one.
//
// The broker decodes a request with kmsg and calls one method with plain Go
// values; each returns Kafka's errors as kerr values (errors.Is),
// so a handler only copies fields and codes:
//
//	c, err := txncoord.New(txncoord.Config{
//		DataDir: dir, ProducerIDs: pids, Partitions: topics,
//		Markers: logs, Offsets: groups,
//	})
//	...
//	id, err := c.InitProducerID("tx-1", time.Minute, txncoord.NoProducer)
//	errs := c.AddPartitions("tx-1", id.ProducerID, id.Epoch, parts)
//	err = c.EndTxn("tx-1", id.ProducerID, id.Epoch, true)
//	...
//	c.Close(ctx)
//
// States are Kafka's: Empty → Ongoing (AddPartitionsToTxn or
// AddOffsetsToTxn) → PrepareCommit or PrepareAbort (EndTxn, or an abort by
// the coordinator) → CompleteCommit or CompleteAbort (every marker written)
// → Ongoing again with the next transaction. PrepareEpochFence is the
// in-memory moment in which the coordinator aborts an Ongoing transaction
// with a bumped epoch (for a new producer's InitProducerId, or the
// transaction timeout); Dead is a transactional id being forgotten after
// transactional.id.expiration.ms.
//
// Every change is written and fsynced to DataDir/transactions.log (the
// broker's DataDir is <data dir>/__transaction_state) before the request is
// answered (txnlog.go documents the bytes; docs/
// transactions.md has the whole design). New replays it, truncating a torn
// tail: a transaction found in Prepare* finishes writing its markers at
// once, an Ongoing one stays open until its timeout aborts it.
//
// The coordinator talks to the rest of the broker through four small
// interfaces it is given: ProducerIDSource, PartitionLookup, MarkerWriter
// and OffsetCommitter.
//
// Caveats: KIP-890 (transactions v2: AddPartitionsToTxn v4+, EndTxn epoch
// bumps) is not implemented. The log has no group commit: each change is
// one fsync. A timed-out transaction is aborted at the next check, up to
// AbortCheckInterval late, as in Kafka.
package txncoord
