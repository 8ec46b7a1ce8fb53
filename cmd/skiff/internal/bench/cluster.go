package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/broker"
	"github.com/skiffkit/skiff/internal/kerr"
	"github.com/skiffkit/skiff/internal/wire"
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
	admin    *wire.Client
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
	admin, err := wire.NewClient(wire.Config{SeedBrokers: c.brokers, ClientID: "skiff-bench", Logger: c.log,
		TLS: c.tls, SASL: wire.SASLFrom[sasl.Session](c.sasl)})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("bench: admin client: %w", err), c.Close(ctx))
	}
	c.admin = admin
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
// -1 (the broker's default.replication.factor), on the controller as Kafka
// requires, and fails if it already exists: a leftover topic would mix old
// data into the measurement.
func (c *Cluster) CreateTopic(ctx context.Context, name string, partitions int) error {
	if _, err := c.admin.Metadata(ctx, []string{}); err != nil { // no topics: brokers and controller only
		return fmt.Errorf("metadata: %w", err)
	}

	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30_000
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic = name
	t.NumPartitions = int32(partitions)
	t.ReplicationFactor = -1
	req.Topics = append(req.Topics, t)
	cresp, err := c.requestController(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for _, rt := range cresp.(*kmsg.CreateTopicsResponse).Topics {
		if err := kerr.ForCode(rt.ErrorCode); err != nil {
			if rt.ErrorMessage != nil {
				return fmt.Errorf("%w: %s", err, *rt.ErrorMessage)
			}
			return err
		}
	}
	return nil
}

// DeleteTopic deletes name, on the controller.
func (c *Cluster) DeleteTopic(ctx context.Context, name string) error {
	if _, err := c.admin.Metadata(ctx, []string{}); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 30_000
	req.TopicNames = []string{name}
	t := kmsg.NewDeleteTopicsRequestTopic()
	t.Topic = kmsg.StringPtr(name)
	req.Topics = []kmsg.DeleteTopicsRequestTopic{t}
	resp, err := c.requestController(ctx, req)
	if err != nil {
		return fmt.Errorf("delete topics: %w", err)
	}
	for _, rt := range resp.(*kmsg.DeleteTopicsResponse).Topics {
		if err := kerr.ForCode(rt.ErrorCode); err != nil {
			return err
		}
	}
	return nil
}

// requestController sends req to the controller (Kafka answers NOT_CONTROLLER
// elsewhere), or to any broker when the metadata named none.
func (c *Cluster) requestController(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	if id := c.admin.ControllerID(); id >= 0 {
		return c.admin.RequestNode(ctx, id, req)
	}
	return c.admin.Request(ctx, req)
}

// Close closes the admin connection and stops and deletes the embedded broker.
func (c *Cluster) Close(ctx context.Context) error {
	var errs []error
	if c.admin != nil {
		errs = append(errs, c.admin.Close())
	}
	if c.embedded != nil {
		errs = append(errs, c.embedded.Close(ctx))
	}
	if c.dir != "" {
		errs = append(errs, os.RemoveAll(c.dir))
	}
	return errors.Join(errs...)
}
