package admin

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/skiffkit/skiff/sasl"
)

// Config configures a Client. Zero values mean Kafka's defaults; each field
// names the Kafka AdminClient property it mirrors. The connection fields are
// the same as consumer.Config's and producer.Config's, so one cluster
// description serves all three.
type Config struct {
	// Brokers is bootstrap.servers: host:port seed brokers. Required.
	Brokers []string
	// ClientID is client.id. Zero means "skiff".
	ClientID string

	// RequestTimeout is request.timeout.ms: how long one request may wait
	// for its response. It is also the timeout_ms sent in CreateTopics,
	// DeleteTopics, CreatePartitions and DeleteRecords, as the Java
	// AdminClient sends its default.api.timeout.ms. Zero means 30s.
	RequestTimeout time.Duration
	// DialTimeout is socket.connection.setup.timeout.ms. Zero means 10s.
	DialTimeout time.Duration
	// RetryBackoff is retry.backoff.ms, the pause before an admin request is
	// sent again after NOT_CONTROLLER, NOT_COORDINATOR, a coordinator still
	// loading, or a lost connection (read-only requests only). Zero means
	// 100ms.
	RetryBackoff time.Duration
	// MetadataMaxAge is metadata.max.age.ms: how long the cached controller
	// and broker list are trusted. Zero means 5m.
	MetadataMaxAge time.Duration

	// TLS, when set, wraps every connection in TLS (security.protocol SSL
	// or SASL_SSL), exactly as consumer.Config.TLS: the broker's host name
	// is verified unless InsecureSkipVerify is set.
	TLS *tls.Config
	// SASL is the login mechanism of security.protocol SASL_PLAINTEXT and
	// SASL_SSL, as consumer.Config.SASL: every connection logs in before
	// its first request; rejected credentials are fatal, not retried.
	SASL sasl.Mechanism

	// Logger receives connection and metadata events. Nil discards them.
	Logger *slog.Logger
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
	def(&c.RequestTimeout, 30*time.Second)
	def(&c.DialTimeout, 10*time.Second)
	def(&c.RetryBackoff, 100*time.Millisecond)
	def(&c.MetadataMaxAge, 5*time.Minute)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate reports every problem of the config at once.
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
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"RequestTimeout (request.timeout.ms)", c.RequestTimeout},
		{"DialTimeout (socket.connection.setup.timeout.ms)", c.DialTimeout},
		{"RetryBackoff (retry.backoff.ms)", c.RetryBackoff},
		{"MetadataMaxAge (metadata.max.age.ms)", c.MetadataMaxAge},
	} {
		if d.v < 0 {
			bad("%s is negative: %v", d.name, d.v)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("admin: invalid config: %w", err)
	}
	return nil
}
