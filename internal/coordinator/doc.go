// Package coordinator is the group coordinator of skiff's bundled
// single-node broker: the classic consumer-group protocol (FindCoordinator,
// JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups, ListGroups,
// DeleteGroups) and durable committed offsets (OffsetCommit, OffsetFetch).
//
// The broker decodes a request with kmsg and hands it to Handle together
// with the client's id and address; the coordinator answers through a
// callback, immediately or later (a JoinGroup waits for the rebalance, an
// OffsetCommit for its fsync):
//
//	c, err := coordinator.New(coordinator.Config{DataDir: dir, Port: 9092})
//	...
//	if coordinator.Handles(key) {
//		c.Handle(coordinator.Client{ID: clientID, Host: ip}, req, func(resp kmsg.Response) { ... })
//	}
//	...
//	c.Close(ctx)
//
// The state machine follows Kafka's GroupCoordinator: states Empty,
// PreparingRebalance, CompletingRebalance, Stable and Dead; KIP-394 member
// ids; KIP-345 static membership; group.initial.rebalance.delay.ms; session
// expiry per member; the most-voted common protocol.
//
// Every deadline is a delayed operation in an internal/purgatory owned by
// the coordinator, as Kafka's DelayedJoin, InitialDelayedJoin and
// DelayedHeartbeat are: the join phase is parked under the group's key
// ("group/<group>") and completes when every member has rejoined or expires
// at the rebalance timeout; each member's session is parked under its key
// ("member/<group>/<member>"), and each sign of life (Heartbeat, JoinGroup,
// SyncGroup, OffsetCommit) completes it through Notify and parks the next.
// The purgatory is never called with the coordinator's lock held, so the
// ops' callbacks may take it (delayed.go documents the lock order).
//
// Committed offsets live in DataDir/offsets.log, an append-only log of
// CRC-protected frames (the format is documented in offsetlog.go and
// docs/coordinator.md), fsynced before a commit is acknowledged, with
// concurrent commits sharing one fsync. It is replayed by New, truncated at
// a torn or corrupt tail, and compacted when it grows to four times its live
// size. Beside the offsets it keeps each group's metadata, as Kafka's
// __consumer_offsets does (grouplog.go): every completed generation with
// its members and assignments, Empty groups, and tombstones of deleted
// groups. New restores the groups, so after a restart members go on
// heartbeating and committing with their ids and generation, and their
// sessions start anew.
//
// Caveats: a rebalance under way at a restart is not recorded; the group
// comes back as its last completed generation. Offsets expire offsets.retention.minutes after their commit once
// the group has no members, not after the group became empty (KIP-211). The
// consumer protocol of KIP-848 (ConsumerGroupHeartbeat) is not implemented.
package coordinator
