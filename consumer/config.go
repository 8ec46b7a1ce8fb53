package consumer

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/skiffkit/skiff/sasl"
)

// IsolationLevel is isolation.level.
type IsolationLevel int8

const (
	// ReadUncommitted returns every record, transactional or not, up to the
	// high watermark (Kafka's default).
	ReadUncommitted IsolationLevel = 0
	// ReadCommitted returns only committed transactional records, up to the
	// last stable offset, and skips aborted ones.
	ReadCommitted IsolationLevel = 1
)

// Assignor names accepted in Config.Assignors (partition.assignment.strategy).
const (
	AssignorRange             = "range"
	AssignorRoundRobin        = "roundrobin"
	AssignorCooperativeSticky = "cooperative-sticky"
)

// Config configures a Consumer. Zero values mean Kafka's defaults; every
// field names the Kafka consumer property it mirrors.
type Config struct {
	// Brokers is bootstrap.servers: host:port seed brokers. Required.
	Brokers []string
	// ClientID is client.id. Zero means "skiff".
	ClientID string

	// GroupID is group.id. Required for group mode (Topics) and for commits.
	GroupID string
	// GroupInstanceID is group.instance.id: a stable id makes the member
	// static (KIP-345), so a restart within session.timeout.ms does not
	// rebalance. Static members do not send LeaveGroup on Close.
	GroupInstanceID string
	// Topics is the subscription (group mode). Exactly one of Topics and
	// Assign must be set. A topic that does not exist (and is not
	// auto-created) is reported once, with a Warn log and
	// ErrTopicNotAvailable from Poll; the consumer keeps waiting for it.
	Topics []string
	// Assign assigns partitions explicitly (assign mode): no group
	// membership; each partition starts at its Offset (OffsetCommitted to
	// start at the group's committed offset).
	Assign map[string][]TopicPartitionOffset

	// Assignors is partition.assignment.strategy, in preference order. Zero
	// means ["range", "cooperative-sticky"], Java's default. Mixing eager
	// (range, roundrobin) and cooperative assignors is allowed as in Java;
	// the member follows the protocol the group picks.
	Assignors []string
	// DisableAutoTopicCreation is allow.auto.create.topics=false (KIP-361):
	// subscribing to a missing topic no longer asks the broker to create
	// it. By default (false) the broker's auto.create.topics.enable decides,
	// as with the Java consumer.
	DisableAutoTopicCreation bool
	// Rebalance receives rebalance callbacks. Optional.
	Rebalance RebalanceListener

	// AutoOffsetReset is auto.offset.reset: "latest" (the default),
	// "earliest" or "none". It applies when there is no committed offset
	// and when a fetch position is out of range.
	AutoOffsetReset string
	// DisableAutoCommit is enable.auto.commit=false. By default (false) the
	// consumer commits, every AutoCommitInterval, the offsets of the records
	// returned by previous Polls, and also before partitions are revoked and
	// on Close.
	DisableAutoCommit bool
	// AutoCommitInterval is auto.commit.interval.ms. Zero means 5s.
	AutoCommitInterval time.Duration

	// FetchMinBytes is fetch.min.bytes. Zero means 1.
	FetchMinBytes int32
	// FetchMaxBytes is fetch.max.bytes: the most bytes a fetch response may
	// hold, and the most fetched bytes buffered ahead of Poll. Zero means
	// 52428800 (50 MiB).
	FetchMaxBytes int32
	// FetchMaxWait is fetch.max.wait.ms. Zero means 500ms.
	FetchMaxWait time.Duration
	// MaxPartitionFetchBytes is max.partition.fetch.bytes. Zero means
	// 1048576 (1 MiB).
	MaxPartitionFetchBytes int32
	// MaxPollRecords is max.poll.records. Zero means 500.
	MaxPollRecords int
	// IsolationLevel is isolation.level. Zero means read_uncommitted.
	IsolationLevel IsolationLevel
	// DisableFetchSessions turns KIP-227 incremental fetch sessions off,
	// as kgo.DisableFetchSessions does (the Java client has no switch):
	// every fetch then lists every partition. By default the consumer
	// keeps a session per broker and sends only what changed.
	DisableFetchSessions bool

	// HeartbeatInterval is heartbeat.interval.ms. Zero means 3s.
	HeartbeatInterval time.Duration
	// SessionTimeout is session.timeout.ms. Zero means 45s.
	SessionTimeout time.Duration
	// MaxPollInterval is max.poll.interval.ms, also sent as the rebalance
	// timeout. If Poll is not called within it, the consumer leaves the
	// group like the Java client and rejoins on the next Poll. Zero means
	// 5m.
	MaxPollInterval time.Duration

	// MetadataMaxAge is metadata.max.age.ms: how often metadata is
	// refreshed, and so how soon a partition count change of a subscribed
	// topic triggers a rebalance. Zero means 5m.
	MetadataMaxAge time.Duration
	// RetryBackoff is retry.backoff.ms. Zero means 100ms.
	RetryBackoff time.Duration
	// RequestTimeout is request.timeout.ms. Zero means 30s.
	RequestTimeout time.Duration
	// DialTimeout is socket.connection.setup.timeout.ms. Zero means 10s.
	DialTimeout time.Duration
	// ClientRack is client.rack, sent in the subscription (v3). Optional.
	ClientRack string

	// Logger receives the consumer's logs. Nil discards them, as for the
	// producer. An unreachable cluster is logged on its edges: Warn once,
	// naming every address and its error, Debug while retrying, Info when
	// a broker answers again. Poll keeps waiting, as Java's does; call
	// Consumer.Ping to fail fast instead.
	Logger *slog.Logger
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
}

