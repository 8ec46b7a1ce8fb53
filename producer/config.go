package producer

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/skiffkit/skiff/internal/compress"
	"github.com/skiffkit/skiff/partitioner"
	"github.com/skiffkit/skiff/sasl"
)

// Acks is acks: how many replicas must have a record before the broker
// answers. The zero value is AcksAll.
type Acks int8

const (
	// AcksAll (acks=all, -1) waits for every in-sync replica. The default,
	// and required by idempotence.
	AcksAll Acks = iota
	// AcksLeader (acks=1) waits for the leader's log only.
	AcksLeader
	// AcksNone (acks=0) gets no answer at all: offsets are reported as -1
	// and errors after the write are not seen.
	AcksNone
)

// wire returns the Produce request's acks field.
func (a Acks) wire() int16 {
	switch a {
	case AcksLeader:
		return 1
	case AcksNone:
		return 0
	}
	return -1
}

// String returns the Kafka config value.
func (a Acks) String() string {
	switch a {
	case AcksAll:
		return "all"
	case AcksLeader:
		return "1"
	case AcksNone:
		return "0"
	}
	return fmt.Sprintf("Acks(%d)", int8(a))
}

// ParseAcks parses a Kafka acks value: "all" or "-1", "1", "0".
func ParseAcks(s string) (Acks, error) {
	switch strings.ToLower(s) {
	case "all", "-1", "":
		return AcksAll, nil
	case "1":
		return AcksLeader, nil
	case "0":
		return AcksNone, nil
	}
	return AcksAll, fmt.Errorf("producer: invalid acks %q (want all, -1, 1 or 0)", s)
}

// Compression is compression.type. The zero value is CompressionNone.
// Values are Kafka's record batch attribute codes.
type Compression int8

// Compression codecs, valued as Kafka's record batch attribute bits.
const (
	CompressionNone   Compression = 0
	CompressionGzip   Compression = 1
	CompressionSnappy Compression = 2
	CompressionLZ4    Compression = 3
	CompressionZstd   Compression = 4
)

// The values must stay equal to the codec package's.
var _ = [1]struct{}{}[int(CompressionZstd)-int(compress.Zstd)]

// String returns the compression.type name.
func (c Compression) String() string { return compress.Codec(c).String() }

// ParseCompression parses a compression.type name: none, gzip, snappy,
// lz4 or zstd.
func ParseCompression(s string) (Compression, error) {
	c, err := compress.ParseCodec(s)
	return Compression(c), err
}

// NoLinger as Config.Linger sends batches as soon as the sender can
// (linger.ms=0), since the zero value means Kafka 4's default of 5ms.
const NoLinger time.Duration = -1

