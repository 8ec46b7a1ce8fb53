package coordinator

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeBroker is the smallest Kafka broker a franz-go group consumer runs
// against: ApiVersions, Metadata (one topic), empty Fetch and ListOffsets,
// and every group API routed to a real Coordinator. It exists to prove the
// coordinator's wire compatibility without the broker package.
type fakeBroker struct {
	t      testing.TB
	ln     net.Listener
	topic  string
	parts  int32
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex // guards coord, conns and fetchd
	coord  *Coordinator
	conns  map[net.Conn]struct{}
	fetchd map[int32]int64 // partition → highest fetch offset requested
}

func startFakeBroker(t testing.TB, topic string, parts int32) *fakeBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &fakeBroker{t: t, ln: ln, topic: topic, parts: parts, done: make(chan struct{}),
		conns: map[net.Conn]struct{}{}, fetchd: map[int32]int64{}}
	b.wg.Go(b.accept)
	t.Cleanup(b.close)
	return b
}

func (b *fakeBroker) setCoordinator(c *Coordinator) {
	b.mu.Lock()
	b.coord = c
	b.mu.Unlock()
}

func (b *fakeBroker) port() int32 { return int32(b.ln.Addr().(*net.TCPAddr).Port) }

func (b *fakeBroker) close() {
	close(b.done)
	b.ln.Close()
	b.mu.Lock()
	for cn := range b.conns {
		cn.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *fakeBroker) fetchOffset(p int32) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if o, ok := b.fetchd[p]; ok {
		return o
	}
	return -1
}

func (b *fakeBroker) accept() {
	for {
		cn, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.conns[cn] = struct{}{}
		b.mu.Unlock()
		b.wg.Go(func() { b.serve(cn) })
	}
}

// serve reads requests in order and writes responses in the same order,
// whenever each one is ready, as a Kafka broker does per connection.
func (b *fakeBroker) serve(cn net.Conn) {
	defer cn.Close()
	slots := make(chan chan []byte, 128)
	b.wg.Go(func() {
		for slot := range slots {
			select {
			case buf := <-slot:
				if _, err := cn.Write(buf); err != nil {
					cn.Close()
				}
			case <-b.done:
				return
			}
		}
	})
	defer close(slots)
	r := bufio.NewReader(cn)
	for {
		var size [4]byte
		if _, err := io.ReadFull(r, size[:]); err != nil {
			return
		}
		buf := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		req, corr, clientID, err := parseRequest(buf)
		if err != nil {
			b.t.Errorf("fake broker: %v", err)
			return
		}
		slot := make(chan []byte, 1)
		slots <- slot
		respond := func(resp kmsg.Response) {
			out := binary.BigEndian.AppendUint32(make([]byte, 4, 64), uint32(corr))
			if resp.IsFlexible() && resp.Key() != 18 {
				out = append(out, 0) // response header v1 tags
			}
			out = resp.AppendTo(out)
			binary.BigEndian.PutUint32(out, uint32(len(out)-4))
			slot <- out
		}
		host, _, _ := net.SplitHostPort(cn.RemoteAddr().String())
		b.handle(Client{ID: clientID, Host: host}, req, respond)
	}
}

func parseRequest(buf []byte) (kmsg.Request, int32, string, error) {
	if len(buf) < 10 {
		return nil, 0, "", errors.New("short request")
	}
	key, version := int16(binary.BigEndian.Uint16(buf)), int16(binary.BigEndian.Uint16(buf[2:]))
	corr := int32(binary.BigEndian.Uint32(buf[4:]))
	idLen := int(int16(binary.BigEndian.Uint16(buf[8:])))
	rest := buf[10:]
	var clientID string
	if idLen > 0 {
		if len(rest) < idLen {
			return nil, 0, "", errors.New("short client id")
		}
		clientID, rest = string(rest[:idLen]), rest[idLen:]
	}
	req := kmsg.RequestForKey(key)
	if req == nil {
		return nil, 0, "", fmt.Errorf("unknown key %d", key)
	}
	req.SetVersion(version)
	if req.IsFlexible() {
		// Request header v2 tagged fields: this test's client sends none.
		n, w := binary.Uvarint(rest)
		if w <= 0 || n != 0 {
			return nil, 0, "", errors.New("unexpected header tags")
		}
		rest = rest[w:]
	}
	if err := req.ReadFrom(rest); err != nil {
		return nil, 0, "", fmt.Errorf("key %d v%d: %w", key, version, err)
	}
	return req, corr, clientID, nil
}

