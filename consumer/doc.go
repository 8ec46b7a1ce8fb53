// Package consumer reads records from Kafka: assign mode (explicit
// partitions and offsets) and group mode (a subscription shared through a
// classic-protocol consumer group, interoperable with Java and franz-go
// members), with fetch pipelining, offset management and rebalance
// callbacks.
//
// Group mode:
//
//	c, err := consumer.New(consumer.Config{
//		Brokers: []string{"127.0.0.1:9092"},
//		GroupID: "billing",
//		Topics:  []string{"orders"},
//	})
//	if err != nil { ... }
//	defer c.Close(context.Background())
//	for {
//		recs, err := c.Poll(ctx)
//		if err != nil { ... }           // ctx ended, or a partition-level problem
//		for _, r := range recs { ... }
//	}                                    // auto-commit commits what earlier Polls returned
//
// Assign mode sets Config.Assign (or calls Assign) instead of Topics; a
// GroupID is then only needed to commit. NewTyped wraps a Consumer with
// serializer.Deserializers.
//
// # How it works
//
// A fetch loop keeps one Fetch in flight per broker for the fetchable
// partitions that broker leads, while the decoded records buffered ahead of
// Poll stay under fetch.max.bytes. As soon as a response arrives the fetch
// offsets move past its complete batches and the next Fetch goes out;
// decoding (every codec, CRC checked, control batches and — with
// read_committed — aborted transactions skipped) overlaps that round trip.
// Poll hands out the decoded records without copying them.
//
// Each broker gets a KIP-227 fetch session, as with the Java client and
// kgo: the first Fetch lists every partition, later ones only those whose
// position changed and, in ForgottenTopics, those no longer fetched there
// (paused, revoked, moved); a session error makes the next Fetch a full
// one, and Close ends the sessions. DisableFetchSessions sends full
// fetches instead.
//
// In group mode a group goroutine runs JoinGroup (with KIP-394's member id
// retry), SyncGroup (the leader runs the assignor: range, roundrobin or
// cooperative-sticky, encoding ConsumerProtocol subscriptions and
// assignments as Kafka does), heartbeats, and rejoins on
// REBALANCE_IN_PROGRESS, on a generation or member id the coordinator no
// longer knows, when a subscribed topic's partition count changes, and
// after a commit fails because of a rebalance. Revocations, assignments and
// losses are handed to Poll, which commits (with auto-commit) and calls the
// RebalanceListener on the caller's goroutine, as Java calls its listener
// inside poll(); the group goroutine waits for that, heartbeating, up to
// max.poll.interval.ms.
//
// # When something is missing
//
// Like Java's consumer, Poll waits out an unreachable cluster and a
// subscribed topic that does not exist yet; it does not wait in silence.
// No broker reachable: one Warn log naming every address and its OS error,
// Debug while retrying, Info when a broker answers again; Ping fails fast
// instead. A subscribed topic the metadata does not have: one Warn naming
// it and ErrTopicNotAvailable (wrapping kerr.UnknownTopicOrPartition) from
// Poll, once; the consumer checks every second and consumes the topic once
// it is created.
//
// # Caveats
//
//   - Delivery is at least once. Auto-commit and the commit before a
//     revocation cover the records returned by the Polls before the latest
//     one; with DisableAutoCommit, commit after processing (CommitSync) and
//     in OnRevoked. For exactly once, a consume-transform-produce
//     pipeline reads with ReadCommitted and DisableAutoCommit and commits
//     its input offsets inside the producer's transaction: the eos
//     package's SendOffsets sends Positions with GroupMetadata (KIP-447).
//   - Records are never reused: they alias the fetch response (uncompressed
//     batches) or a per-batch decompression buffer, so keeping one record
//     keeps that buffer alive.
//   - The consumer protocol of KIP-848 (ConsumerGroupHeartbeat) is not
//     implemented; groups use the classic protocol.
//   - The cooperative-sticky balance step is simpler than Java's: with
//     identical subscriptions it is as balanced and as sticky; with
//     differing subscriptions it stays valid but may be less balanced.
package consumer
