package broker

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	fkerr "github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// TestMutationTokenBucket: KIP-599's token bucket, as Kafka's TokenBucket:
// full at first, refilled at the rate up to the burst, allowed below zero,
// a strict take refused only while below zero, throttle -tokens/rate.
func TestMutationTokenBucket(t *testing.T) {
	const rate, burst = 5.0, 50.0 // 5/s over Kafka's 11 windows of 1 s
	tg := quotaTags{"u", "c"}
	type step struct {
		atMs     int64
		n        float64
		strict   bool
		admitted bool
		throttle int64
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"within the burst", []step{
			{1000, 50, true, true, 0},
			{1000, 1, true, true, 200}, // taken at zero, now -1
		}},
		{"one large mutation passes, the next waits", []step{
			{1000, 60, true, true, 2000},
			{1000, 1, true, false, 2000},
			{2000, 1, true, false, 1000}, // refilled 5: -5
			{3000, 1, true, true, 200},   // at 0: admitted, -1
		}},
		{"permissive always takes", []step{
			{1000, 60, false, true, 2000},
			{1000, 1, false, true, 2200},
		}},
		{"refill stops at the burst", []step{
			{1000, 50, true, true, 0},
			{1_000_000, 60, true, true, 2000}, // refilled to 50, not 5000
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m mutationBuckets
			for i, s := range tc.steps {
				admitted, ms := m.take(tg, rate, burst, s.n, s.strict, s.atMs)
				assert.Equal(t, s.admitted, admitted, "step %d admitted", i)
				assert.Equal(t, s.throttle, ms, "step %d throttle", i)
			}
		})
	}
}

