// Package purgatory is the bundled broker's one mechanism for delayed
// operations, after Kafka's DelayedOperationPurgatory: a request that cannot
// be answered yet (a fetch below fetch.min.bytes, an acks=all produce waiting
// for its fsync) is parked under the partitions it waits on, with a deadline.
//
// Completion is event-driven, never polled:
//
//   - Watch(keys, op, deadline) first parks op under every key, then calls
//     op.TryComplete once, so an event that raced with parking is not lost.
//   - Notify(key) is called by whoever changed the state of a partition (an
//     append, a group-commit fsync, a retention or deletion) and calls
//     TryComplete on every op parked under that key.
//   - One timer goroutine owns a min-heap of deadlines and sleeps on a single
//     time.Timer armed for the earliest one; at the deadline the op expires.
//
// Whichever comes first wins: an atomic flag guarantees that exactly one of
// OnComplete or OnExpire runs, exactly once. The op then leaves the heap at
// once and the watch lists of its keys lazily, as Kafka's purgatory does:
// a Notify of a key drops the claimed ops it walks past, and the timer
// goroutine sweeps every list once claimed pairs outnumber live ones.
//
// Replication (a later step) adds no new machinery: a produce with acks=all
// gains one more completion condition (the partition's high watermark, moved
// by follower fetches, covers its last offset), and the code that advances
// the high watermark calls Notify(key) like an append does today.
//
// Usage:
//
//	p := purgatory.New()
//	defer p.Close()
//	p.Watch([]purgatory.Key{{Topic: "t", Partition: 0}}, op, time.Now().Add(500*time.Millisecond))
//	// after appending to t[0]:
//	p.Notify(purgatory.Key{Topic: "t", Partition: 0})
//
// Caveats: TryComplete may run concurrently on several goroutines (one per
// key notified at once) and must be safe for that; OnComplete runs on the
// goroutine that won the race (a notifier or the watcher), and OnExpire on
// the timer goroutine unless New was given ExpireWith, which hands expired
// ops to other goroutines (the broker's I/O workers: an expired fetch reads
// the log, and the timer goroutine must never wait on a disk). Close drops every
// pending op without completing it: the broker closes the connections those
// ops would have answered.
package purgatory
