package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/consumer"
)

// TestCLITopicsAlter: alter-config, add-partitions, and describe showing
// the result as a table and as JSON.
func TestCLITopicsAlter(t *testing.T) {
	c := cliCluster(t, 1, kfake.SeedTopics(2, "orders"))
	b := brokersArg(c)
	runCases(t, []cliCase{
		{name: "set two configs", cmd: "topics", args: []string{"alter-config", "orders", "--set", "retention.ms=3600000", "--set", "cleanup.policy=compact", "--brokers", b}, code: 0,
			stdout: []string{"set retention.ms=3600000 on topic orders\n", "set cleanup.policy=compact on topic orders\n"}},
		{name: "describe lists the overrides", cmd: "topics", args: []string{"describe", "orders", "--brokers", b}, code: 0,
			stdout: []string{"orders configs: cleanup.policy=compact,retention.ms=3600000\n"}},
		{name: "delete one returns it to its default", cmd: "topics", args: []string{"alter-config", "orders", "--delete", "cleanup.policy", "--brokers", b}, code: 0,
			stdout: []string{"reset cleanup.policy to its default on topic orders\n"}},
		{name: "the broker's refusal is the error", cmd: "topics", args: []string{"alter-config", "nosuch", "--set", "retention.ms=1", "--brokers", b}, code: 1,
			stderr: []string{"skiff topics alter-config: ", "UNKNOWN_TOPIC_OR_PARTITION"}},
		{name: "alter-config with nothing to change", cmd: "topics", args: []string{"alter-config", "orders", "--brokers", b}, code: 2,
			stderr: []string{"nothing to change: pass --set k=v or --delete k"}},
		{name: "add-partitions to a total of 5", cmd: "topics", args: []string{"add-partitions", "orders", "--partitions", "5", "--brokers", b}, code: 0,
			stdout: []string{"topic orders now has 5 partitions\n"}},
		{name: "list shows 5", cmd: "topics", args: []string{"list", "--brokers", b}, code: 0,
			stdout: []string{"TOPIC   PARTITIONS  REPLICATION\norders  5           1\n"}},
		{name: "add-partitions cannot shrink", cmd: "topics", args: []string{"add-partitions", "orders", "--partitions", "3", "--brokers", b}, code: 1,
			stderr: []string{"INVALID_PARTITIONS"}},
		{name: "add-partitions needs --partitions", cmd: "topics", args: []string{"add-partitions", "orders", "--brokers", b}, code: 2,
			stderr: []string{"--partitions N (the new total, at least 1) is required"}},
		{name: "topic config given the kafka-topics way gets a pointer to --set", cmd: "topics",
			args: []string{"create", "x", "--config", "retention.ms=1", "--brokers", b}, code: 2,
			stderr: []string{`--config takes a client properties file, and "retention.ms=1" is none; for a topic config use --set retention.ms=1`}},
	})

	code, out, errOut := runCLI(t, topicsCmd, "describe", "orders", "--json", "--brokers", b)
	require.Equal(t, 0, code, errOut)
	var ds []topicJSON
	require.NoError(t, json.Unmarshal([]byte(out), &ds), out)
	require.Len(t, ds, 1)
	assert.Equal(t, "orders", ds[0].Topic)
	assert.Equal(t, 5, ds[0].Partitions)
	assert.Len(t, ds[0].Details, 5)
	assert.Equal(t, map[string]string{"retention.ms": "3600000"}, ds[0].Configs)

	code, out, errOut = runCLI(t, topicsCmd, "list", "--json", "--brokers", b)
	require.Equal(t, 0, code, errOut)
	var ls []topicJSON
	require.NoError(t, json.Unmarshal([]byte(out), &ls), out)
	assert.Equal(t, []topicJSON{{Topic: "orders", Partitions: 5, ReplicationFactor: 1}}, ls)
}

// commitGroup commits offsets for group as a member would, then leaves,
// so the group is Empty with those offsets.
func commitGroup(t *testing.T, brokers []string, group, topic string, offsets map[int32]int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cons, err := consumer.New(consumer.Config{Brokers: brokers, GroupID: group, Topics: []string{topic},
		AutoOffsetReset: "earliest", DisableAutoCommit: true})
	require.NoError(t, err)
	for len(cons.Assignment()) == 0 {
		_, err := cons.Poll(ctx)
		require.NoError(t, err)
	}
	commit := map[consumer.TopicPartition]consumer.TopicPartitionOffset{}
	for p, o := range offsets {
		commit[consumer.TopicPartition{Topic: topic, Partition: p}] = consumer.TopicPartitionOffset{Partition: p, Offset: o, LeaderEpoch: -1}
	}
	require.NoError(t, cons.CommitOffsets(ctx, commit))
	require.NoError(t, cons.Close(ctx))
}

