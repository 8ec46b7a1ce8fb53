package broker

import (
	"math"
	"sync"
	"time"
)

// Client quota enforcement (KIP-13 byte-rate quotas, KIP-55 user quotas,
// KIP-219 throttling after the response), as Kafka's ClientQuotaManager with
// its DefaultQuotaCallback does it:
//
//   - Each request is attributed to a quota entity: the client's (user,
//     client-id), resolved against the configured quotas in Kafka's
//     precedence order (quotaTable.tags). Clients that resolve to the same
//     entity share one rate sensor: a /config/users/<user> quota is shared
//     by all that user's clients, a <user, client-id> quota is the
//     client's alone.
//   - The sensor measures bytes per second over quota.window.num windows of
//     quota.window.size.seconds (throttle_rate.go). A request is recorded
//     first and checked after, so a request over the quota is served, and
//     the excess comes back as throttle time.
//   - The throttle time goes into the response's throttle_time_ms, and the
//     connection is muted for that long (conn.waitThrottle): the broker
//     reads nothing more from it until then (throttle_conn.go).
//
// When no quota of a kind is configured, nothing is recorded (Kafka's
// quotasEnabled): the produce and fetch paths pay one pointer load.

// quotaKind is a ClientQuotaManager: one per quota type, each with its own
// quotas and sensors.
type quotaKind int

const (
	produceQuota    quotaKind = iota // producer_byte_rate
	fetchQuota                       // consumer_byte_rate
	controllerQuota                  // controller_mutation_rate (KIP-599, throttle_mutation.go)
	requestQuota                     // request_percentage (KIP-124, throttle_request.go)
	numQuotaKinds
)

var quotaKindKeys = [numQuotaKinds]string{"producer_byte_rate", "consumer_byte_rate", "controller_mutation_rate", "request_percentage"}

func (k quotaKind) String() string { return quotaKindKeys[k] }

// Kafka's defaults for quota.window.num and quota.window.size.seconds.
const (
	defaultQuotaWindowNum  = 11
	defaultQuotaWindowSize = time.Second
	// sensorExpiry is Kafka's INACTIVE_SENSOR_EXPIRATION_TIME_SECONDS: the
	// sensor of a client idle this long is dropped, so client ids that come
	// and go do not grow the broker's memory.
	sensorExpiry = time.Hour
)

// anonymousUser is KafkaPrincipal.ANONYMOUS's name: the user of a client
// that did not authenticate, to which /config/users/<default> applies.
const anonymousUser = "ANONYMOUS"

// quotaName is one component of a quota entity: absent, the type's
// <default> entity, or a named one.
type quotaName struct {
	set   bool   // the component is part of the entity
	deflt bool   // <default>
	name  string // when set and not deflt
}

func named(s string) quotaName { return quotaName{set: true, name: s} }

var (
	absent      = quotaName{}
	defaultName = quotaName{set: true, deflt: true}
)

// quotaKey is a (user, client-id) entity: Kafka's KafkaQuotaEntity.
type quotaKey struct{ user, client quotaName }

// Kafka's QuotaTypes bits: which levels have a quota configured. When a
// single level has quotas, the metric tags skip the precedence walk.
const (
	clientIDQuotaEnabled     = 1
	userQuotaEnabled         = 2
	userClientIDQuotaEnabled = 4
)

// quotaTable is one kind's configured quotas: immutable, replaced whole
// when AlterClientQuotas changes them (quotaStore.publish), so requests read
// it without a lock.
type quotaTable struct {
	limits  map[quotaKey]float64
	enabled int // QuotaTypes bits
}

// quotaTags is a sensor's identity: Kafka's metric tags (user, client-id),
// either of which may be empty.
type quotaTags struct{ user, client string }

