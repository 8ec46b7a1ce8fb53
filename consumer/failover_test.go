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

	"github.com/skiffkit/skiff/kerr"
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

// autoCommitRound is one auto-commit attempt seen by the test hook.
type autoCommitRound struct {
	offsets map[TopicPartition]TopicPartitionOffset
	err     error
}

// watchAutoCommits returns a channel receiving every auto-commit attempt
// of cons from now on.
func watchAutoCommits(t testing.TB, cons *Consumer) <-chan autoCommitRound {
	t.Helper()
	ch := make(chan autoCommitRound, 1024)
	hook := func(o map[TopicPartition]TopicPartitionOffset, err error) {
		select {
		case ch <- autoCommitRound{o, err}:
		default:
			t.Errorf("auto-commit rounds not drained")
		}
	}
	cons.autoCommitHook.Store(&hook)
	t.Cleanup(func() { cons.autoCommitHook.Store(nil) })
	return ch
}

// nextRound waits for the next auto-commit attempt.
func nextRound(t testing.TB, rounds <-chan autoCommitRound, timeout time.Duration) autoCommitRound {
	t.Helper()
	select {
	case r := <-rounds:
		return r
	case <-time.After(timeout):
		t.Fatalf("no auto-commit within %v", timeout)
		return autoCommitRound{}
	}
}

// TestAutoCommit commits, every auto.commit.interval.ms, the records
// returned by the Polls before the latest one.
func TestAutoCommit(t *testing.T) {
	c := newCluster(t, 1, 1, "t")
	pr := newProducer(t, c)
	produceN(t, pr, "t", 10, "a")
	cons := newTestConsumer(t, fastGroupConfig(Config{Brokers: c.ListenAddrs(), GroupID: "g", Topics: []string{"t"}, AutoCommitInterval: 50 * time.Millisecond}))
	rounds := watchAutoCommits(t, cons)
	// processed counts the records returned before the latest Poll: only
	// those are processed, so only those may be committed.
	var got, processed int
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for got < 10 {
		recs, err := cons.Poll(ctx)
		require.NoError(t, err)
		processed = got
		got += len(recs)
	}
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
	// Not processed yet (no Poll since): three auto-commit rounds that
	// start after the last Poll commit nothing beyond what was.
	for len(rounds) > 0 {
		<-rounds
	}
	for range 3 {
		r := nextRound(t, rounds, 5*time.Second)
		require.NoError(t, r.err)
		if o, ok := r.offsets[TopicPartition{"t", 0}]; ok {
			assert.LessOrEqual(t, o.Offset, int64(processed), "auto-commit committed records not processed yet")
		}
	}
	assert.LessOrEqual(t, committed(), int64(processed))
	// The next Poll marks them processed; auto-commit picks them up.
	pctx, pcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, _ = cons.Poll(pctx)
	pcancel()
	for {
		r := nextRound(t, rounds, 5*time.Second)
		if o, ok := r.offsets[TopicPartition{"t", 0}]; ok && o.Offset == 10 && r.err == nil {
			break
		}
	}
	assert.Equal(t, int64(10), committed())
}

// TestUnknownTopicDoesNotStall assigns a topic that does not exist next to
// one that does: the existing one is consumed at once, the missing one is
// reported once (ErrTopicNotAvailable from Poll) and picked up when it is
// created.
func TestUnknownTopicDoesNotStall(t *testing.T) {
	c := newCluster(t, 1, 1, "t")
	pr := newProducer(t, c)
	produceN(t, pr, "t", 5, "a")
	assign := allPartitions("t", 1, OffsetEarliest)
	assign["later"] = []TopicPartitionOffset{{Partition: 0, Offset: OffsetEarliest}}
	cons := newTestConsumer(t, Config{Brokers: c.ListenAddrs(), Assign: assign, RetryBackoff: 20 * time.Millisecond})
	start := time.Now()
	pctx, pcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer pcancel()
	n, reported := 0, 0
	for n < 5 || reported == 0 {
		recs, err := cons.Poll(pctx)
		require.NoError(t, pctx.Err(), "got %d records, %d reports", n, reported)
		if errors.Is(err, ErrTopicNotAvailable) {
			reported++
			continue
		}
		require.NoError(t, err)
		n += len(recs)
	}
	assert.Equal(t, 5, n)
	assert.Equal(t, 1, reported)
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

// TestAutoCommitRetriesSoonAfterCoordinatorError: an auto-commit that
// failed because the coordinator was unavailable for longer than the
// request timeout (moving, restarting) is retried after retry.backoff.ms,
// as Java's auto-commit is, not a whole auto.commit.interval.ms later, so
// what was processed is committed as soon as the coordinator is back
// (issue 13: redelivery after coordinator failures).
func TestAutoCommitRetriesSoonAfterCoordinatorError(t *testing.T) {
	const interval = 3 * time.Second
	c := newCluster(t, 1, 1, "t")
	pr := newProducer(t, c)
	produceN(t, pr, "t", 10, "a")
	cfg := fastGroupConfig(Config{Brokers: c.ListenAddrs(), GroupID: "g", Topics: []string{"t"},
		AutoCommitInterval: interval, RequestTimeout: 500 * time.Millisecond})
	cons := newTestConsumer(t, cfg)
	rounds := watchAutoCommits(t, cons)
	pollN(t, cons, 10, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, _ = cons.Poll(ctx) // the 10 records are processed now
	cancel()

	var unavailable atomic.Bool
	unavailable.Store(true)
	c.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !unavailable.Load() {
			return nil, nil, false
		}
		r := req.(*kmsg.OffsetCommitRequest)
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, kerr.CoordinatorNotAvailable.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	failed := nextRound(t, rounds, interval+5*time.Second)
	require.Error(t, failed.err, "the coordinator was unavailable for the whole request timeout")
	unavailable.Store(false)

	// Well under the interval: a retry that waited for the next interval
	// would not arrive in time. A retry may itself fail on a loaded machine
	// (its coordinator lookup timing out), and is then retried after
	// retry.backoff.ms, still well before the next interval.
	deadline := time.Now().Add(interval * 2 / 3)
	r := nextRound(t, rounds, time.Until(deadline))
	for r.err != nil {
		r = nextRound(t, rounds, time.Until(deadline))
	}
	assert.Equal(t, int64(10), r.offsets[TopicPartition{"t", 0}].Offset)
}