// TestCLIGroupsResetOffsets: a dry run prints the plan and commits
// nothing; --execute commits it; a group with members is refused.
func TestCLIGroupsResetOffsets(t *testing.T) {
	c := cliCluster(t, 1, kfake.SeedTopics(2, "t"))
	b := brokersArg(c)
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Topic: "t", Partition: int32(i % 2), Value: []byte("v")})
	}
	produceRecords(t, c.ListenAddrs(), recs...) // 5 records in each partition
	commitGroup(t, c.ListenAddrs(), "g", "t", map[int32]int64{0: 4, 1: 3})

	runCases(t, []cliCase{
		{name: "dry run to earliest", cmd: "groups", args: []string{"reset-offsets", "g", "--topic", "t", "--to-earliest", "--brokers", b}, code: 0,
			stdout: []string{"GROUP  TOPIC  PARTITION  CURRENT-OFFSET  NEW-OFFSET  ERROR\ng      t      0          4               0           -\ng      t      1          3               0           -\n"},
			stderr: []string{"dry run: nothing committed; add --execute to reset 2 partitions of group g"}},
		{name: "the dry run changed nothing", cmd: "groups", args: []string{"describe", "g", "--brokers", b}, code: 0,
			stdout: []string{"LAG 3", "t      0          4               5               1"}},
		{name: "shift one partition back, executed", cmd: "groups", args: []string{"reset-offsets", "g", "--topic", "t:1", "--shift-by", "-2", "--execute", "--brokers", b}, code: 0,
			stdout: []string{"g      t      1          3               1           -\n"},
			stderr: []string{"reset 1 partition of group g"}},
		{name: "to-offset beyond the end is kept within the log", cmd: "groups", args: []string{"reset-offsets", "g", "--all-topics", "--to-offset", "99", "--json", "--brokers", b}, code: 0,
			stdout: []string{`"new_offset": 5`}},
		{name: "to-datetime in the future is the end", cmd: "groups", args: []string{"reset-offsets", "g", "--topic", "t:0", "--to-datetime", "2999-01-01T00:00:00Z", "--execute", "--brokers", b}, code: 0,
			stdout: []string{"g      t      0          4               5           -\n"}},
		{name: "describe shows the new offsets", cmd: "groups", args: []string{"describe", "g", "--brokers", b}, code: 0,
			stdout: []string{"LAG 4", "t      0          5               5               0", "t      1          1               5               4"}},
		{name: "two targets", cmd: "groups", args: []string{"reset-offsets", "g", "--topic", "t", "--to-earliest", "--to-latest", "--brokers", b}, code: 2,
			stderr: []string{"pass one of --to-earliest, --to-latest, not all of them"}},
		{name: "no target", cmd: "groups", args: []string{"reset-offsets", "g", "--topic", "t", "--brokers", b}, code: 2,
			stderr: []string{"say where to: --to-earliest"}},
		{name: "no topic", cmd: "groups", args: []string{"reset-offsets", "g", "--to-latest", "--brokers", b}, code: 2,
			stderr: []string{"--topic T (repeatable, T:0,1 for some partitions) or --all-topics"}},
		{name: "bad datetime", cmd: "groups", args: []string{"reset-offsets", "g", "--topic", "t", "--to-datetime", "yesterday", "--brokers", b}, code: 2,
			stderr: []string{`--to-datetime "yesterday": want RFC 3339`}},
	})

	// A live member: refused, dry run or not, and nothing committed.
	cons, err := consumer.New(consumer.Config{Brokers: c.ListenAddrs(), GroupID: "g", Topics: []string{"t"}, DisableAutoCommit: true})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	defer cons.Close(ctx)
	for len(cons.Assignment()) == 0 {
		_, err := cons.Poll(ctx)
		require.NoError(t, err)
	}
	runCases(t, []cliCase{
		{name: "refused while the group has members", cmd: "groups", args: []string{"reset-offsets", "g", "--topic", "t", "--to-earliest", "--execute", "--brokers", b}, code: 1,
			stderr: []string{"skiff groups reset-offsets: group g has active members; stop its consumers first"}},
		{name: "delete refused while the group has members", cmd: "groups", args: []string{"delete", "g", "--brokers", b}, code: 1,
			stderr: []string{"skiff groups delete: g: has active members; stop its consumers first"}},
	})
	require.NoError(t, cons.Close(ctx))
	runCases(t, []cliCase{
		{name: "describe JSON after the member left", cmd: "groups", args: []string{"describe", "g", "--json", "--brokers", b}, code: 0,
			stdout: []string{`"group": "g"`, `"current_offset": 5`, `"total_lag": 4`}},
		{name: "delete once empty", cmd: "groups", args: []string{"delete", "g", "--brokers", b}, code: 0,
			stdout: []string{"deleted group g\n"}},
		{name: "gone afterwards", cmd: "groups", args: []string{"describe", "g", "--brokers", b}, code: 1,
			stderr: []string{"g: group does not exist"}},
		{name: "list JSON", cmd: "groups", args: []string{"list", "--json", "--brokers", b}, code: 0,
			stdout: []string{"[]"}},
	})
}

// TestCLIGroupsResetBundledBroker: reset-offsets against the bundled
// broker, whose coordinator takes admin commits.
func TestCLIGroupsResetBundledBroker(t *testing.T) {
	b := startBundledBroker(t)
	runCase(t, cliCase{name: "create", cmd: "topics", args: []string{"create", "t", "--brokers", b}, code: 0})
	runCase(t, cliCase{name: "produce", cmd: "produce", args: []string{"--topic", "t", "--brokers", b}, stdin: "a\nb\nc\n", code: 0})
	commitGroup(t, []string{b}, "bg", "t", map[int32]int64{0: 3})
	runCases(t, []cliCase{
		{name: "execute to earliest", cmd: "groups", args: []string{"reset-offsets", "bg", "--topic", "t", "--to-earliest", "--execute", "--brokers", b}, code: 0,
			stdout: []string{"bg     t      0          3               0           -\n"}},
		{name: "describe shows lag 3", cmd: "groups", args: []string{"describe", "bg", "--brokers", b}, code: 0,
			stdout: []string{"STATE Empty", "LAG 3", "t      0          0               3               3"}},
	})
}