// tags is DefaultQuotaCallback.quotaMetricTags: the entity whose quota
// applies to (user, client), in Kafka's precedence order
//
//  1. /config/users/<user>/clients/<client-id>
//  2. /config/users/<user>/clients/<default>
//  3. /config/users/<user>
//  4. /config/users/<default>/clients/<client-id>
//  5. /config/users/<default>/clients/<default>
//  6. /config/users/<default>
//  7. /config/clients/<client-id>
//  8. /config/clients/<default>
//
// expressed as the tags of the sensor that measures it: a <user> quota
// measures all the user's clients together (client tag empty), a
// <client-id> quota all users of the client id together.
func (t *quotaTable) tags(user, client string) quotaTags {
	switch t.enabled {
	case clientIDQuotaEnabled:
		return quotaTags{"", client}
	case userQuotaEnabled:
		return quotaTags{user, ""}
	case userClientIDQuotaEnabled:
		return quotaTags{user, client}
	}
	u, c := named(user), named(client)
	has := func(k quotaKey) bool { _, ok := t.limits[k]; return ok }
	switch {
	case has(quotaKey{u, c}), has(quotaKey{u, defaultName}):
		return quotaTags{user, client}
	case has(quotaKey{u, absent}):
		return quotaTags{user, ""}
	case has(quotaKey{defaultName, c}), has(quotaKey{defaultName, defaultName}):
		return quotaTags{user, client}
	case has(quotaKey{defaultName, absent}):
		return quotaTags{user, ""}
	}
	return quotaTags{"", client}
}

// limit is DefaultQuotaCallback.quotaLimit: the bound of the sensor with
// these tags, and false for none (Kafka then records against
// Long.MAX_VALUE: the sensor keeps counting, so a quota configured later
// sees the history).
func (t *quotaTable) limit(tg quotaTags) (float64, bool) {
	look := func(keys ...quotaKey) (float64, bool) {
		for _, k := range keys {
			if v, ok := t.limits[k]; ok {
				return v, true
			}
		}
		return 0, false
	}
	u, c := named(tg.user), named(tg.client)
	switch {
	case tg.user != "" && tg.client != "":
		return look(quotaKey{u, c}, quotaKey{u, defaultName}, quotaKey{defaultName, c}, quotaKey{defaultName, defaultName})
	case tg.user != "":
		return look(quotaKey{u, absent}, quotaKey{defaultName, absent})
	case tg.client != "":
		return look(quotaKey{absent, c}, quotaKey{absent, defaultName})
	}
	return 0, false
}

// bound is limit with Kafka's unlimited stand-in.
func (t *quotaTable) bound(tg quotaTags) float64 {
	if v, ok := t.limit(tg); ok {
		return v
	}
	return math.MaxInt64
}

// newQuotaTables builds each kind's table from the stored entries; a kind
// without a quota gets nil, which turns its enforcement off.
func newQuotaTables(entries []quotaEntry) [numQuotaKinds]*quotaTable {
	var out [numQuotaKinds]*quotaTable
	for k := range numQuotaKinds {
		for _, e := range entries {
			v, ok := e.Values[quotaKindKeys[k]]
			if !ok || !(v > 0) || math.IsInf(v, 0) {
				continue // alter refuses these; a hand-edited file may not
			}
			key, ok := quotaKeyOf(e.Entity)
			if !ok {
				continue // an ip entity: connection_creation_rate only
			}
			t := out[k]
			if t == nil {
				t = &quotaTable{limits: map[quotaKey]float64{}}
				out[k] = t
			}
			t.limits[key] = v
			switch {
			case key.user.set && key.client.set:
				t.enabled |= userClientIDQuotaEnabled
			case key.user.set:
				t.enabled |= userQuotaEnabled
			default:
				t.enabled |= clientIDQuotaEnabled
			}
		}
	}
	return out
}

func quotaKeyOf(ent []quotaEntity) (quotaKey, bool) {
	var k quotaKey
	for _, c := range ent {
		n := defaultName
		if c.Name != nil {
			n = named(*c.Name)
		}
		switch c.Type {
		case "user":
			k.user = n
		case "client-id":
			k.client = n
		default:
			return quotaKey{}, false
		}
	}
	return k, true
}

