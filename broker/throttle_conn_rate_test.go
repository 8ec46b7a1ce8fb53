package broker

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestQuotaConnectionCreationRate: connections from 127.0.0.1 within its
// connection_creation_rate are served; the one over it is held for the
// throttle time and then closed unanswered (Kafka's ConnectionQuotas and
// throttledSockets), for the IP's own entity and for the <default> ip one;
// once the quota is removed, connections are served again.
//
// With quota.window.num 2 of 5 s the rate is over at least 5 s: a quota of
// 1 a second admits 5 connections at once, and the sixth, 6 over 5 s plus
// the e ms since the first, is throttled for (6/(5+e) - 1) × (5+e) s =
// 1 s - e: it is closed 1 s after the first connection was accepted (to
// the millisecond Kafka's clock rounds to).
func TestQuotaConnectionCreationRate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		entity kadm.ClientQuotaEntity
	}{
		{"ip 127.0.0.1", ent("ip", "127.0.0.1")},
		{"default ip", ent("ip", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBroker(t, Config{QuotaWindowNum: 2, QuotaWindowSize: 5 * time.Second})
			// The admin client connects before the quota exists: its
			// connections are not counted.
			adm := quotaAdmin(t, b)
			setQuota(t, adm, tc.entity, "connection_creation_rate", 1)

			start := time.Now() // before the first dial, so before the broker accepts it
			for i := range 5 {
				c := dialRaw(t, b)
				resp := c.roundTrip(kmsg.NewPtrApiVersionsRequest(), 0)
				require.Zero(t, resp.(*kmsg.ApiVersionsResponse).ErrorCode, "connection %d is served", i)
			}
			over := dialRaw(t, b)
			over.write(frame(kmsg.NewPtrApiVersionsRequest(), 0, 1))
			over.requireClosed()
			assert.GreaterOrEqual(t, time.Since(start), time.Second-2*time.Millisecond,
				"held for the throttle time before it is closed")

			setQuota(t, adm, tc.entity, "connection_creation_rate", 0)
			resp := dialRaw(t, b).roundTrip(kmsg.NewPtrApiVersionsRequest(), 0)
			assert.Zero(t, resp.(*kmsg.ApiVersionsResponse).ErrorCode, "served once the quota is gone")
		})
	}
}

// TestThrottleConnectionRateTable: an IP's own quota comes before the
// default one, and other IPs get the default, each with its own sensor.
func TestThrottleConnectionRateTable(t *testing.T) {
	name := func(s string) *string { return &s }
	entries := []quotaEntry{
		{Entity: []quotaEntity{{Type: "ip", Name: name("10.0.0.1")}}, Values: map[string]float64{"connection_creation_rate": 5}},
		{Entity: []quotaEntity{{Type: "ip", Name: name("::ffff:10.0.0.2")}}, Values: map[string]float64{"connection_creation_rate": 7}},
		{Entity: []quotaEntity{{Type: "client-id", Name: name("c")}}, Values: map[string]float64{"producer_byte_rate": 9}},
	}
	only := newIPQuotaTable(entries)
	require.NotNil(t, only)
	for _, tc := range []struct {
		ip    string
		want  float64
		bound bool
	}{
		{"10.0.0.1", 5, true},
		{"10.0.0.2", 7, true}, // an IPv4-mapped name is the IPv4 address
		{"10.0.0.3", 0, false},
	} {
		got, ok := only.limit(tc.ip)
		assert.Equal(t, tc.bound, ok, tc.ip)
		assert.Equal(t, tc.want, got, tc.ip)
	}
	withDefault := newIPQuotaTable(append(entries,
		quotaEntry{Entity: []quotaEntity{{Type: "ip"}}, Values: map[string]float64{"connection_creation_rate": 2}}))
	got, ok := withDefault.limit("10.0.0.3")
	assert.True(t, ok)
	assert.Equal(t, 2.0, got)
	got, _ = withDefault.limit("10.0.0.1")
	assert.Equal(t, 5.0, got)
	assert.Nil(t, newIPQuotaTable(entries[2:]), "no ip quota: nothing to check")
}

// TestThrottleConnectionRateSensors: each IP is measured alone, and the
// throttle is Kafka's, bounded by one window.
func TestThrottleConnectionRateSensors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := openQuotas(t.TempDir())
		require.NoError(t, err)
		require.NoError(t, s.alter([]quotaEntity{{Type: "ip"}},
			[]quotaOp{{key: "connection_creation_rate", value: 1}}, false))
		b := &Broker{quotas: s}
		now := time.Now()
		// Default windows: 1 a second over at least 10 s admits 10.
		for range 10 {
			assert.Zero(t, b.connectionThrottle("10.0.0.1", now))
		}
		// 11/10 s: (1.1-1)/1 × 10 s = 1 s.
		assert.Equal(t, time.Second, b.connectionThrottle("10.0.0.1", now))
		assert.Zero(t, b.connectionThrottle("10.0.0.2", now), "another IP has its own sensor")
		// 20 more: far over, bounded by one window.
		for range 20 {
			b.connectionThrottle("10.0.0.1", now)
		}
		assert.Equal(t, time.Second, b.connectionThrottle("10.0.0.1", now))
	})
}

// TestQuotaMaxConnectionCreationRate: over the broker-wide
// max.connection.creation.rate the broker does not close the connection:
// it accepts it late (Kafka's acceptor waits), and serves it. The sixth
// connection within 5 s at 1 a second waits until 1 s after the first.
func TestQuotaMaxConnectionCreationRate(t *testing.T) {
	b := startBroker(t, Config{MaxConnectionCreationRate: 1, QuotaWindowNum: 2, QuotaWindowSize: 5 * time.Second})
	start := time.Now() // before the first dial, so before the broker accepts it
	for i := range 5 {
		resp := dialRaw(t, b).roundTrip(kmsg.NewPtrApiVersionsRequest(), 0)
		require.Zero(t, resp.(*kmsg.ApiVersionsResponse).ErrorCode, "connection %d is served", i)
	}
	resp := dialRaw(t, b).roundTrip(kmsg.NewPtrApiVersionsRequest(), 0)
	assert.Zero(t, resp.(*kmsg.ApiVersionsResponse).ErrorCode, "the sixth is served too")
	assert.GreaterOrEqual(t, time.Since(start), time.Second-2*time.Millisecond,
		"but only once the accept loop waited out the throttle")
}
