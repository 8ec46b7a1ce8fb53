package broker

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kgo's consumer uses fetch sessions by default; these tests run it through
// the session cache.

// sessionConsumer tracks what one kgo consumer received.
type sessionConsumer struct {
	t    testing.TB
	cl   *kgo.Client
	got  map[int32][]string
	n    int
	logs *syncBuffer
}

func newSessionConsumer(t testing.TB, b *Broker, topic string, opts ...kgo.Opt) *sessionConsumer {
	logs := &syncBuffer{}
	cl := newClient(t, b, append([]kgo.Opt{
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.WithLogger(kgo.BasicLogger(logs, kgo.LogLevelInfo, nil)),
	}, opts...)...)
	return &sessionConsumer{t: t, cl: cl, got: make(map[int32][]string), logs: logs}
}

// pollUntil polls until n records in all arrived, failing on fetch errors.
func (sc *sessionConsumer) pollUntil(n int) {
	sc.t.Helper()
	c := ctx(sc.t)
	for sc.n < n {
		fs := sc.cl.PollFetches(c)
		require.NoError(sc.t, c.Err(), "got %d of %d records", sc.n, n)
		fs.EachError(func(topic string, p int32, err error) { sc.t.Fatalf("fetch %s[%d]: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			sc.got[r.Partition] = append(sc.got[r.Partition], string(r.Value))
			sc.n++
		})
	}
}

// syncBuffer collects a client's logs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// produceParts produces one record "<p>-<i>" to each listed partition,
// for i in [from, to).
func produceParts(t testing.TB, cl *kgo.Client, topic string, parts []int32, from, to int) {
	t.Helper()
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		for _, p := range parts {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "%d-%d", p, i)})
		}
	}
	require.NoError(t, cl.ProduceSync(ctx(t), recs...).FirstErr())
}

func partRange(from, to int32) []int32 {
	var ps []int32
	for p := from; p < to; p++ {
		ps = append(ps, p)
	}
	return ps
}

// wantRecords is what produceParts made, per partition.
func wantRecords(parts []int32, from, to int, into map[int32][]string) {
	for _, p := range parts {
		for i := from; i < to; i++ {
			into[p] = append(into[p], fmt.Sprintf("%d-%d", p, i))
		}
	}
}

// TestFetchSessionKgoManyPartitions: a kgo consumer of 200 partitions reads
// everything exactly once, in order, through one session and incremental
// fetches, while partitions get records early, late, and in the middle of
// consuming; after the first fetch its requests are small.
func TestFetchSessionKgoManyPartitions(t *testing.T) {
	const parts = 200
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("many", parts, nil))
	prod := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))

	var mu sync.Mutex
	var fetchSizes []int
	hook := brokerWriteHook(func(key int16, n int) {
		if key == 1 {
			mu.Lock()
			fetchSizes = append(fetchSizes, n)
			mu.Unlock()
		}
	})
	sc := newSessionConsumer(t, b, "many", kgo.WithHooks(hook))
	want := make(map[int32][]string)

	early := partRange(0, parts/2)
	produceParts(t, prod, "many", early, 0, 2)
	wantRecords(early, 0, 2, want)
	sc.pollUntil(len(early) * 2)

	// Partitions that had nothing so far get records late.
	late := partRange(parts/2, parts)
	produceParts(t, prod, "many", late, 0, 1)
	wantRecords(late, 0, 1, want)
	sc.pollUntil(parts + parts/2)

	// Records keep arriving while the consumer reads: a producer
	// goroutine writes rounds to every third partition.
	third := slices.DeleteFunc(partRange(0, parts), func(p int32) bool { return p%3 != 0 })
	done := make(chan struct{})
	go func() {
		defer close(done)
		for round := 2; round < 6; round++ {
			recs := make([]*kgo.Record, 0, len(third))
			for _, p := range third {
				recs = append(recs, &kgo.Record{Topic: "many", Partition: p, Value: fmt.Appendf(nil, "%d-%d", p, round)})
			}
			if err := prod.ProduceSync(ctx(t), recs...).FirstErr(); err != nil {
				t.Errorf("produce: %v", err)
				return
			}
		}
	}()
	for _, p := range third {
		for i := 2; i < 6; i++ {
			want[p] = append(want[p], fmt.Sprintf("%d-%d", p, i))
		}
	}
	total := 0
	for _, v := range want {
		total += len(v)
	}
	sc.pollUntil(total)
	<-done

	assert.Equal(t, want, sc.got, "every record once, in order per partition")
	st := b.fetchSessions.stats()
	assert.Equal(t, 1, st.sessions)
	assert.Equal(t, parts, st.partitions)
	assert.Positive(t, st.incrementals)
	assert.NotContains(t, sc.logs.String(), "resetting", "the session was never reset")

	// Idle fetches of the session list nothing; the fetches that brought
	// partitions into it listed them all between them. kgo starts fetching
	// a partition once its start offset is known, so its very first fetch
	// may list only a few (it did: 622 bytes once, against 1-7 KB usually);
	// the largest fetch before the idle ones is the one to compare with.
	mu.Lock()
	idle := len(fetchSizes) + 1 // the one in flight may carry offsets
	mu.Unlock()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(fetchSizes) >= idle+3
	}, 10*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	listing, idleMax := slices.Max(fetchSizes[:idle]), slices.Max(fetchSizes[idle:])
	t.Logf("fetch request bytes: largest listing partitions %d, idle incremental %d", listing, idleMax)
	assert.Less(t, idleMax*20, listing, "incremental fetches list only what changed")
}

