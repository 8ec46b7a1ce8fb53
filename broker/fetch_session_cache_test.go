package broker

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeClock drives a fetchSessionCache's clock by hand.
type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time          { return f.t }
func (f *fakeClock) advance(d time.Duration) { f.t = f.t.Add(d) }
func newTestSessionCache(slots int, evict time.Duration) (*fetchSessionCache, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c := newFetchSessionCache(slots, evict)
	c.now = clk.now
	return c, clk
}

func touch(c *fetchSessionCache, s *fetchSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.touchLocked(s, s.cachedSize, c.now())
}

func cached(c *fetchSessionCache, s *fetchSession) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessions[s.id] == s
}

// TestFetchSessionCacheEviction pins Kafka's FetchSessionCache.tryEvict
// (the cases of its FetchSessionCacheTest): a new session evicts a stale
// one first, else the smallest session established for longer than
// min.incremental.fetch.session.eviction.ms if it is bigger, else it is
// declined.
func TestFetchSessionCacheEviction(t *testing.T) {
	const evict = time.Minute
	t.Run("room", func(t *testing.T) {
		c, _ := newTestSessionCache(2, evict)
		a, b := c.create(false, 5, false), c.create(false, 3, false)
		require.NotNil(t, a)
		require.NotNil(t, b)
		assert.NotEqual(t, a.id, b.id)
		assert.Positive(t, a.id)
		assert.EqualValues(t, 1, a.epoch, "a new session's next epoch is 1")
		st := c.stats()
		assert.Equal(t, 2, st.sessions)
		assert.Equal(t, 8, st.partitions)
	})
	t.Run("full of young sessions declines", func(t *testing.T) {
		c, clk := newTestSessionCache(2, evict)
		a, b := c.create(false, 5, false), c.create(false, 3, false)
		clk.advance(10 * time.Second)
		touch(c, a)
		touch(c, b)
		assert.Nil(t, c.create(false, 100, false), "both created less than a minute ago")
		assert.True(t, cached(c, a))
		assert.True(t, cached(c, b))
	})
	t.Run("stale goes first, whatever its size", func(t *testing.T) {
		c, clk := newTestSessionCache(2, evict)
		a := c.create(false, 50, false)
		clk.advance(30 * time.Second)
		b := c.create(false, 3, false)
		clk.advance(31 * time.Second) // a unused for 61s, b for 31s
		d := c.create(false, 1, false)
		require.NotNil(t, d)
		assert.False(t, cached(c, a), "the least recently used, idle past the eviction time")
		assert.True(t, cached(c, b))
		assert.Equal(t, 1, c.stats().evictions)
	})
	t.Run("bigger evicts the smallest established", func(t *testing.T) {
		c, clk := newTestSessionCache(2, evict)
		a, b := c.create(false, 5, false), c.create(false, 3, false)
		clk.advance(61 * time.Second)
		touch(c, a) // both in use, both older than a minute at their last use
		touch(c, b)
		assert.Nil(t, c.create(false, 3, false), "equal size does not evict")
		d := c.create(false, 4, false)
		require.NotNil(t, d)
		assert.False(t, cached(c, b), "the smaller one goes")
		assert.True(t, cached(c, a))
		assert.Nil(t, c.create(false, 4, false), "a (5) is bigger and d is young")
		assert.True(t, cached(c, d))
	})
	t.Run("evictability is taken at the last use", func(t *testing.T) {
		c, clk := newTestSessionCache(1, evict)
		a := c.create(false, 1, false)
		clk.advance(50 * time.Second)
		touch(c, a) // 50s old when last used: not evictable by size
		clk.advance(20 * time.Second)
		assert.Nil(t, c.create(false, 9, false), "a was young at its last use and is not stale")
		touch(c, a)
		assert.NotNil(t, c.create(false, 9, false))
		assert.False(t, cached(c, a))
	})
	t.Run("privileged", func(t *testing.T) {
		c, clk := newTestSessionCache(2, evict)
		a := c.create(false, 100, false)
		f := c.create(true, 1, false)
		clk.advance(time.Second)
		touch(c, a)
		touch(c, f)
		assert.Nil(t, c.create(false, 1000, false), "young: nothing a consumer may evict")
		g := c.create(true, 1, false)
		require.NotNil(t, g, "a follower evicts a consumer however young")
		assert.False(t, cached(c, a))
		assert.True(t, cached(c, f))
		assert.Nil(t, c.create(true, 1000, false), "nor a young follower")
	})
	t.Run("disabled", func(t *testing.T) {
		c, _ := newTestSessionCache(0, evict)
		assert.Nil(t, c.create(false, 1, false))
	})
	t.Run("zero eviction time: every idle session is stale", func(t *testing.T) {
		c, clk := newTestSessionCache(1, 0)
		a := c.create(false, 100, false)
		clk.advance(time.Millisecond)
		require.NotNil(t, c.create(false, 1, false))
		assert.False(t, cached(c, a))
	})
}

