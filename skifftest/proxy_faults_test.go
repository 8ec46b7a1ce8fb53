package skifftest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/producer"
	"github.com/skiffkit/skiff/skifftest"
)

// Clients through a faulty network, end to end: the proxy breaks the
// connections, the bundled broker keeps the truth, and everything is read
// back from the broker directly to check what the client did.

// readAll reads every record of topic straight from the broker (no proxy)
// with franz-go, up to the partitions' end offsets at the time of the call.
func readAll(t testing.TB, ctx context.Context, b *skifftest.Broker, topic string) map[int32][]*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	require.NoError(t, err)
	defer cl.Close()

	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = &topic
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Len(t, mresp.Topics, 1)
	for _, p := range mresp.Topics[0].Partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p.Partition, -1 // latest
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	end := map[int32]int64{}
	parts := map[int32]kgo.Offset{}
	for _, p := range resp.Topics[0].Partitions {
		require.Zero(t, p.ErrorCode, "ListOffsets partition %d", p.Partition)
		if p.Offset > 0 {
			end[p.Partition] = p.Offset
			parts[p.Partition] = kgo.NewOffset().AtStart()
		}
	}

	out := map[int32][]*kgo.Record{}
	if len(end) == 0 {
		return out
	}
	rd, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))
	require.NoError(t, err)
	defer rd.Close()
	done := func() bool {
		for p, e := range end {
			if n := len(out[p]); n == 0 || out[p][n-1].Offset+1 < e {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := rd.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "reading %s back", topic)
		fs.EachError(func(_ string, p int32, err error) { t.Errorf("read back partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < end[r.Partition] {
				out[r.Partition] = append(out[r.Partition], r)
			}
		})
	}
	return out
}

