package broker

import "math"

// This file is Kafka's quota measurement, ported so that a client sees the
// same throttle times from skiff as from a Kafka broker: the Rate stat over
// a WindowedSum SampledStat (org.apache.kafka.common.metrics.stats), with a
// Quota bound checked after each record as Sensor.record(value, now, true)
// does, and QuotaUtils.throttleTime. Times are milliseconds, as in Kafka,
// so the rounding is the same.

// rateConfig is the MetricConfig of a quota sensor: quota.window.num
// samples of quota.window.size.seconds each.
type rateConfig struct {
	samples  int
	windowMs int64
}

// rateSample is SampledStat.Sample: the sum recorded in one time window.
type rateSample struct {
	value       float64
	events      int64
	startMs     int64 // when the window began
	lastEventMs int64 // the last record in it (purgeObsoleteSamples)
}

func (s *rateSample) reset(now int64) {
	*s = rateSample{startMs: now, lastEventMs: now}
}

func (s *rateSample) complete(now int64, cfg rateConfig) bool {
	// Kafka's eventWindow is Long.MAX_VALUE for quotas: time alone ends a
	// window.
	return now-s.startMs >= cfg.windowMs
}

// sampledRate is Rate(WindowedSum): the values recorded in the retained
// windows divided by the time they span. It keeps samples+1 windows, as
// SampledStat.advance does, so that a window overlapping the start of the
// monitored span is not recycled while it still counts.
type sampledRate struct {
	samples []rateSample
	current int
	// lastRecordMs is when the sensor was last used, for expiring idle
	// sensors (Kafka's inactive sensor expiration).
	lastRecordMs int64
}

// record is SampledStat.record: add v to the current window, starting the
// next one when the current is complete.
func (r *sampledRate) record(cfg rateConfig, v float64, now int64) {
	s := r.currentSample(now)
	if s.complete(now, cfg) {
		s = r.advance(cfg, now)
	}
	s.value += v
	s.events++
	s.lastEventMs = now
	r.lastRecordMs = now
}

func (r *sampledRate) currentSample(now int64) *rateSample {
	if len(r.samples) == 0 {
		r.samples = append(r.samples, rateSample{startMs: now, lastEventMs: now})
	}
	return &r.samples[r.current]
}

func (r *sampledRate) advance(cfg rateConfig, now int64) *rateSample {
	r.current = (r.current + 1) % (cfg.samples + 1)
	if r.current >= len(r.samples) {
		r.samples = append(r.samples, rateSample{startMs: now, lastEventMs: now})
	} else {
		r.samples[r.current].reset(now)
	}
	return &r.samples[r.current]
}

// purge is purgeObsoleteSamples: a window without an event in the last
// samples×window is reset, so a client idle that long starts afresh.
func (r *sampledRate) purge(cfg rateConfig, now int64) {
	expire := int64(cfg.samples) * cfg.windowMs
	for i := range r.samples {
		if now-r.samples[i].lastEventMs >= expire {
			r.samples[i].reset(now)
		}
	}
}

func (r *sampledRate) oldestStart(now int64) int64 {
	if len(r.samples) == 0 {
		r.samples = append(r.samples, rateSample{startMs: now, lastEventMs: now})
	}
	oldest := r.samples[0].startMs
	for _, s := range r.samples[1:] {
		oldest = min(oldest, s.startMs)
	}
	return oldest
}

// windowSize is Rate.windowSize: the time since the oldest retained
// window began, but never less than samples-1 full windows. That floor is
// what lets a fresh or long-idle client burst: its first bytes are spread
// over (samples-1)×window, not over the few milliseconds it has existed.
func (r *sampledRate) windowSize(cfg rateConfig, now int64) int64 {
	r.purge(cfg, now)
	elapsed := now - r.oldestStart(now)
	full := elapsed / cfg.windowMs
	if minFull := int64(cfg.samples - 1); full < minFull {
		elapsed += (minFull - full) * cfg.windowMs
	}
	// A window of 0 ms (one sample, measured as it starts) has no rate;
	// Kafka takes 1 ms.
	return max(elapsed, 1)
}

// measure is Rate.measure in units per second.
func (r *sampledRate) measure(cfg rateConfig, now int64) float64 {
	r.purge(cfg, now)
	var sum float64
	for i := range r.samples {
		sum += r.samples[i].value
	}
	return sum / (float64(r.windowSize(cfg, now)) / 1000)
}

// recordChecked records v and checks the bound as Sensor.record with
// checkQuotas does, returning QuotaUtils.throttleTime when the measured rate
// exceeds it: the delay X that brings the observed rate O back to the bound
// T over the window W, O×W/(W+X) = T, so X = (O-T)/T × W.
func (r *sampledRate) recordChecked(cfg rateConfig, v, bound float64, now int64) int64 {
	r.record(cfg, v, now)
	o := r.measure(cfg, now)
	if o <= bound { // Quota.acceptable for an upper bound
		return 0
	}
	ms := math.Round((o - bound) / bound * float64(r.windowSize(cfg, now)))
	return int64(min(ms, math.MaxInt32))
}