func TestFetchSessionNextEpoch(t *testing.T) {
	for _, tc := range []struct{ in, want int32 }{
		{0, 1}, {1, 2}, {-1, -1}, {math.MaxInt32, 1}, {-7, -1},
	} {
		assert.Equal(t, tc.want, nextEpoch(tc.in), "nextEpoch(%d)", tc.in)
	}
}

// respFor answers view with one response partition per requested one, each
// at high watermark hw[partition] and with records where data says so.
func respFor(view *kmsg.FetchRequest, hw map[int32]int64, data map[int32]bool) *kmsg.FetchResponse {
	resp := view.ResponseKind().(*kmsg.FetchResponse)
	for _, rt := range view.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition, sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = rp.Partition, hw[rp.Partition], hw[rp.Partition], 0
			sp.PreferredReadReplica = -1
			if data[rp.Partition] {
				sp.RecordBatches = []byte{1}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func respParts(resp *kmsg.FetchResponse) []int32 {
	var ps []int32
	for _, st := range resp.Topics {
		for _, sp := range st.Partitions {
			ps = append(ps, sp.Partition)
		}
	}
	return ps
}

// TestFetchContextThrottled: a response over a quota is answered as Kafka's
// getThrottledResponse: empty, the session untouched (a full fetch's new
// session dropped, an incremental fetch's news still to tell), while a
// committed response is told once.
func TestFetchContextThrottled(t *testing.T) {
	c, _ := newTestSessionCache(10, time.Minute)
	full := sessFetch{parts: map[int32]int64{0: 0, 1: 0}}.request("t", [16]byte{})

	// A throttled full fetch creates no session.
	fc, code := c.newFetchContext(12, full)
	require.Zero(t, code)
	resp := respFor(fc.view, map[int32]int64{0: 5, 1: 5}, nil)
	fc.prepare(resp)
	require.Positive(t, resp.SessionID)
	require.Equal(t, 1, c.stats().sessions)
	fc.throttled(resp)
	assert.Zero(t, resp.SessionID)
	assert.Nil(t, resp.Topics)
	assert.Zero(t, c.stats().sessions)

	// A session, then a high watermark move on partition 1.
	fc, _ = c.newFetchContext(12, full)
	resp = respFor(fc.view, map[int32]int64{0: 5, 1: 5}, nil)
	fc.finish(resp)
	sid := resp.SessionID
	require.Positive(t, sid)
	incr := func(epoch int32) *fetchContext {
		fc, code := c.newFetchContext(12, sessFetch{id: sid, epoch: epoch}.request("t", [16]byte{}))
		require.Zero(t, code)
		return fc
	}
	fc = incr(1)
	resp = respFor(fc.view, map[int32]int64{0: 5, 1: 6}, nil)
	fc.prepare(resp)
	assert.Equal(t, []int32{1}, respParts(resp))
	fc.throttled(resp)
	assert.Equal(t, sid, resp.SessionID)
	assert.Nil(t, resp.Topics)
	fc.commit() // after throttled: nothing happens

	// Not told yet: the next fetch says it, and commits it.
	fc = incr(2)
	resp = respFor(fc.view, map[int32]int64{0: 5, 1: 6}, nil)
	fc.finish(resp)
	assert.Equal(t, []int32{1}, respParts(resp))
	fc = incr(3)
	resp = respFor(fc.view, map[int32]int64{0: 5, 1: 6}, nil)
	fc.finish(resp)
	assert.Empty(t, respParts(resp), "told once")

	// Records move a partition to the end of the session; a throttled
	// answer does not.
	fc = incr(4)
	resp = respFor(fc.view, map[int32]int64{0: 5, 1: 6}, map[int32]bool{0: true})
	fc.prepare(resp)
	fc.throttled(resp)
	fc = incr(5)
	assert.Equal(t, []int32{0, 1}, respParts(respFor(fc.view, nil, nil)))
	resp = respFor(fc.view, map[int32]int64{0: 5, 1: 6}, map[int32]bool{0: true})
	fc.finish(resp)
	fc = incr(6)
	assert.Equal(t, []int32{1, 0}, respParts(respFor(fc.view, nil, nil)))
}

// TestFetchSessionDuplicatePartitions: a full fetch listing a partition
// twice makes a session holding it once, counted once.
func TestFetchSessionDuplicatePartitions(t *testing.T) {
	c, _ := newTestSessionCache(10, time.Minute)
	req := sessFetch{parts: map[int32]int64{0: 0, 1: 0}}.request("t", [16]byte{})
	req.Topics[0].Partitions = append(req.Topics[0].Partitions, req.Topics[0].Partitions[0])
	fc, code := c.newFetchContext(12, req)
	require.Zero(t, code)
	resp := respFor(fc.view, map[int32]int64{0: 1, 1: 1}, nil)
	fc.finish(resp)
	require.Positive(t, resp.SessionID)
	st := c.stats()
	assert.Equal(t, 1, st.sessions)
	assert.Equal(t, 2, st.partitions)
	fc, code = c.newFetchContext(12, sessFetch{id: resp.SessionID, epoch: 1}.request("t", [16]byte{}))
	require.Zero(t, code)
	assert.Equal(t, []int32{1, 0}, respParts(respFor(fc.view, nil, nil)), "the last listing wins the order")
}
