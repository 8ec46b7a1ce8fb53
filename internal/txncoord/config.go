package txncoord

import (
	"errors"
	"log/slog"
	"time"
)

// Config configures a Coordinator. Zero values mean Kafka's default for the
// broker property each field names.
type Config struct {
	// DataDir is the directory holding the transaction log,
	// DataDir/transactions.log; the broker passes
	// <data dir>/__transaction_state. Required.
	DataDir string

	// ProducerIDs hands out producer ids for new transactional ids and for
	// KIP-360 rotations. Required.
	ProducerIDs ProducerIDSource
	// Partitions tells which partitions exist. Required.
	Partitions PartitionLookup
	// Markers writes COMMIT/ABORT control batches. Required.
	Markers MarkerWriter
	// Offsets validates and makes visible TxnOffsetCommit offsets.
	// Required.
	Offsets OffsetCommitter

	// MaxTimeout is transaction.max.timeout.ms: InitProducerId with a larger
	// transaction timeout gets INVALID_TRANSACTION_TIMEOUT. Default 15m.
	MaxTimeout time.Duration
	// AbortCheckInterval is
	// transaction.abort.timed.out.transaction.cleanup.interval.ms: how often
	// Ongoing transactions past their timeout are aborted. Default 10s.
	AbortCheckInterval time.Duration
	// IDExpiration is transactional.id.expiration.ms: a transactional id
	// with no transaction open and no request for this long is forgotten.
	// Default 7 days.
	IDExpiration time.Duration
	// IDExpirationCheckInterval is
	// transaction.remove.expired.transaction.cleanup.interval.ms.
	// Default 1h.
	IDExpirationCheckInterval time.Duration
	// MarkerRetryBackoff is the wait before a failed marker (or offset
	// commit, or completion record) is tried again. Kafka's marker channel
	// retries until it succeeds; so does this. Default 100ms.
	MarkerRetryBackoff time.Duration
	// CoordinatorEpoch is passed with every marker, as Kafka passes the
	// leader epoch of the __transaction_state partition. A single node
	// never changes coordinator, so it is constant. Default 0.
	CoordinatorEpoch int32

	// Logger receives load and retry messages. Default slog.Default().
	Logger *slog.Logger
}

func (cfg *Config) setDefaults() {
	if cfg.MaxTimeout == 0 {
		cfg.MaxTimeout = 15 * time.Minute
	}
	if cfg.AbortCheckInterval == 0 {
		cfg.AbortCheckInterval = 10 * time.Second
	}
	if cfg.IDExpiration == 0 {
		cfg.IDExpiration = 7 * 24 * time.Hour
	}
	if cfg.IDExpirationCheckInterval == 0 {
		cfg.IDExpirationCheckInterval = time.Hour
	}
	if cfg.MarkerRetryBackoff == 0 {
		cfg.MarkerRetryBackoff = 100 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
}

// validate returns every problem with cfg at once.
func (cfg *Config) validate() error {
	var errs []error
	if cfg.DataDir == "" {
		errs = append(errs, errors.New("DataDir is required"))
	}
	if cfg.ProducerIDs == nil {
		errs = append(errs, errors.New("ProducerIDs is required"))
	}
	if cfg.Partitions == nil {
		errs = append(errs, errors.New("Partitions is required"))
	}
	if cfg.Markers == nil {
		errs = append(errs, errors.New("Markers is required"))
	}
	if cfg.Offsets == nil {
		errs = append(errs, errors.New("Offsets is required"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"MaxTimeout", cfg.MaxTimeout},
		{"AbortCheckInterval", cfg.AbortCheckInterval},
		{"IDExpiration", cfg.IDExpiration},
		{"IDExpirationCheckInterval", cfg.IDExpirationCheckInterval},
		{"MarkerRetryBackoff", cfg.MarkerRetryBackoff},
	} {
		if d.v < 0 {
			errs = append(errs, errors.New(d.name+" must not be negative"))
		}
	}
	if cfg.MaxTimeout > maxTimeoutMs*time.Millisecond {
		errs = append(errs, errors.New("MaxTimeout must fit in an int32 of milliseconds"))
	}
	return errors.Join(errs...)
}

const maxTimeoutMs = 1<<31 - 1
