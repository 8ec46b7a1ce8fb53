package broker

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/internal/coordinator"
)

// Groups survive broker restarts (issue 13). A group of three members
// consumes keyed records while a producer writes them and the broker is
// restarted under them, on the same address and data directory. Because
// the coordinator restores the group from __consumer_offsets, members go on
// with their ids and generation and their commits succeed, so what is
// delivered twice is bounded by what was consumed in the auto-commit
// interval before each restart (plus the time the broker was down), not
// everything since the group last managed to commit.
//
// Without the restored group, each restart sends every member through
// UNKNOWN_MEMBER_ID into a new, empty group that waits
// group.initial.rebalance.delay.ms, commits fail meanwhile, and the records
// delivered after the restart are delivered again.

const (
	restartPartitions = 6
	restartCount      = 4
	restartMembers    = 3
	// restartCommitInterval is auto.commit.interval.ms of the members.
	restartCommitInterval = 500 * time.Millisecond
	// restartSlack covers what the commit interval does not: a record is
	// committed by the first auto-commit after the poll that follows the
	// one returning it (kgo and Java commit what earlier polls returned),
	// and that commit's round trip and fsync, on a loaded machine.
	restartSlack = 2 * time.Second
)

// restartDeliveries records every record a group member was handed, with when.
type restartDeliveries struct {
	mu    sync.Mutex
	first map[[2]int64]time.Time // (partition, offset) → first delivery
	count map[[2]int64]int
	total int
	moved chan struct{} // signalled on every batch delivered
}

func newRestartDeliveries() *restartDeliveries {
	return &restartDeliveries{first: make(map[[2]int64]time.Time), count: make(map[[2]int64]int), moved: make(chan struct{}, 1)}
}

func (d *restartDeliveries) add(partition int32, offsets []int64) {
	now := time.Now()
	d.mu.Lock()
	for _, o := range offsets {
		k := [2]int64{int64(partition), o}
		if d.count[k] == 0 {
			d.first[k] = now
		}
		d.count[k]++
		d.total++
	}
	d.mu.Unlock()
	select {
	case d.moved <- struct{}{}:
	default:
	}
}

func (d *restartDeliveries) distinct() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.count)
}

// waitFor waits, woken by restartDeliveries, until cond holds or the deadline.
func (d *restartDeliveries) waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-d.moved:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// restartMember is one consumer of the group, whatever the client.
type restartMember interface {
	// run polls until ctx ends, reporting each batch to d.
	run(ctx context.Context, d *restartDeliveries)
	close()
}

type restartKgoMember struct{ cl *kgo.Client }

func newRestartKgoMember(t testing.TB, addr, group, topic string) restartMember {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.AutoCommitInterval(restartCommitInterval),
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
	)
	require.NoError(t, err)
	return &restartKgoMember{cl}
}

func (m *restartKgoMember) run(ctx context.Context, d *restartDeliveries) {
	for ctx.Err() == nil {
		fs := m.cl.PollFetches(ctx)
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			offsets := make([]int64, len(p.Records))
			for i, r := range p.Records {
				offsets[i] = r.Offset
			}
			if len(offsets) > 0 {
				d.add(p.Partition, offsets)
			}
		})
	}
}

func (m *restartKgoMember) close() { m.cl.Close() }

type restartSkiffMember struct{ c *consumer.Consumer }

func newRestartSkiffMember(t testing.TB, addr, group, topic string) restartMember {
	c, err := consumer.New(consumer.Config{
		Brokers:            []string{addr},
		GroupID:            group,
		Topics:             []string{topic},
		AutoOffsetReset:    "earliest",
		AutoCommitInterval: restartCommitInterval,
		FetchMaxWait:       100 * time.Millisecond,
	})
	require.NoError(t, err)
	return &restartSkiffMember{c}
}

func (m *restartSkiffMember) run(ctx context.Context, d *restartDeliveries) {
	for ctx.Err() == nil {
		recs, _ := m.c.Poll(ctx) // errors are partition-level and retried by the consumer
		byPartition := make(map[int32][]int64)
		for _, r := range recs {
			byPartition[r.Partition] = append(byPartition[r.Partition], r.Offset)
		}
		for p, offsets := range byPartition {
			d.add(p, offsets)
		}
	}
}

func (m *restartSkiffMember) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = m.c.Close(ctx)
}

