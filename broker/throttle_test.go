package broker

import (
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// quotaFixture is a quota store on a temp dir with its throttler, driven
// the way Kafka's ClientQuotaManagerTest drives a ClientQuotaManager.
type quotaFixture struct {
	t   testing.TB
	s   *quotaStore
	cfg rateConfig
}

func newQuotaFixture(t testing.TB) *quotaFixture {
	t.Helper()
	s, err := openQuotas(t.TempDir())
	require.NoError(t, err)
	return &quotaFixture{t: t, s: s, cfg: quotaRateConfig(0, 0)}
}

// set is updateQuota: value 0 removes the entity's producer_byte_rate.
// "<default>" names a default entity, "" leaves the component out.
func (f *quotaFixture) set(user, client string, value float64) {
	f.t.Helper()
	var ent []quotaEntity
	for _, c := range []struct{ typ, name string }{{"user", user}, {"client-id", client}} {
		switch c.name {
		case "":
		case "<default>":
			ent = append(ent, quotaEntity{Type: c.typ})
		default:
			ent = append(ent, quotaEntity{Type: c.typ, Name: &c.name})
		}
	}
	op := quotaOp{key: "producer_byte_rate", value: value, remove: value == 0}
	require.NoError(f.t, f.s.alter(ent, []quotaOp{op}, false))
}

// record is maybeRecordAndGetThrottleTimeMs at time.Now.
func (f *quotaFixture) record(user, client string, value float64) int64 {
	t := f.s.table(produceQuota)
	if t == nil {
		return 0
	}
	return f.s.th.record(f.cfg, produceQuota, t, user, client, value, time.Now())
}

// TestThrottleQuotaViolation is Kafka's ClientQuotaManagerTest
// testQuotaViolation, with its known throttle time, on synctest's clock.
func TestThrottleQuotaViolation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newQuotaFixture(t)
		f.set("", "<default>", 500)
		// Ten windows of 400 bytes a second: under the quota.
		for range 10 {
			assert.Zero(t, f.record("ANONYMOUS", "unknown", 400))
			time.Sleep(time.Second)
		}
		// A spike: 400*10 + 2300 = 6300 bytes over 10.5 s is 600 B/s;
		// (600-500)/500 × 10.5 s = 2100 ms.
		time.Sleep(500 * time.Millisecond)
		throttle := f.record("ANONYMOUS", "unknown", 2300)
		assert.EqualValues(t, 2100, throttle)
		time.Sleep(time.Duration(throttle) * time.Millisecond)
		// Delays go on until the burst's window rolls over.
		for range 10 {
			f.record("ANONYMOUS", "unknown", 400)
			time.Sleep(time.Second)
		}
		assert.Zero(t, f.record("ANONYMOUS", "unknown", 0), "the bursty sample has rolled over")
	})
}

// TestThrottleRateWindow pins Rate.windowSize: never less than samples-1
// windows, the oldest retained window's start otherwise, and a client idle
// for samples×window starting afresh.
func TestThrottleRateWindow(t *testing.T) {
	cfg := rateConfig{samples: 11, windowMs: 1000}
	var r sampledRate
	r.record(cfg, 1000, 0)
	assert.EqualValues(t, 10000, r.windowSize(cfg, 0))
	assert.InDelta(t, 100, r.measure(cfg, 0), 1e-9)
	assert.EqualValues(t, 10250, r.windowSize(cfg, 250))
	for ms := int64(1000); ms <= 15000; ms += 1000 {
		r.record(cfg, 1000, ms)
	}
	// Windows began at 0..15 s; 12 are kept (samples+1), from 4 s on, and
	// at 15.5 s the one of 4 s has had no event for 11 windows: the rate
	// is over the 11 windows from 5 s.
	assert.EqualValues(t, 15500-5000, r.windowSize(cfg, 15500))
	assert.InDelta(t, 11000/10.5, r.measure(cfg, 15500), 1e-9)
	// Idle for 11 windows (since the purge at 15.5 s, which restarted the
	// sample it reset): every sample is obsolete.
	assert.Zero(t, r.measure(cfg, 15500+11000))
	assert.EqualValues(t, 10000, r.windowSize(cfg, 15500+11000))
}

