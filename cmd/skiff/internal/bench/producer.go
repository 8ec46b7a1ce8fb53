package bench

import (
	"context"
	"time"

	"github.com/skiffkit/skiff/producer"
)

// NewProducer opens a skiff producer configured for p. Its hooks feed m.
func (c *Cluster) NewProducer(_ context.Context, p Point, bufferMemory int64, m *Meter) (Producer, error) {
	cfg := producer.Config{
		Brokers:      c.brokers,
		ClientID:     "skiff-bench",
		Linger:       p.Linger,
		BatchSize:    p.BatchSize,
		BufferMemory: bufferMemory,
		Compression:  producer.Compression(p.Compression),
		Logger:       c.log,
		TLS:          c.tls,
		SASL:         c.sasl,
		Hooks:        []producer.Hook{meterHooks{m}},
	}
	if p.Linger == 0 {
		cfg.Linger = producer.NoLinger // the zero value would mean Kafka's default, 5ms
	}
	switch p.Acks {
	case AcksLeader:
		cfg.Acks, cfg.DisableIdempotence = producer.AcksLeader, true // idempotence needs acks=all
	case AcksNone:
		cfg.Acks, cfg.DisableIdempotence = producer.AcksNone, true
	default:
		cfg.Acks = producer.AcksAll
	}
	prod, err := producer.New(cfg)
	if err != nil {
		return nil, err
	}
	return skiffProducer{prod}, nil
}

// skiffProducer adapts *producer.Producer to the runner's Producer.
type skiffProducer struct{ p *producer.Producer }

func (s skiffProducer) Send(ctx context.Context, topic string, key, value []byte, done Completion) {
	err := s.p.Send(ctx, producer.Record{Topic: topic, Key: key, Value: value},
		func(_ producer.RecordMetadata, err error) { done.Done(err) })
	if err != nil {
		// Not accepted: the callback will not run.
		done.Done(err)
	}
}

func (s skiffProducer) Flush(ctx context.Context) error { return s.p.Flush(ctx) }
func (s skiffProducer) Close(ctx context.Context) error { return s.p.Close(ctx) }

// meterHooks forwards the producer's per-batch and per-request hooks to a
// Meter; it implements no per-record hook, so it adds nothing per record.
type meterHooks struct{ m *Meter }

var (
	_ producer.HookBatchSent       = meterHooks{}
	_ producer.HookProduceResponse = meterHooks{}
)

func (h meterHooks) OnBatchSent(_ string, _ int32, records, bytes int) {
	h.m.ObserveBatch(records, bytes)
}

func (h meterHooks) OnProduceResponse(_ int32, latency time.Duration, err error) {
	h.m.ObserveRequest(latency)
}
