// Package producer sends records to Kafka: Send buffers a record into its
// partition's batch and returns; a sender goroutine ships ready batches,
// one Produce request per broker, and callbacks report each record's fate.
//
//	p, err := producer.New(producer.Config{Brokers: []string{"127.0.0.1:9092"}})
//	if err != nil { ... }
//	defer p.Close(context.Background())
//
//	err = p.Send(ctx, producer.Record{Topic: "orders", Key: k, Value: v},
//		func(md producer.RecordMetadata, err error) { ... })
//
// The send path is serializer → partitioner → accumulator → sender:
//
//   - Send picks the partition (Record.Partition, else Config.Partitioner,
//     by default Kafka's murmur2-of-key / uniform sticky), then encodes the
//     record straight into the partition's open batch: no allocation and
//     one lock per record. It blocks only for the first metadata of a topic
//     or while buffer.memory is exhausted, both at most max.block.
//   - The sender wakes on a batch filling, the earliest linger deadline,
//     Flush, a retry backoff ending, a response, or metadata arriving, and
//     pipelines up to max.in.flight requests per broker. Closed batches are
//     compressed once, on up to GOMAXPROCS worker goroutines, not on the
//     sender; it only stamps each batch's producer id and sequence.
//   - A partitioner.LoadAware partitioner (the default one is) learns each
//     topic's partitions with a leader and their queue lengths, so keyless
//     records drift away from slow brokers (KIP-794).
//   - Idempotence is on by default, as in the Java client since 3.0:
//     sequence numbers make retries free of duplicates and reordering, and
//     the epoch is bumped (KIP-360) when the broker lost the producer's
//     state or a batch failed or expired after being sent.
//   - Retriable errors (NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT, dropped
//     connections, ...) refresh metadata and requeue the batch at the head
//     of its partition with exponential backoff; fatal ones fail it with an
//     error like "produce orders[3]: TOPIC_AUTHORIZATION_FAILED: ...",
//     matchable with errors.Is against the kerr values. Nothing is retried
//     past delivery.timeout.ms.
//
// Transactions (KIP-98), named after the Java client: with
// Config.TransactionalID set, call InitTransactions once (New does not
// touch the network; it fences older producers with the same id), then
// BeginTransaction, Send..., optionally SendOffsetsToTransaction (the
// consume-transform-produce step, with the group's generation and member
// id, KIP-447), and CommitTransaction (which flushes first) or
// AbortTransaction. Each partition joins a transaction with
// AddPartitionsToTxn before its first batch goes out, the partitions of
// one drain in one request. Errors say what is left to do: errors.Is(err,
// ErrAbortableTxn) means abort and go on; ErrFatalTxn (PRODUCER_FENCED,
// INVALID_PRODUCER_EPOCH: another instance took over the transactional id)
// means Close; ErrTxnState means a call out of order (Send outside a
// transaction, BeginTransaction twice).
//
//	if err := p.InitTransactions(ctx); err != nil { ... }
//	p.BeginTransaction()
//	p.Send(ctx, rec, cb)
//	if err := p.CommitTransaction(ctx); errors.Is(err, producer.ErrAbortableTxn) {
//		p.AbortTransaction(ctx)
//	}
//
// Callbacks of one partition run in order, one at a time, on a producer
// goroutine (never on the connection readers); a slow callback delays the
// others. A callback must not call Flush or Close (they wait for callbacks
// to finish: the same deadlock Kafka's Java client refuses). Typed wraps a
// Producer with key and value serializers.
//
// Caveats & limitations:
//   - Transactions without KIP-890 (AddPartitionsToTxn v0-v3, EndTxn up
//     to v4): the coordinator does not bump the epoch per transaction.
//     Sends must not race with CommitTransaction or AbortTransaction: a
//     record accepted while one runs may fall into either transaction.
//     Close does not abort an open transaction; the coordinator does after
//     transaction.timeout.ms (or the next InitTransactions with the id).
//     GroupMetadata is filled in by hand: the consumer does not hand it
//     out yet. Produce requests go out at v3 and up; v13+ (KIP-516,
//     topics by id) only when metadata gave every topic's id.
//   - A batch the broker rejects as MESSAGE_TOO_LARGE is split in two and
//     retried, as the Java client does; a single record that large fails.
//     The halves' buffers are allocated outside buffer.memory.
//   - An epoch bump (after a failed or expired batch) holds back only the
//     partition whose sequences broke; every partition then moves to the new
//     epoch at sequence 0 once its in-flight batches are back. A retried
//     batch whose earlier attempt had an unknown outcome may then be written
//     twice, as with the Java client.
//   - Records with acks=0 report offset -1 and no broker-side errors.
package producer