// brokerWriteHook calls f with each request's key and bytes written.
type brokerWriteHook func(key int16, n int)

func (h brokerWriteHook) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, n int, _, _ time.Duration, err error) {
	if err == nil {
		h(key, n)
	}
}

// TestFetchSessionKgoPause: pausing partitions makes kgo forget them from
// its session (ForgottenTopics); resuming adds them back with their
// position, and nothing is lost or repeated.
func TestFetchSessionKgoPause(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("pz", 4, nil))
	prod := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	sc := newSessionConsumer(t, b, "pz")
	all := partRange(0, 4)
	want := make(map[int32][]string)
	produceParts(t, prod, "pz", all, 0, 1)
	wantRecords(all, 0, 1, want)
	sc.pollUntil(4)
	require.Equal(t, 4, b.fetchSessions.stats().partitions)

	sc.cl.PauseFetchPartitions(map[string][]int32{"pz": {2, 3}})
	require.Eventually(t, func() bool { return b.fetchSessions.stats().partitions == 2 }, 10*time.Second, 5*time.Millisecond,
		"paused partitions leave the session")
	produceParts(t, prod, "pz", all, 1, 2)
	wantRecords([]int32{0, 1}, 1, 2, want)
	sc.pollUntil(6)
	assert.Equal(t, want, sc.got, "nothing of the paused partitions")

	sc.cl.ResumeFetchPartitions(map[string][]int32{"pz": {2, 3}})
	wantRecords([]int32{2, 3}, 1, 2, want)
	sc.pollUntil(8)
	assert.Equal(t, want, sc.got)
	assert.Equal(t, 4, b.fetchSessions.stats().partitions)
	assert.Equal(t, 1, b.fetchSessions.stats().sessions)
}

// TestFetchSessionKgoReconnect: a fetch connection dropped mid-session
// makes kgo reconnect and start over with epoch 0 and its old id, which
// closes the old session: one session stays, and consuming goes on
// without loss or repetition.
func TestFetchSessionKgoReconnect(t *testing.T) {
	var fetches atomic.Int64
	b := startBroker(t, Config{Faults: func(key, _ int16) Fault {
		if key == 1 && fetches.Add(1) == 4 {
			return Fault{Drop: true}
		}
		return Fault{}
	}})
	require.NoError(t, b.CreateTopic("rc", 3, nil))
	prod := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	sc := newSessionConsumer(t, b, "rc")
	all := partRange(0, 3)
	want := make(map[int32][]string)
	for round := range 6 {
		produceParts(t, prod, "rc", all, round, round+1)
		wantRecords(all, round, round+1, want)
		sc.pollUntil(3 * (round + 1))
	}
	require.GreaterOrEqual(t, fetches.Load(), int64(4), "the drop happened")
	assert.Equal(t, want, sc.got)
	st := b.fetchSessions.stats()
	assert.Equal(t, 1, st.sessions, "the old session was closed, not leaked")
	assert.Positive(t, st.incrementals)
}

