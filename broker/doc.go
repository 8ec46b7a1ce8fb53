// Package broker is skiff's bundled Kafka broker: a single node that speaks
// the Kafka wire protocol to any client (franz-go, sarama, kafka-go,
// librdkafka, kafka-python, skiff) and stores records for real, in Kafka's
// on-disk layout, with purgatory semantics for acks=all and
// fetch.min.bytes.
//
//	b, err := broker.Start(ctx, broker.Config{Listen: "127.0.0.1:0", DataDir: dir})
//	if err != nil { ... }
//	defer b.Close(context.Background())
//	cl, _ := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
//
// The command line runs the same broker: skiff broker --listen
// 127.0.0.1:9092 --data ./data. For tests, package skifftest wraps it with
// t.TempDir, t.Cleanup and fault injection.
//
// # Request flow
//
// One file per API key (00_produce.go, 01_fetch.go, ...) says what happens
// to that request. Around them:
//
//   - conn.go: per connection a reader goroutine parses size-prefixed
//     requests in order (request.go: header v1/v2, kmsg bodies) and a writer
//     goroutine writes answers back in request order with vectored writes,
//     whatever order they finish in. Bytes that do not parse close that
//     connection only.
//   - worker.go: requests pass a bounded queue (queued.max.requests, and
//     queued.max.request.bytes in queue_bytes.go; either one full blocks
//     readers) to num.io.threads worker goroutines. Injected faults
//     (Config.Faults) apply here.
//   - internal/purgatory: requests that must wait (a fetch below
//     fetch.min.bytes, an acks=all produce waiting for fsync) park under
//     their partitions and complete on an append or fsync notification, or
//     at their deadline; the purgatory's timer hands expired ones to the
//     workers (expired.go), which answer them, since an expired fetch
//     reads the log.
//   - fetch_session.go: KIP-227 fetch sessions, per broker and not per
//     connection, in a cache bounded by
//     max.incremental.fetch.session.cache.slots with Kafka's eviction. An
//     incremental Fetch reads every partition of its session and is
//     answered with the changed ones; 01_fetch.go consults the session
//     when it picks the partitions to read and once more, exactly once,
//     when it sends the answer (after any wait in the purgatory).
//   - flusher.go: the fsync policy; with FsyncAlways one fsync per log
//     covers every request waiting on it (group commit).
//   - topics.go: topics, their ids and configs in skiff-metadata.json, one
//     internal/log per partition in <DataDir>/<topic>-<partition>/.
//   - datadir_lock.go: Start holds a flock on <DataDir>/.lock until Close,
//     so a second broker on the same directory refuses to start
//     (ErrDataDirLocked) instead of interleaving its writes.
//
// # Versions
//
// Record batch v2 only. ApiVersions advertises: Produce 0-13 (0-2 answered
// UNSUPPORTED_VERSION, as Kafka 4.0, KAFKA-18659), Fetch 4-18, ListOffsets
// 1-8, Metadata 0-13, ApiVersions 0-4, CreateTopics 0-7, DeleteTopics 0-6,
// DeleteRecords 0-2, InitProducerId 0-5, OffsetForLeaderEpoch 0-4,
// DescribeAcls/CreateAcls/DeleteAcls 0-3, DescribeConfigs 0-4,
// AlterConfigs 0-2, DescribeLogDirs 0-5, CreatePartitions 0-3,
// ElectLeaders 0-2, IncrementalAlterConfigs 0-1,
// AlterPartitionAssignments 0-1, ListPartitionReassignments 0,
// DescribeClientQuotas/AlterClientQuotas 0-1,
// DescribeUserScramCredentials/AlterUserScramCredentials 0,
// DescribeCluster 0-2, DescribeProducers 0. The consumer group APIs
// (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// OffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups,
// OffsetDelete) go to internal/coordinator at every version kmsg knows
// (groups.go); committed offsets live in <DataDir>/__consumer_offsets,
// shown in Metadata as the internal topic __consumer_offsets with one
// partition. The node id is Config.NodeID (node.id), 1 by default as in
// the apache/kafka image.
//
// ACLs, client quotas and SCRAM credentials are stored durably
// (skiff-acls.json, skiff-quotas.json, skiff-scram.json in DataDir) and
// managed with Kafka's semantics. ACLs behave as Kafka's authorizer with
// allow.everyone.if.no.acl.found=true where none matches; they and the
// quotas are not enforced yet.
//
// # Security
//
// Config.Listeners takes Kafka's syntax, any mix of PLAINTEXT, SSL,
// SASL_PLAINTEXT and SASL_SSL (listener.go); each client is advertised its
// own listener's address. SSL listeners use Config.TLS (mTLS with
// ClientCAs; the principal is the certificate subject). SASL listeners log
// clients in with PLAIN, SCRAM-SHA-256/512 (Config.SASLUsers or
// SASLUsersFile) or OAUTHBEARER (unsecured JWTs), on the connection's
// reader before any request reaches a worker (sasl.go): SaslHandshake
// v0-v1, SaslAuthenticate v0-v2, KIP-368 re-authentication with
// Config.MaxReauth. internal/auth holds the mechanisms' server side.
//
// # Caveats
//
// A single node: replication factor 1, leader epoch 0; reassignments and
// elections naming this node complete at once, other nodes are refused. No
// compaction. Transactions (txn.go,
// internal/txncoord) are Kafka's before KIP-890: AddPartitionsToTxn v0-v3,
// EndTxn v0-v4, no server-side produce verification beyond the partition
// having been added. ACLs are
// stored but not enforced (an authenticated principal may do anything), and
// client quotas are stored but not enforced (no throttling). No GSSAPI or
// delegation tokens.
package broker