// TestThrottleQuotaConfigPrecedence is Kafka's ClientQuotaManagerTest
// testQuotaConfigPrecedence: which entity's quota applies to a (user,
// client-id), which clients share a sensor, and live updates. Each check
// records value×samples at one instant, which is over the quota when value
// is over it (the window is samples-1 windows wide).
func TestThrottleQuotaConfigPrecedence(t *testing.T) {
	f := newQuotaFixture(t)
	check := func(user, client string, bound float64, value float64, throttled bool) {
		t.Helper()
		tb := f.s.table(produceQuota)
		require.NotNil(t, tb)
		assert.Equal(t, bound, tb.bound(tb.tags(user, client)), "bound of %s/%s", user, client)
		wantMax := math.MaxFloat64
		if bound < math.MaxInt64 {
			wantMax = bound * float64(f.cfg.samples-1)
		}
		assert.InDelta(t, wantMax, f.s.th.maxValueInWindow(f.cfg, tb, user, client), 0.01)
		got := f.record(user, client, value*float64(f.cfg.samples))
		if throttled {
			assert.Positive(t, got, "%s/%s should be throttled", user, client)
		} else {
			assert.Zero(t, got, "%s/%s should not be throttled", user, client)
		}
	}
	f.set("<default>", "", 1000)
	f.set("", "<default>", 2000)
	f.set("<default>", "<default>", 3000)
	f.set("userA", "", 4000)
	f.set("userA", "client1", 5000)
	f.set("userB", "", 6000)
	f.set("userB", "client1", 7000)
	f.set("userB", "<default>", 8000)
	f.set("userC", "", 10000)
	f.set("", "client1", 9000)

	check("userA", "client1", 5000, 4500, false) // <user, client> over <user>
	check("userA", "client2", 4000, 4500, true)  // <user> over <client> and defaults
	check("userA", "client3", 4000, 0, true)     // <user> is shared by the user's clients
	check("userA", "client1", 5000, 0, false)    // <user, client> is the client's alone

	check("userB", "client1", 7000, 8000, true)
	check("userB", "client2", 8000, 7000, false) // <user, default client> per client
	check("userB", "client3", 8000, 7000, false)

	check("userD", "client1", 3000, 3500, true) // <default user, default client>
	check("userD", "client2", 3000, 2500, false)
	check("userE", "client1", 3000, 2500, false)

	// Without <default user, default client>, <default user> applies.
	f.set("<default>", "<default>", 0)
	check("userD", "client1", 1000, 0, false) // new sensor: counts restart
	check("userE", "client4", 1000, 1500, true)
	check("userF", "client4", 1000, 800, false) // shared by the user's clients
	check("userF", "client5", 1000, 800, true)

	// Without <default user>, <default client> applies.
	f.set("<default>", "", 0)
	check("userF", "client4", 2000, 0, false) // shared by all users of a client id
	check("userF", "client5", 2000, 0, false)
	check("userF", "client5", 2000, 2500, true)
	check("userG", "client5", 2000, 0, true)

	// Updates apply to existing sensors.
	f.set("userA", "", 8000)
	f.set("userA", "client1", 10000)
	check("userA", "client2", 8000, 0, false)
	check("userA", "client2", 8000, 4500, true) // the new and earlier values add up
	check("userA", "client1", 10000, 0, false)
	check("userA", "client1", 10000, 6000, true)
	f.set("userA", "client1", 0)
	check("userA", "client6", 8000, 0, true) // the shared user quota
	f.set("userA", "client6", 11000)
	check("userA", "client6", 11000, 8500, false)
	f.set("userA", "<default>", 12000)
	f.set("userA", "client6", 0)
	check("userA", "client6", 12000, 4000, true)
}

