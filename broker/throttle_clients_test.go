package broker

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
)

// quotaClient is a raw connection that names itself with its own client
// id, so each test client is its own quota entity.
type quotaClient struct {
	*rawConn
	id string
}

func dialQuota(t testing.TB, b *Broker, clientID string) *quotaClient {
	return &quotaClient{rawConn: dialRaw(t, b), id: clientID}
}

// send writes req at version and returns the request's size as the broker
// counts it (the frame without its size prefix, Kafka's sizeInBytes).
func (q *quotaClient) send(req kmsg.Request, version int16) int {
	q.t.Helper()
	req.SetVersion(version)
	q.corr++
	buf := []byte{0, 0, 0, 0}
	buf = binary.BigEndian.AppendUint16(buf, uint16(req.Key()))
	buf = binary.BigEndian.AppendUint16(buf, uint16(version))
	buf = binary.BigEndian.AppendUint32(buf, uint32(q.corr))
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(q.id)))
	buf = append(buf, q.id...)
	if req.IsFlexible() {
		buf = append(buf, 0)
	}
	buf = req.AppendTo(buf)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	q.write(buf)
	return len(buf) - 4
}

// recv reads the answer to the last request sent and the size of its
// frame (without the size prefix).
func (q *quotaClient) recv(req kmsg.Request, version int16) (kmsg.Response, int) {
	q.t.Helper()
	body, err := q.readFrame(20 * time.Second)
	require.NoError(q.t, err)
	size := len(body)
	require.Equal(q.t, q.corr, int32(binary.BigEndian.Uint32(body)), "correlation id")
	body = body[4:]
	resp := req.ResponseKind()
	resp.SetVersion(version)
	if resp.IsFlexible() {
		r := kbin.Reader{Src: body}
		kmsg.SkipTags(&r)
		require.True(q.t, r.Ok())
		body = r.Src
	}
	require.NoError(q.t, resp.ReadFrom(body))
	return resp, size
}

// mutedUntil sends ApiVersions v0 and returns when its answer arrived: a
// muted connection answers no request before its mute ends.
func (q *quotaClient) mutedUntil() time.Time {
	q.t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	q.send(req, 0)
	q.recv(req, 0)
	return time.Now()
}

func quotaAdmin(t testing.TB, b *Broker) *kadm.Client {
	return kadm.NewClient(newClient(t, b))
}

// ent builds a quota entity: "user" and "client-id" components, "" for
// the type's <default>.
func ent(kv ...string) kadm.ClientQuotaEntity {
	var e kadm.ClientQuotaEntity
	for i := 0; i < len(kv); i += 2 {
		c := kadm.ClientQuotaEntityComponent{Type: kv[i]}
		if kv[i+1] != "" {
			c.Name = kmsg.StringPtr(kv[i+1])
		}
		e = append(e, c)
	}
	return e
}

// setQuota sets (or with value 0 removes) key on e through kadm.
func setQuota(t testing.TB, adm *kadm.Client, e kadm.ClientQuotaEntity, key string, value float64) {
	t.Helper()
	res, err := adm.AlterClientQuotas(ctx(t), []kadm.AlterClientQuotaEntry{{
		Entity: e,
		Ops:    []kadm.AlterClientQuotaOp{{Key: key, Value: value, Remove: value == 0}},
	}})
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err, r.ErrMessage)
	}
}

// freshThrottle is the throttle time, in ms, of a first request of size
// bytes from an entity with quota bound on a fresh sensor with Kafka's
// default windows: the rate is over 10 windows of 1 s, so
// (size/10 - bound)/bound × 10 000 (QuotaUtils.throttleTime).
func freshThrottle(size int, bound float64) int32 {
	return int32(math.Round((float64(size)/10 - bound) / bound * 10000))
}

// boundFor is the whole-number quota under which a first request of size
// bytes is throttled for about ms milliseconds.
func boundFor(size int, ms float64) float64 {
	return math.Floor(float64(size) / 10 / (1 + ms/10000))
}