// restartOutage is one restart: the broker stopped at down and accepted clients
// again at up.
type restartOutage struct{ down, up time.Time }

// restartResult is what one run measured.
type restartResult struct {
	produced, delivered, redelivered int
	// perRestart[i] is the redeliveries whose first delivery lies in
	// restart i's window; outside counts the others.
	perRestart []int
	// window[i] is how many records were first delivered in restart i's
	// window: the most restart i may redeliver.
	window  []int
	outside int
	// latest is, over the redelivered records, the latest first delivery
	// relative to the outage it belongs to (most positive after up).
	latest time.Duration
	// commitAfter[i] is how long after restart i the group's first
	// commit was written.
	commitAfter []time.Duration
	// sameGroup: the member ids after the restarts are those from before
	// and the generation did not go back; generations are both.
	sameGroup   bool
	generations [2]int32
	members     [2][]string
}

// restartBroker is a broker that runRestarts can restart under a group:
// in this process (Close and Start) or a child process (SIGKILL).
type restartBroker interface {
	addr() string
	// restart stops the broker and starts it again on the same address
	// and data directory, reporting when it stopped and when it was back.
	restart(t testing.TB) (down, up time.Time)
	// group waits until group is Stable with restartMembers members and
	// returns it (Generation is -1 where it cannot be seen).
	group(t testing.TB, group string) coordinator.GroupInfo
	// firstCommitAfter waits for the group's first commit after up and
	// returns how long after up it was seen.
	firstCommitAfter(t testing.TB, group string, up time.Time) time.Duration
}

// inProcessBroker restarts with Close and Start and reads the group from
// its coordinator.
type inProcessBroker struct {
	cfg     Config
	current *Broker
}

func newInProcessBroker(t testing.TB) *inProcessBroker {
	cfg := Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: testLogger()}
	b, err := Start(context.Background(), cfg)
	require.NoError(t, err)
	cfg.Listen = b.Addr() // later incarnations come back where the clients look
	ib := &inProcessBroker{cfg: cfg, current: b}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = ib.current.Close(ctx)
	})
	return ib
}

func (ib *inProcessBroker) addr() string { return ib.cfg.Listen }

func (ib *inProcessBroker) restart(t testing.TB) (down, up time.Time) {
	t.Helper()
	down = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, ib.current.Close(ctx))
	var err error
	ib.current, err = Start(context.Background(), ib.cfg)
	require.NoError(t, err)
	return down, time.Now()
}

// group polls: the coordinator has no event to wait on from outside.
func (ib *inProcessBroker) group(t testing.TB, group string) coordinator.GroupInfo {
	t.Helper()
	var info coordinator.GroupInfo
	require.Eventually(t, func() bool {
		info, _ = ib.current.groups.Group(group)
		return info.State == "Stable" && len(info.Members) == restartMembers
	}, time.Minute, 10*time.Millisecond, "group %s stable with %d members", group, restartMembers)
	return info
}

