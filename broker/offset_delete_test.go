package broker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestOffsetDeleteKadm: Kafka's rules for OffsetDelete with kadm. While the
// group has a member subscribed to "t", t's offsets are refused with
// GROUP_SUBSCRIBED_TO_TOPIC and u's are deleted; once the member left, t's
// go too. An unknown group is GROUP_ID_NOT_FOUND.
func TestOffsetDeleteKadm(t *testing.T) {
	b := startBroker(t, Config{GroupInitialRebalanceDelay: -1})
	require.NoError(t, b.CreateTopic("t", 1, nil))
	require.NoError(t, b.CreateTopic("u", 1, nil))
	produceN(t, b, "t", 2)
	adm := newAdm(t, b)

	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "u", Partition: 0, At: 1})
	os.Add(kadm.Offset{Topic: "t", Partition: 0, At: 1})
	require.NoError(t, adm.CommitAllOffsets(ctx(t), "g", os))

	cons := newClient(t, b, kgo.ConsumeTopics("t"), kgo.ConsumerGroup("g"), kgo.FetchMaxWait(100*time.Millisecond),
		kgo.DisableAutoCommit())
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		fs := cons.PollFetches(c)
		require.NoError(t, c.Err(), "the member never consumed")
		if fs.NumRecords() > 0 {
			break
		}
	}

	del := kadm.TopicsSet{"t": {0: {}}, "u": {0: {}}}
	rs, err := adm.DeleteOffsets(ctx(t), "g", del)
	require.NoError(t, err)
	assert.ErrorIs(t, rs["t"][0], kerr.GroupSubscribedToTopic)
	assert.NoError(t, rs["u"][0])
	left, err := adm.FetchOffsets(ctx(t), "g")
	require.NoError(t, err)
	_, hasU := left.Lookup("u", 0)
	assert.False(t, hasU, "u's offset is deleted")
	ot, hasT := left.Lookup("t", 0)
	require.True(t, hasT)
	assert.EqualValues(t, 1, ot.At)

	cons.LeaveGroup()
	cons.Close()
	require.Eventually(t, func() bool {
		gs, err := adm.DescribeGroups(ctx(t), "g")
		return err == nil && gs["g"].State == "Empty"
	}, 10*time.Second, 20*time.Millisecond)
	rs, err = adm.DeleteOffsets(ctx(t), "g", kadm.TopicsSet{"t": {0: {}}})
	require.NoError(t, err)
	assert.NoError(t, rs["t"][0])
	left, err = adm.FetchOffsets(ctx(t), "g")
	require.NoError(t, err)
	_, hasT = left.Lookup("t", 0)
	assert.False(t, hasT)

	_, err = adm.DeleteOffsets(ctx(t), "nobody", del)
	assert.ErrorIs(t, err, kerr.GroupIDNotFound)

	// Durable: the tombstones survive a restart.
	dir := b.cfg.DataDir
	closeBroker(t, b)
	b2 := startBroker(t, Config{DataDir: dir})
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = "g"
	resp := dialRaw(t, b2).roundTrip(req, 5).(*kmsg.OffsetFetchResponse)
	assert.Empty(t, resp.Topics)
}
