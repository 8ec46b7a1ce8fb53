package bench

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// FetchPoint is one consumer fetch setting to measure.
type FetchPoint struct {
	MinBytes          int // fetch.min.bytes
	MaxPartitionBytes int // max.partition.fetch.bytes
}

// Label is a compact name, e.g. "fetch.min=1B max.partition=1MiB".
func (p FetchPoint) Label() string {
	return "fetch.min=" + FormatSize(p.MinBytes) + " max.partition=" + FormatSize(p.MaxPartitionBytes)
}

// FetchGrid is the cross product of consumer settings a consume sweep measures.
type FetchGrid struct {
	MinBytes          []int
	MaxPartitionBytes []int
}

// DefaultFetchGrid is fetch.min.bytes {1, 64 KiB, 1 MiB} × max.partition.fetch.bytes {256 KiB, 1 MiB, 4 MiB}.
func DefaultFetchGrid() FetchGrid {
	return FetchGrid{MinBytes: []int{1, 64 << 10, 1 << 20}, MaxPartitionBytes: []int{256 << 10, 1 << 20, 4 << 20}}
}

// Points expands g, fetch.min.bytes outermost.
func (g FetchGrid) Points() []FetchPoint {
	var pts []FetchPoint
	for _, m := range g.MinBytes {
		for _, p := range g.MaxPartitionBytes {
			pts = append(pts, FetchPoint{MinBytes: m, MaxPartitionBytes: p})
		}
	}
	return pts
}

// Validate reports every problem with g at once.
func (g FetchGrid) Validate() error {
	var errs []error
	if len(g.MinBytes) == 0 {
		errs = append(errs, errors.New("fetch grid: no fetch.min.bytes values"))
	}
	if len(g.MaxPartitionBytes) == 0 {
		errs = append(errs, errors.New("fetch grid: no max.partition.fetch.bytes values"))
	}
	for _, v := range append(append([]int(nil), g.MinBytes...), g.MaxPartitionBytes...) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("fetch grid: size %d must be positive", v))
		}
	}
	return errors.Join(errs...)
}

// ConsumeTarget can also open consumers.
type ConsumeTarget interface {
	Target
	// NewConsumer opens a consumer with the settings of p that reads every
	// partition of topic from the earliest offset.
	NewConsumer(ctx context.Context, p FetchPoint, topic string, partitions int) (Consumer, error)
}

// Consumer is the part of a consumer the consume runner drives.
type Consumer interface {
	// Poll waits for the next records and returns how many arrived and
	// their key+value bytes.
	Poll(ctx context.Context) (records int, bytes int64, err error)
	Close(ctx context.Context) error
}

// ConsumeResult is what one FetchPoint measured.
type ConsumeResult struct {
	Point          FetchPoint
	Records, Bytes int64
	Polls          int64
	// Elapsed runs from the return of the first Poll to that of the one
	// returning the last record; the rates cover the records in between.
	Elapsed        time.Duration
	RecordsPerSec  float64
	MBPerSec       float64
	RecordsPerPoll float64
	Interrupted    bool
	Err            string
}

// ConsumeRunner produces Workload.Records records once, then reads them all
// back with each FetchPoint.
type ConsumeRunner struct {
	Target   ConsumeTarget
	Grid     FetchGrid
	Workload Workload // Records must be set; Duration and Rate are ignored
	// Progress, if set, is called after the produce phase (Index -1) and
	// after each point.
	Progress func(ConsumeProgress)
	// PointTimeout bounds one point's read. Zero means 2 minutes.
	PointTimeout time.Duration
	// Warn, if set, receives problems that do not spoil the measurement.
	Warn func(error)
}

// ConsumeProgress reports the consume sweep's position.
type ConsumeProgress struct {
	Index, Total int
	Result       *ConsumeResult // nil for the produce phase
	Produced     *Result        // the produce phase's figures
}