func memberIDs(info coordinator.GroupInfo) []string {
	var ids []string
	for _, m := range info.Members {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	return ids
}

// firstCommitAfter waits for the group's first offset commit written after
// up and returns how long after up it was written (CommitTime has
// millisecond precision). It polls: commits are not observable otherwise
// from outside the clients.
func (ib *inProcessBroker) firstCommitAfter(t testing.TB, group string, up time.Time) time.Duration {
	t.Helper()
	var at time.Time
	require.Eventually(t, func() bool {
		for _, o := range ib.current.groups.OffsetsForGroup(group) {
			if !o.CommitTime.Before(up.Truncate(time.Millisecond)) && (at.IsZero() || o.CommitTime.Before(at)) {
				at = o.CommitTime
			}
		}
		return !at.IsZero()
	}, time.Minute, 5*time.Millisecond, "a commit after the restart")
	return at.Sub(up)
}

func (r restartResult) String() string {
	return fmt.Sprintf("produced %d, deliveries %d (%.3fx), redelivered %d, per restart %v of windows %v, outside any window %d, first commit after each restart %v, generation %d -> %d",
		r.produced, r.delivered, float64(r.delivered)/float64(max(r.produced, 1)), r.redelivered, r.perRestart, r.window, r.outside,
		r.commitAfter, r.generations[0], r.generations[1])
}

// check asserts what a restart may cost a group whose coordinator restores
// it: no rebalance, commits again within an auto-commit interval (plus
// slack), and nothing redelivered but what was consumed in the interval
// before the restart or while it lasted.
func (r restartResult) check(t *testing.T) {
	// Member ids must survive: without restored groups every member gets
	// UNKNOWN_MEMBER_ID and joins again under a new id. The generation may
	// move on: a client whose heartbeat was in flight when the connection
	// died may rejoin (kgo does), and a leader's JoinGroup rebalances a
	// Stable group in Kafka too; what it must not do is start over.
	assert.True(t, r.sameGroup, "the restarts made the members start over: generation %d -> %d, members %v -> %v",
		r.generations[0], r.generations[1], r.members[0], r.members[1])
	if r.generations[1] != r.generations[0] {
		t.Logf("generation %d -> %d with the same members (a rejoin, not a new group)", r.generations[0], r.generations[1])
	}
	for i, d := range r.commitAfter {
		assert.LessOrEqual(t, d, restartCommitInterval+restartSlack, "restart %d: first commit %v after the broker came back", i+1, d)
	}
	assert.Zero(t, r.outside, "records redelivered that were first delivered outside every restart's window (commit interval + slack before, slack after)")
	for i := range r.perRestart {
		assert.LessOrEqual(t, r.perRestart[i], r.window[i], "restart %d", i+1)
	}
}

// runGroupRestarts runs restartMembers members made by newMember against a
// broker in dir that is restarted restartCount times while a kgo producer
// writes keyed records, and returns what was delivered.
func runGroupRestarts(t *testing.T, rb restartBroker, newMember func(t testing.TB, addr, group, topic string) restartMember) restartResult {
	addr := rb.addr()
	const topic, group = "restarts", "restart-group"
	admin, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }))
	require.NoError(t, err)
	defer admin.Close()
	createTopic(t, admin, topic, restartPartitions, nil)

	// The producer writes keyed records at a steady pace until stopped;
	// every record it was told was written is one the group must read.
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(5*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
	require.NoError(t, err)
	defer prod.Close()
	var (
		prodMu   sync.Mutex
		produced = make(map[[2]int64]bool)
		prodErr  error
	)
	prodCtx, stopProducing := context.WithCancel(context.Background())
	prodDone := make(chan struct{})
	go func() {
		defer close(prodDone)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-prodCtx.Done():
				return
			case <-tick.C:
			}
			for j := range 10 {
				r := &kgo.Record{Key: fmt.Appendf(nil, "key-%d", (i*10+j)%97), Value: fmt.Appendf(nil, "%d", i*10+j)}
				prod.Produce(context.Background(), r, func(r *kgo.Record, err error) {
					prodMu.Lock()
					defer prodMu.Unlock()
					if err != nil {
						prodErr = err
						return
					}
					produced[[2]int64{int64(r.Partition), r.Offset}] = true
				})
			}
		}
	}()

	var res restartResult
	d := newRestartDeliveries()
	ctx, stopConsuming := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	members := make([]restartMember, restartMembers)
	for i := range members {
		members[i] = newMember(t, addr, group, topic)
		wg.Go(func() { members[i].run(ctx, d) })
	}
	defer func() {
		stopConsuming()
		wg.Wait()
		for _, m := range members {
			m.close()
		}
	}()

	// Let the group form and consume, then restart under it, each time
	// once it has consumed a good deal more since the last restart.
	d.waitFor(t, "the group to consume", time.Minute, func() bool { return d.distinct() > 0 })
	before := rb.group(t, group)
	var outages []restartOutage
	for range restartCount {
		target := d.distinct() + 2000
		d.waitFor(t, "consumption before a restart", time.Minute, func() bool { return d.distinct() >= target })
		down, up := rb.restart(t)
		outages = append(outages, restartOutage{down, up})
		res.commitAfter = append(res.commitAfter, rb.firstCommitAfter(t, group, up))
	}
	after := rb.group(t, group)
	res.sameGroup = after.Generation >= before.Generation && slices.Equal(memberIDs(after), memberIDs(before))
	res.generations = [2]int32{before.Generation, after.Generation}
	res.members = [2][]string{memberIDs(before), memberIDs(after)}
	target := d.distinct() + 2000
	d.waitFor(t, "consumption after the last restart", time.Minute, func() bool { return d.distinct() >= target })
	stopProducing()
	<-prodDone
	flushCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	require.NoError(t, prod.Flush(flushCtx))
	cancel()
	prodMu.Lock()
	require.NoError(t, prodErr)
	want := len(produced)
	prodMu.Unlock()
	d.waitFor(t, "every produced record", time.Minute, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		for k := range produced {
			if d.count[k] == 0 {
				return false
			}
		}
		return true
	})

	d.mu.Lock()
	defer d.mu.Unlock()
	res.produced, res.delivered = want, d.total
	res.perRestart, res.window, res.latest = make([]int, len(outages)), make([]int, len(outages)), -time.Hour
	in := func(at time.Time, o restartOutage) bool {
		return !at.Before(o.down.Add(-restartCommitInterval-restartSlack)) && !at.After(o.up.Add(restartSlack))
	}
	for k, n := range d.count {
		at := d.first[k]
		for i, o := range outages {
			if in(at, o) {
				res.window[i]++
			}
		}
		if n == 1 {
			continue
		}
		res.redelivered += n - 1
		found := false
		for i, o := range outages {
			if in(at, o) {
				res.perRestart[i] += n - 1
				found = true
				break
			}
		}
		if !found {
			res.outside += n - 1
		}
		// Latest first delivery of a redelivered record, relative to
		// the nearest restartOutage's up time.
		best := time.Duration(1 << 62)
		for _, o := range outages {
			if dd := at.Sub(o.up); restartAbs(dd) < restartAbs(best) {
				best = dd
			}
		}
		res.latest = max(res.latest, best)
	}
	return res
}

