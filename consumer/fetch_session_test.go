package consumer

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/broker"
	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/skifftest"
)

// seenFetch is what one Fetch request carried, as the broker saw it.
type seenFetch struct {
	id, epoch int32
	listed    map[int32]int64 // partition to fetch offset
	forgotten []int32
}

// fetchRecorder records the Fetch requests a kfake cluster receives and can
// answer the next ones with a top-level error instead of serving them.
type fetchRecorder struct {
	mu     sync.Mutex
	seen   []seenFetch
	inject []int16 // top-level codes to answer the next fetches with
}

func recordFetches(c *kfake.Cluster) *fetchRecorder {
	r := &fetchRecorder{}
	c.ControlKey(1, func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.FetchRequest)
		s := seenFetch{id: req.SessionID, epoch: req.SessionEpoch, listed: map[int32]int64{}}
		for _, rt := range req.Topics {
			for _, rp := range rt.Partitions {
				s.listed[rp.Partition] = rp.FetchOffset
			}
		}
		for _, ft := range req.ForgottenTopics {
			s.forgotten = append(s.forgotten, ft.Partitions...)
		}
		slices.Sort(s.forgotten)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.seen = append(r.seen, s)
		if len(r.inject) > 0 {
			code := r.inject[0]
			r.inject = r.inject[1:]
			resp := req.ResponseKind().(*kmsg.FetchResponse)
			resp.ErrorCode = code
			return resp, nil, true
		}
		return nil, nil, false
	})
	return r
}

func (r *fetchRecorder) snapshot() []seenFetch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

func (r *fetchRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *fetchRecorder) injectNext(codes ...int16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inject = append(r.inject, codes...)
}

// waitFetches waits until n more fetches than now arrived and returns
// them.
func (r *fetchRecorder) waitFetches(t testing.TB, n int) []seenFetch {
	t.Helper()
	from := r.count()
	require.Eventually(t, func() bool { return r.count() >= from+n }, 10*time.Second, 5*time.Millisecond)
	return r.snapshot()[from:]
}

func produceTo(t testing.TB, cl *kgo.Client, topic string, parts []int32, n int) {
	t.Helper()
	var recs []*kgo.Record
	for _, p := range parts {
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "%d-%d", p, i)})
		}
	}
	produce(t, cl, recs...)
}

func partsUpTo(n int32) []int32 {
	ps := make([]int32, n)
	for i := range ps {
		ps[i] = int32(i)
	}
	return ps
}