// TestProxyIdempotentProducerSurvivesResetsAndBlackholes: the skiff
// idempotent producer (acks=all) sends keyed records while the proxy resets
// its connection four times, cutting requests (to-broker) and responses
// (to-client) in the middle, and then blackholes it, responses only and
// then both ways, each time until the producer gives up on the connection
// and dials again. Read back from the broker: every record once, each
// key's records in send order.
func TestProxyIdempotentProducerSurvivesResetsAndBlackholes(t *testing.T) {
	t.Parallel()
	const (
		topic = "idempotent"
		keys  = 13
		total = 3500
	)
	b := skifftest.NewBroker(t, skifftest.WithTopic(topic, 3))
	p := skifftest.NewProxy(t, b.Addr())
	ctx := pxCtx(t, 25*time.Second)

	prod, err := producer.New(producer.Config{
		Brokers:         []string{p.Addr()},
		Acks:            producer.AcksAll,
		Linger:          time.Millisecond,
		BatchSize:       2048, // many small requests, five in flight
		RequestTimeout:  time.Second,
		DeliveryTimeout: 20 * time.Second,
		RetryBackoff:    10 * time.Millisecond,
		RetryBackoffMax: 100 * time.Millisecond,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, prod.Close(c))
	})

	var (
		mu    sync.Mutex
		errs  []error
		acked int
	)
	// The records go in six phases, each handed to Send without waiting
	// for acknowledgements; a fault is armed before a phase, so that
	// phase's traffic runs into it.
	const phases = 7
	next := 0
	sendPhase := func() {
		t.Helper()
		end := min(next+total/phases, total)
		for ; next < end; next++ {
			i := next
			rec := producer.Record{Topic: topic, Key: []byte("k" + strconv.Itoa(i%keys)), Value: []byte(strconv.Itoa(i / keys))}
			require.NoError(t, prod.Send(ctx, rec, func(_ producer.RecordMetadata, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				} else {
					acked++
				}
			}), "send %d", i)
		}
	}
	sendPhase()

	// Four resets, alternating the direction: a cut request is simply
	// lost; a cut response means the broker wrote the batch and the
	// producer does not know, so its retry must be recognised as a
	// duplicate (DUPLICATE_SEQUENCE_NUMBER), not written again. The byte
	// counts are below one phase's traffic each way.
	for i, f := range []struct {
		d skifftest.Direction
		n int64
	}{{skifftest.ToBroker, 1500}, {skifftest.ToClient, 60}, {skifftest.ToBroker, 700}, {skifftest.ToClient, 150}} {
		before := p.Stats().Resets
		p.ResetAfter(f.d, f.n)
		sendPhase()
		pxWait(t, ctx, p, fmt.Sprintf("reset %d (%s)", i+1, f.d), func(s skifftest.ProxyStats) bool { return s.Resets > before })
		p.ResetAfter(f.d, 0)
	}

	// Two blackholes. To the client only: the requests are written, the
	// answers held, so every retry after the timeout is a duplicate the
	// broker must recognise. Both ways: the requests themselves are held
	// and reach the broker after Heal, after the producer's retries on a
	// new connection, as a late TCP retransmission would. Each time the
	// producer's request timeout fires, and it drops the connection and
	// dials again (into the blackhole too: new connections are held
	// alike). The flush first lets the producer reconnect after the last
	// fault, so its produce requests, not a new connection's ApiVersions,
	// are what gets caught.
	for _, d := range []skifftest.Direction{skifftest.ToClient, skifftest.BothWays} {
		require.NoError(t, prod.Flush(ctx))
		s := p.Stats()
		p.Blackhole(d)
		sendPhase()
		pxWait(t, ctx, p, "a produce request caught", func(st skifftest.ProxyStats) bool {
			return st.Requests[skifftest.Produce] > s.Requests[skifftest.Produce] && st.Held[0]+st.Held[1] > 0
		})
		caught := time.Now()
		pxWait(t, ctx, p, "the producer to give up its connection and dial again", func(st skifftest.ProxyStats) bool {
			return st.Accepted > s.Accepted
		})
		assert.GreaterOrEqual(t, time.Since(caught), time.Second, "not before request.timeout.ms")
		p.Heal()
	}
	require.Equal(t, total, next)

	require.NoError(t, prod.Flush(ctx))
	mu.Lock()
	require.Empty(t, errs)
	require.Equal(t, total, acked)
	mu.Unlock()
	st := p.Stats()
	assert.GreaterOrEqual(t, st.Resets, 4)
	t.Logf("proxy: %+v", st)

	// Read back from the broker: per key, 0, 1, 2, ... with nothing
	// missing, nothing twice, in order.
	perKey := map[string][]int{}
	keyPart := map[string]int32{}
	for part, recs := range readAll(t, ctx, b, topic) {
		for _, r := range recs {
			k := string(r.Key)
			if pp, ok := keyPart[k]; ok {
				require.Equal(t, pp, part, "key %s in two partitions", k)
			}
			keyPart[k] = part
			n, err := strconv.Atoi(string(r.Value))
			require.NoError(t, err)
			perKey[k] = append(perKey[k], n)
		}
	}
	require.Len(t, perKey, keys)
	stored := 0
	for _, seq := range perKey {
		stored += len(seq)
	}
	assert.Equal(t, total, stored, "as many records stored as sent")
	for k, seq := range perKey {
		want := make([]int, 0, total/keys+1)
		for i := range seq {
			want = append(want, i)
		}
		if !assert.Equal(t, want, seq, "key %s: every record once, in send order", k) {
			break // one key's diff says enough
		}
	}
}

// groupMember runs a skiff group consumer's Poll loop and publishes its
// assignment on every rebalance callback, so tests wait on rebalances.
type groupMember struct {
	name   string
	c      *consumer.Consumer
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	owned   map[int32]bool
	recs    []consumer.Record
	changed chan struct{} // closed and replaced on every callback and Poll result
}

