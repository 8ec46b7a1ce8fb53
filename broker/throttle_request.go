package broker

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Request quotas (KIP-124, request_percentage), as Kafka's
// ClientRequestQuotaManager enforces them:
//
//   - The quota is a share of one I/O thread's time, in percent: 100 lets
//     a (user, client-id) entity keep one worker busy. The entity and its
//     precedence are the byte rates' (quotaTable.tags).
//   - Each request records the time its handler ran (from the worker
//     taking it to the handler returning, Kafka's requestThreadTimeNanos)
//     as percent-seconds into the entity's sampled Rate, so the rate is
//     the entity's thread utilisation in percent; the throttle time is
//     QuotaUtils.throttleTime as for the byte rates, but bounded by one
//     quota window (Kafka's maxThrottleTimeMs for request quotas).
//   - It is recorded when the answer is built (sendResponseMaybeThrottle):
//     the answer carries the larger of this throttle and the request's
//     byte-rate throttle, and the connection is muted for it (KIP-219). A
//     fetch over either quota is answered empty (KafkaApis.handleFetchRequest).
//   - Exempt are Kafka's cluster actions (exemptFromRequestQuota) and the
//     SASL exchange of a login, which the connection's reader answers
//     itself (as Kafka's authenticator does on the network thread), and an
//     acks=0 produce, which gets no answer (Kafka records nothing for it).
//     ApiVersions is not exempt: Kafka answers it with
//     sendResponseMaybeThrottle like any client request.
//
// Not recorded: the network threads' time (Kafka records it without
// throttling, recordNoThrottle): here the connection's reader parses and
// its writer writes, including the sendfile of a zero-copy fetch; only the
// workers' time counts.
//
// With no request_percentage configured a request pays a few atomic loads
// (the quota table, its timing slot when its handler starts, returns and
// is answered) and no clock read; the request struct does not grow.

// nanosToPercent is ClientRequestQuotaManager.NanosToPercentagePerSecond:
// a second of thread time is 100 (percent) per second of window.
const nanosToPercent = 100.0 / float64(time.Second)

// monoBase anchors monoNow; request times are differences of monotonic
// readings, immune to wall-clock steps.
var monoBase = time.Now()

// monoNow is a monotonic timestamp in ns, never 0 (0 means "not timed").
func monoNow() int64 { return int64(time.Since(monoBase)) + 1 }

// clusterActionKeys are the ApiKeys Kafka marks clusterAction: requests
// between brokers and controllers, exempt from request quotas (Kafka
// records them in its exempt sensor instead). skiff serves none of them
// (it answers them UNSUPPORTED_VERSION or closes), so the exemption only
// keeps such an answer from being throttled, as Kafka would not.
var clusterActionKeys = map[int16]bool{
	4:  true, // LeaderAndIsr
	5:  true, // StopReplica
	6:  true, // UpdateMetadata
	7:  true, // ControlledShutdown
	27: true, // WriteTxnMarkers
	52: true, // Vote
	53: true, // BeginQuorumEpoch
	54: true, // EndQuorumEpoch
	56: true, // AlterPartition
	58: true, // Envelope
	59: true, // FetchSnapshot
	62: true, // BrokerRegistration
	63: true, // BrokerHeartbeat
	67: true, // AllocateProducerIds
}

// exemptFromRequestQuota reports whether requests of key are never
// throttled by request_percentage.
func exemptFromRequestQuota(key int16) bool { return clusterActionKeys[key] }

// A request's handler time is one atomic int64, conn.reqTime[seq %
// maxInFlight]: the requests of a connection between its reader and its
// writer are fewer than maxInFlight and consecutive, so no two share a
// slot. Its values:
//
//	0        not timed (no request quota, or an exempt request)
//	> 0      the handler started then (monoNow) and runs still
//	< -1     the handler returned after -v-2 ns
//	-1       recorded
const reqTimeRecorded = -1

func (r *request) reqTime() *atomic.Int64 { return &r.c.reqTime[r.seq%maxInFlight] }

