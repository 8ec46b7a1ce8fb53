package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// The coordinator's group.min.session.timeout.ms is Kafka's 6s and the
// broker does not expose it, so a killed member is noticed after 6s: the
// member tests run in parallel to pay that once.
const (
	memberSessionTimeout = 6 * time.Second
	memberHeartbeat      = 200 * time.Millisecond
	memberPartitions     = 6
)

// killDialer hands a client every connection it opens, so kill can cut
// them all at once and refuse new ones: the member vanishes without a
// LeaveGroup, as a crashed process would, and only its session timeout
// takes it out of the group.
type killDialer struct {
	mu    sync.Mutex
	conns []net.Conn
	dead  bool
}

var errKilled = errors.New("test: member killed")

// DialContext is kgo.Dialer's signature.
func (d *killDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	dead := d.dead
	d.mu.Unlock()
	if dead {
		return nil, errKilled
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		c.Close()
		return nil, errKilled
	}
	d.conns = append(d.conns, c)
	return c, nil
}

// Dial is sarama's Net.Proxy.Dialer (golang.org/x/net/proxy.Dialer).
func (d *killDialer) Dial(network, addr string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, addr)
}

func (d *killDialer) kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dead = true
	for _, c := range d.conns {
		c.Close()
	}
	d.conns = nil
}

// deliveries counts how often each record value reached any member.
type deliveries struct {
	mu      sync.Mutex
	seen    map[string]int
	changed chan struct{} // a token after every add, for waitAll
}

func newDeliveries() *deliveries {
	return &deliveries{seen: map[string]int{}, changed: make(chan struct{}, 1)}
}

func (d *deliveries) add(vals ...string) {
	d.mu.Lock()
	for _, v := range vals {
		d.seen[v]++
	}
	d.mu.Unlock()
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

func (d *deliveries) count(v string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.seen[v]
}

func (d *deliveries) fewer(want []string, n int) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, v := range want {
		if d.seen[v] < n {
			out = append(out, v)
		}
	}
	return out
}

// waitAll waits until every value of want was delivered at least once.
func (d *deliveries) waitAll(t testing.TB, c context.Context, want []string) {
	t.Helper()
	d.waitTimes(t, c, want, 1)
}

// waitTimes waits until every value of want was delivered at least n times.
func (d *deliveries) waitTimes(t testing.TB, c context.Context, want []string, n int) {
	t.Helper()
	for {
		miss := d.fewer(want, n)
		if len(miss) == 0 {
			return
		}
		select {
		case <-d.changed:
		case <-c.Done():
			t.Fatalf("%d of %d records consumed fewer than %d times, e.g. %q", len(miss), len(want), n, miss[0])
		}
	}
}

// produceKeyed produces n records with distinct keys and values prefix-i
// and returns the values with the partition each landed on.
func produceKeyed(t testing.TB, cl *kgo.Client, topic, prefix string, n int) ([]string, map[string]int32) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	vals := make([]string, n)
	for i := range recs {
		vals[i] = fmt.Sprintf("%s-%d", prefix, i)
		recs[i] = &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "key-%s-%d", prefix, i), Value: []byte(vals[i])}
	}
	require.NoError(t, cl.ProduceSync(ctx(t), recs...).FirstErr())
	parts := make(map[string]int32, n)
	for _, r := range recs {
		parts[string(r.Value)] = r.Partition
	}
	return vals, parts
}

func describeGroup(t testing.TB, cl *kgo.Client, group string) kmsg.DescribeGroupsResponseGroup {
	t.Helper()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	resp, err := req.RequestWith(ctx(t), cl)
	require.NoError(t, err)
	require.Len(t, resp.Groups, 1)
	require.Zero(t, resp.Groups[0].ErrorCode, "DescribeGroups %s", group)
	return resp.Groups[0]
}

