package wire

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"
)

// Config configures a Client. The zero value of every field but SeedBrokers
// means Kafka's default.
type Config struct {
	// SeedBrokers is bootstrap.servers: host:port addresses used to
	// discover the cluster. Required.
	SeedBrokers []string
	// ClientID is client.id, sent in every request header. Zero means "skiff".
	ClientID string
	// DialTimeout bounds the TCP connect plus the ApiVersions handshake.
	// Zero means 10s.
	DialTimeout time.Duration
	// RequestTimeout is request.timeout.ms: how long a request may wait for
	// its response, on top of any timeout the request itself carries
	// (Produce's acks timeout, JoinGroup's rebalance timeout). Zero means 30s.
	RequestTimeout time.Duration
	// MetadataMaxAge is metadata.max.age.ms: cached metadata older than
	// this is refreshed in the background. Zero means 5m.
	MetadataMaxAge time.Duration
	// RetryBackoff is retry.backoff.ms, used between bootstrap and metadata
	// attempts; it doubles up to 1s while a topic stays unknown. Zero means 100ms.
	RetryBackoff time.Duration
	// ConnMaxIdle is connections.max.idle.ms: connections without traffic
	// for this long are closed. Zero means 9m.
	ConnMaxIdle time.Duration
	// MaxResponseSize caps a single response frame (the Java client has no
	// such cap; franz-go's is BrokerMaxReadBytes). Zero means 256 MiB.
	MaxResponseSize int32
	// Logger receives connection and metadata events. Nil discards them.
	Logger *slog.Logger
	// Dial replaces net.Dialer.DialContext; tests inject faults with it.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// AllowAutoTopicCreation sets the Metadata request's
	// AllowAutoTopicCreation flag (allow.auto.create.topics, default false
	// here, as in the Java producer since 3.0 for unknown-topic lookups).
	AllowAutoTopicCreation bool
	// TLS, when set, wraps every connection in TLS (security.protocol SSL
	// or SASL_SSL). An empty ServerName is set to the dialed host, so the
	// broker's certificate is verified against it unless
	// InsecureSkipVerify is set.
	TLS *tls.Config
	// SASL, when set, logs in on every new connection before any request
	// but ApiVersions (security.protocol SASL_PLAINTEXT or SASL_SSL).
	SASL *SASL
}

// SASL is a login mechanism as a connection drives it. It is the public
// sasl.Mechanism seen from below: internal packages do not import the
// module's public ones, so producer, consumer and admin hand it over
// through SASLFrom.
type SASL struct {
	// Name is sent in SaslHandshake: "PLAIN", "SCRAM-SHA-256", ...
	Name string
	// Start begins a login on a new connection to addr and returns the
	// first message and the function that answers each server message
	// (done, next message, error), as sasl.Session.Challenge does.
	Start func(ctx context.Context, addr string) (first []byte, challenge func(serverMsg []byte) (done bool, msg []byte, err error), err error)
}

// SASLFrom adapts a mechanism shaped like the public sasl.Mechanism; nil
// for a nil mechanism. S is its session type (sasl.Session).
func SASLFrom[S interface {
	Challenge(serverMsg []byte) (done bool, msg []byte, err error)
}, M interface {
	Name() string
	Start(ctx context.Context, addr string) (S, []byte, error)
}](m M) *SASL {
	if any(m) == nil {
		return nil
	}
	return &SASL{Name: m.Name(), Start: func(ctx context.Context, addr string) ([]byte, func([]byte) (bool, []byte, error), error) {
		sess, first, err := m.Start(ctx, addr)
		if err != nil {
			return nil, nil, err
		}
		return first, sess.Challenge, nil
	}}
}

const (
	defaultClientID        = "skiff"
	defaultDialTimeout     = 10 * time.Second
	defaultRequestTimeout  = 30 * time.Second
	defaultMetadataMaxAge  = 5 * time.Minute
	defaultRetryBackoff    = 100 * time.Millisecond
	defaultConnMaxIdle     = 9 * time.Minute
	defaultMaxResponseSize = 256 << 20
	maxRetryBackoff        = time.Second
)

// withDefaults returns a copy with zero values replaced by defaults.
func (cfg Config) withDefaults() Config {
	if cfg.ClientID == "" {
		cfg.ClientID = defaultClientID
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = defaultRequestTimeout
	}
	if cfg.MetadataMaxAge == 0 {
		cfg.MetadataMaxAge = defaultMetadataMaxAge
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = defaultRetryBackoff
	}
	if cfg.ConnMaxIdle == 0 {
		cfg.ConnMaxIdle = defaultConnMaxIdle
	}
	if cfg.MaxResponseSize == 0 {
		cfg.MaxResponseSize = defaultMaxResponseSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Dial == nil {
		var d net.Dialer
		cfg.Dial = d.DialContext
	}
	return cfg
}

// validate reports every problem in the config at once.
func (cfg Config) validate() error {
	var errs []error
	if len(cfg.SeedBrokers) == 0 {
		errs = append(errs, errors.New("SeedBrokers (bootstrap.servers) is empty"))
	}
	for _, s := range cfg.SeedBrokers {
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("seed broker %q: %w", s, err))
			continue
		}
		if host == "" {
			errs = append(errs, fmt.Errorf("seed broker %q: empty host", s))
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("seed broker %q: invalid port", s))
		}
	}
	if len(cfg.ClientID) > 32767 {
		errs = append(errs, errors.New("ClientID (client.id) longer than 32767 bytes"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"DialTimeout", cfg.DialTimeout},
		{"RequestTimeout (request.timeout.ms)", cfg.RequestTimeout},
		{"MetadataMaxAge (metadata.max.age.ms)", cfg.MetadataMaxAge},
		{"RetryBackoff (retry.backoff.ms)", cfg.RetryBackoff},
		{"ConnMaxIdle (connections.max.idle.ms)", cfg.ConnMaxIdle},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s is negative: %v", d.name, d.v))
		}
	}
	if cfg.MaxResponseSize < 0 {
		errs = append(errs, fmt.Errorf("MaxResponseSize is negative: %d", cfg.MaxResponseSize))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid config: %w", err)
	}
	return nil
}