func startGroupMember(t testing.TB, name, addr, group, topic string) *groupMember {
	t.Helper()
	m := &groupMember{name: name, owned: map[int32]bool{}, changed: make(chan struct{}), done: make(chan struct{})}
	update := func(add bool) func(context.Context, *consumer.Consumer, []consumer.TopicPartition) {
		return func(_ context.Context, _ *consumer.Consumer, tps []consumer.TopicPartition) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, tp := range tps {
				if add {
					m.owned[tp.Partition] = true
				} else {
					delete(m.owned, tp.Partition)
				}
			}
			m.notifyLocked()
		}
	}
	c, err := consumer.New(consumer.Config{
		Brokers:         []string{addr},
		ClientID:        name,
		GroupID:         group,
		Topics:          []string{topic},
		AutoOffsetReset: "earliest",
		Assignors:       []string{consumer.AssignorRange},
		// The bundled broker keeps Kafka's group.min.session.timeout.ms
		// of 6s, so that is the shortest session a member can have.
		SessionTimeout:     6 * time.Second,
		HeartbeatInterval:  200 * time.Millisecond,
		RequestTimeout:     2 * time.Second,
		FetchMaxWait:       100 * time.Millisecond,
		AutoCommitInterval: 200 * time.Millisecond,
		Rebalance:          consumer.RebalanceFuncs{Assigned: update(true), Revoked: update(false), Lost: update(false)},
	})
	require.NoError(t, err)
	m.c = c
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			recs, err := c.Poll(ctx)
			if err != nil {
				continue // a blackholed member's errors are expected; what it consumes is checked
			}
			m.mu.Lock()
			m.recs = append(m.recs, recs...)
			m.notifyLocked()
			m.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-m.done
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		if err := c.Close(cctx); !errors.Is(err, consumer.ErrClosed) {
			assert.NoError(t, err, "close %s", name)
		}
	})
	return m
}

// startKgoMember is startGroupMember with franz-go as the client.
func startKgoMember(t testing.TB, name, addr, group, topic string) *groupMember {
	t.Helper()
	m := &groupMember{name: name, owned: map[int32]bool{}, changed: make(chan struct{}), done: make(chan struct{})}
	update := func(add bool) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range ps[topic] {
				if add {
					m.owned[p] = true
				} else {
					delete(m.owned, p)
				}
			}
			m.notifyLocked()
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID(name),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(200*time.Millisecond),
		kgo.RequestTimeoutOverhead(2*time.Second), kgo.FetchMaxWait(100*time.Millisecond),
		kgo.AutoCommitInterval(200*time.Millisecond),
		kgo.OnPartitionsAssigned(update(true)), kgo.OnPartitionsRevoked(update(false)), kgo.OnPartitionsLost(update(false)))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			var recs []consumer.Record
			fs.EachRecord(func(r *kgo.Record) {
				recs = append(recs, consumer.Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Value: r.Value})
			})
			m.mu.Lock()
			m.recs = append(m.recs, recs...)
			m.notifyLocked()
			m.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-m.done
		cl.Close()
	})
	return m
}

func (m *groupMember) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// snapshot returns the member's partitions, its records so far, and a
// channel closed at its next change.
func (m *groupMember) snapshot() ([]int32, []consumer.Record, <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ps []int32
	for p := range m.owned {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps, slices.Clone(m.recs), m.changed
}

// waitMembers waits, on the members' change events, until cond holds for
// their partitions.
func waitMembers(t testing.TB, ctx context.Context, what string, ms []*groupMember, cond func(owned [][]int32, recs [][]consumer.Record) bool) {
	t.Helper()
	for {
		owned := make([][]int32, len(ms))
		recs := make([][]consumer.Record, len(ms))
		chans := make([]<-chan struct{}, len(ms))
		for i, m := range ms {
			owned[i], recs[i], chans[i] = m.snapshot()
		}
		if cond(owned, recs) {
			return
		}
		// Wake on the first change of any member.
		woke := make(chan struct{})
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, ch := range chans {
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case <-ch:
					select {
					case woke <- struct{}{}:
					case <-stop:
					}
				case <-stop:
				}
			}()
		}
		select {
		case <-woke:
		case <-ctx.Done():
		}
		close(stop)
		wg.Wait()
		if ctx.Err() != nil {
			t.Fatalf("timed out waiting for %s; partitions %v", what, owned)
		}
	}
}

// TestProxyBlackholedGroupMemberIsEvicted: three skiff consumers share a
// topic of six partitions; one (a skiff consumer, or franz-go's) reaches
// the broker through the proxy, which then blackholes it. Its heartbeats stop arriving, so the coordinator
// evicts it after session.timeout.ms (and not before), and the other two
// take its partitions over and consume their records.
func TestProxyBlackholedGroupMemberIsEvicted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		start func(t testing.TB, name, addr, group, topic string) *groupMember
	}{
		{"skiff", startGroupMember},
		{"kgo", startKgoMember},
	} {
		t.Run(tc.name+" victim", func(t *testing.T) {
			t.Parallel()
			testBlackholedMemberEvicted(t, tc.start)
		})
	}
}