// quotaSensors are one kind's rate sensors by metric tags.
type quotaSensors struct {
	mu    sync.Mutex // guards rates and every sensor's state
	rates sensorMap[sampledRate]
}

// sensorMap holds sensors by metric tags and drops those idle for
// sensorExpiry, at most once a minute, as Kafka expires inactive sensors.
type sensorMap[S any] struct {
	byTags    map[quotaTags]*S
	lastSweep int64
}

// get returns tg's sensor, made by fresh when there is none; lastUsed
// tells when a sensor last recorded.
func (m *sensorMap[S]) get(tg quotaTags, now int64, lastUsed func(*S) int64, fresh func() *S) *S {
	if now-m.lastSweep >= time.Minute.Milliseconds() {
		m.lastSweep = now
		for k, s := range m.byTags {
			if now-lastUsed(s) >= sensorExpiry.Milliseconds() {
				delete(m.byTags, k)
			}
		}
	}
	s := m.byTags[tg]
	if s == nil {
		if m.byTags == nil {
			m.byTags = map[quotaTags]*S{}
		}
		s = fresh()
		m.byTags[tg] = s
	}
	return s
}

// throttler holds the sensors of every kind: sampled rates for the byte
// rates and request time, token buckets for controller mutations, and the
// per-IP connection rates (throttle_conn_rate.go), whose sensors are keyed
// by the client tag holding the IP.
type throttler struct {
	sensors [numQuotaKinds]quotaSensors
	buckets mutationBuckets
	ips     quotaSensors
}

// quotaRateConfig is the sensors' window configuration, Kafka's defaults
// for zero values.
func quotaRateConfig(windowNum int, windowSize time.Duration) rateConfig {
	if windowNum <= 0 {
		windowNum = defaultQuotaWindowNum
	}
	if windowSize <= 0 {
		windowSize = defaultQuotaWindowSize
	}
	return rateConfig{samples: windowNum, windowMs: max(windowSize.Milliseconds(), 1)}
}

// record is ClientQuotaManager.recordAndGetThrottleTimeMs: it adds value
// to the sensor of (user, client)'s entity at now and returns the throttle
// time in milliseconds, 0 when within the quota.
func (th *throttler) record(cfg rateConfig, k quotaKind, t *quotaTable, user, client string, value float64, now time.Time) int64 {
	tg := t.tags(user, client)
	bound := t.bound(tg)
	ms := now.UnixMilli()
	s := &th.sensors[k]
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.sensor(tg, ms)
	return r.recordChecked(cfg, value, bound, ms)
}

// unrecord is ClientQuotaManager.unrecordQuotaSensor: a throttled fetch is
// answered empty, so its bytes are taken back out of the window.
func (th *throttler) unrecord(cfg rateConfig, k quotaKind, t *quotaTable, user, client string, value float64, now time.Time) {
	tg := t.tags(user, client)
	ms := now.UnixMilli()
	s := &th.sensors[k]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sensor(tg, ms).record(cfg, -value, ms)
}

// maxValueInWindow is ClientQuotaManager.maxValueInQuotaWindow: the most
// that can be recorded at once without certain throttling. A fetch asks for
// no more than this, or a response too large for the quota would be
// throttled, emptied and asked for again forever.
func (th *throttler) maxValueInWindow(cfg rateConfig, t *quotaTable, user, client string) float64 {
	v, ok := t.limit(t.tags(user, client))
	if !ok {
		return math.MaxFloat64
	}
	return v * float64(cfg.samples-1) * float64(cfg.windowMs) / 1000
}

// sensor returns the sensor for tg, creating it. s.mu is held.
func (s *quotaSensors) sensor(tg quotaTags, now int64) *sampledRate {
	return s.rates.get(tg, now, func(r *sampledRate) int64 { return r.lastRecordMs },
		func() *sampledRate { return &sampledRate{lastRecordMs: now} })
}
