package coordinator

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/purgatory"
	"github.com/skiffkit/skiff/kerr"
)

func TestPurgatoryKeys(t *testing.T) {
	cases := []struct {
		name string
		a, b purgatory.Key
	}{
		{"member split across '/'", memberKeys("a/b", "c")[0], memberKeys("a", "b/c")[0]},
		{"group vs member", groupKeys("g")[0], memberKeys("g", "")[0]},
		{"group vs partition", groupKeys("t")[0], purgatory.Key{Topic: "t", Partition: -1}},
		{"member vs partition", memberKeys("g", "m")[0], purgatory.Key{Topic: "g/m", Partition: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.NotEqual(t, tc.a, tc.b)
		})
	}
	assert.Equal(t, purgatory.Key{Topic: "group/g", Partition: -1}, groupKeys("g")[0])
	assert.Equal(t, purgatory.Key{Topic: "member/g/m", Partition: 1}, memberKeys("g", "m")[0])
}

// stableMember joins group alone and syncs, returning its member id.
func stableMember(t testing.TB, c *Coordinator, group string, instance *string) string {
	t.Helper()
	req := joinReq(9, group, "", instance)
	if instance == nil {
		req.MemberID = memberID(t, c, group)
	}
	join := do[*kmsg.JoinGroupResponse](t, c, req)
	require.Zero(t, join.ErrorCode)
	require.Zero(t, do[*kmsg.SyncGroupResponse](t, c, syncReq(group, join.MemberID, join.Generation, nil)).ErrorCode)
	return join.MemberID
}

// TestDelayedOpsDoNotAccumulate checks that each liveness event completes
// the member's previous session op through Notify instead of leaving it in
// the purgatory until its deadline: the purgatory holds one session op per
// member plus the offsets expiry pass, however many heartbeats arrive.
func TestDelayedOpsDoNotAccumulate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCoordinator(t, testConfig(t.TempDir()))
		require.Equal(t, 1, c.purg.Len(), "the offsets expiry pass")
		a := stableMember(t, c, "g", nil)
		synctest.Wait()
		require.Equal(t, 2, c.purg.Len())
		for range 100 {
			require.Zero(t, heartbeat(t, c, "g", a, 1))
		}
		resp := do[*kmsg.OffsetCommitResponse](t, c, commitReq(7, "g", a, 1, "t", map[int32]int64{0: 1}))
		require.Zero(t, commitCodes(resp)[0])
		assert.Equal(t, 2, c.purg.Len(), "one session op per member")

		// A pending id that joins: its session op and the join op leave.
		b := memberID(t, c, "g")
		assert.Equal(t, 3, c.purg.Len(), "the pending id's session op")
		chB := submit(t, c, joinReq(9, "g", b, nil))
		joins := joinAll(t, c, "g", a)
		require.Zero(t, wait[*kmsg.JoinGroupResponse](t, chB).ErrorCode)
		assert.Equal(t, int32(2), joins[a].Generation)
		assert.Equal(t, 3, c.purg.Len(), "two session ops, no join op")

		leave := kmsg.NewPtrLeaveGroupRequest()
		leave.Version = 3
		leave.Group = "g"
		leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: a}, {MemberID: b}}
		require.Zero(t, do[*kmsg.LeaveGroupResponse](t, c, leave).ErrorCode)
		assert.Equal(t, 1, c.purg.Len(), "members gone, their ops with them")
	})
}

// TestStaticMemberRenameMovesSession checks that a static member that
// rejoins under a new member id keeps one session, under the new id: the
// old id's op neither lingers nor expires the member.
func TestStaticMemberRenameMovesSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCoordinator(t, testConfig(t.TempDir()))
		old := stableMember(t, c, "g", str("i1"))
		r := do[*kmsg.JoinGroupResponse](t, c, joinReq(9, "g", "", str("i1")))
		require.Zero(t, r.ErrorCode)
		require.NotEqual(t, old, r.MemberID)
		assert.Equal(t, 2, c.purg.Len(), "one session op and the expiry pass")
		// Outlive the old session deadline on the new id's heartbeats.
		for range 6 {
			time.Sleep(400 * time.Millisecond)
			require.Zero(t, heartbeat(t, c, "g", r.MemberID, 1))
		}
		info, _ := c.Group("g")
		require.Len(t, info.Members, 1)
		assert.Equal(t, r.MemberID, info.Members[0].ID)
		// Silence expires the member under its new id.
		time.Sleep(time.Second)
		synctest.Wait()
		info, _ = c.Group("g")
		assert.Equal(t, "Empty", info.State)
		assert.Equal(t, 1, c.purg.Len())
	})
}

// TestLeaveAnsweredAfterJoinPhaseEnds checks that what a request sets off
// at once has happened before it is answered, although the join phase now
// completes through the purgatory after mu is released: a leave that lets
// the join phase end is answered after the join responses, and the last
// leave after the group is Empty (sarama checks the group on Close).
func TestLeaveAnsweredAfterJoinPhaseEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCoordinator(t, testConfig(t.TempDir()))
		a, b := memberID(t, c, "g"), memberID(t, c, "g")
		joins := joinAll(t, c, "g", a, b)
		leader := joins[a].LeaderID
		follower := a
		if leader == a {
			follower = b
		}
		require.Zero(t, do[*kmsg.SyncGroupResponse](t, c, syncReq("g", leader, 1, nil)).ErrorCode)
		require.Zero(t, do[*kmsg.SyncGroupResponse](t, c, syncReq("g", follower, 1, nil)).ErrorCode)

		// The leader rejoins; the join phase waits for the follower,
		// who leaves instead.
		rejoin := submit(t, c, joinReq(9, "g", leader, nil))
		synctest.Wait()
		pending(t, rejoin)
		leave := func(id string) (state string, rejoined bool) {
			req := kmsg.NewPtrLeaveGroupRequest()
			req.Version = 1
			req.Group, req.MemberID = "g", id
			done := make(chan struct{})
			c.Handle(testClient, req, func(resp kmsg.Response) {
				assert.Zero(t, resp.(*kmsg.LeaveGroupResponse).ErrorCode)
				info, _ := c.Group("g") // respond runs without mu held
				state, rejoined = info.State, len(rejoin) > 0
				close(done)
			})
			<-done
			return state, rejoined
		}
		state, rejoined := leave(follower)
		assert.Equal(t, "CompletingRebalance", state)
		assert.True(t, rejoined, "the join response went out before the leave's")
		r := wait[*kmsg.JoinGroupResponse](t, rejoin)
		require.Zero(t, r.ErrorCode)
		assert.Equal(t, int32(2), r.Generation)

		state, _ = leave(leader)
		assert.Equal(t, "Empty", state)
	})
}