func restartAbs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func describeRestartOutages(r restartResult) string {
	var b strings.Builder
	for i := range r.perRestart {
		fmt.Fprintf(&b, " restart %d: %d redelivered of %d in its window;", i+1, r.perRestart[i], r.window[i])
	}
	return b.String()
}

// TestGroupRestartsKgo: franz-go members (a client we did not write), with
// auto-commit.
func TestGroupRestartsKgo(t *testing.T) {
	res := runGroupRestarts(t, newInProcessBroker(t), newRestartKgoMember)
	t.Logf("kgo: %v;%s latest redelivered first delivery %v after an outage's end", res, describeRestartOutages(res), res.latest)
	res.check(t)
}

// TestGroupRestartsSkiff: skiff consumer members, with auto-commit.
func TestGroupRestartsSkiff(t *testing.T) {
	res := runGroupRestarts(t, newInProcessBroker(t), newRestartSkiffMember)
	t.Logf("skiff: %v;%s latest redelivered first delivery %v after an outage's end", res, describeRestartOutages(res), res.latest)
	res.check(t)
}

// The SIGKILL variant runs the broker in a child process: the test binary
// itself, running only TestGroupRestartChildBroker (os/exec's
// helper-process pattern), killed with SIGKILL and started again on the
// same address and data directory.
const (
	childBrokerEnvDir    = "SKIFF_GROUP_RESTART_BROKER_DIR"
	childBrokerEnvListen = "SKIFF_GROUP_RESTART_BROKER_LISTEN"
	childBrokerReady     = "skiff group-restart broker listening on "
)

// TestGroupRestartChildBroker is the child broker of the SIGKILL tests
// when the parent's environment names a data directory; run by itself, as
// every test is, it has no broker to be and returns.
func TestGroupRestartChildBroker(t *testing.T) {
	dir := os.Getenv(childBrokerEnvDir)
	if dir == "" {
		return
	}
	b, err := Start(context.Background(), Config{Listen: os.Getenv(childBrokerEnvListen), DataDir: dir, Logger: testLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child broker:", err)
		os.Exit(2)
	}
	fmt.Println(childBrokerReady + b.Addr())
	// Until killed; if the parent dies first, its end of stdin closes.
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

type childBroker struct {
	dir, listen string
	cmd         *exec.Cmd
	stdin       io.Closer
	drained     chan struct{} // closed when the child's stdout ends
	admin       *kgo.Client
}

func newChildBroker(t testing.TB) *childBroker {
	cb := &childBroker{dir: t.TempDir(), listen: "127.0.0.1:0"}
	cb.start(t)
	t.Cleanup(cb.kill)
	var err error
	cb.admin, err = kgo.NewClient(kgo.SeedBrokers(cb.listen), kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }))
	require.NoError(t, err)
	t.Cleanup(cb.admin.Close)
	return cb
}

