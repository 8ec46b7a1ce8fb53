package consumer

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/wire"
	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/sasl"
)

// cluster is the slice of internal/wire the consumer uses. It is the seam
// between the consume path and the connection layer: wireCluster is the only
// production implementation.
type cluster interface {
	// topic returns the topic's partitions and leaders from the metadata
	// cache, fetching metadata when the topic is not cached.
	topic(ctx context.Context, topic string) (topicMeta, error)
	// partitionCounts asks a broker for fresh metadata of topics and
	// returns the partition count of each that exists, and the error of
	// each that does not (UNKNOWN_TOPIC_OR_PARTITION, authorization).
	partitionCounts(ctx context.Context, topics []string) (counts map[string]int32, missing map[string]error, err error)
	// invalidate makes the next topic call fetch fresh metadata.
	invalidate()
	// requestNode sends req to one broker, versions negotiated.
	requestNode(ctx context.Context, node int32, req kmsg.Request) (kmsg.Response, error)
	// request sends req to any broker.
	request(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
	// coordinator returns the node coordinating group.
	coordinator(ctx context.Context, group string) (int32, error)
	// invalidateCoordinator forgets group's cached coordinator.
	invalidateCoordinator(group string)
	// ping tries each broker once (see wire.Client.Ping).
	ping(ctx context.Context) error
	close()
}

type topicMeta struct {
	id         [16]byte
	partitions []partMeta
}

type partMeta struct {
	partition   int32
	leader      int32
	leaderEpoch int32
	err         error
}

// wireCluster is the cluster over internal/wire.
type wireCluster struct {
	cl  *wire.Client
	cfg *Config
}

func newWireCluster(cfg Config) (*wireCluster, error) {
	cl, err := wire.NewClient(wire.Config{
		SeedBrokers:            cfg.Brokers,
		ClientID:               cfg.ClientID,
		DialTimeout:            cfg.DialTimeout,
		RequestTimeout:         cfg.RequestTimeout,
		MetadataMaxAge:         cfg.MetadataMaxAge,
		RetryBackoff:           cfg.RetryBackoff,
		Logger:                 cfg.Logger,
		AllowAutoTopicCreation: !cfg.DisableAutoTopicCreation,
		TLS:                    cfg.TLS,
		SASL:                   wire.SASLFrom[sasl.Session](cfg.SASL),
	})
	if err != nil {
		return nil, err
	}
	return &wireCluster{cl: cl, cfg: &cfg}, nil
}

func (w *wireCluster) topic(ctx context.Context, topic string) (topicMeta, error) {
	ti, err := w.cl.Topic(ctx, topic)
	if err != nil {
		return topicMeta{}, err
	}
	tm := topicMeta{id: ti.ID, partitions: make([]partMeta, len(ti.Partitions))}
	for i, p := range ti.Partitions {
		tm.partitions[i] = partMeta{partition: p.Partition, leader: p.Leader, leaderEpoch: p.LeaderEpoch, err: p.Err}
	}
	return tm, nil
}

func (w *wireCluster) partitionCounts(ctx context.Context, topics []string) (map[string]int32, map[string]error, error) {
	md, err := w.cl.Metadata(ctx, topics)
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]int32, len(topics))
	var missing map[string]error
	for _, t := range topics {
		ti, ok := md.Topics[t]
		if ok && ti.Err == nil && len(ti.Partitions) > 0 {
			out[t] = int32(len(ti.Partitions))
			continue
		}
		if missing == nil {
			missing = map[string]error{}
		}
		switch {
		case ok && ti.Err != nil:
			missing[t] = ti.Err
		default: // absent from the response, or no partitions yet
			missing[t] = kerr.UnknownTopicOrPartition
		}
	}
	return out, missing, nil
}

func (w *wireCluster) ping(ctx context.Context) error { return w.cl.Ping(ctx) }

func (w *wireCluster) invalidate() { w.cl.RefreshMetadata() }

func (w *wireCluster) requestNode(ctx context.Context, node int32, req kmsg.Request) (kmsg.Response, error) {
	return w.cl.RequestNode(ctx, node, req)
}

func (w *wireCluster) request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	return w.cl.Request(ctx, req)
}

func (w *wireCluster) coordinator(ctx context.Context, group string) (int32, error) {
	return w.cl.Coordinator(ctx, group, wire.CoordinatorGroup)
}

func (w *wireCluster) invalidateCoordinator(group string) { w.cl.InvalidateCoordinator(group) }

func (w *wireCluster) close() { _ = w.cl.Close() }