// versions this fake advertises: the coordinator's keys at everything kmsg
// knows except the topic-id versions (v10), which need a broker that hands
// out topic ids.
var fakeVersions = map[int16][2]int16{
	1: {4, 11}, 2: {1, 5}, 3: {0, 8}, 18: {0, 3},
	8: {0, 9}, 9: {0, 9}, 10: {0, 6}, 11: {0, 9}, 12: {0, 4}, 13: {0, 5}, 14: {0, 5}, 15: {0, 6}, 16: {0, 5}, 42: {0, 3},
}

func (b *fakeBroker) handle(cl Client, req kmsg.Request, respond func(kmsg.Response)) {
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest:
		resp := r.ResponseKind().(*kmsg.ApiVersionsResponse)
		for key, v := range fakeVersions {
			resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: key, MinVersion: v[0], MaxVersion: v[1]})
		}
		respond(resp)
	case *kmsg.MetadataRequest:
		resp := r.ResponseKind().(*kmsg.MetadataResponse)
		resp.Brokers = []kmsg.MetadataResponseBroker{{NodeID: 0, Host: "127.0.0.1", Port: b.port()}}
		resp.ControllerID = 0
		topic := b.topic
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic = &topic
		for p := range b.parts {
			mp := kmsg.NewMetadataResponseTopicPartition()
			mp.Partition, mp.Leader, mp.Replicas, mp.ISR = p, 0, []int32{0}, []int32{0}
			mt.Partitions = append(mt.Partitions, mp)
		}
		resp.Topics = []kmsg.MetadataResponseTopic{mt}
		respond(resp)
	case *kmsg.ListOffsetsRequest:
		resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewListOffsetsResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewListOffsetsResponseTopicPartition()
				rp.Partition, rp.Offset = p.Partition, 0
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		respond(resp)
	case *kmsg.FetchRequest:
		resp := r.ResponseKind().(*kmsg.FetchResponse)
		b.mu.Lock()
		for _, t := range r.Topics {
			rt := kmsg.NewFetchResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				b.fetchd[p.Partition] = max(b.fetchd[p.Partition], p.FetchOffset)
				rp := kmsg.NewFetchResponseTopicPartition()
				rp.Partition, rp.HighWatermark, rp.LastStableOffset = p.Partition, p.FetchOffset, p.FetchOffset
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		b.mu.Unlock()
		// Long-poll like a broker with nothing to return, without
		// holding up other connections.
		wait := min(time.Duration(r.MaxWaitMillis)*time.Millisecond, 50*time.Millisecond)
		b.wg.Go(func() {
			select {
			case <-time.After(wait):
			case <-b.done:
			}
			respond(resp)
		})
	default:
		b.mu.Lock()
		c := b.coord
		b.mu.Unlock()
		if !c.Handle(cl, req, respond) {
			b.t.Errorf("fake broker: unexpected request %T", req)
		}
	}
}