// groupAssignment decodes each member's ConsumerProtocol assignment: member
// id to the partitions of topic it owns.
func groupAssignment(t testing.TB, g kmsg.DescribeGroupsResponseGroup, topic string) map[string][]int32 {
	t.Helper()
	out := map[string][]int32{}
	for _, m := range g.Members {
		var a kmsg.ConsumerMemberAssignment
		if len(m.MemberAssignment) > 0 {
			require.NoError(t, a.ReadFrom(m.MemberAssignment), "member %s assignment", m.MemberID)
		}
		out[m.MemberID] = nil
		for _, tp := range a.Topics {
			if tp.Topic == topic {
				out[m.MemberID] = append(out[m.MemberID], tp.Partitions...)
			}
		}
	}
	return out
}

// waitStable waits until the group is Stable with n members, none of them
// without, each of topic's partitions owned by exactly one member and every
// member owning some. DescribeGroups has no push, so this polls it.
func waitStable(t testing.TB, cl *kgo.Client, group, topic string, n int, without string) map[string][]int32 {
	t.Helper()
	c := ctx(t)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last kmsg.DescribeGroupsResponseGroup
	for {
		last = describeGroup(t, cl, group)
		if last.State == "Stable" && len(last.Members) == n {
			assign := groupAssignment(t, last, topic)
			var all []int32
			ok := true
			for id, ps := range assign {
				ok = ok && id != without && len(ps) > 0
				all = append(all, ps...)
			}
			slices.Sort(all)
			if ok && slices.Equal(all, []int32{0, 1, 2, 3, 4, 5}) {
				return assign
			}
		}
		select {
		case <-tick.C:
		case <-c.Done():
			t.Fatalf("group %s never stable with %d members (without %q): state %s, %d members", group, n, without, last.State, len(last.Members))
		}
	}
}

// waitCommittedAtEnd waits until the group's committed offset of every
// partition of topic is the partition's end: everything consumed was
// committed.
func waitCommittedAtEnd(t *testing.T, b *Broker, group, topic string) {
	t.Helper()
	c := ctx(t)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		committed := committedOffsets(t, b, group, topic, memberPartitions)
		lagging := 0
		for p := range int32(memberPartitions) {
			if committed[p] != endOffset(t, b, topic, p) {
				lagging++
			}
		}
		if lagging == 0 {
			return
		}
		select {
		case <-tick.C:
		case <-c.Done():
			t.Fatalf("group %s: committed %v never reached the partition ends", group, committed)
		}
	}
}

// groupMember is one kgo or sarama member of the kill scenario.
type groupMember interface {
	// memberID is the member id the coordinator gave it.
	memberID() string
	// stopCommitting makes the member keep consuming without committing,
	// so it dies with an uncommitted tail.
	stopCommitting()
	// kill cuts the member's connections and refuses new ones, then stops
	// it: no LeaveGroup reaches the broker.
	kill()
	// leave stops the member cleanly: it commits and sends LeaveGroup.
	leave(t *testing.T)
}

