package broker

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/skiffkit/skiff/kerr"
)

// Controller mutation quotas (KIP-599, controller_mutation_rate): the
// partitions a client creates (CreateTopics, CreatePartitions) or deletes
// (DeleteTopics) per second, per (user, client-id) entity with the byte
// rates' precedence. Kafka's ControllerMutationQuotaManager measures them
// with a token bucket rather than a sampled rate, so that one large topic
// can pass and the client then waits for exactly the excess:
//
//   - the bucket refills at the quota Q per second up to a burst of
//     Q x (quota.window.num - 1) x quota.window.size.seconds, and starts
//     full (Kafka's TokenBucket);
//   - a mutation of N partitions is admitted while the bucket is not below
//     zero, and takes N tokens, so the bucket may go negative;
//   - the throttle time is the time the bucket needs to get back to zero,
//     -tokens / Q.
//
// Requests from KIP-599 on (CreateTopics v6, DeleteTopics v5,
// CreatePartitions v3) are strict: a topic that arrives while the bucket is
// negative fails with THROTTLING_QUOTA_EXCEEDED, and the client may retry
// it after the throttle time. Older clients cannot be told, so their
// mutations are all made and they are throttled only (permissive). Either
// way the answer carries throttle_time_ms and the connection is muted for
// it (KIP-219). validate_only requests neither take nor check tokens, as in
// Kafka.

// Versions from which a request's mutations are checked (KIP-599), and from
// which the answer is sent before the throttle rather than after it
// (KIP-219).
const (
	createTopicsStrictVersion      = 6
	deleteTopicsStrictVersion      = 5
	createPartitionsStrictVersion  = 3
	createTopicsClientThrottle     = 3
	deleteTopicsClientThrottle     = 2
	createPartitionsClientThrottle = 1
)

// tokenBucket is Kafka's TokenBucket stat.
type tokenBucket struct {
	tokens   float64
	updateMs int64
	lastMs   int64 // last record, for expiry
}

func (t *tokenBucket) refill(rate, burst float64, now int64) {
	t.tokens = math.Min(burst, t.tokens+rate*float64(now-t.updateMs)/1000)
	t.updateMs = now
}

// mutationBuckets are the token buckets by quota entity.
type mutationBuckets struct {
	mu      sync.Mutex // guards buckets and every bucket's state
	buckets sensorMap[tokenBucket]
}

// take refills tg's bucket and, unless strict finds it already below zero,
// takes n tokens. It returns whether the mutation was admitted and the
// throttle time in milliseconds after it (Kafka's throttleTimeMs: 0 while
// the bucket is not negative).
func (m *mutationBuckets) take(tg quotaTags, rate, burst, n float64, strict bool, now int64) (bool, int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.buckets.get(tg, now, func(b *tokenBucket) int64 { return b.lastMs },
		func() *tokenBucket { return &tokenBucket{tokens: burst, updateMs: now} }) // starts full
	b.refill(rate, burst, now)
	b.lastMs = now
	admitted := !strict || b.tokens >= 0
	if admitted {
		b.tokens = math.Min(burst, b.tokens-n)
	}
	if b.tokens >= 0 {
		return admitted, 0
	}
	return admitted, int64(math.Round(-b.tokens / rate * 1000))
}

// mutationQuota is one request's ControllerMutationQuota: nil when no
// controller_mutation_rate applies to its client (Kafka's unbounded quota).
type mutationQuota struct {
	b          *Broker
	tags       quotaTags
	rate       float64
	strict     bool
	throttleMs int64 // Kafka's lastThrottleTimeMs
	recordedMs int64 // when it was set
}

// newMutationQuota returns r's mutation quota; strictSince is the first
// version of r's API that can report THROTTLING_QUOTA_EXCEEDED.
func (b *Broker) newMutationQuota(r *request, strictSince int16) *mutationQuota {
	t := b.quotas.table(controllerQuota)
	if t == nil {
		return nil
	}
	tg := t.tags(r.c.quotaUser(), r.clientID)
	rate, ok := t.limit(tg)
	if !ok {
		return nil
	}
	return &mutationQuota{b: b, tags: tg, rate: rate, strict: r.version >= strictSince}
}

// record accounts for a mutation of n partitions. A strict quota refuses it
// with THROTTLING_QUOTA_EXCEEDED while the bucket is below zero; the
// mutation must then not be made.
func (q *mutationQuota) record(n int32) error {
	if q == nil {
		return nil
	}
	cfg := q.b.quotaWindow()
	burst := q.rate * float64(cfg.samples-1) * float64(cfg.windowMs) / 1000
	now := time.Now().UnixMilli()
	admitted, ms := q.b.quotas.th.buckets.take(q.tags, q.rate, burst, float64(n), q.strict, now)
	// As Kafka's Strict- and PermissiveControllerMutationQuota: a strict
	// quota throttles only a request it refused something (the next one
	// is refused instead), a permissive one whenever the bucket is left
	// below zero.
	if ms > 0 && (!admitted || !q.strict) {
		q.throttleMs, q.recordedMs = ms, now
	}
	if !admitted {
		return fmt.Errorf("%w: the controller mutation rate quota (%g partitions/s) is used up, retry after %d ms",
			kerr.ThrottlingQuotaExceeded, q.rate, ms)
	}
	return nil
}

// throttle sets the answer's throttle time through set and mutes the
// connection for it; the returned delay is how long an answer to a version
// from before KIP-219 (clientThrottleSince) must be held back.
func (q *mutationQuota) throttle(r *request, clientThrottleSince int16, set func(ms int32)) time.Duration {
	if q == nil {
		return 0
	}
	// Less the time since it was recorded, as Kafka's throttleTime.
	ms := min(q.throttleMs-(time.Now().UnixMilli()-q.recordedMs), math.MaxInt32)
	if q.throttleMs <= 0 || ms <= 0 {
		return 0
	}
	set(int32(ms))
	d := time.Duration(ms) * time.Millisecond
	r.c.throttleUntil(time.Now().Add(d))
	if r.version < clientThrottleSince {
		return d
	}
	return 0
}
