package bench

import (
	"context"
	"time"
)

// Target is the system under test as the runner sees it: somewhere to create
// topics and a way to open a producer configured for one Point. Cluster is
// the real one (skiff's producer against a broker); keeping the runner behind
// this seam lets its timing, stopping and accounting be tested with a
// scripted producer, independent of network noise.
type Target interface {
	// CreateTopic creates a topic with the given partition count.
	CreateTopic(ctx context.Context, name string, partitions int) error
	// DeleteTopic deletes a topic the runner created, once measured, so a
	// sweep leaves nothing behind on a shared cluster.
	DeleteTopic(ctx context.Context, name string) error
	// NewProducer opens a producer configured for p with the given
	// buffer.memory that reports its batches and requests to m (if it can;
	// the Result says whether it did).
	NewProducer(ctx context.Context, p Point, bufferMemory int64, m *Meter) (Producer, error)
}

// Producer is the part of a producer the runner drives.
type Producer interface {
	// Send hands one record over; done.Done must be called exactly once,
	// when the record is acknowledged (nil) or has failed. Send may block
	// while the producer's buffer is full.
	Send(ctx context.Context, topic string, key, value []byte, done Completion)
	// Flush returns once every record sent before it has completed.
	Flush(ctx context.Context) error
	// Close releases the producer.
	Close(ctx context.Context) error
}

// Completion is the runner's bookkeeping for one record, handed to
// Producer.Send: a value, so an adapter's callback closure is the only
// allocation per record.
type Completion struct {
	rec  *ackRecorder
	sent time.Time
	size int
}

// Done records the record's outcome: err nil means acknowledged.
func (c Completion) Done(err error) { c.rec.done(c.sent, c.size, err) }
