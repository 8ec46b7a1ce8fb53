package broker

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/kerr"
)

func createReq(validateOnly bool, topics ...kmsg.CreateTopicsRequestTopic) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.ValidateOnly, req.Topics, req.TimeoutMillis = validateOnly, topics, 5000
	return req
}

func ct(name string, partitions int32, rf int16, configs ...string) kmsg.CreateTopicsRequestTopic {
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
	for i := 0; i+1 < len(configs); i += 2 {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = configs[i], kmsg.StringPtr(configs[i+1])
		rt.Configs = append(rt.Configs, c)
	}
	return rt
}

func TestCreateTopics(t *testing.T) {
	b := startBroker(t, Config{NumPartitions: 4})
	rc := dialRaw(t, b)
	resp := rc.roundTrip(createReq(false,
		ct("ok", 3, 1, "retention.ms", "1000", "cleanup.policy", "delete"),
		ct("defaults", -1, -1),
		ct("rf3", 1, 3),
		ct("zero", 0, 1),
		ct("bad/name", 1, 1),
		ct("compact", 1, 1, "cleanup.policy", "compact"),
		ct("unknown-config", 1, 1, "no.such.config", "1"),
		ct("bad-value", 1, 1, "retention.ms", "soon"),
		ct("dup", 1, 1), ct("dup", 1, 1),
	), 7).(*kmsg.CreateTopicsResponse)
	codes := map[string]int16{}
	for _, rt := range resp.Topics {
		codes[rt.Topic] = rt.ErrorCode
		if rt.Topic == "ok" {
			assert.EqualValues(t, 3, rt.NumPartitions)
			assert.EqualValues(t, 1, rt.ReplicationFactor)
			assert.NotZero(t, rt.TopicID)
			var retention string
			for _, c := range rt.Configs {
				if c.Name == "retention.ms" {
					retention = *c.Value
				}
			}
			assert.Equal(t, "1000", retention)
		}
		if rt.Topic == "defaults" {
			assert.EqualValues(t, 4, rt.NumPartitions, "num.partitions")
		}
	}
	assert.Equal(t, map[string]int16{
		"ok": 0, "defaults": 0,
		"rf3":            kerr.InvalidReplicationFactor.Code,
		"zero":           kerr.InvalidPartitions.Code,
		"bad/name":       kerr.InvalidTopicException.Code,
		"compact":        kerr.InvalidConfig.Code,
		"unknown-config": kerr.InvalidConfig.Code,
		"bad-value":      kerr.InvalidConfig.Code,
		"dup":            kerr.InvalidRequest.Code,
	}, codes)

	again := rc.roundTrip(createReq(false, ct("ok", 1, 1)), 4).(*kmsg.CreateTopicsResponse)
	assert.Equal(t, kerr.TopicAlreadyExists.Code, again.Topics[0].ErrorCode)

	vo := rc.roundTrip(createReq(true, ct("validated", 2, 1)), 4).(*kmsg.CreateTopicsResponse)
	assert.Zero(t, vo.Topics[0].ErrorCode)
	assert.Nil(t, b.topics.byName("validated"), "validate-only creates nothing")
	_, err := os.Stat(filepath.Join(b.cfg.DataDir, "validated-0"))
	assert.True(t, os.IsNotExist(err))

	for i := range 3 {
		_, err := os.Stat(filepath.Join(b.cfg.DataDir, "ok-"+string(rune('0'+i))))
		assert.NoError(t, err, "partition directory")
	}
}