// TestControllerMutationQuota: with controller_mutation_rate set for a
// client id, a CreateTopics v6 (KIP-599's strict versions) creates the
// topics that arrive while the bucket is not negative and refuses the rest
// with THROTTLING_QUOTA_EXCEEDED and a throttle time; the connection is
// muted for it. CreatePartitions v3 and DeleteTopics v5 are refused the
// same way, an older CreateTopics creates everything and is throttled only,
// and validate_only takes nothing.
//
// The quota is 1 partition/s over quota.window.num 3 (a burst of 2), and
// the first mutation takes 20 partitions: the bucket stays negative for
// 18 s, far longer than the test, so no step depends on how fast the
// machine creates partitions. Every step uses a fresh connection: a muted
// one would hold the next request for the throttle time.
func TestControllerMutationQuota(t *testing.T) {
	b := startBroker(t, Config{QuotaWindowNum: 3})
	adm := quotaAdmin(t, b)
	setQuota(t, adm, ent("client-id", "admin"), "controller_mutation_rate", 1)

	roundTrip := func(clientID string, req kmsg.Request, version int16) (kmsg.Response, *conn) {
		q := dialQuota(t, b, clientID)
		q.send(req, version)
		resp, _ := q.recv(req, version)
		return resp, serverConn(t, b, q.c)
	}
	createReq := func(validateOnly bool, topics ...string) *kmsg.CreateTopicsRequest {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis, req.ValidateOnly = 5000, validateOnly
		for i := 0; i < len(topics); i += 2 {
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.ReplicationFactor = topics[i], -1
			n, _ := strconv.Atoi(topics[i+1])
			rt.NumPartitions = int32(n)
			req.Topics = append(req.Topics, rt)
		}
		return req
	}
	codes := func(resp *kmsg.CreateTopicsResponse) map[string]int16 {
		out := map[string]int16{}
		for _, t := range resp.Topics {
			out[t.Topic] = t.ErrorCode
		}
		return out
	}

	// validate_only takes nothing, even far over the burst.
	r, _ := roundTrip("admin", createReq(true, "v", "500"), 6)
	resp := r.(*kmsg.CreateTopicsResponse)
	assert.Equal(t, map[string]int16{"v": 0}, codes(resp))
	assert.Zero(t, resp.ThrottleMillis)
	assert.Nil(t, b.topics.byName("v"))

	// 20 partitions pass (the bucket is not negative before them), the
	// next topic is refused: 18 tokens short at 1/s.
	r, sc := roundTrip("admin", createReq(false, "a", "20", "b", "1"), 6)
	resp = r.(*kmsg.CreateTopicsResponse)
	assert.Equal(t, map[string]int16{"a": 0, "b": kerr.ThrottlingQuotaExceeded.Code}, codes(resp))
	assert.InDelta(t, 17000, resp.ThrottleMillis, 1000)
	require.NotNil(t, b.topics.byName("a"))
	assert.Nil(t, b.topics.byName("b"), "a refused topic is not created")
	assert.Greater(t, time.Unix(0, sc.throttled.Load()), time.Now().Add(10*time.Second), "the connection is muted")

	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.TimeoutMillis = 5000
	cp.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: "a", Count: 21}}
	r, _ = roundTrip("admin", cp, 3)
	cpr := r.(*kmsg.CreatePartitionsResponse)
	assert.Equal(t, kerr.ThrottlingQuotaExceeded.Code, cpr.Topics[0].ErrorCode)
	assert.Positive(t, cpr.ThrottleMillis)
	assert.Len(t, b.topics.byName("a").parts, 20)

	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.TimeoutMillis = 5000
	dt.TopicNames = []string{"a"}
	r, _ = roundTrip("admin", dt, 5)
	dtr := r.(*kmsg.DeleteTopicsResponse)
	require.Len(t, dtr.Topics, 1)
	assert.Equal(t, kerr.ThrottlingQuotaExceeded.Code, dtr.Topics[0].ErrorCode)
	assert.Positive(t, dtr.ThrottleMillis)
	assert.NotNil(t, b.topics.byName("a"), "a refused deletion deletes nothing")

	// An old client (CreateTopics v5, before KIP-599): everything is
	// created, and the answer carries the throttle time.
	r, sc = roundTrip("admin", createReq(false, "c", "1", "d", "1"), 5)
	old := r.(*kmsg.CreateTopicsResponse)
	assert.Equal(t, map[string]int16{"c": 0, "d": 0}, codes(old))
	assert.InDelta(t, 19000, old.ThrottleMillis, 1500, "permissive: throttled, not refused")
	assert.Greater(t, time.Unix(0, sc.throttled.Load()), time.Now().Add(10*time.Second), "the connection is muted")

	// Another client id has no quota.
	r, _ = roundTrip("free", createReq(false, "e", "30"), 6)
	free := r.(*kmsg.CreateTopicsResponse)
	assert.Equal(t, map[string]int16{"e": 0}, codes(free))
	assert.Zero(t, free.ThrottleMillis)
}

// TestControllerMutationQuotaKadm: kadm (franz-go's admin client, which
// sends CreateTopics at its newest version) sees the strict quota: one
// call creating a 20-partition topic and then a 1-partition one gets the
// second refused with THROTTLING_QUOTA_EXCEEDED, and a client id without
// a quota creates freely.
func TestControllerMutationQuotaKadm(t *testing.T) {
	b := startBroker(t, Config{QuotaWindowNum: 3}) // a burst of 2 at 1/s
	setQuota(t, quotaAdmin(t, b), ent("client-id", "limited"), "controller_mutation_rate", 1)

	limited := kadm.NewClient(newClient(t, b, kgo.ClientID("limited")))
	res, err := limited.CreateTopics(ctx(t), 20, 1, nil, "first")
	require.NoError(t, err)
	require.NoError(t, res["first"].Err)
	res, err = limited.CreateTopics(ctx(t), 1, 1, nil, "second")
	require.NoError(t, err)
	assert.ErrorIs(t, res["second"].Err, fkerr.ThrottlingQuotaExceeded)
	assert.Nil(t, b.topics.byName("second"))

	free := kadm.NewClient(newClient(t, b, kgo.ClientID("free")))
	res, err = free.CreateTopics(ctx(t), 20, 1, nil, "third")
	require.NoError(t, err)
	require.NoError(t, res["third"].Err)
}
