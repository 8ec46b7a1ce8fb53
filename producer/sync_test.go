package producer

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/skiffkit/skiff/serializer"
)

// TestSendSyncContract runs Producer.SendSync and Typed.SendSync through
// the same cases: they share one implementation and must agree.
func TestSendSyncContract(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "sync"))
	p := newProducer(t, Config{Brokers: c.ListenAddrs()})
	// A record of this producer waits an hour for its batch to fill unless
	// flushed: its acknowledgement cannot come before a short ctx ends.
	lingering := newProducer(t, Config{Brokers: c.ListenAddrs(), Linger: time.Hour, DeliveryTimeout: 2 * time.Hour})
	type sendSyncFunc func(context.Context, *Producer, string) (RecordMetadata, error)
	for name, sendSync := range map[string]sendSyncFunc{
		"Producer": func(ctx context.Context, p *Producer, v string) (RecordMetadata, error) {
			return p.SendSync(ctx, Record{Topic: "sync", Partition: ToPartition(0), Value: []byte(v)})
		},
		"Typed": func(ctx context.Context, p *Producer, v string) (RecordMetadata, error) {
			typed := NewTyped(p, serializer.String(), serializer.String())
			return typed.SendSync(ctx, TypedRecord[string, string]{Topic: "sync", Partition: ToPartition(0), NullKey: true, Value: v})
		},
	} {
		t.Run(name, func(t *testing.T) {
			md, err := sendSync(context.Background(), p, "acked")
			require.NoError(t, err)
			assert.Equal(t, "sync", md.Topic)
			assert.Equal(t, int32(0), md.Partition)
			assert.GreaterOrEqual(t, md.Offset, int64(0))

			// The wait ends with ctx, wrapped with the topic.
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			md, err = sendSync(ctx, lingering, "lingering")
			cancel()
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Contains(t, err.Error(), "produce sync: waiting for acknowledgement")
			assert.Equal(t, RecordMetadata{Topic: "sync", Partition: -1, Offset: -1}, md)
			require.NoError(t, lingering.Flush(context.Background()))

			// A record that is not accepted fails at once, with Send's error.
			md, err = sendSync(context.Background(), p, string(make([]byte, 2<<20)))
			assert.ErrorIs(t, err, ErrRecordTooLarge)
			assert.Equal(t, RecordMetadata{Topic: "sync", Partition: -1, Offset: -1}, md)
		})
	}
}

// TestCloseIsIdempotent: the first Close does the work and reports its
// context's error; every later or concurrent call returns nil.
func TestCloseIsIdempotent(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "twice"))
	p, err := New(Config{Brokers: c.ListenAddrs()})
	require.NoError(t, err)
	_, err = p.SendSync(context.Background(), testRecord("twice", 0))
	require.NoError(t, err)
	release := make(chan struct{})
	defer close(release)
	stallProduce(c, release)
	require.NoError(t, p.Send(context.Background(), testRecord("twice", 1), nil))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	results := make(chan error, 3)
	for range 3 {
		go func() { results <- p.Close(ctx) }()
	}
	var errs []error
	for range 3 {
		errs = append(errs, <-results)
	}
	var failed int
	for _, err := range errs {
		if err != nil {
			failed++
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		}
	}
	assert.Equal(t, 1, failed, "only the first Close reports the undelivered record: %v", errs)
	assert.NoError(t, p.Close(context.Background()), "a Close after the first")
	assert.ErrorIs(t, p.Send(context.Background(), testRecord("twice", 2), nil), ErrClosed)
}