// withDefaults returns a copy with zero values replaced by Kafka defaults.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.ClientID == "" {
		c.ClientID = "skiff"
	}
	if len(c.Assignors) == 0 {
		c.Assignors = []string{AssignorRange, AssignorCooperativeSticky}
	}
	if c.AutoOffsetReset == "" {
		c.AutoOffsetReset = "latest"
	}
	def(&c.AutoCommitInterval, 5*time.Second)
	if c.FetchMinBytes == 0 {
		c.FetchMinBytes = 1
	}
	if c.FetchMaxBytes == 0 {
		c.FetchMaxBytes = 52428800
	}
	def(&c.FetchMaxWait, 500*time.Millisecond)
	if c.MaxPartitionFetchBytes == 0 {
		c.MaxPartitionFetchBytes = 1048576
	}
	if c.MaxPollRecords == 0 {
		c.MaxPollRecords = 500
	}
	def(&c.HeartbeatInterval, 3*time.Second)
	def(&c.SessionTimeout, 45*time.Second)
	def(&c.MaxPollInterval, 5*time.Minute)
	def(&c.MetadataMaxAge, 5*time.Minute)
	def(&c.RetryBackoff, 100*time.Millisecond)
	def(&c.RequestTimeout, 30*time.Second)
	def(&c.DialTimeout, 10*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate checks a defaulted config and reports every problem it finds.
func (c *Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Brokers) == 0 {
		bad("Brokers (bootstrap.servers) is empty")
	}
	for _, b := range c.Brokers {
		if !strings.Contains(b, ":") {
			bad("broker %q is not host:port", b)
		}
	}
	switch {
	case len(c.Topics) > 0 && len(c.Assign) > 0:
		bad("Topics and Assign are exclusive: subscribe (group mode) or assign, not both")
	case len(c.Topics) > 0 && c.GroupID == "":
		bad("Topics (group mode) needs GroupID (group.id)")
	}
	for _, t := range c.Topics {
		if t == "" {
			bad("empty topic name in Topics")
		}
	}
	for t, ps := range c.Assign {
		if t == "" {
			bad("empty topic name in Assign")
		}
		for _, p := range ps {
			if p.Partition < 0 {
				bad("Assign %s: negative partition %d", t, p.Partition)
			}
			if p.Offset < OffsetCommitted {
				bad("Assign %s[%d]: invalid offset %d", t, p.Partition, p.Offset)
			}
			if p.Offset == OffsetCommitted && c.GroupID == "" {
				bad("Assign %s[%d]: OffsetCommitted needs GroupID", t, p.Partition)
			}
		}
	}
	if c.GroupInstanceID != "" && c.GroupID == "" {
		bad("GroupInstanceID (group.instance.id) needs GroupID")
	}
	for _, a := range c.Assignors {
		if newAssignor(a) == nil {
			bad("unknown assignor %q (want %s, %s or %s)", a, AssignorRange, AssignorRoundRobin, AssignorCooperativeSticky)
		}
	}
	switch c.AutoOffsetReset {
	case "latest", "earliest", "none":
	default:
		bad("AutoOffsetReset (auto.offset.reset) %q: want latest, earliest or none", c.AutoOffsetReset)
	}
	if c.IsolationLevel != ReadUncommitted && c.IsolationLevel != ReadCommitted {
		bad("IsolationLevel %d: want ReadUncommitted or ReadCommitted", c.IsolationLevel)
	}
	neg := func(name string, v int64) {
		if v < 0 {
			bad("%s is negative", name)
		}
	}
	neg("FetchMinBytes", int64(c.FetchMinBytes))
	neg("FetchMaxBytes", int64(c.FetchMaxBytes))
	neg("MaxPartitionFetchBytes", int64(c.MaxPartitionFetchBytes))
	neg("MaxPollRecords", int64(c.MaxPollRecords))
	for name, d := range map[string]time.Duration{
		"AutoCommitInterval": c.AutoCommitInterval, "FetchMaxWait": c.FetchMaxWait,
		"HeartbeatInterval": c.HeartbeatInterval, "SessionTimeout": c.SessionTimeout,
		"MaxPollInterval": c.MaxPollInterval, "MetadataMaxAge": c.MetadataMaxAge,
		"RetryBackoff": c.RetryBackoff, "RequestTimeout": c.RequestTimeout, "DialTimeout": c.DialTimeout,
	} {
		neg(name, int64(d))
	}
	if c.HeartbeatInterval >= c.SessionTimeout && c.HeartbeatInterval > 0 {
		bad("HeartbeatInterval %v must be below SessionTimeout %v", c.HeartbeatInterval, c.SessionTimeout)
	}
	return errors.Join(errs...)
}

func (c *Config) resetOffset() int64 {
	switch c.AutoOffsetReset {
	case "earliest":
		return OffsetEarliest
	case "none":
		return 0
	}
	return OffsetLatest
}
