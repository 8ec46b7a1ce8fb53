package broker

import (
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestNodeID: node.id defaults to 1 (the apache/kafka image's), an
// explicit 0 is kept, and Metadata, FindCoordinator and DescribeConfigs
// all name it.
func TestNodeID(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   *int32
		want int32
	}{
		{"default", nil, 1},
		{"explicit zero", new(int32(0)), 0},
		{"seven", new(int32(7)), 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBroker(t, Config{NodeID: tc.id})
			require.NoError(t, b.CreateTopic("t", 1, nil))
			rc := dialRaw(t, b)
			md := rc.roundTrip(metadataReq(false, "t"), 12).(*kmsg.MetadataResponse)
			require.Len(t, md.Brokers, 1)
			assert.Equal(t, tc.want, md.Brokers[0].NodeID)
			assert.Equal(t, tc.want, md.ControllerID)
			require.Len(t, md.Topics, 1)
			assert.Equal(t, tc.want, md.Topics[0].Partitions[0].Leader)
			assert.Equal(t, []int32{tc.want}, md.Topics[0].Partitions[0].Replicas)

			fc := kmsg.NewPtrFindCoordinatorRequest()
			fc.CoordinatorKey = "g"
			fr := rc.roundTrip(fc, 3).(*kmsg.FindCoordinatorResponse)
			assert.Equal(t, tc.want, fr.NodeID)
		})
	}
	t.Run("negative refused", func(t *testing.T) {
		_, err := Start(t.Context(), Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", NodeID: new(int32(-1)), Logger: discardLogger()})
		assert.ErrorIs(t, err, ErrInvalidConfig)
	})
}

// TestKafkaGoCreateTopicsReplicaAssignment: kafka-go's Client.CreateTopics
// with replica assignments naming this node (1 by default) creates the
// topic; naming any other node is INVALID_REPLICA_ASSIGNMENT, as a KRaft
// controller answers for a broker that is not registered.
func TestKafkaGoCreateTopicsReplicaAssignment(t *testing.T) {
	b := startBroker(t, Config{})
	c := &kafkago.Client{Addr: kafkago.TCP(b.Addr()), Timeout: 10 * time.Second}
	assign := func(nodes ...int) []kafkago.ReplicaAssignment {
		var out []kafkago.ReplicaAssignment
		for i, n := range nodes {
			out = append(out, kafkago.ReplicaAssignment{Partition: i, Replicas: []int{n}})
		}
		return out
	}
	resp, err := c.CreateTopics(ctx(t), &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{
		{Topic: "ok", NumPartitions: -1, ReplicationFactor: -1, ReplicaAssignments: assign(1, 1, 1)},
		{Topic: "other", NumPartitions: -1, ReplicationFactor: -1, ReplicaAssignments: assign(1, 0)},
		{Topic: "two", NumPartitions: -1, ReplicationFactor: -1, ReplicaAssignments: []kafkago.ReplicaAssignment{{Partition: 0, Replicas: []int{1, 2}}}},
	}})
	require.NoError(t, err)
	assert.NoError(t, resp.Errors["ok"])
	assert.ErrorIs(t, resp.Errors["other"], kafkago.InvalidReplicaAssignment)
	assert.ErrorIs(t, resp.Errors["two"], kafkago.InvalidReplicaAssignment)
	require.NotNil(t, b.topics.byName("ok"))
	assert.Len(t, b.topics.byName("ok").parts, 3)
	assert.Nil(t, b.topics.byName("other"))
}
