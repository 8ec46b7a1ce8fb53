// Package accumulator batches records per partition for a Kafka producer:
// the heart of skiff's send path (serializer → partitioner → accumulator →
// sender). It encodes each record straight into its partition's open record
// batch (record batch v2, no allocation per record), bounds the memory all
// batches use (buffer.memory), and tells a sender which brokers have
// batches worth sending now (linger.ms, batch.size, flush). It does no
// network I/O: the sender builds Produce requests from the batches it
// drains. This package is enough to write such a sender; the producer
// package is the full one (retries, idempotence, delivery timeouts).
//
// # Life cycle of a record
//
//	Append(ctx, topic, partition, rec)              any goroutine
//	  │  encoded into the partition's open batch
//	  ▼
//	queued
//	  │  the batch is full, or linger.ms passed, or Flush or Close
//	  │  began, or an Append waits for memory
//	  ▼
//	ready ........ Ready(now) names the leaders with ready batches
//	  │
//	  │  Drain(node, maxBytes): at most one batch per partition
//	  ▼
//	in flight ◄──────────┐   the sender puts b.Records() in a Produce
//	  │                  │   request to node
//	  ├── retriable ─────┘   retried: send b.Records() again (the producer
//	  │   error              re-queues the batch at the head of its
//	  │                      partition after a backoff instead)
//	  ▼  final answer
//	done ......... call each b.Pending() callback with its outcome, then
//	               Release(b): memory back to the pool, b.Done() closed
//
// A sender built on this package retries by sending the same b.Records()
// again before it calls Release; with MaxInFlightPerPartition set to 1 that
// keeps each partition in order, as Kafka's producer does with
// max.in.flight.requests.per.connection=1.
//
// # A sender in outline
//
//	acc, _ := accumulator.New[Ack](accumulator.Config{Leader: leaderOf})
//	go func() { // the application
//		acc.Append(ctx, "orders", 0, &accumulator.Record[Ack]{Value: v, Callback: cb})
//	}()
//	for { // the sender goroutine
//		nodes, next, _ := acc.Ready(time.Now(), nil)
//		for _, node := range nodes {
//			for _, b := range acc.Drain(node, 1<<20, time.Now(), nil) {
//				base, err := produce(node, b.Topic(), b.Partition(), b.Records())
//				for p := range b.Pending() {
//					p.Callback(Ack{Offset: base + int64(p.OffsetDelta)}, err)
//				}
//				acc.Release(b)
//			}
//		}
//		// sleep until acc.Wakeup() or next
//	}
//
// The callback type is the sender's choice: M is the metadata a callback
// receives with the record's outcome (the producer uses its RecordMetadata),
// so callbacks come back typed, with no type assertion.
//
// # Concurrency
//
// Append, AppendN, CheckSize, Flush, Close and Release are safe from any
// goroutine. Ready and Drain belong to one sender goroutine.
//
// # Caveats
//
//   - The memory budget counts uncompressed batch buffers; compressed copies
//     made by Drain are pooled separately and bounded by the batches in
//     flight.
//   - Idempotent sequences, retry backoff, splitting of batches the broker
//     finds too large and delivery.timeout.ms are the producer's: they need
//     the sender's knowledge of Kafka's answers.
package accumulator