// TestQuotaProduceThrottle: a produce over producer_byte_rate gets Kafka's
// throttle time. From Produce v6 (KIP-219) it is answered at once and the
// connection is muted; before v6 the answer itself waits.
func TestQuotaProduceThrottle(t *testing.T) {
	for _, tc := range []struct {
		name     string
		version  int16
		clientID string
	}{
		{"KIP-219 v9", 9, "p9"},
		{"pre-KIP-219 v5", 5, "p5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBroker(t, Config{})
			require.NoError(t, b.CreateTopic("q", 1, nil))
			req := produceReq("q", 0, makeBatch(200, 1000, batch.NoProducer))
			q := dialQuota(t, b, tc.clientID)
			size := q.send(req, tc.version) // unthrottled: learns the size
			resp, _ := q.recv(req, tc.version)
			require.Zero(t, resp.(*kmsg.ProduceResponse).ThrottleMillis)

			const throttle = 2500.0
			bound := boundFor(size, throttle)
			setQuota(t, quotaAdmin(t, b), ent("client-id", tc.clientID), "producer_byte_rate", bound)
			want := freshThrottle(size, bound)
			require.InDelta(t, throttle, want, 10)

			start := time.Now()
			q.send(req, tc.version)
			resp, _ = q.recv(req, tc.version)
			answered := time.Since(start)
			pr := resp.(*kmsg.ProduceResponse)
			assert.Equal(t, want, pr.ThrottleMillis)
			assert.Zero(t, pr.Topics[0].Partitions[0].ErrorCode, "throttled records are still appended")
			d := time.Duration(want) * time.Millisecond
			if tc.version >= produceClientThrottleVersion {
				assert.Less(t, answered, d, "KIP-219: answered at once")
			} else {
				assert.GreaterOrEqual(t, answered, d, "the answer waits out the throttle")
			}
			assert.GreaterOrEqual(t, q.mutedUntil().Sub(start), d, "the connection is muted")
		})
	}
}

// TestQuotaFetchThrottle: a fetch over consumer_byte_rate gets Kafka's
// throttled answer: no partitions, the throttle time, a muted connection;
// before Fetch v8 the answer waits instead.
func TestQuotaFetchThrottle(t *testing.T) {
	for _, version := range []int16{11, 7} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			b := startBroker(t, Config{})
			require.NoError(t, b.CreateTopic("q", 1, nil))
			p := dialQuota(t, b, "producer")
			preq := produceReq("q", 0, makeBatch(100, 1000, batch.NoProducer))
			p.send(preq, 9)
			p.recv(preq, 9)

			free := dialQuota(t, b, "free")
			req := plainFetch("q")
			free.send(req, version)
			resp, size := free.recv(req, version)
			require.Len(t, resp.(*kmsg.FetchResponse).Topics, 1)

			const throttle = 2500.0
			bound := boundFor(size, throttle)
			adm := quotaAdmin(t, b)
			setQuota(t, adm, ent("client-id", "slow"), "consumer_byte_rate", bound)
			want := freshThrottle(size, bound)

			slow := dialQuota(t, b, "slow")
			start := time.Now()
			slow.send(req, version)
			resp, _ = slow.recv(req, version)
			answered := time.Since(start)
			fr := resp.(*kmsg.FetchResponse)
			assert.Equal(t, want, fr.ThrottleMillis)
			assert.Empty(t, fr.Topics, "a throttled fetch is answered empty")
			d := time.Duration(want) * time.Millisecond
			if version >= fetchClientThrottleVersion {
				assert.Less(t, answered, d, "KIP-219: answered at once")
			} else {
				assert.GreaterOrEqual(t, answered, d, "the answer waits out the throttle")
			}
			assert.GreaterOrEqual(t, slow.mutedUntil().Sub(start), d, "the connection is muted")

			// The free client is not slowed, and its fetches are not counted
			// against the slow one.
			start = time.Now()
			free.send(req, version)
			resp, _ = free.recv(req, version)
			assert.Zero(t, resp.(*kmsg.FetchResponse).ThrottleMillis)
			assert.Len(t, resp.(*kmsg.FetchResponse).Topics, 1)
			assert.Less(t, time.Since(start), d)
		})
	}
}

