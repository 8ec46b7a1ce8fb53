package consumer

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// rebalanceLog records callbacks.
type rebalanceLog struct {
	mu                      sync.Mutex
	assigned, revoked, lost [][]TopicPartition
}

func (l *rebalanceLog) funcs() RebalanceFuncs {
	add := func(dst *[][]TopicPartition) func(context.Context, *Consumer, []TopicPartition) {
		return func(_ context.Context, _ *Consumer, ps []TopicPartition) {
			l.mu.Lock()
			*dst = append(*dst, ps)
			l.mu.Unlock()
		}
	}
	return RebalanceFuncs{Assigned: add(&l.assigned), Revoked: add(&l.revoked), Lost: add(&l.lost)}
}

func (l *rebalanceLog) counts() (assigned, revoked, lost int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.assigned), len(l.revoked), len(l.lost)
}

// pollUntil polls (running callbacks) until cond holds.
func pollUntil(t *testing.T, c *Consumer, timeout time.Duration, cond func() bool, onRecs func([]Record)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "condition not reached in %v", timeout)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		recs, err := c.Poll(ctx)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Logf("poll: %v", err)
		}
		if onRecs != nil {
			onRecs(recs)
		}
	}
}

func TestGroupInjectedIllegalGeneration(t *testing.T) {
	c := newCluster(t, 1, 2, "t")
	pr := newProducer(t, c)
	produceN(t, pr, "t", 50, "a")
	var rl rebalanceLog
	cons := newTestConsumer(t, fastGroupConfig(Config{Brokers: c.ListenAddrs(), GroupID: "g", Topics: []string{"t"}, Rebalance: rl.funcs(), DisableAutoCommit: true}))
	var got atomic.Int64
	count := func(rs []Record) { got.Add(int64(len(rs))) }
	pollUntil(t, cons, 10*time.Second, func() bool { return got.Load() == 50 }, count)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, cons.CommitSync(ctx))

	// A heartbeat answered ILLEGAL_GENERATION: the partitions are lost
	// (no commit possible), the member rejoins and resumes from the commit.
	var injected atomic.Bool
	c.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if injected.Swap(true) {
			return nil, nil, false
		}
		resp := req.(*kmsg.HeartbeatRequest).ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerr.IllegalGeneration.Code
		return resp, nil, true
	})
	pollUntil(t, cons, 10*time.Second, func() bool {
		a, _, l := rl.counts()
		return l == 1 && a == 2 && len(cons.Assignment()) == 2
	}, count)

	// A commit answered ILLEGAL_GENERATION fails with ErrCommitFailed; the
	// generation is gone, so, as in Java (resetGenerationOnResponseError),
	// the partitions are lost, not revoked, and the member rejoins.
	produceN(t, pr, "t", 10, "b")
	pollUntil(t, cons, 10*time.Second, func() bool { return got.Load() == 60 }, count)
	c.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		r := req.(*kmsg.OffsetCommitRequest)
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, kerr.IllegalGeneration.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	err := cons.CommitSync(ctx)
	require.ErrorIs(t, err, ErrCommitFailed)
	require.ErrorIs(t, err, kerr.IllegalGeneration)
	pollUntil(t, cons, 10*time.Second, func() bool {
		a, _, l := rl.counts()
		return l == 2 && a >= 3 && len(cons.Assignment()) == 2
	}, count)
	_, r, _ := rl.counts()
	assert.Zero(t, r, "a lost generation revokes nothing (no commit could succeed)")
	// The 10 records whose commit failed come again (at-least-once), from
	// the last successful commit; nothing before it does.
	pollUntil(t, cons, 10*time.Second, func() bool { return got.Load() >= 70 }, count)
	require.NoError(t, cons.CommitSync(ctx))
	assert.Equal(t, int64(70), got.Load())
}

func TestGroupUnknownMemberRejoinsWithNewID(t *testing.T) {
	c := newCluster(t, 1, 1, "t")
	var rl rebalanceLog
	cons := newTestConsumer(t, fastGroupConfig(Config{Brokers: c.ListenAddrs(), GroupID: "g", Topics: []string{"t"}, Rebalance: rl.funcs()}))
	pollUntil(t, cons, 10*time.Second, func() bool { return len(cons.Assignment()) == 1 }, nil)
	_, first := cons.g.identity()
	c.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		resp := req.(*kmsg.HeartbeatRequest).ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return resp, nil, true
	})
	pollUntil(t, cons, 10*time.Second, func() bool {
		_, id := cons.g.identity()
		_, _, l := rl.counts()
		return l == 1 && id != "" && id != first && len(cons.Assignment()) == 1 && cons.g.stable()
	}, nil)
}

func TestGroupStaticMemberDoesNotLeave(t *testing.T) {
	c := newCluster(t, 1, 4, "t")
	admin := newProducer(t, c)
	members := func() int {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{"g"}
		resp, err := req.RequestWith(ctx, admin)
		require.NoError(t, err)
		return len(resp.Groups[0].Members)
	}
	cfg := fastGroupConfig(Config{Brokers: c.ListenAddrs(), GroupID: "g", Topics: []string{"t"}, SessionTimeout: 6 * time.Second})
	cfgA, cfgB := cfg, cfg
	cfgA.GroupInstanceID, cfgB.GroupInstanceID = "a", "b"
	a := newTestConsumer(t, cfgA)
	b := newTestConsumer(t, cfgB)
	both := func() bool {
		return len(a.Assignment())+len(b.Assignment()) == 4 && len(a.Assignment()) > 0 && len(b.Assignment()) > 0
	}
	go func() { // b polls until it is closed
		for b.ctx.Err() == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			_, _ = b.Poll(ctx)
			cancel()
		}
	}()
	pollUntil(t, a, 20*time.Second, both, nil)
	require.Equal(t, 2, members())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, a.Close(ctx))
	assert.Equal(t, 2, members(), "a static member sent LeaveGroup")

	// The restarted instance takes its place: still two members.
	a2 := newTestConsumer(t, cfgA)
	pollUntil(t, a2, 20*time.Second, func() bool { return len(a2.Assignment()) > 0 && len(a2.Assignment())+len(b.Assignment()) == 4 }, nil)
	assert.Equal(t, 2, members())
	require.NoError(t, b.Close(ctx))
}