// TestFetchSessionRequests checks what the consumer sends against kfake,
// which keeps KIP-227 sessions: a full fetch first, then only partitions
// whose position changed, paused partitions forgotten and resumed ones
// listed again, a seeked partition listed at its new offset, and the
// session closed on Close.
func TestFetchSessionRequests(t *testing.T) {
	const parts = 20
	cluster := newCluster(t, 1, parts, "fs")
	rec := recordFetches(cluster)
	prod := newProducer(t, cluster, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	c := newTestConsumer(t, Config{
		Brokers:      cluster.ListenAddrs(),
		Assign:       allPartitions("fs", parts, OffsetEarliest),
		FetchMaxWait: 50 * time.Millisecond,
	})

	produceTo(t, prod, "fs", []int32{3, 7}, 2)
	pollN(t, c, 4, 10*time.Second)
	first := rec.snapshot()[0]
	assert.Zero(t, first.epoch, "the first fetch asks for a session")
	assert.Zero(t, first.id)
	assert.Len(t, first.listed, parts, "and lists every partition")

	// Idle fetches of the session list nothing.
	idle := rec.waitFetches(t, 3)
	for _, f := range idle[1:] { // the first may still carry 3 and 7's new offsets
		assert.Positive(t, f.epoch)
		assert.NotZero(t, f.id)
		assert.Empty(t, f.listed)
		assert.Empty(t, f.forgotten)
	}
	assert.Equal(t, idle[1].epoch+1, idle[2].epoch, "epochs follow each other")

	// Records in a partition that had none: after they are fetched, the
	// next fetch lists that partition alone, at its new position.
	produceTo(t, prod, "fs", []int32{12}, 3)
	pollN(t, c, 3, 10*time.Second)
	require.Eventually(t, func() bool {
		for _, f := range rec.snapshot() {
			if off, ok := f.listed[12]; ok && off == 3 && len(f.listed) == 1 {
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "partition 12 listed at offset 3 alone")

	// Paused partitions are forgotten; resumed ones come back.
	require.NoError(t, c.Pause(TopicPartition{"fs", 1}, TopicPartition{"fs", 2}))
	require.Eventually(t, func() bool {
		for _, f := range rec.snapshot() {
			if slices.Equal(f.forgotten, []int32{1, 2}) {
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "paused partitions forgotten")
	resumedFrom := rec.count()
	require.NoError(t, c.Resume(TopicPartition{"fs", 1}, TopicPartition{"fs", 2}))
	require.Eventually(t, func() bool {
		for _, f := range rec.snapshot()[resumedFrom:] {
			_, ok1 := f.listed[1]
			_, ok2 := f.listed[2]
			if ok1 && ok2 && f.epoch > 0 {
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "resumed partitions listed again")

	// A seek is a change of position: listed at the new offset.
	require.NoError(t, c.Seek("fs", 7, 1))
	got := pollN(t, c, 1, 10*time.Second)
	assert.Equal(t, "fs/7/1", recordID(got[0]))
	found := false
	for _, f := range rec.snapshot() {
		if off, ok := f.listed[7]; ok && off == 1 && f.epoch > 0 {
			found = true
		}
	}
	assert.True(t, found, "partition 7 listed at the seeked offset")

	// Close ends the session on the broker.
	last := rec.snapshot()
	sid := last[len(last)-1].id
	require.NotZero(t, sid)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Close(ctx))
	all := rec.snapshot()
	closing := all[len(all)-1]
	assert.Equal(t, seenFetch{id: sid, epoch: -1, listed: map[int32]int64{}}, closing, "epoch -1 with the id closes it")
}

// TestFetchSessionErrorsReset: a session error answered at the top level
// makes the next fetch a full one, at once: FETCH_SESSION_ID_NOT_FOUND
// (evicted) asks for a new session with id 0; INVALID_FETCH_SESSION_EPOCH
// and FETCH_SESSION_TOPIC_ID_ERROR name the old id, closing it.
func TestFetchSessionErrorsReset(t *testing.T) {
	for _, tc := range []struct {
		err    *kerr.Error
		keepID bool
	}{
		{kerr.FetchSessionIDNotFound, false},
		{kerr.InvalidFetchSessionEpoch, true},
		{kerr.FetchSessionTopicIDError, true},
	} {
		t.Run(tc.err.Message, func(t *testing.T) {
			cluster := newCluster(t, 1, 4, "fe")
			rec := recordFetches(cluster)
			prod := newProducer(t, cluster, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			c := newTestConsumer(t, Config{
				Brokers:      cluster.ListenAddrs(),
				Assign:       allPartitions("fe", 4, OffsetEarliest),
				FetchMaxWait: 50 * time.Millisecond,
			})
			produceTo(t, prod, "fe", partsUpTo(4), 1)
			pollN(t, c, 4, 10*time.Second)
			established := rec.waitFetches(t, 2)
			sid := established[1].id
			require.NotZero(t, sid)
			require.Positive(t, established[1].epoch)

			rec.injectNext(tc.err.Code)
			after := rec.waitFetches(t, 3)
			// after[0] got the error (unless one was in flight); the next
			// is full.
			i := slices.IndexFunc(after, func(f seenFetch) bool { return f.epoch == 0 })
			require.GreaterOrEqual(t, i, 0, "a full fetch follows")
			full := after[i]
			assert.Len(t, full.listed, 4)
			if tc.keepID {
				assert.Equal(t, sid, full.id, "the old session is named, so the broker closes it")
			} else {
				assert.Zero(t, full.id)
			}
			// And the consumer goes on with a new session.
			produceTo(t, prod, "fe", partsUpTo(4), 1)
			pollN(t, c, 4, 10*time.Second)
			more := rec.waitFetches(t, 2)
			assert.Positive(t, more[1].epoch)
		})
	}
}

// TestFetchSessionsDisabled: DisableFetchSessions sends full sessionless
// fetches (epoch -1) every time.
func TestFetchSessionsDisabled(t *testing.T) {
	cluster := newCluster(t, 1, 3, "fd")
	rec := recordFetches(cluster)
	c := newTestConsumer(t, Config{
		Brokers:              cluster.ListenAddrs(),
		Assign:               allPartitions("fd", 3, OffsetEarliest),
		FetchMaxWait:         20 * time.Millisecond,
		DisableFetchSessions: true,
	})
	for _, f := range rec.waitFetches(t, 4) {
		assert.Equal(t, int32(-1), f.epoch)
		assert.Zero(t, f.id)
		assert.Len(t, f.listed, 3)
	}
	_ = c
}

// TestFetchSessionBundledBroker runs sessions against the bundled broker: a
// consumer of 100 partitions reads everything, exactly once, through
// incremental fetches of one session, with partitions getting records
// early and late and during consumption; Close ends the session there.
func TestFetchSessionBundledBroker(t *testing.T) {
	const parts = 100
	b := skifftest.NewBroker(t)
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0), kgo.AllowAutoTopicCreation())
	require.NoError(t, err)
	t.Cleanup(prod.Close)
	createTopicN(t, prod, "bb", parts)

	c := newTestConsumer(t, Config{
		Brokers:      []string{b.Addr()},
		Assign:       allPartitions("bb", parts, OffsetEarliest),
		FetchMaxWait: 50 * time.Millisecond,
	})
	want := map[string]bool{}
	add := func(ps []int32, from, n int) {
		var recs []*kgo.Record
		for _, p := range ps {
			for i := from; i < from+n; i++ {
				v := fmt.Sprintf("%d-%d", p, i)
				want[v] = true
				recs = append(recs, &kgo.Record{Topic: "bb", Partition: p, Value: []byte(v)})
			}
		}
		produce(t, prod, recs...)
	}
	got := map[string]int{}
	take := func(n int) {
		for _, r := range pollN(t, c, n, 20*time.Second) {
			got[string(r.Value)]++
		}
	}
	early := partsUpTo(parts / 2)
	add(early, 0, 2)
	take(parts)
	var late []int32
	for p := int32(parts / 2); p < parts; p++ {
		late = append(late, p)
	}
	add(late, 0, 1)
	take(parts / 2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for round := 1; round < 4; round++ {
			add2 := make([]*kgo.Record, 0, parts/5)
			for p := int32(0); p < parts; p += 5 {
				v := fmt.Sprintf("%d-r%d", p, round)
				add2 = append(add2, &kgo.Record{Topic: "bb", Partition: p, Value: []byte(v)})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			err := prod.ProduceSync(ctx, add2...).FirstErr()
			cancel()
			if err != nil {
				t.Errorf("produce: %v", err)
				return
			}
		}
	}()
	take(3 * parts / 5)
	<-done
	for p := int32(0); p < parts; p += 5 {
		for round := 1; round < 4; round++ {
			want[fmt.Sprintf("%d-r%d", p, round)] = true
		}
	}
	assert.Len(t, got, len(want))
	for v, n := range got {
		assert.True(t, want[v], "unexpected %s", v)
		assert.Equal(t, 1, n, "%s read %d times", v, n)
	}

	// The broker accepted incremental fetches: the epoch moves only on
	// answered ones.
	sid, epoch := sessionState(c)
	require.NotZero(t, sid)
	require.Greater(t, epoch, int32(3))

	// Close ends it: the next epoch of that session is unknown now.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Close(ctx))
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.SessionID, req.SessionEpoch = -1, sid, epoch
	resp, err := req.RequestWith(ctx, prod)
	require.NoError(t, err)
	assert.Equal(t, kerr.FetchSessionIDNotFound.Code, resp.ErrorCode)
}

// TestFetchSessionEvictedBundledBroker: with one session slot on the bundled
// broker, a bigger consumer's session evicts an established smaller one;
// the evicted consumer is told FETCH_SESSION_ID_NOT_FOUND, starts over
// with full fetches, and both read everything.
func TestFetchSessionEvictedBundledBroker(t *testing.T) {
	b := skifftest.NewBroker(t, skifftest.WithConfig(func(c *broker.Config) {
		c.FetchSessionCacheSlots = 1
		c.FetchSessionEvictionMin = 200 * time.Millisecond
	}))
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	require.NoError(t, err)
	t.Cleanup(prod.Close)
	createTopicN(t, prod, "small", 1)
	createTopicN(t, prod, "big", 3)

	var logs syncBuffer
	small := newTestConsumer(t, Config{
		Brokers:      []string{b.Addr()},
		Assign:       allPartitions("small", 1, OffsetEarliest),
		FetchMaxWait: 50 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	produceTo(t, prod, "small", []int32{0}, 1)
	pollN(t, small, 1, 10*time.Second)
	// Established and used for longer than the eviction time.
	require.Eventually(t, func() bool {
		_, epoch := sessionState(small)
		return epoch > 8 // 8 fetches of 50ms after the first
	}, 10*time.Second, 10*time.Millisecond)

	big := newTestConsumer(t, Config{
		Brokers:      []string{b.Addr()},
		Assign:       allPartitions("big", 3, OffsetEarliest),
		FetchMaxWait: 50 * time.Millisecond,
	})
	produceTo(t, prod, "big", partsUpTo(3), 1)
	pollN(t, big, 3, 10*time.Second)
	require.Eventually(t, func() bool {
		return bytes.Contains(logs.Bytes(), []byte("FETCH_SESSION_ID_NOT_FOUND"))
	}, 10*time.Second, 10*time.Millisecond, "the small consumer was evicted")

	produceTo(t, prod, "small", []int32{0}, 3)
	produceTo(t, prod, "big", partsUpTo(3), 3)
	pollN(t, small, 3, 10*time.Second)
	pollN(t, big, 9, 10*time.Second)
}

// createTopicN creates topic with n partitions through kgo.
func createTopicN(t testing.TB, cl *kgo.Client, topic string, n int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, n, 1
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Zero(t, resp.Topics[0].ErrorCode)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.buf.Bytes())
}

// sessionState is the id and next epoch of c's session with its one broker.
func sessionState(c *Consumer) (id, epoch int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sessions {
		return s.state()
	}
	return 0, 0
}

// TestFetchSessionConnectionDropped: a fetch whose connection drops may or
// may not have reached the broker, so the consumer starts over with a full
// fetch naming its old session, which closes it there; reading goes on
// without loss or repetition under a new session.
func TestFetchSessionConnectionDropped(t *testing.T) {
	b := skifftest.NewBroker(t)
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	require.NoError(t, err)
	t.Cleanup(prod.Close)
	createTopicN(t, prod, "cd", 3)
	c := newTestConsumer(t, Config{
		Brokers:      []string{b.Addr()},
		Assign:       allPartitions("cd", 3, OffsetEarliest),
		FetchMaxWait: 50 * time.Millisecond,
	})
	produceTo(t, prod, "cd", partsUpTo(3), 2)
	got := pollN(t, c, 6, 10*time.Second)
	require.Eventually(t, func() bool { _, e := sessionState(c); return e > 2 }, 10*time.Second, 5*time.Millisecond)
	oldID, _ := sessionState(c)

	b.DropNext(1, 1)
	require.Eventually(t, func() bool { return b.Pending(1) == 0 }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		id, e := sessionState(c)
		return id != 0 && id != oldID && e > 1
	}, 10*time.Second, 5*time.Millisecond, "a new session after the drop")
	produceTo(t, prod, "cd", partsUpTo(3), 2)
	got = append(got, pollN(t, c, 6, 10*time.Second)...)
	seen := map[string]bool{}
	for _, r := range got {
		assert.False(t, seen[recordID(r)], "%s twice", recordID(r))
		seen[recordID(r)] = true
	}
	assert.Len(t, seen, 12)

	// The old session is gone from the broker.
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.SessionID, req.SessionEpoch = -1, oldID, 1
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, prod)
	require.NoError(t, err)
	assert.Equal(t, kerr.FetchSessionIDNotFound.Code, resp.ErrorCode)
}
