package broker

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The admin APIs against franz-go's kadm, a client we did not write.

func TestCreatePartitionsKadm(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 2, nil))
	adm := newAdm(t, b)

	// A consumer started before the change picks the new partition up
	// through Metadata.
	cons := newClient(t, b, kgo.ConsumeTopics("t"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond), kgo.MetadataMaxAge(200*time.Millisecond), kgo.MetadataMinAge(50*time.Millisecond))

	for _, tc := range []struct {
		name     string
		validate bool
		set      int
		topic    string
		wantErr  error
		want     int
	}{
		{name: "validate only", validate: true, set: 4, topic: "t", want: 2},
		{name: "grow", set: 3, topic: "t", want: 3},
		{name: "same count", set: 3, topic: "t", wantErr: kerr.InvalidPartitions, want: 3},
		{name: "fewer", set: 1, topic: "t", wantErr: kerr.InvalidPartitions, want: 3},
		{name: "unknown topic", set: 3, topic: "nope", wantErr: kerr.UnknownTopicOrPartition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			update := adm.UpdatePartitions
			if tc.validate {
				update = adm.ValidateUpdatePartitions
			}
			rs, err := update(ctx(t), tc.set, tc.topic)
			require.NoError(t, err)
			r, ok := rs[tc.topic]
			require.True(t, ok)
			if tc.wantErr != nil {
				assert.ErrorIs(t, r.Err, tc.wantErr, r.ErrMessage)
			} else {
				assert.NoError(t, r.Err, r.ErrMessage)
			}
			if tc.want > 0 {
				assert.Len(t, b.topics.byName(tc.topic).parts, tc.want)
			}
		})
	}
	_, err := os.Stat(filepath.Join(b.cfg.DataDir, "t-2"))
	require.NoError(t, err, "the new partition's directory exists")

	prod := newClient(t, b, kgo.DefaultProduceTopic("t"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, prod.ProduceSync(ctx(t), &kgo.Record{Partition: 2, Value: []byte("new")}).FirstErr())
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		fs := cons.PollFetches(c)
		require.NoError(t, c.Err(), "the consumer never read the new partition")
		var got bool
		fs.EachRecord(func(r *kgo.Record) { got = got || (r.Partition == 2 && string(r.Value) == "new") })
		if got {
			break
		}
	}

	// Durable: the count survives a restart.
	dir := b.cfg.DataDir
	closeBroker(t, b)
	b2 := startBroker(t, Config{DataDir: dir})
	assert.Len(t, b2.topics.byName("t").parts, 3)
	assert.EqualValues(t, 1, b2.topics.partition("t", 2).log.EndOffset())
}

func TestDeleteRecordsKadm(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 1, map[string]string{"segment.bytes": "200"}))
	produceN(t, b, "t", 10)
	adm := newAdm(t, b)
	segsBefore := b.topics.partition("t", 0).log.NumSegments()
	require.Greater(t, segsBefore, 3)

	for _, tc := range []struct {
		name    string
		offset  int64
		wantLow int64
		wantErr error
	}{
		{name: "move the start", offset: 6, wantLow: 6},
		{name: "below the start", offset: 2, wantLow: 6},
		{name: "beyond the end", offset: 11, wantErr: kerr.OffsetOutOfRange},
		{name: "to the high watermark", offset: -1, wantLow: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var os kadm.Offsets
			os.Add(kadm.Offset{Topic: "t", Partition: 0, At: tc.offset})
			rs, err := adm.DeleteRecords(ctx(t), os)
			require.NoError(t, err)
			r := rs["t"][0]
			if tc.wantErr != nil {
				assert.ErrorIs(t, r.Err, tc.wantErr)
				return
			}
			require.NoError(t, r.Err)
			assert.Equal(t, tc.wantLow, r.LowWatermark)
			starts, err := adm.ListStartOffsets(ctx(t), "t")
			require.NoError(t, err)
			lo, _ := starts.Lookup("t", 0)
			assert.Equal(t, tc.wantLow, lo.Offset)
		})
	}
	assert.Less(t, b.topics.partition("t", 0).log.NumSegments(), segsBefore, "segments below the start are deleted")

	// kadm never sends a partition Metadata does not list: ask directly.
	req := kmsg.NewPtrDeleteRecordsRequest()
	for _, tp := range []struct {
		topic string
		part  int32
	}{{"t", 5}, {"nope", 0}, {offsetsTopic, 0}} {
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = tp.topic
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Partition, rp.Offset = tp.part, 0
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	resp := dialRaw(t, b).roundTrip(req, 2).(*kmsg.DeleteRecordsResponse)
	require.Len(t, resp.Topics, 3)
	assert.Equal(t, kerr.UnknownTopicOrPartition.Code, resp.Topics[0].Partitions[0].ErrorCode)
	assert.Equal(t, kerr.UnknownTopicOrPartition.Code, resp.Topics[1].Partitions[0].ErrorCode)
	assert.Equal(t, kerr.InvalidTopicException.Code, resp.Topics[2].Partitions[0].ErrorCode, "internal topic")
}

