package admin

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// newKfakeCluster is newKfake that also returns the cluster, for tests that
// steer it.
func newKfakeCluster(t testing.TB, opts ...kfake.Opt) (*kfake.Cluster, backend) {
	t.Helper()
	opts = append([]kfake.Opt{kfake.DefaultNumPartitions(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond)}, opts...)
	c, err := kfake.NewCluster(opts...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c, backend{name: "kfake", addrs: c.ListenAddrs()}
}

// observe counts the requests of key per node without handling them.
type observe struct {
	mu    sync.Mutex
	nodes []int32
}

func (o *observe) add(c *kfake.Cluster, key int16) {
	c.ControlKey(key, func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		o.mu.Lock()
		o.nodes = append(o.nodes, c.CurrentNode())
		o.mu.Unlock()
		return nil, nil, false
	})
}

func (o *observe) seen() []int32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]int32(nil), o.nodes...)
}

// Topic admin requests go to the controller, and move with it on
// NOT_CONTROLLER; with three brokers, any other broker would refuse them.
func TestControllerRouting(t *testing.T) {
	kc, be := newKfakeCluster(t, kfake.NumBrokers(3))
	c := newAdmin(t, be)
	ctx := testCtx(t)
	cd, err := c.DescribeCluster(ctx)
	require.NoError(t, err)

	var creates observe
	creates.add(kc, int16(kmsg.CreateTopics))
	mustCreate(t, c, "first", 1, nil)
	assert.Equal(t, []int32{cd.ControllerID}, creates.seen())

	// The controller "moves" once: the client asks Metadata again and
	// sends the request a second time.
	kc.ControlKey(int16(kmsg.CreateTopics), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		req := kr.(*kmsg.CreateTopicsRequest)
		resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
		for _, t := range req.Topics {
			rt := kmsg.NewCreateTopicsResponseTopic()
			rt.Topic, rt.ErrorCode = t.Topic, kerr.NotController.Code
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	mustCreate(t, c, "second", 2, nil)
	assert.Len(t, creates.seen(), 3, "the refused request and the one that went through")

	ds, err := c.DescribeTopics(ctx, "first", "second")
	require.NoError(t, err)
	require.NoError(t, ds.Error())
	assert.Len(t, ds[1].Partitions, 2)
}

// Group requests go to the coordinator, look it up again on
// NOT_COORDINATOR and wait while it loads.
func TestCoordinatorRouting(t *testing.T) {
	kc, be := newKfakeCluster(t, kfake.NumBrokers(3))
	c := newAdmin(t, be)
	ctx := testCtx(t)

	var finds, describes observe
	finds.add(kc, int16(kmsg.FindCoordinator))
	describes.add(kc, int16(kmsg.DescribeGroups))
	for _, code := range []int16{kerr.NotCoordinator.Code, kerr.CoordinatorLoadInProgress.Code} {
		kc.ControlKey(int16(kmsg.DescribeGroups), func(kr kmsg.Request) (kmsg.Response, error, bool) {
			req := kr.(*kmsg.DescribeGroupsRequest)
			resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
			for _, g := range req.Groups {
				rg := kmsg.NewDescribeGroupsResponseGroup()
				rg.Group, rg.ErrorCode = g, code
				resp.Groups = append(resp.Groups, rg)
			}
			return resp, nil, true
		})
	}
	dgs, err := c.DescribeGroups(ctx, "g")
	require.NoError(t, err)
	assert.False(t, dgs[0].Exists())
	assert.Equal(t, kc.CoordinatorFor("g"), dgs[0].Coordinator)
	assert.Len(t, describes.seen(), 3, "NOT_COORDINATOR, LOAD_IN_PROGRESS, then the answer")
	assert.Len(t, finds.seen(), 2, "NOT_COORDINATOR looks the coordinator up again")
	for _, n := range describes.seen()[1:] {
		assert.Equal(t, kc.CoordinatorFor("g"), n)
	}
}

// A read-only request is sent again after its connection died; one that
// changes something is not, and its error names the lost connection.
func TestLostConnection(t *testing.T) {
	kc, be := newKfakeCluster(t, kfake.NumBrokers(1))
	c := newAdmin(t, be)
	mustCreate(t, c, "t", 1, nil)
	drop := func(key int16) {
		kc.ControlKey(key, func(kmsg.Request) (kmsg.Response, error, bool) {
			return nil, errors.New("dropped by test"), true
		})
	}

	drop(int16(kmsg.ListOffsets))
	ls, err := c.ListOffsets(testCtx(t), Latest, "t")
	require.NoError(t, err)
	assert.NoError(t, ls.Error())

	drop(int16(kmsg.CreateTopics))
	_, err = c.CreateTopics(testCtx(t), NewTopic{Name: "maybe"})
	assert.ErrorIs(t, err, ErrConnClosed)
}

// ListGroups asks every broker: each only lists the groups it coordinates.
func TestListGroupsEveryBroker(t *testing.T) {
	kc, be := newKfakeCluster(t, kfake.NumBrokers(3))
	c := newAdmin(t, be)
	ctx := testCtx(t)
	mustCreate(t, c, "t", 1, nil)
	coordinators := map[int32]bool{}
	want := map[string]int32{}
	for i := range 12 {
		g := fmt.Sprintf("group-%02d", i)
		plan, err := c.PlanResetOffsets(ctx, g, ToEarliest(), map[string][]int32{"t": nil})
		require.NoError(t, err)
		res, err := c.ResetOffsets(ctx, plan)
		require.NoError(t, err)
		require.NoError(t, res.Error())
		want[g] = kc.CoordinatorFor(g)
		coordinators[want[g]] = true
	}
	require.Greater(t, len(coordinators), 1, "groups spread over brokers")

	gs, err := c.ListGroups(ctx)
	require.NoError(t, err)
	got := map[string]int32{}
	for _, g := range gs {
		got[g.Group] = g.Coordinator
		assert.Equal(t, StateEmpty, g.State)
	}
	assert.Equal(t, want, got)
}

// Lag of a group whose committed topic was deleted: the partition carries
// the error and is left out of the total. The bundled broker keeps such
// offsets until they expire (kfake drops them with the topic, as Kafka 4
// does, so there is nothing to report there).
func TestLagDeletedTopic(t *testing.T) {
	be := newBundled(t)
	c := newAdmin(t, be)
	ctx := testCtx(t)
	mustCreate(t, c, "kept", 1, nil)
	mustCreate(t, c, "gone", 1, nil)
	produceN(t, be, "kept", 1, 5, time.Now())
	plan, err := c.PlanResetOffsets(ctx, "g", ToOffset(2), map[string][]int32{"kept": nil, "gone": nil})
	require.NoError(t, err)
	_, err = c.ResetOffsets(ctx, plan)
	require.NoError(t, err)
	rs, err := c.DeleteTopics(ctx, "gone")
	require.NoError(t, err)
	require.NoError(t, rs.Error())

	lag, err := c.Lag(ctx, "g")
	require.NoError(t, err)
	require.Len(t, lag.Partitions, 2)
	assert.Equal(t, "gone", lag.Partitions[0].Topic)
	assert.ErrorIs(t, lag.Partitions[0].Err, kerr.UnknownTopicOrPartition)
	assert.Equal(t, int64(-1), lag.Partitions[0].Lag)
	assert.Equal(t, int64(3), lag.Partitions[1].Lag)
	assert.Equal(t, int64(3), lag.Total)
}