// memberKilledScenario drives three members of group over a 6-partition
// topic:
//
//  1. the group is stable with three members; the first batch is consumed
//     and committed in full;
//  2. the victim stops committing, the second batch is consumed (the
//     victim's share stays uncommitted), then the victim is killed;
//  3. after its session times out the two survivors own every partition;
//     a third batch and the victim's uncommitted tail reach them;
//  4. nothing committed before the kill was delivered twice, everything
//     ends committed, and a fresh member resumes at the commits.
func memberKilledScenario(t *testing.T, b *Broker, admin *kgo.Client, group, topic string, got *deliveries, members []groupMember) {
	t.Helper()
	assign := waitStable(t, admin, group, topic, 3, "")

	first, _ := produceKeyed(t, admin, topic, "first", 300)
	got.waitAll(t, ctx(t), first)
	waitCommittedAtEnd(t, b, group, topic)

	victim := members[0]
	victimID := victim.memberID()
	require.Contains(t, assign, victimID)
	victim.stopCommitting()
	second, parts := produceKeyed(t, admin, topic, "second", 300)
	got.waitAll(t, ctx(t), second)
	var tail []string // what the victim consumed and never committed
	for _, v := range second {
		if slices.Contains(assign[victimID], parts[v]) {
			tail = append(tail, v)
		}
	}
	require.NotEmpty(t, tail, "the victim owns partitions %v", assign[victimID])
	victim.kill()
	killed := time.Now()

	after := waitStable(t, admin, group, topic, 2, victimID)
	assert.NotContains(t, after, victimID)
	// Its last heartbeat was at most one interval before the kill: a
	// quicker rebalance would mean a LeaveGroup got through.
	assert.Greater(t, time.Since(killed), memberSessionTimeout-time.Second, "the victim went through its session timeout")
	third, _ := produceKeyed(t, admin, topic, "third", 300)
	got.waitAll(t, ctx(t), third)
	got.waitTimes(t, ctx(t), tail, 2)
	for _, v := range first {
		assert.Equal(t, 1, got.count(v), "%s was committed before the kill and must not come back", v)
	}
	waitCommittedAtEnd(t, b, group, topic)

	for _, m := range members[1:] {
		m.leave(t)
	}
	assertResumesAtCommits(t, b, admin, group, topic)
}

// assertResumesAtCommits starts a fresh kgo member of group once the other
// members are gone, produces more, and checks the member gets exactly that:
// it starts at the committed offsets, so nothing committed comes back.
func assertResumesAtCommits(t *testing.T, b *Broker, prod *kgo.Client, group, topic string) {
	t.Helper()
	require.Equal(t, "Empty", describeGroup(t, prod, group).State, "every member left")
	want, _ := produceKeyed(t, prod, topic, "after", 60)
	fresh := newClient(t, b, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(100*time.Millisecond))
	c := ctx(t)
	var got []string
	parts := map[int32]bool{}
	for len(got) < len(want) {
		fs := fresh.PollFetches(c)
		require.NoError(t, c.Err(), "fresh member got %d of %d records", len(got), len(want))
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s[%d]: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			got = append(got, string(r.Value))
			parts[r.Partition] = true
		})
	}
	// Records of one partition arrive in order, so anything committed that
	// came back would precede these in its partition; every partition got
	// some of them.
	require.Len(t, parts, memberPartitions, "the 60 keys cover every partition")
	assert.ElementsMatch(t, want, got, "a fresh member resumes at the committed offsets")
}

// kgoMember processes each poll, commits it, and only then lets a
// rebalance in (BlockRebalanceOnPoll), so a commit always belongs to the
// generation that fetched.
type kgoMember struct {
	cl       *kgo.Client
	dialer   *killDialer
	cancel   context.CancelFunc
	done     chan struct{}
	noCommit atomic.Bool
}

func startKgoMember(t *testing.T, b *Broker, group, topic string, balancer kgo.GroupBalancer, got *deliveries) *kgoMember {
	t.Helper()
	mctx, cancel := context.WithCancel(context.Background())
	m := &kgoMember{dialer: &killDialer{}, cancel: cancel, done: make(chan struct{})}
	m.cl = newClient(t, b, kgo.WithContext(mctx), kgo.Dialer(m.dialer.DialContext),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.Balancers(balancer),
		kgo.SessionTimeout(memberSessionTimeout), kgo.HeartbeatInterval(memberHeartbeat),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }))
	go func() {
		defer close(m.done)
		for mctx.Err() == nil {
			fs := m.cl.PollFetches(mctx)
			if fs.IsClientClosed() {
				return
			}
			var vals []string
			fs.EachRecord(func(r *kgo.Record) { vals = append(vals, string(r.Value)) })
			got.add(vals...)
			if len(vals) > 0 && !m.noCommit.Load() {
				// A commit refused by a rebalance leaves an uncommitted
				// tail to be consumed again: at least once.
				_ = m.cl.CommitRecords(mctx, fs.Records()...)
			}
			m.cl.AllowRebalance()
		}
	}()
	t.Cleanup(func() { cancel(); m.cl.Close(); <-m.done })
	return m
}

