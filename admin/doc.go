// Package admin administers a Kafka cluster from Go: topics, configs,
// offsets, consumer groups (lag and offset resets) and cluster metadata,
// the jobs of kafka-topics, kafka-configs, kafka-delete-records and
// kafka-consumer-groups. It speaks the Kafka protocol through the same
// connection layer as the producer and consumer, so it works with any
// Kafka broker, the bundled one included.
//
// Usage:
//
//	adm, err := admin.New(admin.Config{Brokers: []string{"127.0.0.1:9092"}})
//	if err != nil { ... }
//	defer adm.Close(ctx)
//
//	rs, err := adm.CreateTopics(ctx, admin.NewTopic{Name: "orders", Partitions: 6,
//		Configs: map[string]string{"retention.ms": "86400000"}})
//	if err != nil { ... }                      // no answer at all
//	if err := rs.Error(); err != nil { ... }   // a topic was refused
//
//	lag, err := adm.Lag(ctx, "billing")        // committed vs end offsets
//	fmt.Println(lag.Total)
//
//	plan, err := adm.PlanResetOffsets(ctx, "billing", admin.ToEarliest(),
//		map[string][]int32{"orders": nil})     // a dry run: nothing changes
//	res, err := adm.ResetOffsets(ctx, plan)    // commits the plan
//
// # Results and errors
//
// Calls about several items (topics, partitions, groups, resources) return
// one result per item, each with its own Err, as Kafka answers per item
// and as franz-go's kadm does: one topic that already exists does not fail
// the others. The call's own error is for the request as a whole (no broker
// reachable, the broker does not support the API). Item errors wrap
// kerr values, so errors.Is(err, kerr.TopicAlreadyExists) works,
// with the broker's error message attached when it sent one; each result
// list has an Error method joining its items' errors.
//
// # Routing and retries
//
// Topic creation, deletion and partition changes go to the controller
// named in Metadata and move with it on NOT_CONTROLLER. Group requests go
// to the group's coordinator (FindCoordinator) and follow it on
// NOT_COORDINATOR; a coordinator still loading is waited for. Offset
// lookups and record deletion go to each partition's leader. Versions are
// negotiated per broker through ApiVersions: an API the broker does not
// advertise is never sent (a broker closes the connection on an unknown
// key) and the call fails at once with an error wrapping
// kerr.UnsupportedVersion that names the API. Read-only requests are
// resent after a lost connection; requests that change something are not,
// since whether they took effect is unknown.
//
// # Offset resets
//
// PlanResetOffsets and ResetOffsets are kafka-consumer-groups
// --reset-offsets without and with --execute: to the earliest or latest
// offset, to a time, to an offset, or shifted by N, kept within each
// partition's log. Both refuse a group with members (ErrGroupNotEmpty, as
// Kafka's tool does), since active members would overwrite the reset with
// their next commit; ResetOffsets checks again, so a member that joined
// after the plan was made stops it. The commit is an admin commit
// (generation -1, no member id), which coordinators accept only from
// outside the group.
//
// # Caveats
//
//   - Lag counts a partition without a committed offset as its whole log
//     (end minus start), as kadm does; kafka-consumer-groups shows "-".
//   - DescribeGroups covers classic groups; KIP-848 consumer groups
//     (ConsumerGroupDescribe) are not described yet.
//   - Connection security (TLS, SASL) follows the producer's and
//     consumer's configuration as it lands in internal/wire.
package admin