// TestGroupChurn runs members that join, sync, heartbeat, commit and leave
// concurrently, in one group and across groups. Rebalances keep
// interrupting each other, so ops are parked, notified, superseded and
// expired from every goroutine at once; under -race this checks the lock
// order (no deadlock), that every request is answered exactly once, and
// that nothing is left parked. It runs in a synctest bubble and on the real
// clock, where the purgatory's timer goroutine fires in the middle of
// handlers rather than only when everyone is blocked.
func TestGroupChurn(t *testing.T) {
	run := func(t *testing.T) {
		c := newCoordinator(t, testConfig(t.TempDir()))
		var wg sync.WaitGroup
		for i := range 8 {
			group := fmt.Sprintf("g%d", i%2)
			wg.Go(func() {
				// Staggered, so members arrive in every phase of
				// the others' rebalances.
				time.Sleep(time.Duration(i) * 70 * time.Millisecond)
				churn(t, c, group, 4)
			})
		}
		wg.Wait()
		for _, g := range []string{"g0", "g1"} {
			info, ok := c.Group(g)
			require.True(t, ok)
			assert.Equal(t, "Empty", info.State, g)
			assert.Empty(t, info.Members, g)
			// A member's rounds are in distinct generations, and
			// the last leave ends one more.
			assert.GreaterOrEqual(t, info.Generation, int32(4+1), g)
		}
		// Stale ops are flushed by the Notify that superseded them;
		// Eventually covers a Watch queued by the timer goroutine just
		// before the last leave, which completes as soon as it lands.
		assert.Eventually(t, func() bool { return c.purg.Len() == 1 }, time.Second, time.Millisecond,
			"only the offsets expiry pass is left")
	}
	t.Run("synctest", func(t *testing.T) { synctest.Test(t, run) })
	t.Run("real clock", run)
}

// call sends req and waits for its one response; safe off the test
// goroutine (it reports with t.Errorf).
func call[R kmsg.Response](t testing.TB, c *Coordinator, req kmsg.Request) (R, bool) {
	ch := make(chan kmsg.Response, 2)
	c.Handle(testClient, req, func(resp kmsg.Response) { ch <- resp })
	var zero R
	select {
	case resp := <-ch:
		select {
		case extra := <-ch:
			t.Errorf("%T answered twice: %v", req, extra)
		default:
		}
		r, ok := resp.(R)
		if !ok {
			t.Errorf("response is %T", resp)
		}
		return r, ok
	case <-time.After(time.Minute):
		t.Errorf("%T: no response", req)
		return zero, false
	}
}

// churn is a consumer that rounds times joins as a new member, syncs,
// heartbeats, commits and leaves, rejoining whenever the coordinator asks.
func churn(t testing.TB, c *Coordinator, group string, rounds int) {
	id := ""
	for done, tries := 0, 0; done < rounds; tries++ {
		if tries > 200 {
			t.Errorf("%s: no progress after %d tries", group, tries)
			return
		}
		join, ok := call[*kmsg.JoinGroupResponse](t, c, joinReq(9, group, id, nil))
		if !ok {
			return
		}
		switch join.ErrorCode {
		case 0:
		case kerr.MemberIDRequired.Code:
			id = join.MemberID
			continue
		case kerr.UnknownMemberID.Code:
			id = ""
			continue
		default:
			continue
		}
		id = join.MemberID
		as := map[string]string{}
		for _, m := range join.Members {
			as[m.MemberID] = "a-" + m.MemberID
		}
		sync, ok := call[*kmsg.SyncGroupResponse](t, c, syncReq(group, id, join.Generation, as))
		if !ok {
			return
		}
		if sync.ErrorCode != 0 {
			continue
		}
		for range 3 {
			time.Sleep(150 * time.Millisecond)
			hb, ok := call[*kmsg.HeartbeatResponse](t, c, heartbeatReq(group, id, join.Generation, nil))
			if !ok || hb.ErrorCode != 0 {
				break
			}
		}
		call[*kmsg.OffsetCommitResponse](t, c, commitReq(7, group, id, join.Generation, "t", map[int32]int64{0: int64(done)}))
		leave := kmsg.NewPtrLeaveGroupRequest()
		leave.Version = 1
		leave.Group, leave.MemberID = group, id
		if r, ok := call[*kmsg.LeaveGroupResponse](t, c, leave); ok && r.ErrorCode != 0 {
			// Only a member the coordinator already removed (a
			// missed rebalance) may fail to leave.
			if r.ErrorCode != kerr.UnknownMemberID.Code {
				t.Errorf("leave %s: %v", id, kerr.ForCode(r.ErrorCode))
			}
		}
		id = ""
		done++
	}
}