// TestFetchSessionKgoEviction: with one slot, a bigger session evicts a kgo
// consumer's established one; the consumer gets FETCH_SESSION_ID_NOT_FOUND
// on its next fetch, starts over (with a new session or, declined, with
// full fetches) and reads everything once.
//
// The bigger session comes from a raw Fetch, not a second kgo consumer:
// kgo can send its first fetch before all of its partitions' offsets are
// loaded, and a first fetch no bigger than the established session is
// declined, after which kgo never tries a session again (this failed CI
// once).
func TestFetchSessionKgoEviction(t *testing.T) {
	const evictMin = 300 * time.Millisecond
	b := startBroker(t, Config{FetchSessionCacheSlots: 1, FetchSessionEvictionMin: evictMin})
	require.NoError(t, b.CreateTopic("ea", 2, nil))
	require.NoError(t, b.CreateTopic("eb", 4, nil))
	prod := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	a := newSessionConsumer(t, b, "ea")
	produceParts(t, prod, "ea", partRange(0, 2), 0, 1)
	a.pollUntil(2)
	// A's session becomes evictable by size once it was used more than
	// evictMin after its creation; it fetches every 100ms.
	require.Eventually(t, func() bool {
		c := b.fetchSessions
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, s := range c.sessions {
			return s.evictByAll
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)

	big := sessFetch{parts: map[int32]int64{0: 0, 1: 0, 2: 0, 3: 0}}
	resp := dialRaw(t, b).roundTrip(big.request("eb", [16]byte{}), 12).(*kmsg.FetchResponse)
	require.Zero(t, resp.ErrorCode)
	assert.Positive(t, resp.SessionID, "four partitions evict an established session of two")
	assert.GreaterOrEqual(t, b.fetchSessions.stats().evictions, 1)
	require.Eventually(t, func() bool { return strings.Contains(a.logs.String(), "SessionIDNotFound") },
		10*time.Second, 5*time.Millisecond, "a is told its session is gone")

	produceParts(t, prod, "ea", partRange(0, 2), 1, 3)
	a.pollUntil(6)
	wantA := map[int32][]string{}
	wantRecords(partRange(0, 2), 0, 3, wantA)
	assert.Equal(t, wantA, a.got)
	assert.Equal(t, 1, b.fetchSessions.stats().sessions)
}

// TestFetchSessionKgoGroupRebalance: when a second group member joins, the
// partitions revoked from the first leave its session (ForgottenTopics)
// and join the second's: the cache ends with two sessions holding the four
// partitions once each, and every record is read once.
func TestFetchSessionKgoGroupRebalance(t *testing.T) {
	b := startBroker(t, Config{GroupInitialRebalanceDelay: -1})
	require.NoError(t, b.CreateTopic("gr", 4, nil))
	prod := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	group := []kgo.Opt{kgo.ConsumerGroup("g-fs"), kgo.Balancers(kgo.CooperativeStickyBalancer())}
	a := newSessionConsumer(t, b, "gr", group...)
	all := partRange(0, 4)
	produceParts(t, prod, "gr", all, 0, 1)
	a.pollUntil(4)
	require.Equal(t, 4, b.fetchSessions.stats().partitions)

	c := newSessionConsumer(t, b, "gr", group...)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var polled sync.Map // value -> count, from both members after the join
	for _, m := range []*sessionConsumer{a, c} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				pctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				fs := m.cl.PollFetches(pctx)
				cancel()
				fs.EachRecord(func(r *kgo.Record) {
					n, _ := polled.LoadOrStore(string(r.Value), new(atomic.Int64))
					n.(*atomic.Int64).Add(1)
				})
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	require.Eventually(t, func() bool {
		st := b.fetchSessions.stats()
		return st.sessions == 2 && st.partitions == 4
	}, 20*time.Second, 10*time.Millisecond, "revoked partitions moved from one session to the other")

	produceParts(t, prod, "gr", all, 1, 3)
	want := map[string]bool{}
	for _, p := range all {
		for i := 1; i < 3; i++ {
			want[fmt.Sprintf("%d-%d", p, i)] = true
		}
	}
	require.Eventually(t, func() bool {
		n := 0
		polled.Range(func(k, _ any) bool {
			if want[k.(string)] {
				n++
			}
			return true
		})
		return n == len(want)
	}, 20*time.Second, 10*time.Millisecond)
	polled.Range(func(k, v any) bool {
		if want[k.(string)] {
			assert.EqualValues(t, 1, v.(*atomic.Int64).Load(), "%s read once", k)
		}
		return true
	})
}