// TestQuotaLiveChange: quotas altered through kadm apply to the next
// request, on connections already open; removing them stops the
// throttling.
func TestQuotaLiveChange(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("q", 1, nil))
	adm := quotaAdmin(t, b)
	req := produceReq("q", 0, makeBatch(20, 1000, batch.NoProducer))
	produce := func(q *quotaClient) int32 {
		t.Helper()
		q.send(req, 9)
		resp, _ := q.recv(req, 9)
		return resp.(*kmsg.ProduceResponse).ThrottleMillis
	}
	c := dialQuota(t, b, "live")
	vip := dialQuota(t, b, "vip")
	size := c.send(req, 9)
	c.recv(req, 9)
	assert.Zero(t, produce(vip))

	bound := boundFor(size, 500)
	setQuota(t, adm, ent("client-id", ""), "producer_byte_rate", bound)
	setQuota(t, adm, ent("client-id", "vip"), "producer_byte_rate", 1e12)
	assert.Equal(t, freshThrottle(size, bound), produce(c), "the <default> client-id quota applies")
	assert.Zero(t, produce(vip), "a client-id's own quota comes before the default")

	setQuota(t, adm, ent("client-id", ""), "producer_byte_rate", 0)
	assert.Zero(t, produce(c), "no quota left for it")
}

// TestQuotaEntityPrecedence: on the broker, an ANONYMOUS client is
// subject to user-level quotas before client-id ones, and the SASL user
// names the entity on a SASL listener.
func TestQuotaEntityPrecedence(t *testing.T) {
	sb := startSecure(t, "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0", nil)
	b := sb.Broker
	require.NoError(t, b.CreateTopic("q", 1, nil))
	adm := quotaAdmin(t, b)
	req := produceReq("q", 0, makeBatch(20, 1000, batch.NoProducer))
	size := len(frame(req, 9, 0)) - 4 - len("raw")
	const small, big = 1000.0, 1e12
	throttled := func(q *quotaClient) bool {
		t.Helper()
		q.send(req, 9)
		resp, _ := q.recv(req, 9)
		return resp.(*kmsg.ProduceResponse).ThrottleMillis > 0
	}
	anon := func(id string) *quotaClient { return dialQuota(t, b, id) }
	alice := func(id string) *quotaClient {
		rc := dialAt(t, b.ListenerAddr("SASL_PLAINTEXT"), nil)
		require.Zero(t, handshake(rc, "PLAIN", 1).ErrorCode)
		require.Zero(t, authenticate(rc, plainToken(secUser, secPassword), 1).ErrorCode)
		return &quotaClient{rawConn: rc, id: id}
	}
	require.Greater(t, float64(size+len("a1"))/10, small, "one request exceeds the small quota")

	setQuota(t, adm, ent("client-id", ""), "producer_byte_rate", small)
	assert.True(t, throttled(anon("a1")), "/config/clients/<default>")
	assert.True(t, throttled(alice("a1")), "/config/clients/<default> for a user too")

	setQuota(t, adm, ent("user", ""), "producer_byte_rate", big)
	assert.False(t, throttled(anon("a2")), "/config/users/<default> (ANONYMOUS included) beats client-id quotas")
	assert.False(t, throttled(alice("a2")))

	setQuota(t, adm, ent("user", secUser), "producer_byte_rate", small)
	assert.True(t, throttled(alice("a3")), "/config/users/alice beats /config/users/<default>")
	assert.False(t, throttled(anon("a3")))

	setQuota(t, adm, ent("user", secUser, "client-id", "a4"), "producer_byte_rate", big)
	assert.False(t, throttled(alice("a4")), "/config/users/alice/clients/a4 beats /config/users/alice")

	setQuota(t, adm, ent("user", "", "client-id", ""), "producer_byte_rate", small)
	assert.True(t, throttled(anon("a5")), "/config/users/<default>/clients/<default> beats /config/users/<default>")
	assert.True(t, throttled(alice("a5")), "/config/users/alice still beats /config/users/<default>/clients/<default>")
}

// throttleRecorder is a kgo HookBrokerThrottle.
type throttleRecorder struct {
	mu    sync.Mutex
	total time.Duration
	n     int
	after bool
}

func (r *throttleRecorder) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, after bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total += d
	r.n++
	r.after = r.after || after
}

func (r *throttleRecorder) get() (time.Duration, int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total, r.n, r.after
}

