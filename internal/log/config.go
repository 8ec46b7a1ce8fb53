package log

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/log/vfs"
)

// Defaults of the Config fields, Kafka's own topic-level defaults.
const (
	DefaultSegmentBytes         = 1 << 30            // segment.bytes
	DefaultSegmentMs            = 7 * 24 * time.Hour // segment.ms
	DefaultRetentionMs          = 7 * 24 * time.Hour // retention.ms
	DefaultIndexIntervalBytes   = 4096               // index.interval.bytes
	DefaultMaxMessageBytes      = 1048588            // max.message.bytes (1 MiB + record batch overhead)
	DefaultProducerIDExpiration = 24 * time.Hour     // producer.id.expiration.ms
)

// producerExpirationCheckInterval is Kafka's
// producer.id.expiration.check.interval.ms (10 minutes): how often an
// Append sweeps the producer state for expired ids. Kafka runs the sweep on
// a scheduler; here the first Append after the interval runs it, and
// EnforceRetention (which the broker calls periodically) covers partitions
// that receive no appends.
const producerExpirationCheckInterval = 10 * time.Minute

// Config is the per-partition log configuration, Kafka's topic-level
// properties. Every zero value means Kafka's default.
type Config struct {
	// SegmentBytes is segment.bytes: a segment is rolled before an append
	// that would make it larger. Zero means 1 GiB. At most math.MaxInt32,
	// because index positions are int32 as in Kafka; at least one batch
	// header (61 bytes). A record set larger than this is refused.
	SegmentBytes int64
	// SegmentMs is segment.ms: a segment is rolled once this long has passed
	// since the max timestamp of its first batch (Kafka's rule, KIP-33).
	// Zero means 7 days.
	SegmentMs time.Duration
	// RetentionMs is retention.ms: a segment whose largest timestamp is older
	// than this is deleted. Zero means 7 days; negative means unlimited.
	RetentionMs time.Duration
	// RetentionBytes is retention.bytes: old segments are deleted while the
	// log would stay at least this large without them. Zero or negative
	// means unlimited (Kafka's default is -1).
	RetentionBytes int64
	// IndexIntervalBytes is index.interval.bytes: one offset and time index
	// entry per this many appended bytes. Zero means 4096.
	IndexIntervalBytes int
	// MaxMessageBytes is max.message.bytes, the largest record batch
	// accepted. Zero means 1048588.
	MaxMessageBytes int
	// LogAppendTime is message.timestamp.type=LogAppendTime: the broker
	// stamps every appended batch with its own clock. False means
	// CreateTime, Kafka's default.
	LogAppendTime bool
	// LeaderEpoch is stamped as partitionLeaderEpoch into every appended
	// batch, as Kafka's leader does. Zero is right for a single-node broker
	// whose leadership never moves.
	LeaderEpoch int32
	// ProducerIDExpiration is producer.id.expiration.ms: the state of an
	// idempotent producer whose last batch has a timestamp older than this
	// is dropped from memory and from the next snapshot, as Kafka's
	// ProducerStateManager.removeExpiredProducers does, so the state does
	// not grow with every producer id ever seen. Like Kafka it compares the
	// batch's max timestamp (the client's clock with CreateTime). A batch
	// such a producer sends later is accepted as from a new producer
	// (KIP-360). Zero means 1 day.
	ProducerIDExpiration time.Duration
	// Logger receives recovery and retention events. Nil discards them.
	Logger *slog.Logger
	// FS is the filesystem the log's files live on. Nil means the
	// operating system's (vfs.Default); tests pass an errorfs.FS to inject
	// storage faults.
	FS vfs.FS
}

// withDefaults returns c with every zero field replaced by its default.
func (c Config) withDefaults() Config {
	if c.SegmentBytes == 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.SegmentMs == 0 {
		c.SegmentMs = DefaultSegmentMs
	}
	if c.RetentionMs == 0 {
		c.RetentionMs = DefaultRetentionMs
	}
	if c.IndexIntervalBytes == 0 {
		c.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.ProducerIDExpiration == 0 {
		c.ProducerIDExpiration = DefaultProducerIDExpiration
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.FS == nil {
		c.FS = vfs.Default
	}
	return c
}

// validate checks a config after defaults were applied and reports every
// problem it finds at once.
func (c Config) validate() error {
	var errs []error
	if c.SegmentBytes < batch.HeaderSize || c.SegmentBytes > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("SegmentBytes (segment.bytes) %d not in [%d, %d]", c.SegmentBytes, batch.HeaderSize, math.MaxInt32))
	}
	if c.SegmentMs < 0 {
		errs = append(errs, fmt.Errorf("SegmentMs (segment.ms) %v is negative", c.SegmentMs))
	}
	if c.IndexIntervalBytes < 0 {
		errs = append(errs, fmt.Errorf("IndexIntervalBytes (index.interval.bytes) %d is negative", c.IndexIntervalBytes))
	}
	if c.MaxMessageBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxMessageBytes (max.message.bytes) %d is negative", c.MaxMessageBytes))
	}
	if c.ProducerIDExpiration < 0 {
		errs = append(errs, fmt.Errorf("ProducerIDExpiration (producer.id.expiration.ms) %v is negative", c.ProducerIDExpiration))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}