func (m *kgoMember) memberID() string {
	id, _ := m.cl.GroupMetadata()
	return id
}

func (m *kgoMember) stopCommitting() { m.noCommit.Store(true) }

// kill also cancels the client's context, which makes the LeaveGroup of
// its eventual Close return at once without a request.
func (m *kgoMember) kill() {
	m.dialer.kill()
	m.cancel()
	<-m.done
}

func (m *kgoMember) leave(*testing.T) {
	m.cl.Close() // leaves the group, and ends the poll loop
	<-m.done
}

// TestKgoGroupMemberKilled runs memberKilledScenario with kgo members under
// an eager and a cooperative balancer.
func TestKgoGroupMemberKilled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		balancer kgo.GroupBalancer
	}{
		{"range", kgo.RangeBalancer()},
		{"cooperative-sticky", kgo.CooperativeStickyBalancer()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const topic, group = "members", "kgo-members"
			b := startBroker(t, Config{GroupInitialRebalanceDelay: -1})
			require.NoError(t, b.CreateTopic(topic, memberPartitions, nil))
			admin := newClient(t, b, kgo.DefaultProduceTopic(topic))
			got := newDeliveries()
			var members []groupMember
			for range 3 {
				members = append(members, startKgoMember(t, b, group, topic, tc.balancer, got))
			}
			memberKilledScenario(t, b, admin, group, topic, got, members)
		})
	}
}

// saramaMember marks every message for sarama's auto-commit (unless told
// to stop committing) and records its member id at Setup.
type saramaMember struct {
	cg        sarama.ConsumerGroup
	dialer    *killDialer
	cancel    context.CancelFunc
	done      chan struct{}
	got       *deliveries
	noCommit  atomic.Bool
	id        atomic.Value // string
	closeOnce sync.Once
}

func startSaramaMember(t *testing.T, b *Broker, group, topic string, got *deliveries) *saramaMember {
	t.Helper()
	m := &saramaMember{dialer: &killDialer{}, done: make(chan struct{}), got: got}
	m.id.Store("")
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 50 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = memberSessionTimeout
	cfg.Consumer.Group.Heartbeat.Interval = memberHeartbeat
	cfg.Consumer.Group.Rebalance.Retry.Backoff = 50 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	cfg.Metadata.Retry.Max = 1
	// sarama dials through Net.Proxy.Dialer when it is enabled: the hook
	// that lets kill cut the member off.
	cfg.Net.Proxy.Enable = true
	cfg.Net.Proxy.Dialer = m.dialer
	var err error
	m.cg, err = sarama.NewConsumerGroup([]string{b.Addr()}, group, cfg)
	require.NoError(t, err)
	mctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for mctx.Err() == nil {
			if err := m.cg.Consume(mctx, []string{topic}, m); errors.Is(err, sarama.ErrClosedConsumerGroup) {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-m.done
		m.closeOnce.Do(func() { _ = m.cg.Close() })
	})
	return m
}

func (m *saramaMember) Setup(s sarama.ConsumerGroupSession) error {
	m.id.Store(s.MemberID())
	return nil
}

func (m *saramaMember) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (m *saramaMember) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for msg := range c.Messages() {
		m.got.add(string(msg.Value))
		if !m.noCommit.Load() {
			s.MarkMessage(msg, "")
		}
	}
	return nil
}

func (m *saramaMember) memberID() string { return m.id.Load().(string) }

func (m *saramaMember) stopCommitting() { m.noCommit.Store(true) }

// kill cuts the connections before the Consume context ends, so neither
// the session's last commit nor a LeaveGroup reaches the broker.
func (m *saramaMember) kill() {
	m.dialer.kill()
	m.cancel()
	<-m.done
}