// TestQuotaProducerKgo: a kgo producer with producer_byte_rate 1 MiB/s
// sending 5 MiB is throttled (kgo reports it through HookBrokerThrottle and
// waits the time out itself) and takes about as long as the quota allows;
// another client producing at the same time is not throttled.
//
// With quota.window.num 2 of 1 s the rate is over 1-2 s, so the quota
// lets a burst of one window's worth through: 5 MiB take about 4 s.
// Kafka's defaults (11 windows) would let a fresh client send 10 MiB
// before any throttling.
func TestQuotaProducerKgo(t *testing.T) {
	b := startBroker(t, Config{QuotaWindowNum: 2, QuotaWindowSize: time.Second})
	require.NoError(t, b.CreateTopic("q", 1, nil))
	setQuota(t, quotaAdmin(t, b), ent("client-id", "slow"), "producer_byte_rate", 1<<20)

	const total, recSize = 5 << 20, 1 << 10
	run := func(id string, rec *throttleRecorder) time.Duration {
		cl := newClient(t, b, kgo.ClientID(id), kgo.WithHooks(rec), kgo.DefaultProduceTopic("q"),
			kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(5*time.Millisecond))
		start := time.Now()
		v := make([]byte, recSize)
		var wg sync.WaitGroup
		var errMu sync.Mutex
		var firstErr error
		for range total / recSize {
			wg.Add(1)
			cl.Produce(context.Background(), &kgo.Record{Value: v}, func(_ *kgo.Record, err error) {
				defer wg.Done()
				if err != nil {
					errMu.Lock()
					firstErr = err
					errMu.Unlock()
				}
			})
		}
		wg.Wait()
		require.NoError(t, firstErr)
		return time.Since(start)
	}
	var slowRec, fastRec throttleRecorder
	var fastTook time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		fastTook = run("fast", &fastRec)
	}()
	slowTook := run("slow", &slowRec)
	<-done

	throttled, n, after := slowRec.get()
	t.Logf("slow: %v, %d throttles totalling %v; fast: %v", slowTook, n, throttled, fastTook)
	assert.Positive(t, n, "the slow producer is throttled")
	assert.True(t, after, "KIP-219: throttled after the response")
	// 5 MiB at 1 MiB/s less the one-window burst and a request in flight:
	// at least 2 s of throttling, and of wall time.
	assert.GreaterOrEqual(t, throttled, 2*time.Second)
	assert.GreaterOrEqual(t, slowTook, 2*time.Second)
	assert.Less(t, slowTook, 30*time.Second)
	_, fastN, _ := fastRec.get()
	assert.Zero(t, fastN, "the other client is not throttled")
}

// TestQuotaConsumerKgo: a kgo consumer over consumer_byte_rate gets
// throttled (empty) fetches, waits them out and still reads everything:
// each fetch asks for no more than the quota's window allows
// (maxValueInQuotaWindow), so no answer is too large ever to pass.
func TestQuotaConsumerKgo(t *testing.T) {
	b := startBroker(t, Config{QuotaWindowNum: 2, QuotaWindowSize: time.Second})
	require.NoError(t, b.CreateTopic("q", 1, nil))
	const batches, perBatch = 30, 20
	p := dialQuota(t, b, "producer")
	for range batches {
		req := produceReq("q", 0, makeBatch(perBatch, 1000, batch.NoProducer))
		p.send(req, 9)
		resp, _ := p.recv(req, 9)
		require.Zero(t, resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode)
	}
	setQuota(t, quotaAdmin(t, b), ent("client-id", "reader"), "consumer_byte_rate", 200<<10)

	var rec throttleRecorder
	cl := newClient(t, b, kgo.ClientID("reader"), kgo.WithHooks(&rec), kgo.ConsumeTopics("q"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	start := time.Now()
	got := 0
	for got < batches*perBatch {
		fs := cl.PollFetches(ctx(t))
		require.NoError(t, fs.Err0())
		got += fs.NumRecords()
	}
	took := time.Since(start)
	throttled, n, after := rec.get()
	t.Logf("read %d records in %v; %d throttles totalling %v", got, took, n, throttled)
	assert.Equal(t, batches*perBatch, got)
	assert.Positive(t, n, "the consumer is throttled")
	assert.True(t, after, "KIP-219: throttled after the response")
	// About 600 KB at 200 KiB/s less one window's burst.
	assert.GreaterOrEqual(t, took, time.Second)
}

// plainFetch reads partition 0 of topic from offset 0 without a fetch
// session and without waiting, up to 10 MiB.
func plainFetch(topic string) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes = -1, 0, 1, 50<<20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 10 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}
