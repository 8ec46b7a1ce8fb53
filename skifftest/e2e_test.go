package skifftest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/producer"
	"github.com/skiffkit/skiff/skifftest"
)

// End to end: skiff's own producer and consumer against the bundled broker,
// as a user's test would run them.

// e2eRecord is what a record is compared by, produced and consumed.
type e2eRecord struct {
	Partition int32
	Offset    int64
	Key       string
	Value     string
	Header    string
}

func e2eCtx(t testing.TB) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func newProducer(t testing.TB, b *skifftest.Broker, cfg producer.Config) *producer.Producer {
	t.Helper()
	cfg.Brokers = []string{b.Addr()}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = 10 * time.Millisecond
	}
	p, err := producer.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, p.Close(c))
	})
	return p
}

func newConsumer(t testing.TB, b *skifftest.Broker, cfg consumer.Config) *consumer.Consumer {
	t.Helper()
	cfg.Brokers = []string{b.Addr()}
	if cfg.FetchMaxWait == 0 {
		cfg.FetchMaxWait = 100 * time.Millisecond
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 200 * time.Millisecond
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 6 * time.Second // the broker's group.min.session.timeout.ms
	}
	c, err := consumer.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// A member the test stopped already closed: Close says ErrClosed.
		if err := c.Close(ctx); !errors.Is(err, consumer.ErrClosed) {
			assert.NoError(t, err)
		}
	})
	return c
}

// produceKeyed sends n keyed records with a header through p, waits for
// every acknowledgement, and returns them as the broker stored them.
func produceKeyed(t testing.TB, p *producer.Producer, topic, prefix string, n int) []e2eRecord {
	t.Helper()
	c := e2eCtx(t)
	var (
		mu   sync.Mutex
		out  []e2eRecord
		errs []error
	)
	for i := range n {
		r := e2eRecord{Key: fmt.Sprintf("key-%d", i%17), Value: fmt.Sprintf("%s-%d", prefix, i), Header: fmt.Sprint(i)}
		rec := producer.Record{Topic: topic, Key: []byte(r.Key), Value: []byte(r.Value),
			Headers: []producer.Header{{Key: "i", Value: []byte(r.Header)}}}
		require.NoError(t, p.Send(c, rec, func(md producer.RecordMetadata, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			r.Partition, r.Offset = md.Partition, md.Offset
			out = append(out, r)
		}))
	}
	require.NoError(t, p.Flush(c))
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, errs)
	require.Len(t, out, n)
	return out
}

func toE2E(recs []consumer.Record) []e2eRecord {
	out := make([]e2eRecord, 0, len(recs))
	for _, r := range recs {
		e := e2eRecord{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value)}
		for _, h := range r.Headers {
			if h.Key == "i" {
				e.Header = string(h.Value)
			}
		}
		out = append(out, e)
	}
	return out
}

// byPartition groups records by partition, each partition's in the order
// given.
func byPartition(recs []e2eRecord) map[int32][]e2eRecord {
	out := map[int32][]e2eRecord{}
	for _, r := range recs {
		out[r.Partition] = append(out[r.Partition], r)
	}
	return out
}

// sortedByOffset is byPartition of recs with each partition sorted by
// offset: the order the log holds them in.
func sortedByOffset(recs []e2eRecord) map[int32][]e2eRecord {
	out := byPartition(recs)
	for _, rs := range out {
		slices.SortFunc(rs, func(a, b e2eRecord) int { return int(a.Offset - b.Offset) })
	}
	return out
}

// pollUntil polls c until it returned n records or the test's time ends.
func pollUntil(t testing.TB, c *consumer.Consumer, n int) []e2eRecord {
	t.Helper()
	ctx := e2eCtx(t)
	var out []e2eRecord
	for len(out) < n {
		recs, err := c.Poll(ctx)
		require.NoError(t, err, "polled %d of %d records", len(out), n)
		out = append(out, toE2E(recs)...)
	}
	return out
}

// TestE2ECodecs: for every codec, keyed records produced with the skiff
// producer come back from a skiff group consumer with the same content, and
// each partition in the order it was produced.
func TestE2ECodecs(t *testing.T) {
	t.Parallel()
	for _, codec := range []producer.Compression{
		producer.CompressionNone, producer.CompressionGzip, producer.CompressionSnappy,
		producer.CompressionLZ4, producer.CompressionZstd,
	} {
		t.Run(codec.String(), func(t *testing.T) {
			t.Parallel()
			topic := "e2e-" + codec.String()
			b := skifftest.NewBroker(t, skifftest.WithTopic(topic, 3))
			p := newProducer(t, b, producer.Config{Compression: codec})
			produced := produceKeyed(t, p, topic, codec.String(), 300)

			want := sortedByOffset(produced)
			require.Len(t, want, 3, "17 keys spread over every partition")
			for part, rs := range want {
				for i, r := range rs {
					require.EqualValues(t, i, r.Offset, "partition %d: offsets are dense from 0", part)
				}
			}
			// One key maps to one partition, and the producer keeps a
			// partition's records in Send order.
			keyPart := map[string]int32{}
			for _, r := range produced {
				if p, ok := keyPart[r.Key]; ok {
					assert.Equal(t, p, r.Partition, "key %s", r.Key)
				}
				keyPart[r.Key] = r.Partition
			}

			c := newConsumer(t, b, consumer.Config{GroupID: "e2e-" + codec.String(), Topics: []string{topic}, AutoOffsetReset: "earliest"})
			got := byPartition(pollUntil(t, c, len(produced)))
			assert.Equal(t, want, got)
		})
	}
}

