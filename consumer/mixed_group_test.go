package consumer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// consumedLog counts how often each record key was consumed, across members.
type consumedLog struct {
	mu       sync.Mutex
	counts   map[string]int
	byMember map[string]int
}

func newConsumedLog() *consumedLog {
	return &consumedLog{counts: map[string]int{}, byMember: map[string]int{}}
}

func (l *consumedLog) add(member string, key []byte) {
	l.mu.Lock()
	l.counts[string(key)]++
	l.byMember[member]++
	l.mu.Unlock()
}

func (l *consumedLog) members() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.byMember)
}

func (l *consumedLog) distinct() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.counts)
}

func (l *consumedLog) duplicates() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for k, n := range l.counts {
		if n > 1 && len(out) < 10 {
			out = append(out, fmt.Sprintf("%s×%d", k, n))
		}
	}
	return out
}

// skiffMember polls, records and commits synchronously after each Poll,
// until stopped.
type skiffMember struct {
	c    *Consumer
	stop chan struct{}
	done chan struct{}
}

func startSkiffMember(t *testing.T, name string, cfg Config, log *consumedLog) *skiffMember {
	t.Helper()
	// Commit what was processed before partitions go: a commit right after
	// a Poll can fail while the group rebalances (the generation moved on),
	// and in OnRevoked the member still owns them in the current generation.
	cfg.Rebalance = RebalanceFuncs{Revoked: func(ctx context.Context, c *Consumer, _ []TopicPartition) {
		if err := c.CommitSync(ctx); err != nil {
			t.Logf("commit on revoke: %v", err)
		}
	}}
	m := &skiffMember{c: newTestConsumer(t, cfg), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for {
			select {
			case <-m.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			recs, err := m.c.Poll(ctx)
			cancel()
			if err != nil {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Logf("poll: %v", err)
				}
				continue
			}
			for _, r := range recs {
				log.add(name, r.Key)
			}
			ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
			if err := m.c.CommitSync(ctx); err != nil {
				t.Logf("commit: %v", err)
			}
			cancel()
		}
	}()
	return m
}

func (m *skiffMember) close(t *testing.T) {
	close(m.stop)
	<-m.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, m.c.Close(ctx))
}

// kgoMember is a franz-go group member committing what it processed before
// it lets a rebalance proceed.
type kgoMember struct {
	cl    *kgo.Client
	mu    sync.Mutex
	owned map[TopicPartition]bool
	stop  chan struct{}
	done  chan struct{}
}

func startKgoMember(t *testing.T, addrs []string, group string, bal kgo.GroupBalancer, log *consumedLog) *kgoMember {
	t.Helper()
	m := &kgoMember{owned: map[TopicPartition]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	edit := func(add bool) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for topic, parts := range ps {
				for _, p := range parts {
					if add {
						m.owned[TopicPartition{topic, p}] = true
					} else {
						delete(m.owned, TopicPartition{topic, p})
					}
				}
			}
		}
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addrs...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics("t"),
		kgo.Balancers(bal),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.HeartbeatInterval(100*time.Millisecond),
		kgo.SessionTimeout(3*time.Second),
		kgo.OnPartitionsAssigned(edit(true)),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, ps map[string][]int32) {
			// Everything polled was processed (BlockRebalanceOnPoll).
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				t.Logf("kgo commit on revoke: %v", err)
			}
			edit(false)(ctx, cl, ps)
		}),
		kgo.OnPartitionsLost(edit(false)),
	)
	require.NoError(t, err)
	m.cl = cl
	go func() {
		defer close(m.done)
		for {
			select {
			case <-m.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			fs := cl.PollRecords(ctx, 0)
			cancel()
			recs := fs.Records()
			for _, r := range recs {
				log.add("kgo", r.Key)
			}
			if len(recs) > 0 {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if err := cl.CommitRecords(ctx, recs...); err != nil {
					t.Logf("kgo commit: %v", err)
				}
				cancel()
			}
			cl.AllowRebalance()
		}
	}()
	t.Cleanup(func() {
		select {
		case <-m.stop:
		default:
			close(m.stop)
		}
		<-m.done
		cl.Close()
	})
	return m
}

func (m *kgoMember) ownedNow() []TopicPartition {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []TopicPartition
	for tp := range m.owned {
		out = append(out, tp)
	}
	return out
}

// TestGroupMixedWithKgo runs skiff and franz-go members in one group: the
// partitions are shared (each owned by exactly one member), a member leaving
// hands its partitions over from the committed offsets, and every record is
// consumed exactly once because every member commits what it processed
// before a revocation completes.
func TestGroupMixedWithKgo(t *testing.T) {
	cases := []struct {
		name  string
		skiff string
		kgo   kgo.GroupBalancer
	}{
		{"range", AssignorRange, kgo.RangeBalancer()},
		{"roundrobin", AssignorRoundRobin, kgo.RoundRobinBalancer()},
		{"cooperative-sticky", AssignorCooperativeSticky, kgo.CooperativeStickyBalancer()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const parts = 6
			c := newCluster(t, 3, parts, "t")
			pr := newProducer(t, c)
			log := newConsumedLog()
			produceN(t, pr, "t", 300, "a")

			cfg := fastGroupConfig(Config{Brokers: c.ListenAddrs(), GroupID: "g", Topics: []string{"t"}, Assignors: []string{tc.skiff}, DisableAutoCommit: true})
			s1 := startSkiffMember(t, "s1", cfg, log)
			s2 := startSkiffMember(t, "s2", cfg, log)
			k := startKgoMember(t, c.ListenAddrs(), "g", tc.kgo, log)

			// settled reports whether the members own every partition
			// exactly once between them, each at least one.
			var owners map[TopicPartition]int
			settled := func(skiffs ...*skiffMember) bool {
				owners = map[TopicPartition]int{}
				for _, m := range skiffs {
					as := m.c.Assignment()
					if len(as) == 0 || !m.c.g.stable() {
						return false
					}
					for _, tp := range as {
						owners[tp]++
					}
				}
				kOwned := k.ownedNow()
				if len(kOwned) == 0 {
					return false
				}
				for _, tp := range kOwned {
					owners[tp]++
				}
				if len(owners) != parts {
					return false
				}
				for _, n := range owners {
					if n != 1 {
						return false
					}
				}
				return true
			}
			require.Eventually(t, func() bool { return settled(s1, s2) }, 30*time.Second, 10*time.Millisecond, "never shared: %v", owners)
			require.Eventually(t, func() bool { return log.distinct() >= 300 }, 30*time.Second, 20*time.Millisecond)
			produceN(t, pr, "t", 300, "b")
			require.Eventually(t, func() bool { return log.distinct() >= 600 }, 30*time.Second, 20*time.Millisecond)

			s1.close(t) // leaves the group: s2 and k take over from the commits
			produceN(t, pr, "t", 300, "c")
			require.Eventually(t, func() bool { return log.distinct() >= 900 }, 30*time.Second, 20*time.Millisecond)
			require.Eventually(t, func() bool { return settled(s2) }, 30*time.Second, 10*time.Millisecond, "ownership never settled: %v", owners)
			assert.Equal(t, 900, log.distinct())
			for _, m := range []string{"s1", "s2", "kgo"} {
				assert.Positive(t, log.members()[m], "member %s consumed nothing: partitions were not shared", m)
			}
			assert.Empty(t, log.duplicates(), "records consumed twice")
			s2.close(t)
		})
	}
}
