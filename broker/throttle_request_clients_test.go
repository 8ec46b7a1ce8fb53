package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
)

// Request quota tests use quota.window.num 2 of 200 ms: the rate is over at
// least 200 ms, and a throttle is at most 200 ms (one window), so a tiny
// request_percentage throttles within a few requests and never for long.
var requestQuotaWindows = Config{QuotaWindowNum: 2, QuotaWindowSize: 200 * time.Millisecond}

// tinyRequestQuota is 0.002% of a thread: 4 µs of handler time over the
// 200 ms span, which a few requests exceed on any machine.
const tinyRequestQuota = 0.002

// untilThrottled sends req until an answer carries a throttle time, and
// returns that answer's throttle and when its request was sent.
func untilThrottled(t testing.TB, q *quotaClient, req kmsg.Request, version int16) (int32, time.Time) {
	t.Helper()
	for range 1000 {
		sent := time.Now()
		q.send(req, version)
		resp, _ := q.recv(req, version)
		if ms, _ := resp.(kmsg.ThrottleResponse).Throttle(); ms > 0 {
			return ms, sent
		}
	}
	require.FailNow(t, "never throttled")
	return 0, time.Time{}
}

// TestQuotaRequestPercentage: a client over its request_percentage gets
// throttle_time_ms (at most one window) and a muted connection; another
// client id is not throttled; ApiVersions is throttled like any client
// request (as in Kafka); removing the quota stops the throttling.
func TestQuotaRequestPercentage(t *testing.T) {
	b := startBroker(t, requestQuotaWindows)
	adm := quotaAdmin(t, b)
	setQuota(t, adm, ent("client-id", "busy"), "request_percentage", tinyRequestQuota)

	busy := dialQuota(t, b, "busy")
	meta := kmsg.NewPtrMetadataRequest()
	ms, sent := untilThrottled(t, busy, meta, 12)
	assert.LessOrEqual(t, ms, int32(200), "bounded by one quota window")
	d := time.Duration(ms) * time.Millisecond
	assert.GreaterOrEqual(t, busy.mutedUntil().Sub(sent), d, "the connection is muted")

	untilThrottled(t, busy, kmsg.NewPtrApiVersionsRequest(), 2)

	free := dialQuota(t, b, "free")
	for range 50 {
		free.send(meta, 12)
		resp, _ := free.recv(meta, 12)
		require.Zero(t, resp.(*kmsg.MetadataResponse).ThrottleMillis, "another client id is not throttled")
	}

	setQuota(t, adm, ent("client-id", "busy"), "request_percentage", 0)
	for range 50 {
		busy.send(meta, 12)
		resp, _ := busy.recv(meta, 12)
		require.Zero(t, resp.(*kmsg.MetadataResponse).ThrottleMillis, "no quota left")
	}
}

// TestQuotaRequestPercentageProduce: produce answers carry the request
// throttle.
func TestQuotaRequestPercentageProduce(t *testing.T) {
	b := startBroker(t, requestQuotaWindows)
	require.NoError(t, b.CreateTopic("q", 1, nil))
	setQuota(t, quotaAdmin(t, b), ent("client-id", "p"), "request_percentage", tinyRequestQuota)
	p := dialQuota(t, b, "p")
	req := produceReq("q", 0, makeBatch(5, 100, batch.NoProducer))
	ms, _ := untilThrottled(t, p, req, 9)
	assert.Positive(t, ms)
}