// timed reports whether r's handler time is to be recorded.
func (r *request) timed() bool { return r.reqTime().Load() != 0 }

// startRequestTime starts timing r's handler when a request quota exists
// (called by the worker before the handler runs). Without one it costs
// the table's load and the slot's.
func (b *Broker) startRequestTime(r *request) {
	s := r.reqTime()
	if b.quotas.table(requestQuota) == nil || exemptFromRequestQuota(r.key) {
		if s.Load() != 0 {
			s.Store(0) // left by an earlier request in the slot
		}
		return
	}
	s.Store(monoNow())
}

// endRequestTime ends the handler's time once it returned: an answer sent
// later from the purgatory (an acks=all produce, a parked fetch) is charged
// the handler's time only, as Kafka's apiLocalCompleteTimeNanos.
func (r *request) endRequestTime() {
	s := r.reqTime()
	if start := s.Load(); start > 0 {
		s.CompareAndSwap(start, -(monoNow()-start)-2)
	}
}

// requestThrottleMs records r's handler time against its client's
// request_percentage, once, and returns the throttle time in ms: 0 within
// the quota, when no quota is configured, or when already recorded.
func (b *Broker) requestThrottleMs(r *request, now time.Time) int64 {
	s := r.reqTime()
	if s.Load() == 0 {
		return 0
	}
	v := s.Swap(reqTimeRecorded)
	var ns int64
	switch {
	case v == 0 || v == reqTimeRecorded:
		return 0
	case v > 0:
		ns = monoNow() - v // answered before the handler returned
	default:
		ns = -v - 2
	}
	t := b.quotas.table(requestQuota)
	if t == nil {
		return 0 // removed since the handler started
	}
	return b.quotas.th.recordRequestTime(b.quotaWindow(), t, r.c.quotaUser(), r.clientID, ns, now)
}

// recordRequestTime is ClientRequestQuotaManager.maybeRecordAndGetThrottleTimeMs:
// ns of thread time recorded as percent against (user, client)'s entity,
// and the throttle time in ms, bounded as QuotaUtils.boundedThrottleTime
// with the request quota's bound of one quota window: request time is
// bursty, and a client is not shut out for longer than the window its
// excess was measured in.
func (th *throttler) recordRequestTime(cfg rateConfig, t *quotaTable, user, client string, ns int64, now time.Time) int64 {
	v := float64(max(ns, 0)) * nanosToPercent
	return min(th.record(cfg, requestQuota, t, user, client, v, now), cfg.windowMs)
}

// throttleResponse is the part of a kmsg response that carries
// throttle_time_ms; Throttle also tells whether the version is one whose
// client waits by itself (KIP-219).
type throttleResponse interface {
	Throttle() (int32, bool)
	SetThrottle(int32)
}

// throttleRequest applies r's request quota to resp before it is encoded.
// When the request time throttles more than the answer already does (a
// byte-rate throttle), the answer carries the larger and the connection is
// muted for it. The returned delay is how long the answer must be held
// back for a client from before KIP-219 (beyond any hold already served
// for the byte rate), zero otherwise.
func (b *Broker) throttleRequest(r *request, resp kmsg.Response) time.Duration {
	now := time.Now()
	ms := b.requestThrottleMs(r, now)
	if ms <= 0 {
		return 0
	}
	tr, ok := resp.(throttleResponse)
	if !ok {
		// No throttle field to tell the client: the mute alone holds it.
		r.c.throttleUntil(now.Add(time.Duration(ms) * time.Millisecond))
		return 0
	}
	resp.SetVersion(r.version)
	cur, clientThrottles := tr.Throttle()
	if int64(cur) >= ms {
		return 0 // the byte-rate throttle is the larger, and applied
	}
	tr.SetThrottle(int32(min(ms, math.MaxInt32)))
	r.c.throttleUntil(now.Add(time.Duration(ms) * time.Millisecond))
	if clientThrottles {
		return 0
	}
	return time.Duration(ms-int64(max(cur, 0))) * time.Millisecond
}