// Run measures every fetch point. Like Runner.Run it returns what was
// measured so far together with ctx's error when ctx ends.
func (r *ConsumeRunner) Run(ctx context.Context) ([]ConsumeResult, error) {
	if err := errors.Join(r.Grid.Validate(), r.Workload.Validate()); err != nil {
		return nil, err
	}
	if r.Target == nil {
		return nil, errors.New("bench: ConsumeRunner.Target is nil")
	}
	if r.Workload.Records <= 0 {
		return nil, errors.New("bench: consume needs a record count (Workload.Records)")
	}
	w := r.Workload.withDefaults()
	w.Duration, w.Rate, w.Load = 0, 0, 1 // one saturated phase: Records records
	topic := fmt.Sprintf("%s-consume-%s", w.TopicPrefix, runID())
	// The topic outlives the produce phase: every point reads it.
	keep := w.KeepTopics
	w.KeepTopics = true
	if !keep {
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
			defer cancel()
			if err := r.Target.DeleteTopic(dctx, topic); err != nil && r.Warn != nil {
				r.Warn(fmt.Errorf("bench: delete topic %s: %w", topic, err))
			}
		}()
	}

	// Produce once with settings that make full batches quickly; what the
	// consumer reads is then the same for every point.
	prodRunner := Runner{Target: r.Target, Workload: w}
	produced, err := prodRunner.runPoint(ctx, Point{Linger: 5 * time.Millisecond, BatchSize: 256 << 10, Acks: AcksAll}, topic, w, newPayloads(w))
	if err != nil {
		return nil, fmt.Errorf("bench: produce phase: %w", err)
	}
	if produced.Failed > 0 {
		return nil, fmt.Errorf("bench: produce phase: %d records failed: %s", produced.Failed, produced.Err)
	}
	points := r.Grid.Points()
	if r.Progress != nil {
		r.Progress(ConsumeProgress{Index: -1, Total: len(points), Produced: produced})
	}
	// The warm-up record is in the topic too.
	want := produced.Records + 1
	var results []ConsumeResult
	for i, p := range points {
		res, err := r.consumePoint(ctx, p, topic, w.Partitions, want)
		results = append(results, res)
		if r.Progress != nil {
			r.Progress(ConsumeProgress{Index: i, Total: len(points), Result: &res})
		}
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

func (r *ConsumeRunner) consumePoint(ctx context.Context, p FetchPoint, topic string, partitions int, want int64) (res ConsumeResult, err error) {
	res.Point = p
	timeout := r.PointTimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	c, err := r.Target.NewConsumer(ctx, p, topic, partitions)
	if err != nil {
		res.Err = err.Error()
		return res, fmt.Errorf("bench: consumer for %s: %w", p.Label(), err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
		defer cancel()
		if cerr := c.Close(cctx); cerr != nil && err == nil {
			err = fmt.Errorf("bench: close consumer for %s: %w", p.Label(), cerr)
		}
	}()
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The clock starts when the first Poll returns: before it are the
	// connection, the offset lookup and the first fetch's round trip, which
	// say nothing about the fetch settings. Its records are counted as read
	// but not in the rates.
	var start, last time.Time
	var firstRecords, firstBytes int64
	for res.Records < want {
		n, b, perr := c.Poll(pctx)
		if perr != nil {
			err = perr
			break
		}
		res.Polls++
		res.Records += int64(n)
		res.Bytes += b
		last = time.Now()
		if start.IsZero() {
			start, firstRecords, firstBytes = last, int64(n), b
		}
	}
	res.Elapsed = last.Sub(start)
	if secs := res.Elapsed.Seconds(); secs > 0 {
		res.RecordsPerSec = float64(res.Records-firstRecords) / secs
		res.MBPerSec = float64(res.Bytes-firstBytes) / secs / 1e6
	}
	if res.Polls > 0 {
		res.RecordsPerPoll = float64(res.Records) / float64(res.Polls)
	}
	switch {
	case err == nil:
		return res, nil
	case ctx.Err() != nil:
		res.Interrupted = true
		return res, ctx.Err()
	default:
		res.Err = err.Error()
		return res, fmt.Errorf("bench: consume %s with %s: read %d of %d records: %w", topic, p.Label(), res.Records, want, err)
	}
}
