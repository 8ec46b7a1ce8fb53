package broker

import (
	"math"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The request-path side of quota enforcement (throttle.go): what Produce
// and Fetch record, how a throttled answer is built, and the connection
// mute.

// KIP-219 moved throttling to the client from Produce v6 and Fetch v8 on
// (Kafka's shouldClientThrottle): the broker answers at once with
// throttle_time_ms, the client waits that long before its next request, and
// the broker mutes the connection meanwhile. Older clients do not wait, so
// their answer itself is held back for the throttle time, as brokers did
// before KIP-219.
const (
	produceClientThrottleVersion = 6
	fetchClientThrottleVersion   = 8
)

// quotaUser is the user of c's quota entity: the authenticated principal's
// name (SASL user, mTLS subject), ANONYMOUS otherwise, as Kafka's
// KafkaPrincipal.getName.
func (c *conn) quotaUser() string {
	if c.principal == "" {
		return anonymousUser
	}
	return strings.TrimPrefix(c.principal, "User:")
}

// quotaWindow is the sensors' window configuration from the broker's
// config (quota.window.num, quota.window.size.seconds).
func (b *Broker) quotaWindow() rateConfig {
	return quotaRateConfig(b.cfg.QuotaWindowNum, b.cfg.QuotaWindowSize)
}

// throttleProduce records a produce request against its client's
// producer_byte_rate. Like Kafka's KafkaApis it counts the request's size
// (request.sizeInBytes: header and record sets, what the client sent), for
// every acks and whether or not the partitions took the records. Over the
// quota, resp carries the throttle time and the connection is muted; the
// returned delay is how long an answer to a pre-KIP-219 version must be held
// back (holdAnswer), zero otherwise.
func (b *Broker) throttleProduce(r *request, resp *kmsg.ProduceResponse) time.Duration {
	t := b.quotas.table(produceQuota)
	if t == nil {
		return 0
	}
	now := time.Now()
	ms := b.quotas.th.record(b.quotaWindow(), produceQuota, t, r.c.quotaUser(), r.clientID, float64(r.size), now)
	if ms <= 0 {
		return 0
	}
	resp.ThrottleMillis = int32(ms)
	d := time.Duration(ms) * time.Millisecond
	r.c.throttleUntil(now.Add(d))
	if r.version < produceClientThrottleVersion {
		return d
	}
	return 0
}

// holdAnswer returns resp, or, with a delay, parks it in the purgatory
// (under no key, so its deadline alone releases it) and returns nil.
func (b *Broker) holdAnswer(r *request, resp kmsg.Response, d time.Duration) kmsg.Response {
	if resp == nil || d <= 0 {
		return resp
	}
	b.purg.Watch(nil, &heldAnswer{r: r, resp: resp}, time.Now().Add(d))
	return nil
}

// heldAnswer is a throttled answer to a client too old to throttle itself.
type heldAnswer struct {
	r     *request
	resp  kmsg.Response
	frame *[]byte // an encoded answer (fetch) instead of resp
	// answered: frame is the answer of a request respond already marked
	// answered (its request_percentage hold, throttle_request.go).
	answered bool
}

func (h *heldAnswer) TryComplete() bool { return false }
func (h *heldAnswer) OnComplete()       {}

func (h *heldAnswer) OnExpire() {
	switch {
	case h.answered:
		h.r.sendFrame(h.frame)
	case h.frame != nil:
		h.r.respondFrame(h.frame)
	default:
		h.r.respond(h.resp)
	}
}

// fetchQuotaBytes is the most a fetch may read for r's client:
// maxValueInQuotaWindow of its consumer_byte_rate, as Kafka's KafkaApis
// caps fetch max_bytes with it. Without quotas it does not limit.
func (b *Broker) fetchQuotaBytes(r *request) int {
	t := b.quotas.table(fetchQuota)
	if t == nil {
		return maxInt
	}
	v := b.quotas.th.maxValueInWindow(b.quotaWindow(), t, r.c.quotaUser(), r.clientID)
	if v >= float64(maxInt) {
		return maxInt
	}
	return max(int(v), 1)
}

const maxInt = int(^uint(0) >> 1)

// respondFetch answers a fetch, recording its response size against the
// client's consumer_byte_rate and its handler time against its
// request_percentage (throttle_request.go). Over either quota the answer is
// Kafka's throttled fetch response (FetchContext.getThrottledResponse): no
// partitions, the top-level error and session id kept, throttle_time_ms
// set to the larger throttle; its bytes are taken back out of the byte-rate
// sensor (unrecordQuotaSensor), so that what the client did not get does
// not count. KIP-219: the empty answer lets a consumer's other work
// (heartbeats, rebalances on other connections) go on while it waits.
func (b *Broker) respondFetch(r *request, resp *kmsg.FetchResponse, sess *fetchContext) {
	t := b.quotas.table(fetchQuota)
	if t == nil && !r.timed() {
		sess.commit()
		r.respond(resp)
		return
	}
	// The size is the encoded response's, as Kafka's getResponseSize, so
	// the answer is encoded first; a throttled one is encoded again, empty.
	frame := r.encodeResponse(resp)
	if b.fetchThrottled(r, t, resp, int64(len(*frame)), sess) {
		framePool.put(frame)
		return
	}
	sess.commit()
	r.respondFrame(frame)
}

// fetchThrottled records a fetch answer of frameSize bytes (size prefix
// included) against r's consumer_byte_rate in t (nil: none configured)
// and r's handler time against its request_percentage. Within both quotas
// it returns false and the caller sends its answer; over either, as
// Kafka's handleFetchRequest, it takes the bytes back out, answers r itself
// with the throttled response carrying the larger throttle and mutes the
// connection, and the caller drops its answer. The zero-copy path
// (sendfile_fetch.go) uses it with its frame's size, so sendfile fetches
// are held to the same quotas.
//
// A throttled answer leaves the fetch session as it was (Kafka's
// getThrottledResponse): a full fetch's new session is dropped, an
// incremental one keeps its partitions' last answers.
func (b *Broker) fetchThrottled(r *request, t *quotaTable, resp *kmsg.FetchResponse, frameSize int64, sess *fetchContext) bool {
	size := float64(frameSize - 4) // without the size prefix
	now := time.Now()
	user, w := r.c.quotaUser(), b.quotaWindow()
	ms := b.requestThrottleMs(r, now)
	if t != nil {
		ms = max(ms, b.quotas.th.record(w, fetchQuota, t, user, r.clientID, size, now))
	}
	if ms <= 0 {
		return false
	}
	if t != nil {
		b.quotas.th.unrecord(w, fetchQuota, t, user, r.clientID, size, now)
	}
	sess.throttled(resp) // no partitions, the session untouched
	resp.ThrottleMillis = int32(min(ms, math.MaxInt32))
	frame := r.encodeResponse(resp)
	d := time.Duration(ms) * time.Millisecond
	r.c.throttleUntil(now.Add(d))
	if r.version < fetchClientThrottleVersion {
		b.purg.Watch(nil, &heldAnswer{r: r, frame: frame}, now.Add(d))
		return true
	}
	r.respondFrame(frame)
	return true
}

// respondFrame answers r with an already encoded response (see
// request.respond).
func (r *request) respondFrame(frame *[]byte) {
	if !r.answered.CompareAndSwap(false, true) {
		r.c.b.log.Error("bug: request answered twice", "api_key", r.key, "client", r.clientID)
		framePool.put(frame)
		return
	}
	r.sendFrame(frame)
}

// throttleUntil mutes c until end (KIP-219): its reader takes no further
// request before then. A later end extends a mute in progress.
func (c *conn) throttleUntil(end time.Time) {
	e := end.UnixNano()
	for {
		cur := c.throttled.Load()
		if cur >= e || c.throttled.CompareAndSwap(cur, e) {
			return
		}
	}
}

// waitThrottle holds the reader while c is muted. It reports false when
// the connection closed meanwhile, or stayed muted for
// connections.max.idle.ms: as in Kafka, the idle timeout still holds
// during a throttle, so a client throttled for hours does not keep its
// connection that long. Unthrottled, it costs one atomic load.
//
// Kafka mutes a channel from reading a request until its answer is sent
// and the throttle time has passed. Here the reader runs ahead of the
// handlers (requests are pipelined), so it checks twice: before reading a
// request, and before handing one it read to the workers; a request read
// while its predecessor was being throttled waits at the second check.
func (c *conn) waitThrottle() bool {
	var idle <-chan time.Time
	for {
		end := c.throttled.Load()
		if end == 0 {
			return true
		}
		d := time.Until(time.Unix(0, end))
		if d <= 0 {
			c.throttled.CompareAndSwap(end, 0)
			return true
		}
		if idle == nil {
			it := time.NewTimer(c.b.cfg.ConnectionsMaxIdle)
			defer it.Stop()
			idle = it.C
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-idle:
			t.Stop()
			c.b.log.Debug("closing connection muted longer than connections.max.idle.ms by a quota",
				"remote", c.remote)
			return false
		case <-c.done:
			t.Stop()
			return false
		}
	}
}