func testBlackholedMemberEvicted(t *testing.T, startVictim func(t testing.TB, name, addr, group, topic string) *groupMember) {
	const (
		topic   = "evict"
		group   = "evict-group"
		session = 6 * time.Second
	)
	b := skifftest.NewBroker(t, skifftest.WithTopic(topic, 6))
	p := skifftest.NewProxy(t, b.Addr())
	ctx := pxCtx(t, 28*time.Second)

	victim := startVictim(t, "victim", p.Addr(), group, topic)
	a := startGroupMember(t, "a", b.Addr(), group, topic)
	z := startGroupMember(t, "z", b.Addr(), group, topic)
	all := []*groupMember{victim, a, z}
	waitMembers(t, ctx, "two partitions each", all, func(owned [][]int32, _ [][]consumer.Record) bool {
		return len(owned[0]) == 2 && len(owned[1]) == 2 && len(owned[2]) == 2
	})
	victimParts, _, _ := victim.snapshot()

	p.Blackhole(skifftest.BothWays)
	// The heal is deferred past the checks, and before the members'
	// cleanup, so the victim can still close cleanly.
	defer p.Heal()
	start := time.Now()
	waitMembers(t, ctx, "the survivors to own all six partitions", all[1:], func(owned [][]int32, _ [][]consumer.Record) bool {
		return len(owned[0])+len(owned[1]) == 6
	})
	took := time.Since(start)
	t.Logf("survivors took over after %v", took)
	// The victim's last heartbeat was at most one interval before the
	// blackhole; eviction cannot come before the session ends.
	assert.GreaterOrEqual(t, took, session-time.Second, "evicted only after session.timeout.ms")

	// The records of the victim's former partitions go to the survivors.
	pr, err := producer.New(producer.Config{Brokers: []string{b.Addr()}})
	require.NoError(t, err)
	defer func() { assert.NoError(t, pr.Close(context.Background())) }()
	const n = 120
	for i := range n {
		_, err := pr.SendSync(ctx, producer.Record{Topic: topic, Partition: producer.ToPartition(int32(i % 6)), Value: []byte(strconv.Itoa(i))})
		require.NoError(t, err)
	}
	waitMembers(t, ctx, "the survivors to consume every record", all[1:], func(_ [][]int32, recs [][]consumer.Record) bool {
		return len(recs[0])+len(recs[1]) >= n
	})
	_, ra, _ := a.snapshot()
	_, rz, _ := z.snapshot()
	fromVictim := 0
	seen := map[string]bool{}
	for _, r := range append(ra, rz...) {
		assert.False(t, seen[string(r.Value)], "record %s twice", r.Value)
		seen[string(r.Value)] = true
		if slices.Contains(victimParts, r.Partition) {
			fromVictim++
		}
	}
	assert.Len(t, seen, n)
	assert.Equal(t, 2*n/6, fromVictim, "the victim's partitions were consumed by the others")
}