// member runs a skiff group consumer's Poll loop and keeps what it got.
type member struct {
	c      *consumer.Consumer
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	recs []e2eRecord
	err  error
}

func startMember(t testing.TB, b *skifftest.Broker, group, topic string) *member {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{
		c:      newConsumer(t, b, consumer.Config{GroupID: group, Topics: []string{topic}, AutoOffsetReset: "earliest"}),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go func() {
		defer close(m.done)
		for {
			recs, err := m.c.Poll(ctx)
			if ctx.Err() != nil {
				return
			}
			m.mu.Lock()
			m.recs = append(m.recs, toE2E(recs)...)
			if err != nil && m.err == nil {
				m.err = err
			}
			m.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-m.done })
	return m
}

// stop ends the Poll loop (its last, cancelled Poll marks everything
// returned before as processed) and closes the consumer, which commits
// that and leaves the group.
func (m *member) stop(t testing.TB) {
	t.Helper()
	m.cancel()
	<-m.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, m.c.Close(ctx))
}

func (m *member) got() ([]e2eRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.recs), m.err
}

func owned(c *consumer.Consumer, topic string) []int32 {
	var ps []int32
	for _, tp := range c.Assignment() {
		if tp.Topic == topic {
			ps = append(ps, tp.Partition)
		}
	}
	slices.Sort(ps)
	return ps
}

// waitFor polls cond: the consumer reports rebalance outcomes through
// Assignment only, with no event to wait on.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx := e2eCtx(t)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestE2ETwoMemberGroup: two skiff consumers split a topic, each consumes
// exactly its partitions' records in order; when one closes, the other
// takes over its partitions at the committed offsets.
func TestE2ETwoMemberGroup(t *testing.T) {
	t.Parallel()
	const topic, group = "shared", "pair"
	b := skifftest.NewBroker(t, skifftest.WithTopic(topic, 4))
	p := newProducer(t, b, producer.Config{})
	a, z := startMember(t, b, group, topic), startMember(t, b, group, topic)
	waitFor(t, "both members to own two partitions", func() bool {
		pa, pz := owned(a.c, topic), owned(z.c, topic)
		return len(pa) == 2 && len(pz) == 2 && !slices.ContainsFunc(pa, func(p int32) bool { return slices.Contains(pz, p) })
	})
	aParts, zParts := owned(a.c, topic), owned(z.c, topic)

	first := produceKeyed(t, p, topic, "first", 400)
	waitFor(t, "every record consumed", func() bool {
		ra, _ := a.got()
		rz, _ := z.got()
		return len(ra)+len(rz) >= len(first)
	})
	ra, errA := a.got()
	rz, errZ := z.got()
	require.NoError(t, errA)
	require.NoError(t, errZ)
	assert.NotEmpty(t, ra)
	assert.NotEmpty(t, rz)
	for _, r := range ra {
		assert.Contains(t, aParts, r.Partition, "member a got a record of a partition it does not own")
	}
	for _, r := range rz {
		assert.Contains(t, zParts, r.Partition, "member z got a record of a partition it does not own")
	}
	assert.Equal(t, sortedByOffset(first), byPartition(append(ra, rz...)),
		"each record once, each partition in order, over a stable group")

	// a leaves (committing on Close); z gets every partition and starts
	// a's at the committed offsets, so nothing of the first round repeats.
	zFirst := len(rz)
	a.stop(t)
	waitFor(t, "the survivor to own every partition", func() bool { return len(owned(z.c, topic)) == 4 })
	second := produceKeyed(t, p, topic, "second", 200)
	waitFor(t, "the second round consumed", func() bool {
		rz, _ := z.got()
		return len(rz) >= zFirst+len(second)
	})
	rz, errZ = z.got()
	require.NoError(t, errZ)
	assert.Equal(t, sortedByOffset(second), byPartition(rz[zFirst:]),
		"after the rebalance the survivor gets the new records only, once each, in order")
}

// TestE2EProducerRetriesExactlyOnce: the broker refuses two Produce
// requests with NOT_LEADER_OR_FOLLOWER; the skiff producer refreshes
// metadata, retries, and every record lands once, in order.
func TestE2EProducerRetriesExactlyOnce(t *testing.T) {
	t.Parallel()
	const topic = "orders"
	b := skifftest.NewBroker(t, skifftest.WithTopic(topic, 1))
	p := newProducer(t, b, producer.Config{})
	ctx := e2eCtx(t)
	// Warm up so the injected failures hit Produce, not the first metadata.
	md, err := p.SendSync(ctx, producer.Record{Topic: topic, Value: []byte("warm")})
	require.NoError(t, err)
	require.Zero(t, md.Offset)

	b.FailNext(skifftest.Produce, 2, kerr.NotLeaderForPartition.Code)
	produced := produceKeyed(t, p, topic, "retried", 20)
	assert.Zero(t, b.Pending(skifftest.Produce), "both injected failures were used")

	c := newConsumer(t, b, consumer.Config{Assign: map[string][]consumer.TopicPartitionOffset{
		topic: {{Partition: 0, Offset: consumer.OffsetEarliest}},
	}})
	got := pollUntil(t, c, 1+len(produced))
	require.Equal(t, "warm", got[0].Value)
	assert.Equal(t, sortedByOffset(produced)[0], got[1:], "the retried records, once each, in Send order")
	for i, r := range got[1:] {
		assert.Equal(t, fmt.Sprintf("retried-%d", i), r.Value)
	}

	// Nothing beyond them: a short poll finds no duplicate at the end.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	more, _ := c.Poll(short)
	assert.Empty(t, more, "no record was written twice")
}
