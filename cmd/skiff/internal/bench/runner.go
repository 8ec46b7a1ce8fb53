package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// drainTimeout bounds how long a cancelled point waits for records already
// handed to the producer, so Ctrl-C still reports what was measured.
const drainTimeout = 5 * time.Second

// Runner sweeps a Grid over a Target.
type Runner struct {
	Target   Target
	Grid     Grid
	Workload Workload
	// Progress, if set, is called from Run's goroutine before and after each point.
	Progress func(Progress)
	// Warn, if set, receives problems that do not spoil a measurement, such
	// as a topic that could not be deleted afterwards.
	Warn func(error)
	// Repeat is how many of the fastest settings within MaxP99 are
	// measured once more after the sweep, so the recommendation knows the
	// run-to-run noise (see Recommend). Zero means none.
	Repeat int
	// MaxP99 is the recommendation's latency bound, which decides the
	// settings worth repeating. Zero means DefaultMaxP99.
	MaxP99 time.Duration
}

// Progress reports the sweep's position. Result is nil when a point starts.
// Repeat is set for the second runs of the fastest settings, which come
// after the sweep (Total then counts them too).
type Progress struct {
	Index, Total int
	Point        Point
	Result       *Result
	Repeat       bool
}

// Run measures every point of the grid in order, each on a fresh topic. When
// ctx is cancelled it stops sending, waits briefly for what is in flight and
// returns the results measured so far (the last one marked Interrupted)
// together with ctx's error.
func (r *Runner) Run(ctx context.Context) ([]Result, error) {
	if err := errors.Join(r.Grid.Validate(), r.Workload.Validate()); err != nil {
		return nil, err
	}
	if r.Target == nil {
		return nil, errors.New("bench: Runner.Target is nil")
	}
	w := r.Workload.withDefaults()
	pl := newPayloads(w)
	points := r.Grid.Points()
	run := runID()
	results := make([]Result, 0, len(points))
	for i, p := range points {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		r.progress(Progress{Index: i, Total: len(points), Point: p})
		topic := fmt.Sprintf("%s-%s-%03d", w.TopicPrefix, run, i)
		res, err := r.runPoint(ctx, p, topic, w, pl)
		if res != nil {
			results = append(results, *res)
			r.progress(Progress{Index: i, Total: len(points), Point: p, Result: res})
		}
		if err != nil {
			return results, err
		}
	}
	return r.repeat(ctx, results, w, pl, run)
}

// repeat measures the fastest qualifying settings once more, each on a
// fresh topic, and folds the runs into their results.
func (r *Runner) repeat(ctx context.Context, results []Result, w Workload, pl payloads, run string) ([]Result, error) {
	maxP99 := r.MaxP99
	if maxP99 == 0 {
		maxP99 = DefaultMaxP99
	}
	cands := repeatCandidates(results, maxP99, r.Repeat)
	if len(cands) < 2 {
		return results, nil // one run of one setting says nothing about noise
	}
	total := len(results) + len(cands)
	for k, i := range cands {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		p := results[i].Point
		r.progress(Progress{Index: len(results) + k, Total: total, Point: p, Repeat: true})
		topic := fmt.Sprintf("%s-%s-%03d-r", w.TopicPrefix, run, i)
		again, err := r.runPoint(ctx, p, topic, w, pl)
		if again != nil {
			results[i] = mergeRun(results[i], *again)
			merged := results[i]
			r.progress(Progress{Index: len(results) + k, Total: total, Point: p, Result: &merged, Repeat: true})
		}
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

// runID names a run's topics: the time, for humans listing topics, and a
// random suffix, so two runs started in the same millisecond do not collide.
func runID() string {
	return strconv.FormatInt(time.Now().UnixMilli(), 36) + strconv.FormatUint(uint64(rand.Uint32()), 36)
}

func (r *Runner) progress(p Progress) {
	if r.Progress != nil {
		r.Progress(p)
	}
}

// runPoint measures one point on a fresh producer: a saturated phase finds
// the peak throughput, then a phase at Workload.Load of that peak measures
// latency (with Rate set, or Load ≥ 1, a single phase does both). It returns
// a nil Result only when nothing was measured.
func (r *Runner) runPoint(ctx context.Context, p Point, topic string, w Workload, pl payloads) (_ *Result, err error) {
	if err := r.Target.CreateTopic(ctx, topic, w.Partitions); err != nil {
		return nil, fmt.Errorf("bench: create topic %s: %w", topic, err)
	}
	if !w.KeepTopics {
		// Deferred before the producer's Close, so it runs after it.
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
			defer cancel()
			if derr := r.Target.DeleteTopic(dctx, topic); derr != nil && r.Warn != nil {
				r.Warn(fmt.Errorf("bench: delete topic %s: %w", topic, derr))
			}
		}()
	}
	m := &Meter{}
	prod, err := r.Target.NewProducer(ctx, p, w.bufferMemory(p), m)
	if err != nil {
		return nil, fmt.Errorf("bench: producer for %s: %w", p.Label(), err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
		defer cancel()
		if cerr := prod.Close(cctx); cerr != nil && err == nil {
			err = fmt.Errorf("bench: close producer for %s: %w", p.Label(), cerr)
		}
	}()

	// Warm up: the first record of a topic waits for metadata and a
	// connection, which is not what the point measures.
	if err := warmUp(ctx, prod, topic, pl); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("bench: warm-up on %s: %w", topic, err)
	}

	if w.Rate > 0 || w.Load >= 1 {
		ph, err := runPhase(ctx, prod, topic, w, pl, m, w.Rate)
		res := newResult(p, topic, w, ph, nil)
		return &res, phaseErr(ctx, topic, err)
	}
	// Each phase gets half of the point's duration (and, if set, the whole
	// record count).
	half := w
	half.Duration /= 2
	peak, err := runPhase(ctx, prod, topic, half, pl, m, 0)
	if err != nil || peak.interrupted || peak.acks.Acked == 0 {
		res := newResult(p, topic, w, peak, nil)
		return &res, phaseErr(ctx, topic, err)
	}
	rate := max(1, int(w.Load*float64(peak.acks.Acked)/peak.elapsed.Seconds()))
	load, err := runPhase(ctx, prod, topic, half, pl, m, rate)
	res := newResult(p, topic, w, peak, &load)
	return &res, phaseErr(ctx, topic, err)
}

func phaseErr(ctx context.Context, topic string, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return fmt.Errorf("bench: flush %s: %w", topic, err)
	}
	return nil
}