// Config configures a Producer. The zero value of every field but Brokers
// means the Kafka producer default.
type Config struct {
	// Brokers is bootstrap.servers, host:port. Required.
	Brokers []string
	// ClientID is client.id. Zero means "skiff".
	ClientID string
	// Acks is acks. Zero means AcksAll.
	Acks Acks
	// DisableIdempotence turns off enable.idempotence, which is on by
	// default (as in the Java client since 3.0). Idempotence needs
	// AcksAll and MaxInFlight <= 5; it makes retries free of duplicates
	// and reordering.
	DisableIdempotence bool
	// Linger is linger.ms. Zero means 5ms (Kafka 4's default); use
	// NoLinger (or any negative value) for linger.ms=0.
	Linger time.Duration
	// BatchSize is batch.size in bytes. Zero means 16384.
	BatchSize int
	// BufferMemory is buffer.memory in bytes. Zero means 32 MiB.
	BufferMemory int64
	// MaxBlock is max.block.ms: how long Send waits for buffer memory or
	// for the first metadata of a topic, and the longest a transactional
	// call (InitTransactions, SendOffsetsToTransaction, the EndTxn of
	// CommitTransaction and AbortTransaction) retries. Zero means 60s. As
	// in the Java producer, Send keeps retrying a cluster it cannot reach
	// for all of MaxBlock (brokers restart); the client logs at Warn once
	// when no broker is reachable, naming every address and its error, and
	// the final error names them again with the time waited. To fail fast
	// instead, call Producer.Ping first: it tries each broker once.
	MaxBlock time.Duration
	// MaxRequestSize is max.request.size in bytes. Zero means 1 MiB.
	MaxRequestSize int
	// MaxInFlight is max.in.flight.requests.per.connection. Zero means 5.
	MaxInFlight int
	// Retries is retries. Zero means math.MaxInt32: retries are bounded by
	// DeliveryTimeout, as in Kafka since 2.1. Use a negative value for no
	// retries.
	Retries int
	// RetryBackoff is retry.backoff.ms. Zero means 100ms.
	RetryBackoff time.Duration
	// RetryBackoffMax is retry.backoff.max.ms. Zero means 1s.
	RetryBackoffMax time.Duration
	// DeliveryTimeout is delivery.timeout.ms: the upper bound on reporting
	// a record's success or failure after Send returns. It must be at least
	// Linger + RequestTimeout. Zero means 120s.
	DeliveryTimeout time.Duration
	// RequestTimeout is request.timeout.ms. Zero means 30s.
	RequestTimeout time.Duration
	// Compression is compression.type. Zero means CompressionNone.
	Compression Compression
	// Partitioner (partitioner.class) picks partitions for records without
	// an explicit one. Nil means Kafka's built-in partitioner: murmur2 of
	// the key, and for keyless records uniform sticky (KIP-794) switching
	// every BatchSize bytes. A partitioner.SizeAware one gets each record's
	// encoded size.
	Partitioner partitioner.Partitioner
	// MetadataMaxAge is metadata.max.age.ms. Zero means 5m.
	MetadataMaxAge time.Duration
	// Logger receives producer events. Nil discards them. Connection
	// trouble is logged on its edges: Warn once when no broker is
	// reachable, Debug while retrying, Info when one is reachable again.
	Logger *slog.Logger
	// Hooks are values implementing any of the Hook* interfaces (metrics).
	Hooks []Hook
	// TLS is the TLS setup of security.protocol SSL and SASL_SSL; nil
	// means no TLS (PLAINTEXT, SASL_PLAINTEXT). RootCAs nil trusts the
	// system roots (ssl.ca.location sets RootCAs); Certificates is the
	// client certificate for mTLS (ssl.certificate.location,
	// ssl.key.location). The broker's host name is verified
	// (ssl.endpoint.identification.algorithm=https) unless
	// InsecureSkipVerify is set; ServerName defaults to the host dialed.
	// The properties package builds it from those keys.
	TLS *tls.Config
	// SASL is the login mechanism of security.protocol SASL_PLAINTEXT and
	// SASL_SSL (sasl.mechanism with sasl.username/sasl.password or
	// sasl.jaas.config): sasl.Plain, sasl.ScramSHA256, sasl.ScramSHA512,
	// sasl.OAuthBearer, or your own sasl.Mechanism. Every connection logs
	// in before its first request; rejected credentials fail requests with
	// an error wrapping kerr.SaslAuthenticationFailed instead of retrying.
	SASL sasl.Mechanism
	// TransactionalID is transactional.id: set, the producer is
	// transactional (InitTransactions, BeginTransaction, ...), which
	// requires idempotence. Empty means not transactional.
	TransactionalID string
	// TransactionTimeout is transaction.timeout.ms: how long the
	// coordinator lets a transaction stay open before aborting it. Zero
	// means 60s.
	TransactionTimeout time.Duration
}

const (
	defaultMaxInFlight     = 5
	defaultRequestTimeout  = 30 * time.Second
	defaultDeliveryTimeout = 120 * time.Second
	defaultLinger          = 5 * time.Millisecond
	defaultMaxRequestSize  = 1 << 20
	defaultMaxBlock        = 60 * time.Second
	// transaction.timeout.ms's default.
	defaultTransactionTimeout = 60 * time.Second
	// Kafka's idempotent producer keeps five batches of sequence state per
	// partition on the broker, hence the limit.
	maxIdempotentInFlight = 5
)