// TestProxyBlackholedFetchTimesOut: a consumer's fetch is sent into a
// blackhole; after request.timeout.ms (plus the fetch's max wait) the
// client gives the connection up and dials again, and once healed it goes
// on from where it was: nothing skipped, nothing twice. Run with the skiff
// consumer and with franz-go.
func TestProxyBlackholedFetchTimesOut(t *testing.T) {
	t.Parallel()
	const reqTimeout, fetchMaxWait = time.Second, 100 * time.Millisecond
	for _, tc := range []struct {
		name  string
		start func(t *testing.T, addr, topic string) (poll func(context.Context) ([]string, error))
	}{
		{"skiff", func(t *testing.T, addr, topic string) func(context.Context) ([]string, error) {
			c, err := consumer.New(consumer.Config{
				Brokers:        []string{addr},
				Assign:         map[string][]consumer.TopicPartitionOffset{topic: {{Partition: 0, Offset: consumer.OffsetEarliest}}},
				FetchMaxWait:   fetchMaxWait,
				RequestTimeout: reqTimeout,
				RetryBackoff:   20 * time.Millisecond,
			})
			require.NoError(t, err)
			t.Cleanup(func() {
				cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				assert.NoError(t, c.Close(cctx))
			})
			return func(ctx context.Context) ([]string, error) {
				recs, err := c.Poll(ctx)
				var vs []string
				for _, r := range recs {
					vs = append(vs, string(r.Value))
				}
				return vs, err
			}
		}},
		{"kgo", func(t *testing.T, addr, topic string) func(context.Context) ([]string, error) {
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
				kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
				kgo.FetchMaxWait(fetchMaxWait),
				// kgo's read deadline for a fetch is its max wait plus
				// this overhead, its request.timeout.ms.
				kgo.RequestTimeoutOverhead(reqTimeout),
				kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }))
			require.NoError(t, err)
			t.Cleanup(cl.Close)
			return func(ctx context.Context) ([]string, error) {
				fs := cl.PollFetches(ctx)
				var vs []string
				fs.EachRecord(func(r *kgo.Record) { vs = append(vs, string(r.Value)) })
				var errs []error
				fs.EachError(func(_ string, _ int32, err error) {
					if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
						errs = append(errs, err)
					}
				})
				return vs, errors.Join(errs...)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const topic = "fetch-timeout"
			b := skifftest.NewBroker(t, skifftest.WithTopic(topic, 1))
			p := skifftest.NewProxy(t, b.Addr())
			ctx := pxCtx(t, 20*time.Second)
			pr, err := producer.New(producer.Config{Brokers: []string{b.Addr()}})
			require.NoError(t, err)
			defer func() { assert.NoError(t, pr.Close(context.Background())) }()
			produce := func(from, to int) {
				for i := from; i < to; i++ {
					_, err := pr.SendSync(ctx, producer.Record{Topic: topic, Value: []byte(strconv.Itoa(i))})
					require.NoError(t, err)
				}
			}

			// Poll runs in its own goroutine, as in an application;
			// results come back on a channel.
			poll := tc.start(t, p.Addr(), topic)
			type result struct {
				vals []string
				err  error
			}
			results := make(chan result)
			pollCtx, stopPoll := context.WithCancel(ctx)
			pollDone := make(chan struct{})
			go func() {
				defer close(pollDone)
				for pollCtx.Err() == nil {
					vs, err := poll(pollCtx)
					if pollCtx.Err() != nil {
						return
					}
					select {
					case results <- result{vs, err}:
					case <-pollCtx.Done():
						return
					}
				}
			}()
			defer func() { stopPoll(); <-pollDone }()
			var got []string
			collect := func(n int) {
				t.Helper()
				for len(got) < n {
					select {
					case r := <-results:
						require.NoError(t, r.err)
						got = append(got, r.vals...)
					case <-ctx.Done():
						t.Fatalf("consumed %d of %d records: %v", len(got), n, got)
					}
				}
			}

			produce(0, 10)
			collect(10)

			// The consumer long-polls without pause, so a fetch is in
			// flight or about to be: either it is caught in the blackhole
			// or its response is. The client can only give up on it, and
			// a fetch's time, request.timeout.ms, counts from its send,
			// at most one max wait before the blackhole began.
			s := p.Stats()
			p.Blackhole(skifftest.BothWays)
			defer p.Heal()
			held := time.Now()
			st := pxWait(t, ctx, p, "the client to dial again after its fetch timed out", func(st skifftest.ProxyStats) bool {
				return st.Accepted > s.Accepted
			})
			assert.GreaterOrEqual(t, time.Since(held), reqTimeout-fetchMaxWait, "not before the request timeout")
			assert.Positive(t, st.Held[0]+st.Held[1], "bytes held in the blackhole")
			assert.Positive(t, st.Requests[skifftest.Fetch], "the consumer fetched through the proxy")

			produce(10, 20)
			p.Heal()
			collect(20)
			want := make([]string, 20)
			for i := range want {
				want[i] = strconv.Itoa(i)
			}
			assert.Equal(t, want, got, "after the heal the consumer goes on where it was")
		})
	}
}
