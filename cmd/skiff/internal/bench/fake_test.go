package bench

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/skiffkit/skiff/internal/batch"
)

// fakeTarget stands in for a cluster: its producers batch like a real one
// (a batch closes when it reaches batch.size or linger expires) and complete
// every record of a batch together, so the runner's accounting can be checked
// against known behaviour without a network.
type fakeTarget struct {
	mu      sync.Mutex
	topics  map[string]int
	deleted []string
	// failEvery, when > 0, fails every n-th record with errFake.
	failEvery int
	// ackDelay delays each batch's completion, like a broker round trip.
	ackDelay time.Duration
}

var errFake = errors.New("fake: record rejected")

func (f *fakeTarget) CreateTopic(_ context.Context, name string, partitions int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.topics == nil {
		f.topics = map[string]int{}
	}
	if _, ok := f.topics[name]; ok {
		return errors.New("fake: topic exists: " + name)
	}
	f.topics[name] = partitions
	return nil
}

func (f *fakeTarget) DeleteTopic(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.topics[name]; !ok {
		return errors.New("fake: no topic " + name)
	}
	f.deleted = append(f.deleted, name)
	return nil
}

func (f *fakeTarget) NewProducer(_ context.Context, p Point, _ int64, m *Meter) (Producer, error) {
	return &fakeProducer{point: p, meter: m, failEvery: f.failEvery, ackDelay: f.ackDelay}, nil
}

type fakeProducer struct {
	point     Point
	meter     *Meter
	failEvery int
	ackDelay  time.Duration

	inflight sync.WaitGroup // batches being completed

	mu      sync.Mutex // guards the open batch below
	pending []fakeRecord
	bytes   int
	enc     batch.Builder // the open batch's real v2 encoding, for its size
	timer   *time.Timer
	n       int
}

func (f *fakeProducer) Send(_ context.Context, _ string, key, value []byte, done Completion) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	var err error
	if f.failEvery > 0 && f.n%f.failEvery == 0 {
		err = errFake
	}
	now := time.Now().UnixMilli()
	if len(f.pending) == 0 {
		f.enc.Reset(nil, now)
	}
	batch.Append[batch.RecordHeader](&f.enc, now, key, value, nil)
	f.pending = append(f.pending, fakeRecord{done, err})
	f.bytes += len(key) + len(value)
	switch {
	case f.bytes >= f.point.BatchSize || f.point.Linger == 0:
		f.sendLocked()
	case f.timer == nil:
		f.timer = time.AfterFunc(f.point.Linger, func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.sendLocked()
		})
	}
}

func (f *fakeProducer) sendLocked() {
	if f.timer != nil {
		f.timer.Stop()
		f.timer = nil
	}
	if len(f.pending) == 0 {
		return
	}
	recs := f.pending
	// A pretend codec that halves every batch.
	f.meter.ObserveBatch(len(recs), f.enc.Len()/2)
	f.meter.ObserveRequest(f.ackDelay)
	f.pending, f.bytes = nil, 0
	f.inflight.Add(1)
	go func() {
		defer f.inflight.Done()
		time.Sleep(f.ackDelay)
		for _, r := range recs {
			r.done.Done(r.err)
		}
	}()
}

type fakeRecord struct {
	done Completion
	err  error
}

func (f *fakeProducer) Flush(context.Context) error {
	f.mu.Lock()
	f.sendLocked()
	f.mu.Unlock()
	f.inflight.Wait()
	return nil
}

func (f *fakeProducer) Close(ctx context.Context) error { return f.Flush(ctx) }
