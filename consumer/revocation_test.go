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

// TestGroupHeartbeatErrorDuringRevocation: while a revocation waits for
// Poll, the member keeps heartbeating, and what the coordinator answers
// counts (issue 13: these errors were ignored). As in Java, a rebalance in
// progress changes nothing, a gone generation turns the revocation into a
// loss (no commit, OnLost), and a fenced static member stops.
func TestGroupHeartbeatErrorDuringRevocation(t *testing.T) {
	tests := []struct {
		name      string
		code      int16
		static    bool
		wantLost  bool
		wantFatal bool
	}{
		{"rebalance in progress is expected", kerr.RebalanceInProgress.Code, false, false, false},
		{"unknown member id loses the partitions", kerr.UnknownMemberID.Code, false, true, false},
		{"illegal generation loses the partitions", kerr.IllegalGeneration.Code, false, true, false},
		{"fenced instance id stops the consumer", kerr.FencedInstanceID.Code, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 1, 2, "t")
			var rl rebalanceLog
			cfg := fastGroupConfig(Config{
				Brokers: c.ListenAddrs(), GroupID: "g", Topics: []string{"t"}, Rebalance: rl.funcs(),
				AutoCommitInterval: time.Hour, // only the revocation could commit
			})
			if tt.static {
				cfg.GroupInstanceID = "i"
			}
			cons := newTestConsumer(t, cfg)
			pollUntil(t, cons, 10*time.Second, func() bool { return len(cons.Assignment()) == 2 && cons.g.stable() }, nil)
			_, r0, _ := rl.counts()

			// The first heartbeat starts a rebalance (the eager range
			// assignor revokes everything, and the revocation waits for
			// Poll); the next one, sent while waiting, gets tt.code.
			var heartbeats atomic.Int32
			injected := make(chan struct{})
			c.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				resp := req.(*kmsg.HeartbeatRequest).ResponseKind().(*kmsg.HeartbeatResponse)
				switch heartbeats.Add(1) {
				case 1:
					resp.ErrorCode = kerr.RebalanceInProgress.Code
				case 2:
					resp.ErrorCode = tt.code
					close(injected)
				default:
					return nil, nil, false
				}
				return resp, nil, true
			})
			var commits atomic.Int32
			c.ControlKey(int16(kmsg.OffsetCommit), func(kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				commits.Add(1)
				return nil, nil, false
			})
			select {
			case <-injected:
			case <-time.After(10 * time.Second):
				t.Fatal("no heartbeat during the revocation")
			}
			if tt.wantLost {
				// The broker has answered; wait until the member has read
				// the answer (it forgets the generation) before Polling,
				// or Poll could start the revocation first.
				require.Eventually(t, func() bool { gen, _ := cons.g.identity(); return gen == -1 },
					10*time.Second, 5*time.Millisecond)
			}

			var fatal error
			pollUntilErr := func() bool {
				_, r, l := rl.counts()
				return fatal != nil || r > r0 || l > 0
			}
			deadline := time.Now().Add(10 * time.Second)
			for !pollUntilErr() {
				require.True(t, time.Now().Before(deadline), "no rebalance callback")
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				_, err := cons.Poll(ctx)
				cancel()
				if errors.Is(err, ErrFenced) {
					fatal = err
				}
			}
			_, r, l := rl.counts()
			if tt.wantLost {
				assert.Equal(t, 1, l, "the revocation became a loss")
				assert.Equal(t, r0, r, "OnRevoked after the generation was gone")
				assert.Zero(t, commits.Load(), "committed in a generation the coordinator no longer knows")
			} else {
				assert.Equal(t, r0+1, r, "a rebalance in progress revokes normally")
				assert.Zero(t, l)
			}
			if tt.wantFatal {
				// Poll reports the fencing (possibly on the next call).
				for fatal == nil && time.Now().Before(deadline) {
					ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
					_, err := cons.Poll(ctx)
					cancel()
					if errors.Is(err, ErrFenced) {
						fatal = err
					}
				}
				assert.ErrorIs(t, fatal, kerr.FencedInstanceID)
			}
		})
	}
}

// TestRevocationCommitOutlivesShortPolls: the commit before a revocation
// is not given up because one Poll's context ended while the coordinator
// was unavailable; the next Poll tries again (as Java's onJoinPrepare
// does), so what was processed is committed and not redelivered.
func TestRevocationCommitOutlivesShortPolls(t *testing.T) {
	c := newCluster(t, 1, 1, "t")
	pr := newProducer(t, c)
	produceN(t, pr, "t", 10, "a")
	var rl rebalanceLog
	cons := newTestConsumer(t, fastGroupConfig(Config{Brokers: c.ListenAddrs(), GroupID: "g", Topics: []string{"t"},
		Rebalance: rl.funcs(), AutoCommitInterval: time.Hour}))
	pollN(t, cons, 10, 10*time.Second)
	_, r0, _ := rl.counts()

	// The coordinator cannot take commits for a while, and the next
	// heartbeat starts a rebalance (eager: revoke, commit first).
	var unavailable atomic.Bool
	unavailable.Store(true)
	attempts := make(chan struct{}, 100)
	c.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !unavailable.Load() {
			return nil, nil, false
		}
		attempts <- struct{}{}
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
	var rebalanced atomic.Bool
	c.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if rebalanced.Swap(true) {
			return nil, nil, false
		}
		resp := req.(*kmsg.HeartbeatRequest).ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerr.RebalanceInProgress.Code
		return resp, nil, true
	})

	// Short Polls while the coordinator refuses: each one's commit ends
	// with its context, and the revocation must still be pending.
	shortPoll := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, _ = cons.Poll(ctx)
		cancel()
	}
	deadline := time.Now().Add(10 * time.Second)
	for seen := 0; seen < 3; {
		_, r, _ := rl.counts()
		require.Equal(t, r0, r, "OnRevoked ran although the commit before it had not succeeded")
		require.True(t, time.Now().Before(deadline), "only %d commit attempts", seen)
		shortPoll()
		for len(attempts) > 0 {
			<-attempts
			seen++
		}
	}
	_, r, _ := rl.counts()
	require.Equal(t, r0, r, "OnRevoked ran although the commit before it had not succeeded")
	unavailable.Store(false)
	pollUntil(t, cons, 10*time.Second, func() bool { _, r, _ := rl.counts(); return r > r0 }, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := cons.Committed(ctx, []TopicPartition{{"t", 0}})
	require.NoError(t, err)
	assert.Equal(t, int64(10), got[TopicPartition{"t", 0}].Offset, "the processed records were committed before the revocation")
}