// TestQuotaRequestPercentageFetch: a fetch over request_percentage is
// answered empty with the throttle time (Kafka's handleFetchRequest), on
// the copying path and on the sendfile one, whose answer the writer sends
// from the segment files.
func TestQuotaRequestPercentageFetch(t *testing.T) {
	for _, sendfile := range []bool{true, false} {
		t.Run(fmt.Sprintf("sendfile=%v", sendfile), func(t *testing.T) {
			cfg := requestQuotaWindows
			cfg.DisableSendfile = !sendfile
			b := startBroker(t, cfg)
			require.NoError(t, b.CreateTopic("q", 1, nil))
			p := dialQuota(t, b, "producer")
			preq := produceReq("q", 0, makeBatch(100, 1000, batch.NoProducer))
			p.send(preq, 9)
			p.recv(preq, 9)

			req := plainFetch("q")

			reader := dialQuota(t, b, "reader")
			reader.send(req, 11)
			resp, _ := reader.recv(req, 11)
			require.Len(t, resp.(*kmsg.FetchResponse).Topics, 1)
			if sendfile {
				require.Positive(t, b.sendfileBytes.Load(), "the connection's fetches go the sendfile way")
			} else {
				require.Zero(t, b.sendfileBytes.Load())
			}

			setQuota(t, quotaAdmin(t, b), ent("client-id", "reader"), "request_percentage", tinyRequestQuota)
			var throttled *kmsg.FetchResponse
			for range 1000 {
				reader.send(req, 11)
				resp, _ := reader.recv(req, 11)
				if fr := resp.(*kmsg.FetchResponse); fr.ThrottleMillis > 0 {
					throttled = fr
					break
				}
				require.Len(t, resp.(*kmsg.FetchResponse).Topics, 1, "an unthrottled fetch has its data")
			}
			require.NotNil(t, throttled, "never throttled")
			assert.Empty(t, throttled.Topics, "a throttled fetch is answered empty")
			assert.LessOrEqual(t, throttled.ThrottleMillis, int32(200))
		})
	}
}

// TestQuotaRequestPercentageKgo: a quota set with kadm throttles a kgo
// client, which reports it through HookBrokerThrottle (after the response:
// KIP-219); a kgo client with another id is not throttled.
func TestQuotaRequestPercentageKgo(t *testing.T) {
	b := startBroker(t, requestQuotaWindows)
	setQuota(t, quotaAdmin(t, b), ent("client-id", "busy"), "request_percentage", tinyRequestQuota)
	var busyRec, freeRec throttleRecorder
	busy := newClient(t, b, kgo.ClientID("busy"), kgo.WithHooks(&busyRec))
	free := newClient(t, b, kgo.ClientID("free"), kgo.WithHooks(&freeRec))
	for i := 0; i < 1000; i++ {
		_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx(t), busy)
		require.NoError(t, err)
		if _, n, _ := busyRec.get(); n > 0 {
			break
		}
	}
	for range 50 {
		_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx(t), free)
		require.NoError(t, err)
	}
	throttled, n, after := busyRec.get()
	t.Logf("busy: %d throttles totalling %v", n, throttled)
	assert.Positive(t, n, "the busy client is throttled")
	assert.True(t, after, "KIP-219: throttled after the response")
	assert.LessOrEqual(t, throttled, time.Duration(n)*200*time.Millisecond, "each at most one window")
	_, freeN, _ := freeRec.get()
	assert.Zero(t, freeN, "the other client is not throttled")
}

// TestQuotaRequestPercentageOldClient: Metadata before v6 (KIP-219) cannot
// tell its client to wait, so the throttled answer itself is held back for
// the throttle time, as Kafka does for such versions.
func TestQuotaRequestPercentageOldClient(t *testing.T) {
	b := startBroker(t, requestQuotaWindows)
	setQuota(t, quotaAdmin(t, b), ent("client-id", "old"), "request_percentage", tinyRequestQuota)
	old := dialQuota(t, b, "old")
	meta := kmsg.NewPtrMetadataRequest()
	for range 1000 {
		sent := time.Now()
		old.send(meta, 5)
		resp, _ := old.recv(meta, 5)
		if ms := resp.(*kmsg.MetadataResponse).ThrottleMillis; ms > 0 {
			assert.GreaterOrEqual(t, time.Since(sent), time.Duration(ms)*time.Millisecond,
				"the answer waits out the throttle")
			return
		}
	}
	require.FailNow(t, "never throttled")
}