func TestDescribeClusterKadm(t *testing.T) {
	b := startBroker(t, Config{NodeID: new(int32(3))})
	adm := newAdm(t, b)
	md, err := adm.BrokerMetadata(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, b.clusterID, md.Cluster)
	assert.EqualValues(t, 3, md.Controller)
	require.Len(t, md.Brokers, 1)
	assert.EqualValues(t, 3, md.Brokers[0].NodeID)

	rc := dialRaw(t, b)
	for v := int16(0); v <= 2; v++ {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.IncludeClusterAuthorizedOperations = true
		resp := rc.roundTrip(req, v).(*kmsg.DescribeClusterResponse)
		assert.Zero(t, resp.ErrorCode, "v%d", v)
		assert.EqualValues(t, 3, resp.ControllerID)
		require.Len(t, resp.Brokers, 1)
		assert.Equal(t, b.advPort, resp.Brokers[0].Port)
		assert.NotZero(t, resp.ClusterAuthorizedOperations&(1<<8), "DESCRIBE allowed")
	}
	req := kmsg.NewPtrDescribeClusterRequest()
	req.EndpointType = 2
	resp := rc.roundTrip(req, 1).(*kmsg.DescribeClusterResponse)
	assert.Equal(t, kerr.UnsupportedEndpointType.Code, resp.ErrorCode)
}

func TestDescribeLogDirsKadm(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 2, nil))
	require.NoError(t, b.CreateTopic("u", 1, nil))
	produceN(t, b, "t", 3)
	adm := newAdm(t, b)
	all, err := adm.DescribeAllLogDirs(ctx(t), nil)
	require.NoError(t, err)
	dirs := all[1]
	require.Len(t, dirs, 1)
	d := dirs[b.cfg.DataDir]
	require.NoError(t, d.Err)
	assert.Equal(t, b.topics.partition("t", 0).log.Size(), d.Topics["t"][0].Size)
	assert.Positive(t, d.Topics["t"][0].Size)
	assert.Contains(t, d.Topics, "u")

	some, err := adm.DescribeBrokerLogDirs(ctx(t), 1, kadm.TopicsSet{"u": {0: {}, 9: {}}, "nope": {0: {}}})
	require.NoError(t, err)
	d = some[b.cfg.DataDir]
	assert.Equal(t, []string{"u"}, keys(d.Topics))
	assert.Len(t, d.Topics["u"], 1, "partitions this node lacks are left out")
}

func TestDescribeProducersKadm(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 2, nil))
	produceN(t, b, "t", 3) // kgo is idempotent by default
	adm := newAdm(t, b)
	ds, err := adm.DescribeProducers(ctx(t), kadm.TopicsSet{"t": {0: {}, 1: {}}})
	require.NoError(t, err)
	p0 := ds["t"].Partitions[0]
	require.NoError(t, p0.Err)
	require.Len(t, p0.ActiveProducers, 1)
	ap := p0.ActiveProducers[0]
	assert.EqualValues(t, 2, ap.LastSequence)
	assert.EqualValues(t, -1, ap.CurrentTxnStartOffset)
	assert.Empty(t, ds["t"].Partitions[1].ActiveProducers)

	req := kmsg.NewPtrDescribeProducersRequest()
	rt := kmsg.NewDescribeProducersRequestTopic()
	rt.Topic, rt.Partitions = "t", []int32{7}
	req.Topics = append(req.Topics, rt)
	resp := dialRaw(t, b).roundTrip(req, 0).(*kmsg.DescribeProducersResponse)
	require.Len(t, resp.Topics, 1)
	require.Len(t, resp.Topics[0].Partitions, 1)
	assert.Equal(t, kerr.UnknownTopicOrPartition.Code, resp.Topics[0].Partitions[0].ErrorCode)
}

func TestElectLeadersKadm(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 2, nil))
	adm := newAdm(t, b)
	for _, how := range []kadm.ElectLeadersHow{kadm.ElectPreferredReplica, kadm.ElectLiveReplica} {
		rs, err := adm.ElectLeaders(ctx(t), how, kadm.TopicsSet{"t": {0: {}, 1: {}, 5: {}}})
		require.NoError(t, err)
		assert.ErrorIs(t, rs["t"][0].Err, kerr.ElectionNotNeeded)
		assert.ErrorIs(t, rs["t"][1].Err, kerr.ElectionNotNeeded)
		assert.ErrorIs(t, rs["t"][5].Err, kerr.UnknownTopicOrPartition)
	}
	rs, err := adm.ElectLeaders(ctx(t), kadm.ElectPreferredReplica, nil)
	require.NoError(t, err)
	assert.Empty(t, rs, "all partitions: only elected ones are listed")
}

func TestPartitionReassignmentsKadm(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 2, nil))
	adm := newAdm(t, b)
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign("t", 0, []int32{1})
	req.Assign("t", 1, []int32{2})
	req.Assign("nope", 0, []int32{1})
	rs, err := adm.AlterPartitionAssignments(ctx(t), req)
	require.NoError(t, err)
	assert.NoError(t, rs["t"][0].Err, "this node: accepted")
	assert.ErrorIs(t, rs["t"][1].Err, kerr.InvalidReplicaAssignment, "another node")
	assert.ErrorIs(t, rs["nope"][0].Err, kerr.UnknownTopicOrPartition)

	var cancelReq kadm.AlterPartitionAssignmentsReq
	cancelReq.CancelAssign("t", 0)
	rs, err = adm.AlterPartitionAssignments(ctx(t), cancelReq)
	require.NoError(t, err)
	assert.ErrorIs(t, rs["t"][0].Err, kerr.NoReassignmentInProgress)

	ls, err := adm.ListPartitionReassignments(ctx(t), kadm.TopicsSet{"t": {0: {}, 1: {}}})
	require.NoError(t, err)
	assert.Empty(t, ls, "accepted reassignments complete at once")
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