// TestFranzGoConsumerGroup runs two franz-go group consumers against the
// coordinator: join, sync, heartbeat, rebalance on a second member,
// commit, leave, and a restart that resumes from the committed offsets.
func TestFranzGoConsumerGroup(t *testing.T) {
	b := startFakeBroker(t, "orders", 4)
	cfg := testConfig(t.TempDir())
	cfg.InitialRebalanceDelay = 50 * time.Millisecond
	cfg.Port = b.port() // FindCoordinator points at the fake broker
	c, err := New(cfg)
	require.NoError(t, err)
	defer c.Close(context.Background())
	b.setCoordinator(c)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type assigned struct {
		who   int
		parts []int32
	}
	events := make(chan assigned, 32)
	newConsumer := func(who int) *kgo.Client {
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(b.ln.Addr().String()),
			kgo.ClientID("consumer-"+strconv.Itoa(who)),
			kgo.ConsumerGroup("g"),
			kgo.ConsumeTopics("orders"),
			kgo.HeartbeatInterval(100*time.Millisecond),
			kgo.SessionTimeout(3*time.Second),
			kgo.DisableAutoCommit(),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				events <- assigned{who, m["orders"]}
			}),
		)
		require.NoError(t, err)
		go cl.PollFetches(ctx) // drives the group; returns when ctx ends
		return cl
	}
	waitAssigned := func(who int) []int32 {
		t.Helper()
		for {
			select {
			case e := <-events:
				// Cooperative rebalancing can first assign nothing.
				if e.who == who && len(e.parts) > 0 {
					return e.parts
				}
			case <-ctx.Done():
				t.Fatalf("consumer %d never got an assignment", who)
			}
		}
	}

	one := newConsumer(1)
	assert.Len(t, waitAssigned(1), 4, "a lone consumer owns every partition")
	info, ok := c.Group("g")
	require.True(t, ok)
	assert.Equal(t, "Stable", info.State)
	assert.Equal(t, "consumer", info.ProtocolType)
	assert.Equal(t, "cooperative-sticky", info.Protocol)
	require.Len(t, info.Members, 1)
	assert.Regexp(t, `^consumer-1-`, info.Members[0].ID)

	var commitErr error
	one.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{
		"orders": {0: {Epoch: -1, Offset: 42}, 3: {Epoch: 5, Offset: 7}},
	}, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		commitErr = err
		for _, rt := range resp.Topics {
			for _, p := range rt.Partitions {
				assert.Zero(t, p.ErrorCode)
			}
		}
	})
	require.NoError(t, commitErr)
	assert.Equal(t, []CommittedOffset{
		{Topic: "orders", Partition: 0, Offset: 42, LeaderEpoch: -1},
		{Topic: "orders", Partition: 3, Offset: 7, LeaderEpoch: 5},
	}, withoutTimes(c.OffsetsForGroup("g"), info.Members[0].ID))

	// A second consumer: cooperative rebalancing splits the partitions.
	two := newConsumer(2)
	p2 := waitAssigned(2)
	assert.NotEmpty(t, p2)
	require.Eventually(t, func() bool {
		info, _ := c.Group("g")
		return info.State == "Stable" && len(info.Members) == 2 && info.Generation >= 2
	}, 20*time.Second, 20*time.Millisecond)

	// OffsetFetch through the client's coordinator routing.
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Group = "g"
	fetch.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "orders", Partitions: []int32{0, 1}}}
	raw, err := two.Request(ctx, fetch)
	require.NoError(t, err)
	fr := raw.(*kmsg.OffsetFetchResponse)
	require.Len(t, fr.Topics, 1)
	assert.Equal(t, int64(42), fr.Topics[0].Partitions[0].Offset)
	assert.Equal(t, int64(-1), fr.Topics[0].Partitions[1].Offset)

	require.NoError(t, one.LeaveGroupContext(ctx))
	one.Close()
	require.NoError(t, two.LeaveGroupContext(ctx))
	two.Close()
	info, _ = c.Group("g")
	assert.Equal(t, "Empty", info.State)
	assert.Empty(t, info.Members)

	// Restart the coordinator on the same data: a new consumer resumes
	// from the committed offsets.
	require.NoError(t, c.Close(context.Background()))
	b.setCoordinator(newCoordinator(t, cfg))
	three := newConsumer(3)
	defer three.Close()
	assert.Len(t, waitAssigned(3), 4)
	require.Eventually(t, func() bool { return b.fetchOffset(0) >= 42 && b.fetchOffset(3) >= 7 },
		10*time.Second, 10*time.Millisecond, "fetches resume at the committed offsets")
}

// withoutTimes clears commit times, and checks that the metadata is the
// committer's member id, which franz-go stores there.
func withoutTimes(cs []CommittedOffset, member string) []CommittedOffset {
	for i := range cs {
		if cs[i].Metadata == member {
			cs[i].Metadata = ""
		}
		cs[i].CommitTime = time.Time{}
	}
	return cs
}