// TestThrottleQuotaTypes covers Kafka's single-level shortcuts and the
// kinds being independent: a consumer_byte_rate does not throttle
// produce, and a kind without quotas is not enforced at all.
func TestThrottleQuotaTypes(t *testing.T) {
	f := newQuotaFixture(t)
	assert.Nil(t, f.s.table(produceQuota), "no quota: the fast path")
	name := "c"
	require.NoError(t, f.s.alter([]quotaEntity{{Type: "client-id", Name: &name}},
		[]quotaOp{{key: "consumer_byte_rate", value: 10}}, false))
	assert.Nil(t, f.s.table(produceQuota))
	tb := f.s.table(fetchQuota)
	require.NotNil(t, tb)
	assert.Equal(t, quotaTags{"", "c"}, tb.tags("alice", "c"))
	assert.Equal(t, 10.0, tb.bound(tb.tags("alice", "c")))
	assert.Equal(t, float64(math.MaxInt64), tb.bound(tb.tags("alice", "d")))

	f.set("alice", "", 100)
	tb = f.s.table(produceQuota)
	assert.Equal(t, quotaTags{"alice", ""}, tb.tags("alice", "x"))
	assert.Equal(t, quotaTags{"bob", ""}, tb.tags("bob", "x"), "user quotas only: tagged by user")
	assert.Equal(t, float64(math.MaxInt64), tb.bound(tb.tags("bob", "x")))

	// An ip quota is connection_creation_rate only: nothing to enforce here.
	ip := "10.0.0.1"
	require.NoError(t, f.s.alter([]quotaEntity{{Type: "ip", Name: &ip}},
		[]quotaOp{{key: "connection_creation_rate", value: 5}}, false))
	assert.NotNil(t, f.s.table(produceQuota))
	f.set("alice", "", 0)
	assert.Nil(t, f.s.table(produceQuota))
}

// TestThrottleQuotasReopen: quotas stored by AlterClientQuotas are
// enforced again after a restart.
func TestThrottleQuotasReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := openQuotas(dir)
	require.NoError(t, err)
	require.NoError(t, s.alter([]quotaEntity{{Type: "user"}}, []quotaOp{{key: "producer_byte_rate", value: 42}}, false))
	s2, err := openQuotas(dir)
	require.NoError(t, err)
	tb := s2.table(produceQuota)
	require.NotNil(t, tb)
	assert.Equal(t, 42.0, tb.bound(tb.tags("ANONYMOUS", "any")))
}

// TestThrottleConnMute: a muted connection's reader waits out the mute,
// to the millisecond, and a later mute extends it; closing the connection
// ends the wait, and so does connections.max.idle.ms (closing it).
func TestThrottleConnMute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &Broker{cfg: Config{ConnectionsMaxIdle: 10 * time.Minute}, log: discardLogger()}
		c := &conn{b: b, done: make(chan struct{})}
		start := time.Now()
		assert.True(t, c.waitThrottle())
		assert.Zero(t, time.Since(start), "not muted: no wait")

		c.throttleUntil(start.Add(2100 * time.Millisecond))
		c.throttleUntil(start.Add(time.Second)) // an earlier end does not shorten it
		assert.True(t, c.waitThrottle())
		assert.Equal(t, 2100*time.Millisecond, time.Since(start))
		assert.Zero(t, c.throttled.Load(), "an ended mute is cleared")

		c.throttleUntil(time.Now().Add(time.Minute))
		done := make(chan bool)
		go func() { done <- c.waitThrottle() }()
		time.Sleep(time.Second)
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("the reader went on while muted")
		default:
		}
		close(c.done)
		assert.False(t, <-done, "closed while muted")

		// Muted past connections.max.idle.ms: closed when the idle time is up.
		c = &conn{b: b, done: make(chan struct{})}
		start = time.Now()
		c.throttleUntil(start.Add(time.Hour))
		assert.False(t, c.waitThrottle())
		assert.Equal(t, 10*time.Minute, time.Since(start))
	})
}

// BenchmarkThrottleRecord is what a produce or fetch pays with quotas
// configured: the entity lookup and one sensor record, once per request
// whatever its record count.
func BenchmarkThrottleRecord(b *testing.B) {
	f := newQuotaFixture(b)
	f.set("<default>", "", 1e12)
	f.set("alice", "c1", 1e12)
	f.set("", "<default>", 1e12)
	tb := f.s.table(produceQuota)
	b.ReportAllocs()
	for b.Loop() {
		f.s.th.record(f.cfg, produceQuota, tb, "alice", "c2", 16384, time.Now())
	}
}
