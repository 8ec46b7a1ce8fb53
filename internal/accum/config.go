package accum

import (
	"errors"
	"fmt"
	"time"
)

// Config configures an Accumulator. The zero value of every field means
// Kafka's producer default.
type Config struct {
	// BatchSize is batch.size: the size of a pooled batch buffer. A record
	// bigger than that gets a batch of its own, sized to fit. Zero means 16384.
	BatchSize int
	// BufferMemory is buffer.memory: the bytes all batch buffers together
	// may use. Zero means 32 MiB.
	BufferMemory int64
	// MaxBlock is max.block.ms: how long Append waits for memory. Zero
	// means 60s; negative means do not wait.
	MaxBlock time.Duration
	// Linger is linger.ms: how long a batch that is not full waits for more
	// records. Zero means 5ms (Kafka 4's default); negative means 0.
	Linger time.Duration
	// MaxRequestSize is max.request.size: the cap on the records of one
	// Produce request, and so on one record. Zero means 1 MiB.
	MaxRequestSize int
	// RetryBackoff is retry.backoff.ms, the first backoff of a retried
	// batch; it doubles per attempt with ±20% jitter (KIP-580). Zero means 100ms.
	RetryBackoff time.Duration
	// RetryBackoffMax is retry.backoff.max.ms. Zero means 1s.
	RetryBackoffMax time.Duration
	// DeliveryTimeout is delivery.timeout.ms: a batch not acknowledged this
	// long after it was opened is expired. Zero means 120s.
	DeliveryTimeout time.Duration
	// MaxInFlightPerPartition caps the batches of one partition sent and not
	// yet answered. The producer sets 5 with idempotence (the broker keeps
	// five batches of sequence state), 1 when max.in.flight is 1 without
	// idempotence (Kafka's partition muting). Zero means no cap.
	MaxInFlightPerPartition int
	// Idempotent makes Drain assign per-partition base sequences.
	Idempotent bool
	// Transactional sets the transactional bit of every batch's
	// attributes: the records belong to the producer's ongoing
	// transaction, so read_committed consumers wait for its marker.
	Transactional bool
	// Codec is the compression codec as its Kafka attribute value
	// (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
	Codec int8
	// CompressWorkers is how many goroutines at most compress closed
	// batches, so Drain's caller only ships finished bytes. Zero
	// compresses at drain time on Drain's caller. The producer uses
	// GOMAXPROCS. Workers exit when idle; Abort stops them for good.
	CompressWorkers int
	// Leader maps a partition to the node id of its leader; ok is false
	// while the leader is unknown. Required.
	Leader func(topic string, partition int32) (node int32, ok bool)
}

const (
	defaultBatchSize       = 16384
	defaultBufferMemory    = 32 << 20
	defaultMaxBlock        = 60 * time.Second
	defaultLinger          = 5 * time.Millisecond
	defaultMaxRequestSize  = 1 << 20
	defaultRetryBackoff    = 100 * time.Millisecond
	defaultRetryBackoffMax = time.Second
	defaultDeliveryTimeout = 120 * time.Second
)

func (c Config) withDefaults() Config {
	if c.BatchSize == 0 {
		c.BatchSize = defaultBatchSize
	}
	if c.BufferMemory == 0 {
		c.BufferMemory = defaultBufferMemory
	}
	if c.MaxBlock == 0 {
		c.MaxBlock = defaultMaxBlock
	}
	if c.MaxBlock < 0 {
		c.MaxBlock = 0
	}
	if c.Linger == 0 {
		c.Linger = defaultLinger
	}
	if c.Linger < 0 {
		c.Linger = 0
	}
	if c.MaxRequestSize == 0 {
		c.MaxRequestSize = defaultMaxRequestSize
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = defaultRetryBackoff
	}
	if c.RetryBackoffMax == 0 {
		c.RetryBackoffMax = defaultRetryBackoffMax
	}
	if c.RetryBackoffMax < c.RetryBackoff {
		// KIP-580: retry.backoff.max.ms below retry.backoff.ms means no growth.
		c.RetryBackoffMax = c.RetryBackoff
	}
	if c.DeliveryTimeout == 0 {
		c.DeliveryTimeout = defaultDeliveryTimeout
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("BatchSize (batch.size) is negative: %d", c.BatchSize))
	}
	if c.BufferMemory < 0 {
		errs = append(errs, fmt.Errorf("BufferMemory (buffer.memory) is negative: %d", c.BufferMemory))
	}
	if c.MaxRequestSize < 0 {
		errs = append(errs, fmt.Errorf("MaxRequestSize (max.request.size) is negative: %d", c.MaxRequestSize))
	}
	if c.RetryBackoff < 0 || c.RetryBackoffMax < 0 {
		errs = append(errs, errors.New("RetryBackoff/RetryBackoffMax (retry.backoff.ms, retry.backoff.max.ms) are negative"))
	}
	if c.DeliveryTimeout < 0 {
		errs = append(errs, fmt.Errorf("DeliveryTimeout (delivery.timeout.ms) is negative: %v", c.DeliveryTimeout))
	}
	if c.MaxInFlightPerPartition < 0 {
		errs = append(errs, fmt.Errorf("MaxInFlightPerPartition is negative: %d", c.MaxInFlightPerPartition))
	}
	if c.CompressWorkers < 0 {
		errs = append(errs, fmt.Errorf("CompressWorkers is negative: %d", c.CompressWorkers))
	}
	if c.Codec < 0 || c.Codec > 4 {
		errs = append(errs, fmt.Errorf("Codec %d is not a Kafka compression codec (0..4)", c.Codec))
	}
	if c.Leader == nil {
		errs = append(errs, errors.New("Leader is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("accumulator: invalid config: %w", err)
	}
	return nil
}
