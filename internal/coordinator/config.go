package coordinator

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config configures a Coordinator. The zero value of every field except
// DataDir means Kafka's default for the broker property the field names.
type Config struct {
	// DataDir is the directory holding the committed-offsets log
	// (offsets.log). Required. It is created if missing.
	DataDir string

	// InitialRebalanceDelay is group.initial.rebalance.delay.ms: how long the
	// first rebalance of an empty group waits for more members before it
	// completes; each arriving member extends the wait by the same amount,
	// bounded by the rebalance timeout. Zero means the default, 3s; a
	// negative value disables the delay.
	InitialRebalanceDelay time.Duration

	// MinSessionTimeout is group.min.session.timeout.ms. Zero means the
	// default, 6s. JoinGroup with a smaller session timeout fails with
	// INVALID_SESSION_TIMEOUT.
	MinSessionTimeout time.Duration

	// MaxSessionTimeout is group.max.session.timeout.ms. Zero means the
	// default, 30m.
	MaxSessionTimeout time.Duration

	// OffsetsRetention is offsets.retention.minutes: committed offsets of a
	// group without members expire this long after their commit. Zero means
	// the default, 7 days.
	OffsetsRetention time.Duration

	// OffsetsRetentionCheckInterval is offsets.retention.check.interval.ms:
	// how often expired offsets are looked for. Zero means the default, 10m.
	OffsetsRetentionCheckInterval time.Duration

	// MaxMetadataSize is offset.metadata.max.bytes: the largest metadata
	// string an OffsetCommit may attach to an offset. Zero means the default,
	// 4096.
	MaxMetadataSize int

	// NodeID, Host and Port are what FindCoordinator answers: the broker
	// this coordinator runs in. Host defaults to 127.0.0.1; Port is required.
	NodeID int32
	Host   string
	Port   int32

	// TopicID and TopicName translate between topic names and topic IDs for
	// OffsetCommit v10+ and OffsetFetch v10+, which carry IDs only. Offsets
	// are stored by name. Nil means topic IDs are unknown and such requests
	// get UNKNOWN_TOPIC_ID.
	TopicID   func(name string) ([16]byte, bool)
	TopicName func(id [16]byte) (string, bool)

	// Logger receives rebalance and recovery events. Nil means slog.Default().
	Logger *slog.Logger
}

// Kafka's defaults for the properties Config mirrors.
const (
	defaultInitialRebalanceDelay = 3 * time.Second
	defaultMinSessionTimeout     = 6 * time.Second
	defaultMaxSessionTimeout     = 30 * time.Minute
	defaultOffsetsRetention      = 7 * 24 * time.Hour
	defaultRetentionCheck        = 10 * time.Minute
	defaultMaxMetadataSize       = 4096
	defaultHost                  = "127.0.0.1"
)

// withDefaults returns cfg with zero values replaced by Kafka's defaults.
func (cfg Config) withDefaults() Config {
	if cfg.InitialRebalanceDelay == 0 {
		cfg.InitialRebalanceDelay = defaultInitialRebalanceDelay
	} else if cfg.InitialRebalanceDelay < 0 {
		cfg.InitialRebalanceDelay = 0
	}
	if cfg.MinSessionTimeout == 0 {
		cfg.MinSessionTimeout = defaultMinSessionTimeout
	}
	if cfg.MaxSessionTimeout == 0 {
		cfg.MaxSessionTimeout = defaultMaxSessionTimeout
	}
	if cfg.OffsetsRetention == 0 {
		cfg.OffsetsRetention = defaultOffsetsRetention
	}
	if cfg.OffsetsRetentionCheckInterval == 0 {
		cfg.OffsetsRetentionCheckInterval = defaultRetentionCheck
	}
	if cfg.MaxMetadataSize == 0 {
		cfg.MaxMetadataSize = defaultMaxMetadataSize
	}
	if cfg.Host == "" {
		cfg.Host = defaultHost
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg
}

// validate reports every problem of a defaulted config at once.
func (cfg Config) validate() error {
	var errs []error
	if cfg.DataDir == "" {
		errs = append(errs, errors.New("DataDir is required"))
	}
	if cfg.MinSessionTimeout < 0 {
		errs = append(errs, fmt.Errorf("MinSessionTimeout %v is negative", cfg.MinSessionTimeout))
	}
	if cfg.MaxSessionTimeout < cfg.MinSessionTimeout {
		errs = append(errs, fmt.Errorf("MaxSessionTimeout %v is below MinSessionTimeout %v", cfg.MaxSessionTimeout, cfg.MinSessionTimeout))
	}
	if cfg.OffsetsRetention < 0 {
		errs = append(errs, fmt.Errorf("OffsetsRetention %v is negative", cfg.OffsetsRetention))
	}
	if cfg.OffsetsRetentionCheckInterval < 0 {
		errs = append(errs, fmt.Errorf("OffsetsRetentionCheckInterval %v is negative", cfg.OffsetsRetentionCheckInterval))
	}
	if cfg.MaxMetadataSize < 0 {
		errs = append(errs, fmt.Errorf("MaxMetadataSize %d is negative", cfg.MaxMetadataSize))
	}
	if cfg.Port <= 0 || cfg.Port > 65535 {
		errs = append(errs, fmt.Errorf("Port %d is not a TCP port", cfg.Port))
	}
	if cfg.NodeID < 0 {
		errs = append(errs, fmt.Errorf("NodeID %d is negative", cfg.NodeID))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("coordinator config: %w", err)
	}
	return nil
}
