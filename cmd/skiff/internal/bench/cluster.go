package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/skiffkit/skiff/admin"
	"github.com/skiffkit/skiff/broker"
	"github.com/skiffkit/skiff/sasl"
)

// ClusterConfig says what to measure.
type ClusterConfig struct {
	// Brokers are the seed brokers of an existing cluster. Empty means start
	// the bundled broker in a temporary directory, removed by Close.
	Brokers []string
	// Logger receives the embedded broker's and the clients' logs. Nil
	// discards them: they would interleave with the progress display.
	Logger *slog.Logger
	// TLS and SASL secure every connection to an existing cluster, as
	// producer.Config's fields of the same names (security.protocol SSL,
	// SASL_PLAINTEXT, SASL_SSL). Nil means none.
	TLS  *tls.Config
	SASL sasl.Mechanism
}

// Cluster is the real Target: skiff's producer against a Kafka cluster or
// the bundled broker.
type Cluster struct {
	brokers  []string
	log      *slog.Logger
	tls      *tls.Config
	sasl     sasl.Mechanism
	admin    *admin.Client
	embedded *broker.Broker // nil for an external cluster
	dir      string         // the embedded broker's data, removed by Close
}

var _ Target = (*Cluster)(nil)

// OpenCluster connects to cfg.Brokers, or starts the bundled broker when
// there are none.
func OpenCluster(ctx context.Context, cfg ClusterConfig) (*Cluster, error) {
	c := &Cluster{brokers: cfg.Brokers, log: cfg.Logger, tls: cfg.TLS, sasl: cfg.SASL}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if len(c.brokers) == 0 {
		dir, err := os.MkdirTemp("", "skiff-bench-")
		if err != nil {
			return nil, fmt.Errorf("bench: temp dir for the embedded broker: %w", err)
		}
		b, err := broker.Start(ctx, broker.Config{Listen: "127.0.0.1:0", DataDir: dir, Logger: c.log})
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("bench: start embedded broker: %w", err)
		}
		c.embedded, c.dir, c.brokers = b, dir, []string{b.Addr()}
	}
	adm, err := admin.New(admin.Config{Brokers: c.brokers, ClientID: "skiff-bench", Logger: c.log, TLS: c.tls, SASL: c.sasl})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("bench: admin client: %w", err), c.Close(ctx))
	}
	c.admin = adm
	return c, nil
}

// Brokers returns the seed brokers clients use.
func (c *Cluster) Brokers() []string { return c.brokers }

// Describe says what is measured, for reports.
func (c *Cluster) Describe() string {
	if c.embedded != nil {
		return "embedded skiff broker at " + c.embedded.Addr()
	}
	return "brokers " + strings.Join(c.brokers, ",")
}

// CreateTopic creates name with the given partitions and replication factor
// -1 (the broker's default.replication.factor), and fails if it already
// exists: a leftover topic would mix old data into the measurement.
func (c *Cluster) CreateTopic(ctx context.Context, name string, partitions int) error {
	rs, err := c.admin.CreateTopics(ctx, admin.NewTopic{Name: name, Partitions: int32(partitions), ReplicationFactor: -1})
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	return rs.Error()
}

// DeleteTopic deletes name.
func (c *Cluster) DeleteTopic(ctx context.Context, name string) error {
	rs, err := c.admin.DeleteTopics(ctx, name)
	if err != nil {
		return fmt.Errorf("delete topics: %w", err)
	}
	return rs.Error()
}

// Close closes the admin connection and stops and deletes the embedded broker.
func (c *Cluster) Close(ctx context.Context) error {
	var errs []error
	if c.admin != nil {
		errs = append(errs, c.admin.Close(ctx))
	}
	if c.embedded != nil {
		errs = append(errs, c.embedded.Close(ctx))
	}
	if c.dir != "" {
		errs = append(errs, os.RemoveAll(c.dir))
	}
	return errors.Join(errs...)
}
