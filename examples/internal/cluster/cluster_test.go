package cluster_test

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/examples/internal/cluster"
)

func TestStartUsesSkiffBrokers(t *testing.T) {
	t.Setenv("SKIFF_BROKERS", "10.0.0.1:9092,10.0.0.2:9092")
	brokers, stop, err := cluster.Start(t.Context(), "t", 1)
	require.NoError(t, err)
	stop()
	assert.Equal(t, []string{"10.0.0.1:9092", "10.0.0.2:9092"}, brokers)
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