func TestDeleteTopics(t *testing.T) {
	b := startBroker(t, Config{})
	rc := dialRaw(t, b)
	for _, n := range []string{"a", "b", "c"} {
		require.NoError(t, b.CreateTopic(n, 2, nil))
	}
	code, _ := produceCode(t, rc, produceReq("a", 0, makeBatch(1, 10, batch.NoProducer)), 7)
	require.Zero(t, code)

	// A fetch parked on a topic is answered when the topic goes.
	parked := dialRaw(t, b)
	done := make(chan *kmsg.FetchResponse, 1)
	go func() { done <- parked.roundTrip(fetchReq("b", 0, 1, 30_000), 12).(*kmsg.FetchResponse) }()
	require.Eventually(t, func() bool { return b.purg.Len() == 1 }, 5*time.Second, time.Millisecond)

	byName := kmsg.NewPtrDeleteTopicsRequest()
	byName.TopicNames = []string{"a", "b", "missing"}
	resp := rc.roundTrip(byName, 4).(*kmsg.DeleteTopicsResponse)
	require.Len(t, resp.Topics, 3)
	assert.Zero(t, resp.Topics[0].ErrorCode)
	assert.Zero(t, resp.Topics[1].ErrorCode)
	assert.Equal(t, kerr.UnknownTopicOrPartition.Code, resp.Topics[2].ErrorCode)
	select {
	case f := <-done:
		assert.Equal(t, kerr.UnknownTopicOrPartition.Code, f.Topics[0].Partitions[0].ErrorCode)
	case <-time.After(5 * time.Second):
		t.Fatal("parked fetch not woken by the delete")
	}

	cID := b.topics.byName("c").id
	byID := kmsg.NewPtrDeleteTopicsRequest()
	for _, id := range [][16]byte{cID, {9}} {
		dt := kmsg.NewDeleteTopicsRequestTopic()
		dt.TopicID = id
		byID.Topics = append(byID.Topics, dt)
	}
	resp = rc.roundTrip(byID, 6).(*kmsg.DeleteTopicsResponse)
	require.Len(t, resp.Topics, 2)
	assert.Zero(t, resp.Topics[0].ErrorCode)
	assert.Equal(t, "c", *resp.Topics[0].Topic)
	assert.Equal(t, kerr.UnknownTopicID.Code, resp.Topics[1].ErrorCode)

	for _, dir := range []string{"a-0", "a-1", "b-0", "c-1"} {
		_, err := os.Stat(filepath.Join(b.cfg.DataDir, dir))
		assert.True(t, os.IsNotExist(err), "%s removed", dir)
	}
	assert.Empty(t, b.topics.all())

	// Re-creating a deleted name starts empty, with a new id.
	require.NoError(t, b.CreateTopic("a", 1, nil))
	assert.Zero(t, endOffset(t, b, "a", 0))

	// Deleted topics stay deleted across a restart.
	dir := b.cfg.DataDir
	closeBroker(t, b)
	b2 := startBroker(t, Config{DataDir: dir})
	names := []string{}
	for _, tp := range b2.topics.all() {
		names = append(names, tp.name)
	}
	assert.Equal(t, []string{"a"}, names)
}