func (m *saramaMember) leave(t *testing.T) {
	m.cancel()
	<-m.done
	m.closeOnce.Do(func() { require.NoError(t, m.cg.Close()) }) // commits and leaves
}

// TestSaramaGroupMemberKilled runs memberKilledScenario with sarama
// members (range assignor).
func TestSaramaGroupMemberKilled(t *testing.T) {
	t.Parallel()
	const topic, group = "members", "sarama-members"
	b := startBroker(t, Config{GroupInitialRebalanceDelay: -1})
	require.NoError(t, b.CreateTopic(topic, memberPartitions, nil))
	admin := newClient(t, b, kgo.DefaultProduceTopic(topic))
	got := newDeliveries()
	var members []groupMember
	for range 3 {
		members = append(members, startSaramaMember(t, b, group, topic, got))
	}
	memberKilledScenario(t, b, admin, group, topic, got, members)
}

// TestGroupBadInput: requests that do not fit the group's state get the
// error code Kafka's GroupCoordinator answers, and leave the group as it
// was.
func TestGroupBadInput(t *testing.T) {
	t.Parallel()
	const topic, group = "bad", "bad-group"
	b := startBroker(t, Config{GroupInitialRebalanceDelay: -1})
	require.NoError(t, b.CreateTopic(topic, 1, nil))
	cl := newClient(t, b)
	c := ctx(t)
	meta := (&kmsg.ConsumerMemberMetadata{Topics: []string{topic}}).AppendTo(nil)
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(c, cl)
	require.NoError(t, err)
	require.Len(t, mresp.Topics, 1)
	topicID := mresp.Topics[0].TopicID

	joinReq := func(group, memberID, protocolType string, sessionMillis int32, protocols ...string) *kmsg.JoinGroupResponse {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.MemberID, req.ProtocolType = group, memberID, protocolType
		req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = sessionMillis, 30000
		for _, name := range protocols {
			p := kmsg.NewJoinGroupRequestProtocol()
			p.Name, p.Metadata = name, meta
			req.Protocols = append(req.Protocols, p)
		}
		resp, err := req.RequestWith(c, cl)
		require.NoError(t, err)
		return resp
	}
	join := func(memberID, protocolType string, protocols ...string) *kmsg.JoinGroupResponse {
		return joinReq(group, memberID, protocolType, 30000, protocols...)
	}
	syncGroup := func(memberID string, gen int32) *kmsg.SyncGroupResponse {
		req := kmsg.NewPtrSyncGroupRequest()
		req.Group, req.MemberID, req.Generation = group, memberID, gen
		req.ProtocolType, req.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
		a := kmsg.NewSyncGroupRequestGroupAssignment()
		a.MemberID = memberID
		a.MemberAssignment = (&kmsg.ConsumerMemberAssignment{Topics: []kmsg.ConsumerMemberAssignmentTopic{{Topic: topic, Partitions: []int32{0}}}}).AppendTo(nil)
		req.GroupAssignment = append(req.GroupAssignment, a)
		resp, err := req.RequestWith(c, cl)
		require.NoError(t, err)
		return resp
	}
	heartbeat := func(memberID string, gen int32) int16 {
		req := kmsg.NewPtrHeartbeatRequest()
		req.Group, req.MemberID, req.Generation = group, memberID, gen
		resp, err := req.RequestWith(c, cl)
		require.NoError(t, err)
		return resp.ErrorCode
	}
	commit := func(memberID string, gen int32) int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.MemberID, req.Generation = group, memberID, gen
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic, rt.TopicID = topic, topicID // v10+ names topics by id only
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset = 0, 1
		rt.Partitions = append(rt.Partitions, p)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(c, cl)
		require.NoError(t, err)
		require.Len(t, resp.Topics, 1)
		require.Len(t, resp.Topics[0].Partitions, 1)
		return resp.Topics[0].Partitions[0].ErrorCode
	}

	// One real member, leader of generation gen, the group Stable.
	first := join("", "consumer", "range")
	memberID := first.MemberID
	if first.ErrorCode == kerr.MemberIDRequired.Code { // KIP-394
		first = join(memberID, "consumer", "range")
	}
	require.Zero(t, first.ErrorCode, "join: %v", kerr.ForCode(first.ErrorCode))
	require.Equal(t, memberID, first.LeaderID)
	gen := first.Generation
	require.Zero(t, syncGroup(memberID, gen).ErrorCode)
	require.Equal(t, "Stable", describeGroup(t, cl, group).State)

	for _, tc := range []struct {
		name string
		code func() int16
		want *kerr.Error
	}{
		{"JoinGroup with another protocol type", func() int16 { return join("", "connect", "range").ErrorCode }, kerr.InconsistentGroupProtocol},
		{"JoinGroup with no protocol in common", func() int16 { return join("", "consumer", "roundrobin").ErrorCode }, kerr.InconsistentGroupProtocol},
		{"JoinGroup of a new group without a protocol type", func() int16 { return joinReq("other", "", "", 30000, "range").ErrorCode }, kerr.InconsistentGroupProtocol},
		{"JoinGroup of a new group without protocols", func() int16 { return joinReq("other", "", "consumer", 30000).ErrorCode }, kerr.InconsistentGroupProtocol},
		{"JoinGroup below group.min.session.timeout.ms", func() int16 { return joinReq("other", "", "consumer", 5999, "range").ErrorCode }, kerr.InvalidSessionTimeout},
		{"JoinGroup above group.max.session.timeout.ms", func() int16 { return joinReq("other", "", "consumer", 30*60*1000+1, "range").ErrorCode }, kerr.InvalidSessionTimeout},
		{"JoinGroup as an unknown member", func() int16 { return join("ghost", "consumer", "range").ErrorCode }, kerr.UnknownMemberID},
		{"Heartbeat with a stale generation", func() int16 { return heartbeat(memberID, gen-1) }, kerr.IllegalGeneration},
		{"Heartbeat from an unknown member", func() int16 { return heartbeat("ghost", gen) }, kerr.UnknownMemberID},
		{"SyncGroup with a stale generation", func() int16 { return syncGroup(memberID, gen-1).ErrorCode }, kerr.IllegalGeneration},
		{"SyncGroup from an unknown member", func() int16 { return syncGroup("ghost", gen).ErrorCode }, kerr.UnknownMemberID},
		{"OffsetCommit with a stale generation", func() int16 { return commit(memberID, gen-1) }, kerr.IllegalGeneration},
		{"OffsetCommit from an unknown member", func() int16 { return commit("ghost", gen) }, kerr.UnknownMemberID},
		{"LeaveGroup of an unknown member", func() int16 {
			req := kmsg.NewPtrLeaveGroupRequest()
			req.Group = group
			m := kmsg.NewLeaveGroupRequestMember()
			m.MemberID = "ghost"
			req.Members = append(req.Members, m)
			resp, err := req.RequestWith(c, cl)
			require.NoError(t, err)
			if resp.ErrorCode != 0 || len(resp.Members) == 0 {
				return resp.ErrorCode
			}
			return resp.Members[0].ErrorCode // v3+ answers per member
		}, kerr.UnknownMemberID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := tc.code()
			assert.Equal(t, tc.want.Code, code, "want %v, got %v", tc.want, kerr.ForCode(code))
		})
	}

	// The bad requests changed nothing: the member is still in generation
	// gen and may commit.
	g := describeGroup(t, cl, group)
	assert.Equal(t, "Stable", g.State)
	require.Len(t, g.Members, 1)
	assert.Equal(t, memberID, g.Members[0].MemberID)
	assert.Zero(t, heartbeat(memberID, gen))
	assert.Zero(t, commit(memberID, gen))
}
