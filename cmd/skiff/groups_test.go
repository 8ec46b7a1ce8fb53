package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/consumer"
)

// TestGroupsDescribeLiveMember describes a group with a member consuming:
// the member and its decoded assignment, the committed offsets and the lag.
func TestGroupsDescribeLiveMember(t *testing.T) {
	c := cliCluster(t, 1, kfake.SeedTopics(2, "t"))
	produceRecords(t, c.ListenAddrs(),
		&kgo.Record{Topic: "t", Partition: 0, Value: []byte("a")},
		&kgo.Record{Topic: "t", Partition: 0, Value: []byte("b")},
		&kgo.Record{Topic: "t", Partition: 1, Value: []byte("c")})
	cons, err := consumer.New(consumer.Config{Brokers: c.ListenAddrs(), GroupID: "live", Topics: []string{"t"},
		ClientID: "describe-me", AutoOffsetReset: "earliest", DisableAutoCommit: true})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	defer cons.Close(ctx)
	for got := 0; got < 3; {
		recs, err := cons.Poll(ctx)
		require.NoError(t, err)
		got += len(recs)
	}
	require.NoError(t, cons.CommitOffsets(ctx, map[consumer.TopicPartition]consumer.TopicPartitionOffset{
		{Topic: "t", Partition: 0}: {Partition: 0, Offset: 1, LeaderEpoch: -1},
		{Topic: "t", Partition: 1}: {Partition: 1, Offset: 1, LeaderEpoch: -1},
	}))

	code, out, errOut := runCLI(t, groupsCmd, "describe", "live", "--brokers", brokersArg(c))
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `STATE Stable\s+PROTOCOL consumer/range\s+MEMBERS 1`, out)
	assert.Regexp(t, `describe-me\s+\S+\s+t\[0 1\]`, out)
	assert.Regexp(t, `t\s+0\s+1\s+2\s+1`, out) // committed 1, end 2, lag 1
	assert.Regexp(t, `t\s+1\s+1\s+1\s+0`, out)
}
