package consumer

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestLeaderMoves moves a partition's leadership to another broker while
// consuming: the old leader answers NOT_LEADER_OR_FOLLOWER (or the epoch is
// fenced), the consumer refreshes metadata and continues from the new one
// without losing or repeating records.
func TestLeaderMoves(t *testing.T) {
	c := newCluster(t, 3, 1, "t")
	pr := newProducer(t, c)
	produceN(t, pr, "t", 50, "a")
	cons := newTestConsumer(t, Config{Brokers: c.ListenAddrs(), Assign: allPartitions("t", 1, OffsetEarliest), RetryBackoff: 20 * time.Millisecond})
	got := pollN(t, cons, 50, 10*time.Second)

	old := c.LeaderFor("t", 0)
	next := (old + 1) % 3
	require.NoError(t, c.MoveTopicPartition("t", 0, next))
	produceN(t, pr, "t", 50, "b")
	got = append(got, pollN(t, cons, 50, 20*time.Second)...)
	for i, r := range got {
		assert.Equal(t, int64(i), r.Offset)
	}
	cons.mu.Lock()
	leader := cons.parts[TopicPartition{"t", 0}].leader
	cons.mu.Unlock()
	assert.Equal(t, next, leader)
}

// TestFetchConnectionDrop closes the connection under a fetch: the consumer
// reconnects and continues where it was.
func TestFetchConnectionDrop(t *testing.T) {
	c := newCluster(t, 1, 1, "t")
	pr := newProducer(t, c)
	produceN(t, pr, "t", 20, "a")
	cons := newTestConsumer(t, Config{Brokers: c.ListenAddrs(), Assign: allPartitions("t", 1, OffsetEarliest), RetryBackoff: 20 * time.Millisecond})
	got := pollN(t, cons, 20, 10*time.Second)

	// Drop the connection under the next two fetches.
	var dropped atomic.Int32
	drop := func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if dropped.Load() >= 2 {
			return nil, nil, false // pass through from now on
		}
		dropped.Add(1)
		return nil, errors.New("injected connection drop"), true
	}
	c.ControlKey(int16(kmsg.Fetch), drop)
	produceN(t, pr, "t", 20, "b")
	got = append(got, pollN(t, cons, 20, 20*time.Second)...)
	assert.Equal(t, int32(2), dropped.Load(), "the fault was not injected")
	for i, r := range got {
		assert.Equal(t, int64(i), r.Offset)
	}
}

// TestAutoCommit commits, every auto.commit.interval.ms, the records
// returned by the Polls before the latest one.
func TestAutoCommit(t *testing.T) {
	c := newCluster(t, 1, 1, "t")
	pr := newProducer(t, c)
	produceN(t, pr, "t", 10, "a")
	cons := newTestConsumer(t, fastGroupConfig(Config{Brokers: c.ListenAddrs(), GroupID: "g", Topics: []string{"t"}, AutoCommitInterval: 50 * time.Millisecond}))
	pollN(t, cons, 10, 10*time.Second)
	committed := func() int64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		got, err := cons.Committed(ctx, []TopicPartition{{"t", 0}})
		require.NoError(t, err)
		o, ok := got[TopicPartition{"t", 0}]
		if !ok {
			return -1
		}
		return o.Offset
	}
	// Not processed yet (no Poll since): nothing beyond the start.
	time.Sleep(200 * time.Millisecond)
	assert.LessOrEqual(t, committed(), int64(0))
	// The next Poll marks them processed; auto-commit picks them up.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, _ = cons.Poll(ctx)
	cancel()
	require.Eventually(t, func() bool { return committed() == 10 }, 5*time.Second, 20*time.Millisecond)
}

// TestUnknownTopicDoesNotStall assigns a topic that does not exist next to
// one that does: the existing one is consumed at once, the missing one is
// picked up when it is created.
func TestUnknownTopicDoesNotStall(t *testing.T) {
	c := newCluster(t, 1, 1, "t")
	pr := newProducer(t, c)
	produceN(t, pr, "t", 5, "a")
	assign := allPartitions("t", 1, OffsetEarliest)
	assign["later"] = []TopicPartitionOffset{{Partition: 0, Offset: OffsetEarliest}}
	cons := newTestConsumer(t, Config{Brokers: c.ListenAddrs(), Assign: assign, RetryBackoff: 20 * time.Millisecond})
	start := time.Now()
	pollN(t, cons, 5, 10*time.Second)
	assert.Less(t, time.Since(start), 5*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "later", 1, 1
	req.Topics = append(req.Topics, rt)
	_, err := req.RequestWith(ctx, pr)
	require.NoError(t, err)
	produceN(t, pr, "later", 3, "b")
	got := pollN(t, cons, 3, 20*time.Second)
	assert.Equal(t, "later", got[0].Topic)
}
