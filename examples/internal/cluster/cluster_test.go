package cluster_test

import (
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/examples/internal/cluster"
)

func partitionsOf(t *testing.T, brokers []string, topic string) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, mt)
	resp, err := req.RequestWith(t.Context(), cl)
	require.NoError(t, err)
	require.Len(t, resp.Topics, 1)
	require.Zero(t, resp.Topics[0].ErrorCode, "topic %s", topic)
	return len(resp.Topics[0].Partitions)
}

// TestStartUsesSkiffBrokers: with SKIFF_BROKERS the topic is created on
// that cluster; an existing topic with too few partitions is an error that
// says so (an example about partitions would otherwise "succeed" on one).
func TestStartUsesSkiffBrokers(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "narrow"))
	require.NoError(t, err)
	defer c.Close()
	t.Setenv("SKIFF_BROKERS", strings.Join(c.ListenAddrs(), ","))

	brokers, stop, err := cluster.Start(t.Context(), "orders", 4)
	require.NoError(t, err)
	stop()
	assert.Equal(t, c.ListenAddrs(), brokers)
	assert.Equal(t, 4, partitionsOf(t, brokers, "orders"))

	_, _, err = cluster.Start(t.Context(), "orders", 4)
	assert.NoError(t, err, "an existing topic with enough partitions is fine")

	_, _, err = cluster.Start(t.Context(), "narrow", 4)
	assert.ErrorContains(t, err, "topic narrow exists with 1 partition; this example needs 4")
}

// TestDeleteGroup: the group an example made is gone afterwards.
func TestDeleteGroup(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	require.NoError(t, err)
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"))
	require.NoError(t, err)
	require.NoError(t, cl.CommitRecords(t.Context(), &kgo.Record{Topic: "t", Partition: 0, Offset: 0, LeaderEpoch: -1}))
	cl.Close() // leaves the group

	require.NoError(t, cluster.DeleteGroup(t.Context(), c.ListenAddrs(), "g"))
	err = cluster.DeleteGroup(t.Context(), c.ListenAddrs(), "g")
	assert.ErrorContains(t, err, "GROUP_ID_NOT_FOUND", "deleted the first time")
}

func TestStartRunsBundledBroker(t *testing.T) {
	t.Setenv("SKIFF_BROKERS", "")
	brokers, stop, err := cluster.Start(t.Context(), "orders", 3)
	require.NoError(t, err)
	require.Len(t, brokers, 1)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	topic := kmsg.NewMetadataRequestTopic()
	topic.Topic = kmsg.StringPtr("orders")
	req.Topics = append(req.Topics, topic)
	resp, err := req.RequestWith(t.Context(), cl)
	require.NoError(t, err)
	require.Len(t, resp.Topics, 1)
	assert.Zero(t, resp.Topics[0].ErrorCode)
	assert.Len(t, resp.Topics[0].Partitions, 3, "the topic is created with the partitions asked for")

	stop()
	_, err = net.Dial("tcp", brokers[0])
	assert.Error(t, err, "stop shuts the broker down")
}

// TestLog: what the clients log is kept and written out only when asked
// (on failure), under a header.
func TestLog(t *testing.T) {
	var l cluster.Log
	l.Logger().Debug("joining group", "group", "payments-1")
	var out strings.Builder
	_, err := l.WriteTo(&out)
	require.NoError(t, err)
	assert.Contains(t, out.String(), "--- the consumer's log ---\n")
	assert.Contains(t, out.String(), `level=DEBUG msg="joining group" group=payments-1`)
}