func (cb *childBroker) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestGroupRestartChildBroker$")
	cmd.Env = append(os.Environ(), childBrokerEnvDir+"="+cb.dir, childBrokerEnvListen+"="+cb.listen)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	cb.cmd, cb.stdin, cb.drained = cmd, stdin, make(chan struct{})
	sc := bufio.NewScanner(stdout)
	addr := ""
	for addr == "" && sc.Scan() {
		addr, _ = strings.CutPrefix(sc.Text(), childBrokerReady)
	}
	// The child prints nothing more; keep its pipe drained until it exits
	// (kill waits for this goroutine).
	go func() {
		defer close(cb.drained)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	if addr == "" {
		cb.kill()
		t.Fatalf("child broker exited before listening: %v", sc.Err())
	}
	cb.listen = addr
}

func (cb *childBroker) kill() {
	if cb.cmd == nil {
		return
	}
	_ = cb.cmd.Process.Kill() // SIGKILL: no Close, no flush
	<-cb.drained
	_ = cb.cmd.Wait()
	_ = cb.stdin.Close()
	cb.cmd = nil
}

func (cb *childBroker) addr() string { return cb.listen }

func (cb *childBroker) restart(t testing.TB) (down, up time.Time) {
	t.Helper()
	down = time.Now()
	cb.kill()
	cb.start(t)
	return down, time.Now()
}

// group asks the restarted broker with DescribeGroups, which does not carry
// the generation: the member ids tell whether the group was rebuilt.
func (cb *childBroker) group(t testing.TB, group string) coordinator.GroupInfo {
	t.Helper()
	info := coordinator.GroupInfo{Name: group, Generation: -1}
	require.Eventually(t, func() bool {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{group}
		resp, err := req.RequestWith(context.Background(), cb.admin)
		if err != nil || len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 {
			return false
		}
		g := resp.Groups[0]
		info.State, info.Members = g.State, nil
		for _, m := range g.Members {
			info.Members = append(info.Members, coordinator.MemberInfo{ID: m.MemberID})
		}
		return info.State == "Stable" && len(info.Members) == restartMembers
	}, time.Minute, 20*time.Millisecond, "group %s stable with %d members", group, restartMembers)
	return info
}

// committed returns the group's committed offsets, or nil if the broker
// did not answer.
func (cb *childBroker) committed(group string) map[int32]int64 {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	resp, err := req.RequestWith(context.Background(), cb.admin)
	if err != nil || resp.ErrorCode != 0 {
		return nil
	}
	out := make(map[int32]int64)
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			out[p.Partition] = p.Offset
		}
	}
	return out
}

// firstCommitAfter polls OffsetFetch until the committed offsets differ
// from the first answer after up: an upper bound on when the first commit
// after the restart landed (one that came before that answer is missed,
// and the next one is timed).
func (cb *childBroker) firstCommitAfter(t testing.TB, group string, up time.Time) time.Duration {
	t.Helper()
	var base map[int32]int64
	require.Eventually(t, func() bool {
		now := cb.committed(group)
		if now == nil {
			return false
		}
		if base == nil {
			base = now
			return false
		}
		return !maps.Equal(base, now)
	}, time.Minute, 10*time.Millisecond, "a commit after the restart")
	return time.Since(up)
}

// TestGroupRestartsKgoSIGKILL: as TestGroupRestartsKgo, with the broker
// SIGKILLed and started again in a child process.
func TestGroupRestartsKgoSIGKILL(t *testing.T) {
	res := runGroupRestarts(t, newChildBroker(t), newRestartKgoMember)
	t.Logf("kgo, SIGKILL: %v;%s latest redelivered first delivery %v after an outage's end", res, describeRestartOutages(res), res.latest)
	res.check(t)
}

// TestGroupRestartsSkiffSIGKILL: as TestGroupRestartsSkiff, with the broker
// SIGKILLed and started again in a child process.
func TestGroupRestartsSkiffSIGKILL(t *testing.T) {
	res := runGroupRestarts(t, newChildBroker(t), newRestartSkiffMember)
	t.Logf("skiff, SIGKILL: %v;%s latest redelivered first delivery %v after an outage's end", res, describeRestartOutages(res), res.latest)
	res.check(t)
}