// phase is what one send loop measured.
type phase struct {
	acks        ackSnapshot
	meter       meterSnapshot
	elapsed     time.Duration // first Send to last acknowledgement
	sent        int
	sending     time.Duration // first Send to the end of the last one
	interrupted bool
}

// runPhase sends w's records at rate (0: as fast as the producer accepts),
// flushes, and returns the figures. m is reset first and read after the
// flush, so it covers exactly this phase's batches.
func runPhase(ctx context.Context, prod Producer, topic string, w Workload, pl payloads, m *Meter, rate int) (phase, error) {
	m.reset()
	rec := newAckRecorder()
	start := time.Now()
	sent := sendLoop(ctx, prod, topic, w, pl, rec, start, rate)
	ph := phase{sent: sent, sending: time.Since(start), interrupted: ctx.Err() != nil}
	dctx := ctx
	if ph.interrupted {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
		defer cancel()
	}
	// Flush, then wait for the callbacks themselves: Flush's contract is
	// completion, but the callbacks are what the figures are made of.
	ferr := prod.Flush(dctx)
	select {
	case <-rec.expect(sent):
	case <-dctx.Done():
	}
	ph.acks, ph.meter = rec.snapshot(), m.snapshot()
	end := ph.acks.LastAck
	if end.IsZero() || end.Before(start) {
		end = time.Now()
	}
	ph.elapsed = end.Sub(start)
	return ph, ferr
}

// sendLoop sends records until the workload's count or duration is reached
// or ctx ends, and returns how many it handed to the producer.
func sendLoop(ctx context.Context, prod Producer, topic string, w Workload, pl payloads, rec *ackRecorder, start time.Time, rate int) int {
	var deadline time.Time
	if w.Duration > 0 {
		deadline = start.Add(w.Duration)
	}
	var pace *time.Timer
	sent := 0
	for w.Records == 0 || sent < w.Records {
		// Clock and context checks every 64 records keep them off the
		// per-record cost while ending a point within microseconds.
		if sent%64 == 0 {
			if ctx.Err() != nil || (!deadline.IsZero() && !time.Now().Before(deadline)) {
				break
			}
		}
		if rate > 0 {
			due := start.Add(time.Duration(int64(sent) * int64(time.Second) / int64(rate)))
			// Sleeping for less than a millisecond costs more than it
			// waits: let up to 1ms of records go as a burst instead.
			if wait := time.Until(due); wait > time.Millisecond {
				if pace == nil {
					pace = time.NewTimer(wait)
				} else {
					pace.Reset(wait)
				}
				select {
				case <-pace.C:
				case <-ctx.Done():
					return sent
				}
			}
		}
		key, value := pl.record(sent, w.KeyCardinality)
		prod.Send(ctx, topic, key, value, Completion{rec: rec, sent: time.Now(), size: len(key) + len(value)})
		sent++
	}
	if pace != nil {
		pace.Stop()
	}
	return sent
}

func warmUp(ctx context.Context, prod Producer, topic string, pl payloads) error {
	rec := newAckRecorder()
	key, value := pl.record(0, 0)
	prod.Send(ctx, topic, key, value, Completion{rec: rec, sent: time.Now(), size: len(key) + len(value)})
	if err := prod.Flush(ctx); err != nil {
		return err
	}
	select {
	case <-rec.expect(1):
		return rec.snapshot().FirstErr
	case <-ctx.Done():
		return ctx.Err()
	}
}