func metadataReq(allowAuto bool, topics ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = allowAuto
	for _, name := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func TestMetadataAutoCreate(t *testing.T) {
	b := startBroker(t, Config{NumPartitions: 3})
	rc := dialRaw(t, b)
	for _, tc := range []struct {
		version int16
		allow   bool
		created bool
	}{
		{0, false, true}, {1, false, true}, {3, false, true}, // no flag before v4: implied
		{4, false, false}, {4, true, true}, {9, false, false}, {12, true, true},
	} {
		name := "auto-v" + string(rune('0'+tc.version%10)) + map[bool]string{true: "-y", false: "-n"}[tc.allow]
		resp := rc.roundTrip(metadataReq(tc.allow, name), tc.version).(*kmsg.MetadataResponse)
		require.Len(t, resp.Topics, 1)
		require.Len(t, resp.Brokers, 1)
		assert.Equal(t, b.advPort, resp.Brokers[0].Port)
		if tc.created {
			assert.Zero(t, resp.Topics[0].ErrorCode, "v%d", tc.version)
			assert.Len(t, resp.Topics[0].Partitions, 3)
			if tc.version >= 10 {
				assert.Equal(t, b.topics.byName(name).id, resp.Topics[0].TopicID)
			}
		} else {
			assert.Equal(t, kerr.UnknownTopicOrPartition.Code, resp.Topics[0].ErrorCode, "v%d", tc.version)
			assert.Nil(t, b.topics.byName(name))
		}
	}
	bad := rc.roundTrip(metadataReq(true, "no way"), 12).(*kmsg.MetadataResponse)
	assert.Equal(t, kerr.InvalidTopicException.Code, bad.Topics[0].ErrorCode)

	all := rc.roundTrip(metadataReq(false), 0).(*kmsg.MetadataResponse)
	assert.Len(t, all.Topics, 6, "v0 with no topics lists every topic, __consumer_offsets too")
	none := rc.roundTrip(metadataReq(false), 1).(*kmsg.MetadataResponse)
	assert.Len(t, none.Topics, 6, "v1+ with null topics lists every topic, __consumer_offsets too")

	off := startBroker(t, Config{DisableAutoCreateTopics: true})
	rc2 := dialRaw(t, off)
	resp := rc2.roundTrip(metadataReq(true, "x"), 1).(*kmsg.MetadataResponse)
	assert.Equal(t, kerr.UnknownTopicOrPartition.Code, resp.Topics[0].ErrorCode)
}

func TestDescribeConfigs(t *testing.T) {
	b := startBroker(t, Config{RetentionMs: time.Hour})
	require.NoError(t, b.CreateTopic("t", 1, map[string]string{"segment.bytes": "4096"}))
	rc := dialRaw(t, b)
	req := kmsg.NewPtrDescribeConfigsRequest()
	for _, r := range []struct {
		typ  kmsg.ConfigResourceType
		name string
	}{{kmsg.ConfigResourceTypeTopic, "t"}, {kmsg.ConfigResourceTypeBroker, "1"}, {kmsg.ConfigResourceTypeTopic, "missing"}} {
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = r.typ, r.name
		req.Resources = append(req.Resources, rr)
	}
	resp := rc.roundTrip(req, 4).(*kmsg.DescribeConfigsResponse)
	require.Len(t, resp.Resources, 3)
	find := func(res kmsg.DescribeConfigsResponseResource, name string) *kmsg.DescribeConfigsResponseResourceConfig {
		for i := range res.Configs {
			if res.Configs[i].Name == name {
				return &res.Configs[i]
			}
		}
		return nil
	}
	seg := find(resp.Resources[0], "segment.bytes")
	require.NotNil(t, seg)
	assert.Equal(t, "4096", *seg.Value)
	assert.Equal(t, kmsg.ConfigSourceDynamicTopicConfig, seg.Source)
	ret := find(resp.Resources[0], "retention.ms")
	require.NotNil(t, ret)
	assert.Equal(t, "3600000", *ret.Value)
	assert.Equal(t, kmsg.ConfigSourceDefaultConfig, ret.Source)
	np := find(resp.Resources[1], "num.partitions")
	require.NotNil(t, np)
	assert.Equal(t, "1", *np.Value)
	assert.Equal(t, kerr.UnknownTopicOrPartition.Code, resp.Resources[2].ErrorCode)

	req.Resources = req.Resources[:1]
	req.Resources[0].ConfigNames = []string{"cleanup.policy"}
	resp = rc.roundTrip(req, 0).(*kmsg.DescribeConfigsResponse)
	require.Len(t, resp.Resources[0].Configs, 1)
	assert.Equal(t, "delete", *resp.Resources[0].Configs[0].Value)
}

func TestOffsetForLeaderEpoch(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 1, nil))
	rc := dialRaw(t, b)
	code, _ := produceCode(t, rc, produceReq("t", 0, makeBatch(4, 10, batch.NoProducer)), 7)
	require.Zero(t, code)
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = "t"
	for _, e := range []int32{0, 3} {
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.LeaderEpoch, rp.CurrentLeaderEpoch = e, 0
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp := rc.roundTrip(req, 4).(*kmsg.OffsetForLeaderEpochResponse)
	ps := resp.Topics[0].Partitions
	require.Len(t, ps, 2)
	assert.Zero(t, ps[0].ErrorCode)
	assert.EqualValues(t, 0, ps[0].LeaderEpoch)
	assert.EqualValues(t, 4, ps[0].EndOffset)
	assert.EqualValues(t, -1, ps[1].LeaderEpoch, "an epoch this node never had")
	assert.EqualValues(t, -1, ps[1].EndOffset)

	// Batches are stamped with the leader epoch 0.
	f := rc.roundTrip(fetchReq("t", 0, 0, 0), 12).(*kmsg.FetchResponse)
	h, err := batch.ParseHeader(f.Topics[0].Partitions[0].RecordBatches)
	require.NoError(t, err)
	assert.Zero(t, h.PartitionLeaderEpoch)
}