func (c Config) withDefaults() Config {
	if c.MaxInFlight == 0 {
		c.MaxInFlight = defaultMaxInFlight
	}
	if c.Retries == 0 {
		c.Retries = math.MaxInt32
	}
	if c.Retries < 0 {
		c.Retries = 0
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = defaultRequestTimeout
	}
	if c.DeliveryTimeout == 0 {
		c.DeliveryTimeout = defaultDeliveryTimeout
	}
	if c.Linger == 0 {
		c.Linger = defaultLinger
	}
	if c.MaxRequestSize == 0 {
		c.MaxRequestSize = defaultMaxRequestSize
	}
	if c.MaxBlock == 0 {
		c.MaxBlock = defaultMaxBlock
	}
	if c.TransactionTimeout == 0 {
		c.TransactionTimeout = defaultTransactionTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate names every problem in the config at once. It runs on the
// config with defaults filled in.
func (c Config) validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("Brokers (bootstrap.servers) is empty"))
	}
	if c.Acks < AcksAll || c.Acks > AcksNone {
		errs = append(errs, fmt.Errorf("Acks %d is not AcksAll, AcksLeader or AcksNone", c.Acks))
	}
	if !c.DisableIdempotence {
		// Kafka's ProducerConfig refuses these combinations outright.
		if c.Acks != AcksAll {
			errs = append(errs, fmt.Errorf("idempotence requires Acks=all, got acks=%s: set DisableIdempotence or use AcksAll", c.Acks))
		}
		if c.MaxInFlight > maxIdempotentInFlight {
			errs = append(errs, fmt.Errorf("idempotence requires MaxInFlight (max.in.flight.requests.per.connection) <= 5, got %d", c.MaxInFlight))
		}
	}
	if c.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("MaxInFlight (max.in.flight.requests.per.connection) is negative: %d", c.MaxInFlight))
	}
	if c.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("BatchSize (batch.size) is negative: %d", c.BatchSize))
	}
	if c.BufferMemory < 0 {
		errs = append(errs, fmt.Errorf("BufferMemory (buffer.memory) is negative: %d", c.BufferMemory))
	}
	if c.MaxRequestSize < 0 {
		errs = append(errs, fmt.Errorf("MaxRequestSize (max.request.size) is negative: %d", c.MaxRequestSize))
	}
	if c.MaxBlock < 0 {
		errs = append(errs, fmt.Errorf("MaxBlock (max.block.ms) is negative: %v", c.MaxBlock))
	}
	if c.RequestTimeout < 0 || c.DeliveryTimeout < 0 || c.RetryBackoff < 0 || c.RetryBackoffMax < 0 || c.MetadataMaxAge < 0 {
		errs = append(errs, errors.New("timeouts and backoffs (request.timeout.ms, delivery.timeout.ms, retry.backoff.ms, retry.backoff.max.ms, metadata.max.age.ms) must not be negative"))
	}
	linger := max(c.Linger, 0)
	if c.DeliveryTimeout < linger+c.RequestTimeout {
		// Mirrors KafkaProducer.configureDeliveryTimeout.
		errs = append(errs, fmt.Errorf("DeliveryTimeout (delivery.timeout.ms) %v must be at least Linger (linger.ms) + RequestTimeout (request.timeout.ms) = %v", c.DeliveryTimeout, linger+c.RequestTimeout))
	}
	if c.Compression < CompressionNone || c.Compression > CompressionZstd {
		errs = append(errs, fmt.Errorf("Compression %d is not a Kafka compression.type", c.Compression))
	}
	if c.BatchSize > 0 && c.MaxRequestSize > 0 && c.BatchSize > c.MaxRequestSize {
		errs = append(errs, fmt.Errorf("BatchSize (batch.size) %d exceeds MaxRequestSize (max.request.size) %d", c.BatchSize, c.MaxRequestSize))
	}
	if c.TransactionalID != "" && c.DisableIdempotence {
		// Kafka's ProducerConfig: "Cannot set a transactional.id without
		// also enabling idempotence."
		errs = append(errs, errors.New("TransactionalID (transactional.id) requires idempotence: unset DisableIdempotence"))
	}
	if c.TransactionTimeout < 0 || c.TransactionTimeout > 0 && c.TransactionTimeout < time.Millisecond {
		errs = append(errs, fmt.Errorf("TransactionTimeout (transaction.timeout.ms) must be positive, got %v", c.TransactionTimeout))
	}
	for i, h := range c.Hooks {
		if !isHook(h) {
			errs = append(errs, fmt.Errorf("Hooks[%d] (%T) implements no Hook interface", i, h))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("producer: invalid config: %w", err)
	}
	return nil
}
