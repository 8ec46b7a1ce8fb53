package broker

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// setRequestQuota sets request_percentage on the client-id entity
// (value 0 removes it).
func (f *quotaFixture) setRequestQuota(client string, value float64) {
	f.t.Helper()
	op := quotaOp{key: "request_percentage", value: value, remove: value == 0}
	require.NoError(f.t, f.s.alter([]quotaEntity{{Type: "client-id", Name: &client}}, []quotaOp{op}, false))
}

// recordTime is ClientRequestQuotaManager.maybeRecordAndGetThrottleTimeMs
// of a request that kept a thread busy for d, at time.Now.
func (f *quotaFixture) recordTime(client string, d time.Duration) int64 {
	t := f.s.table(requestQuota)
	if t == nil {
		return 0
	}
	return f.s.th.recordRequestTime(f.cfg, t, anonymousUser, client, int64(d), time.Now())
}

// TestThrottleRequestPercentageViolation is Kafka's ClientQuotaManagerTest
// testRequestPercentageQuotaViolation (reconstructed), on synctest's
// clock: a 1% quota is 10 ms of thread time per second.
func TestThrottleRequestPercentageViolation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newQuotaFixture(t)
		f.setRequestQuota("test-client", 1)
		// 4 ms a second for ten windows: under the quota.
		for range 10 {
			assert.Zero(t, f.recordTime("test-client", 4*time.Millisecond))
			time.Sleep(time.Second)
		}
		// A spike: 4×10 + 67.1 = 107.1 ms over 10.5 s is 10.2 ms a second;
		// (10.2 - 10)/10 × 10.5 s = 210 ms.
		time.Sleep(500 * time.Millisecond)
		throttle := f.recordTime("test-client", 67100*time.Microsecond)
		assert.EqualValues(t, 210, throttle)
		time.Sleep(time.Duration(throttle) * time.Millisecond)
		for range 11 {
			f.recordTime("test-client", 4*time.Millisecond)
			time.Sleep(time.Second)
		}
		// A spike that would need more than a window to come back under
		// the quota is throttled for one window (maxThrottleTimeMs).
		assert.EqualValues(t, 1000, f.recordTime("test-client", 500*time.Millisecond))
		// Another client id has no quota and is never throttled.
		assert.Zero(t, f.recordTime("other", time.Second))
	})
}

// TestThrottleRequestTimeTable checks single requests on fresh sensors
// against QuotaUtils.throttleTime by hand: with Kafka's defaults a first
// request's time is spread over 10 s, so a quota of q percent admits
// q × 100 ms at once; the excess is throttled up to one window.
func TestThrottleRequestTimeTable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		quota float64 // percent
		busy  time.Duration
		want  int64 // ms
	}{
		{"within", 1, 100 * time.Millisecond, 0},
		{"just over", 1, 101 * time.Millisecond, 100},          // (1.01-1)/1 × 10 s
		{"half window", 10, 1050 * time.Millisecond, 500},      // (10.5-10)/10 × 10 s
		{"fractional quota", 0.5, 60 * time.Millisecond, 1000}, // (0.6-0.5)/0.5 × 10 s = 2 s, bounded
		{"bounded", 1, 10 * time.Second, 1000},
		{"a whole thread", 100, 10 * time.Second, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newQuotaFixture(t)
				f.setRequestQuota("c", tc.quota)
				assert.Equal(t, tc.want, f.recordTime("c", tc.busy))
			})
		})
	}
}

// TestThrottleRequestExempt: Kafka's cluster actions are never timed (nor
// throttled); client requests, ApiVersions included, are.
func TestThrottleRequestExempt(t *testing.T) {
	b := startBroker(t, Config{})
	adm := quotaAdmin(t, b)
	setQuota(t, adm, ent("client-id", ""), "request_percentage", 1)
	c := newConn(b, dialRaw(t, b).c) // a conn for its timing slots only
	for i, tc := range []struct {
		key    int16
		exempt bool
	}{
		{4, true}, {5, true}, {6, true}, {7, true}, {27, true}, {67, true},
		{0, false}, {1, false}, {3, false}, {18, false}, {32, false},
	} {
		r := &request{c: c, seq: uint64(i), key: tc.key}
		b.startRequestTime(r)
		assert.Equal(t, tc.exempt, !r.timed(), "api key %d", tc.key)
	}
	// No quota: nothing is timed, and a slot left timed is cleared.
	setQuota(t, adm, ent("client-id", ""), "request_percentage", 0)
	r := &request{c: c, seq: 8, key: 3}
	require.NotZero(t, c.reqTime[8].Load())
	b.startRequestTime(r)
	assert.False(t, r.timed())
}

// TestThrottleRequestKeepsLargerByteThrottle: a response already throttled
// for its byte rate keeps the larger throttle (Kafka's max of the two).
func TestThrottleRequestKeepsLargerByteThrottle(t *testing.T) {
	b := startBroker(t, Config{QuotaWindowNum: 2, QuotaWindowSize: 100 * time.Millisecond})
	setQuota(t, quotaAdmin(t, b), ent("client-id", "c"), "request_percentage", 0.001)
	c := newConn(b, dialRaw(t, b).c) // a conn to mute; nothing reads it
	for i, tc := range []struct {
		name string
		byte int32
		want func(got int32) bool
	}{
		{"byte throttle larger", 5000, func(got int32) bool { return got == 5000 }},
		{"request throttle larger", 1, func(got int32) bool { return got > 1 && got <= 100 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &request{c: c, seq: uint64(i), key: 3, version: 12, clientID: "c"}
			b.startRequestTime(r)
			require.True(t, r.timed())
			r.reqTime().Store(-int64(50*time.Millisecond) - 2) // a handler that ran 50 ms
			resp := kmsg.NewPtrMetadataResponse()
			resp.ThrottleMillis = tc.byte
			assert.Zero(t, b.throttleRequest(r, resp), "v12 clients throttle themselves")
			assert.True(t, tc.want(resp.ThrottleMillis), "throttle %d", resp.ThrottleMillis)
			assert.Zero(t, b.requestThrottleMs(r, time.Now()), "recorded once")
		})
	}
}