func TestGroupPartitionCountChange(t *testing.T) {
	c := newCluster(t, 1, 2, "t")
	admin := newProducer(t, c)
	cfg := fastGroupConfig(Config{Brokers: c.ListenAddrs(), GroupID: "g", Topics: []string{"t"}, MetadataMaxAge: 200 * time.Millisecond})
	cons := newTestConsumer(t, cfg)
	pollUntil(t, cons, 10*time.Second, func() bool { return len(cons.Assignment()) == 2 }, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrCreatePartitionsRequest()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = "t", 5
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 5000
	resp, err := req.RequestWith(ctx, admin)
	require.NoError(t, err)
	require.NoError(t, kerr.ForCode(resp.Topics[0].ErrorCode))
	pollUntil(t, cons, 10*time.Second, func() bool { return len(cons.Assignment()) == 5 }, nil)
}

func TestGroupMaxPollIntervalLeaves(t *testing.T) {
	c := newCluster(t, 1, 4, "t")
	cfg := fastGroupConfig(Config{Brokers: c.ListenAddrs(), GroupID: "g", Topics: []string{"t"}, MaxPollInterval: 2 * time.Second})
	var rlA rebalanceLog
	cfgA := cfg
	cfgA.Rebalance = rlA.funcs()
	a := newTestConsumer(t, cfgA)
	b := newTestConsumer(t, cfg)
	stopB := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stopB:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			_, _ = b.Poll(ctx)
			cancel()
		}
	}()
	defer func() { close(stopB); wg.Wait() }()
	pollUntil(t, a, 20*time.Second, func() bool { return len(a.Assignment()) == 2 && len(b.Assignment()) == 2 }, nil)

	// a stops polling: after max.poll.interval.ms it leaves, b takes all.
	require.Eventually(t, func() bool { return len(b.Assignment()) == 4 }, 20*time.Second, 20*time.Millisecond)
	assert.Empty(t, a.Assignment())
	// The next Poll reports the loss to the listener and rejoins.
	pollUntil(t, a, 20*time.Second, func() bool { return len(a.Assignment()) == 2 && len(b.Assignment()) == 2 }, nil)
	_, _, lost := rlA.counts()
	assert.Equal(t, 1, lost)
}

// TestGroupCooperativeIncremental: with cooperative-sticky a joining member
// only takes partitions the first one revokes; the first keeps the rest
// throughout (KIP-429), and never sees a revocation of partitions it keeps.
func TestGroupCooperativeIncremental(t *testing.T) {
	c := newCluster(t, 1, 6, "t")
	cfg := fastGroupConfig(Config{Brokers: c.ListenAddrs(), GroupID: "g", Topics: []string{"t"}, Assignors: []string{AssignorCooperativeSticky}})
	var rlA rebalanceLog
	cfgA := cfg
	cfgA.Rebalance = rlA.funcs()
	a := newTestConsumer(t, cfgA)
	pollUntil(t, a, 10*time.Second, func() bool { return len(a.Assignment()) == 6 }, nil)
	b := newTestConsumer(t, cfg)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			_, _ = b.Poll(ctx)
			cancel()
		}
	}()
	defer func() { close(stop); <-done }()
	pollUntil(t, a, 20*time.Second, func() bool { return len(a.Assignment()) == 3 && len(b.Assignment()) == 3 }, nil)
	rlA.mu.Lock()
	defer rlA.mu.Unlock()
	require.Len(t, rlA.revoked, 1, "cooperative rebalance revoked more than once")
	assert.Len(t, rlA.revoked[0], 3, "only the moving partitions are revoked")
	assert.Empty(t, rlA.lost)
}

// TestCloseLeavesNoGoroutines checks that Close stops every goroutine the
// consumer and its connections started, in both modes.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	c := newCluster(t, 3, 3, "t")
	pr := newProducer(t, c)
	produceN(t, pr, "t", 30, "x")
	for _, cfg := range []Config{
		{Brokers: c.ListenAddrs(), Assign: allPartitions("t", 3, OffsetEarliest)},
		fastGroupConfig(Config{Brokers: c.ListenAddrs(), GroupID: "g", Topics: []string{"t"}}),
	} {
		cfg.Logger = testLogger()
		cons, err := New(cfg)
		require.NoError(t, err)
		pollN(t, cons, 30, 10*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, cons.Close(ctx))
		cancel()
		require.Eventually(t, func() bool {
			buf := make([]byte, 1<<20)
			stacks := string(buf[:runtime.Stack(buf, true)])
			return !strings.Contains(stacks, "skiff/consumer.(*") && !strings.Contains(stacks, "skiff/internal/wire.")
		}, 5*time.Second, 10*time.Millisecond, "goroutines left after Close")
	}
}

var _ = kfake.NumBrokers
var _ = kgo.SeedBrokers
