package coordinator

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// joinAll sends the second (KIP-394) JoinGroup of every id at once and
// waits for the join phase to complete, returning responses by member id.
func joinAll(t testing.TB, c *Coordinator, group string, ids ...string) map[string]*kmsg.JoinGroupResponse {
	t.Helper()
	chs := make(map[string]<-chan kmsg.Response)
	for _, id := range ids {
		chs[id] = submit(t, c, joinReq(9, group, id, nil))
	}
	out := make(map[string]*kmsg.JoinGroupResponse)
	for id, ch := range chs {
		out[id] = wait[*kmsg.JoinGroupResponse](t, ch)
		require.Zero(t, out[id].ErrorCode, "join of %s", id)
	}
	return out
}

func TestSingleMemberLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCoordinator(t, testConfig(t.TempDir()))
		id := memberID(t, c, "g")
		assert.Regexp(t, `^test-client-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, id)

		start := time.Now()
		ch := submit(t, c, joinReq(9, "g", id, nil))
		synctest.Wait()
		pending(t, ch) // parked for group.initial.rebalance.delay.ms
		join := wait[*kmsg.JoinGroupResponse](t, ch)
		assert.Equal(t, 100*time.Millisecond, time.Since(start), "initial rebalance delay")
		assert.Equal(t, int32(1), join.Generation)
		assert.Equal(t, id, join.LeaderID)
		assert.Equal(t, "range", *join.Protocol)
		assert.Equal(t, "consumer", *join.ProtocolType)
		require.Len(t, join.Members, 1)
		assert.Equal(t, []byte("md-range"), join.Members[0].ProtocolMetadata)

		info, _ := c.Group("g")
		assert.Equal(t, "CompletingRebalance", info.State)
		assert.Zero(t, heartbeat(t, c, "g", id, 1), "heartbeat between join and sync")

		sync := do[*kmsg.SyncGroupResponse](t, c, syncReq("g", id, 1, map[string]string{id: "assignment"}))
		require.Zero(t, sync.ErrorCode)
		assert.Equal(t, []byte("assignment"), sync.MemberAssignment)
		assert.Equal(t, "range", *sync.Protocol)

		info, _ = c.Group("g")
		assert.Equal(t, "Stable", info.State)
		require.Len(t, info.Members, 1)
		assert.Equal(t, []byte("assignment"), info.Members[0].Assignment)

		assert.Zero(t, heartbeat(t, c, "g", id, 1))
		// Heartbeats keep the member alive past its session timeout.
		for range 5 {
			time.Sleep(500 * time.Millisecond)
			require.Zero(t, heartbeat(t, c, "g", id, 1))
		}

		leave := kmsg.NewPtrLeaveGroupRequest()
		leave.Version = 1
		leave.Group, leave.MemberID = "g", id
		assert.Zero(t, do[*kmsg.LeaveGroupResponse](t, c, leave).ErrorCode)

		info, _ = c.Group("g")
		assert.Equal(t, "Empty", info.State)
		assert.Equal(t, int32(2), info.Generation)
		assert.Equal(t, kerr.UnknownMemberID.Code, heartbeat(t, c, "g", id, 1))
	})
}

func TestThreeMembersOneStopsHeartbeating(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCoordinator(t, testConfig(t.TempDir()))
		ids := []string{memberID(t, c, "g"), memberID(t, c, "g"), memberID(t, c, "g")}
		joins := joinAll(t, c, "g", ids...)
		leader := joins[ids[0]].LeaderID
		require.Contains(t, ids, leader)
		for _, id := range ids {
			assert.Equal(t, int32(1), joins[id].Generation)
			assert.Equal(t, leader, joins[id].LeaderID)
			if id == leader {
				assert.Len(t, joins[id].Members, 3)
			} else {
				assert.Empty(t, joins[id].Members)
			}
		}

		// Followers park in SyncGroup until the leader assigns.
		var followers []<-chan kmsg.Response
		for _, id := range ids {
			if id != leader {
				followers = append(followers, submit(t, c, syncReq("g", id, 1, nil)))
			}
		}
		synctest.Wait()
		for _, ch := range followers {
			pending(t, ch)
		}
		as := map[string]string{ids[0]: "a0", ids[1]: "a1", ids[2]: "a2"}
		require.Zero(t, do[*kmsg.SyncGroupResponse](t, c, syncReq("g", leader, 1, as)).ErrorCode)
		for _, ch := range followers {
			r := wait[*kmsg.SyncGroupResponse](t, ch)
			require.Zero(t, r.ErrorCode)
			assert.Contains(t, []string{"a0", "a1", "a2"}, string(r.MemberAssignment))
		}

		// ids[2] stops heartbeating; the others go on every 300ms.
		alive := ids[:2]
		var code int16
		start := time.Now()
		for code == 0 {
			time.Sleep(300 * time.Millisecond)
			for _, id := range alive {
				code = heartbeat(t, c, "g", id, 1)
			}
			require.Less(t, time.Since(start), 5*time.Second)
		}
		assert.Equal(t, kerr.RebalanceInProgress.Code, code)
		assert.GreaterOrEqual(t, time.Since(start), time.Second, "not before the session timeout")

		joins = joinAll(t, c, "g", alive...)
		for _, id := range alive {
			assert.Equal(t, int32(2), joins[id].Generation)
		}
		info, _ := c.Group("g")
		assert.Len(t, info.Members, 2)
		assert.Equal(t, kerr.UnknownMemberID.Code, heartbeat(t, c, "g", ids[2], 2))
		assert.Equal(t, kerr.IllegalGeneration.Code, heartbeat(t, c, "g", alive[0], 1))
	})
}

func TestRebalanceTimeoutRemovesMembersThatDoNotRejoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCoordinator(t, testConfig(t.TempDir()))
		a, b := memberID(t, c, "g"), memberID(t, c, "g")
		joins := joinAll(t, c, "g", a, b)
		require.Equal(t, a, joins[a].LeaderID)
		chs := []<-chan kmsg.Response{submit(t, c, syncReq("g", b, 1, nil)), submit(t, c, syncReq("g", a, 1, nil))}
		for _, ch := range chs {
			require.Zero(t, wait[*kmsg.SyncGroupResponse](t, ch).ErrorCode)
		}

		// A new member triggers a rebalance; b keeps heartbeating but
		// never rejoins, a rejoins at once.
		n := memberID(t, c, "g")
		newJoin := submit(t, c, joinReq(9, "g", n, nil))
		synctest.Wait()
		pending(t, newJoin)
		aJoin := submit(t, c, joinReq(9, "g", a, nil))
		start := time.Now()
		var r *kmsg.JoinGroupResponse
		for r == nil {
			select {
			case resp := <-newJoin:
				r = resp.(*kmsg.JoinGroupResponse)
			case <-time.After(300 * time.Millisecond):
				assert.Equal(t, kerr.RebalanceInProgress.Code, heartbeat(t, c, "g", b, 1))
			}
		}
		require.Zero(t, r.ErrorCode)
		assert.Equal(t, 2*time.Second, time.Since(start), "the rebalance timeout")
		assert.Equal(t, int32(2), r.Generation)
		require.Zero(t, wait[*kmsg.JoinGroupResponse](t, aJoin).ErrorCode)

		info, _ := c.Group("g")
		var members []string
		for _, m := range info.Members {
			members = append(members, m.ID)
		}
		assert.ElementsMatch(t, []string{a, n}, members)
		assert.Equal(t, kerr.UnknownMemberID.Code, heartbeat(t, c, "g", b, 2))
	})
}

func TestInitialRebalanceDelayExtendsWhileMembersArrive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t.TempDir())
		cfg.InitialRebalanceDelay = time.Second
		c := newCoordinator(t, cfg)
		start := time.Now()
		// v3: no KIP-394 round trip.
		first := submit(t, c, joinReq(3, "g", "", nil))
		time.Sleep(900 * time.Millisecond)
		second := submit(t, c, joinReq(3, "g", "", nil))
		r1 := wait[*kmsg.JoinGroupResponse](t, first)
		r2 := wait[*kmsg.JoinGroupResponse](t, second)
		// The step that saw the second member arrive is followed by
		// one more; the rebalance timeout (2s) caps the total.
		assert.Equal(t, 2*time.Second, time.Since(start))
		assert.Equal(t, int32(1), r1.Generation)
		assert.Equal(t, r1.MemberID, r1.LeaderID, "leader is the first joiner")
		assert.Equal(t, r1.LeaderID, r2.LeaderID)
		assert.Len(t, r1.Members, 2)
	})
}

func TestStaticMemberRejoinWithoutRebalance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCoordinator(t, testConfig(t.TempDir()))
		inst := str("instance-1")
		// Static members skip KIP-394.
		j1 := submit(t, c, joinReq(9, "g", "", inst))
		other := memberID(t, c, "g")
		j2 := submit(t, c, joinReq(9, "g", other, nil))
		r1 := wait[*kmsg.JoinGroupResponse](t, j1)
		r2 := wait[*kmsg.JoinGroupResponse](t, j2)
		require.Zero(t, r1.ErrorCode)
		require.Zero(t, r2.ErrorCode)
		old := r1.MemberID
		s2 := submit(t, c, syncReq("g", other, 1, nil))
		require.Zero(t, do[*kmsg.SyncGroupResponse](t, c, syncReq("g", old, 1, map[string]string{old: "mine", other: "theirs"})).ErrorCode)
		require.Zero(t, wait[*kmsg.SyncGroupResponse](t, s2).ErrorCode)

		// The static member restarts: same instance id, no member id.
		rejoin := do[*kmsg.JoinGroupResponse](t, c, joinReq(9, "g", "", inst))
		require.Zero(t, rejoin.ErrorCode)
		assert.NotEqual(t, old, rejoin.MemberID)
		assert.Equal(t, int32(1), rejoin.Generation, "no rebalance")
		assert.Equal(t, rejoin.MemberID, rejoin.LeaderID, "the leader keeps leading under its new id")
		assert.True(t, rejoin.SkipAssignment)

		info, _ := c.Group("g")
		assert.Equal(t, "Stable", info.State)
		assert.Equal(t, int32(1), info.Generation)
		sync := do[*kmsg.SyncGroupResponse](t, c, syncReq("g", rejoin.MemberID, 1, nil))
		require.Zero(t, sync.ErrorCode)
		assert.Equal(t, []byte("mine"), sync.MemberAssignment, "assignment kept")

		// The old incarnation is fenced.
		hb := do[*kmsg.HeartbeatResponse](t, c, heartbeatReq("g", old, 1, inst))
		assert.Equal(t, kerr.FencedInstanceID.Code, hb.ErrorCode)
		assert.Zero(t, do[*kmsg.HeartbeatResponse](t, c, heartbeatReq("g", rejoin.MemberID, 1, inst)).ErrorCode)
		assert.Zero(t, heartbeat(t, c, "g", other, 1))

		// A static leave by instance id only.
		leave := kmsg.NewPtrLeaveGroupRequest()
		leave.Version = 5
		leave.Group = "g"
		leave.Members = []kmsg.LeaveGroupRequestMember{
			{InstanceID: inst},
			{MemberID: "nobody"},
			{MemberID: old, InstanceID: str("instance-1")},
		}
		lr := do[*kmsg.LeaveGroupResponse](t, c, leave)
		require.Len(t, lr.Members, 3)
		assert.Zero(t, lr.Members[0].ErrorCode)
		assert.Equal(t, kerr.UnknownMemberID.Code, lr.Members[1].ErrorCode)
		assert.Equal(t, kerr.UnknownMemberID.Code, lr.Members[2].ErrorCode, "instance already gone")
		assert.Equal(t, kerr.RebalanceInProgress.Code, heartbeat(t, c, "g", other, 1))
	})
}

func TestJoinErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCoordinator(t, testConfig(t.TempDir()))
		a := memberID(t, c, "g")
		joinAll(t, c, "g", a)
		require.Zero(t, do[*kmsg.SyncGroupResponse](t, c, syncReq("g", a, 1, nil)).ErrorCode)

		otherType := joinReq(9, "g", "", nil)
		otherType.ProtocolType = "connect"
		shortSession := joinReq(9, "g", "", nil)
		shortSession.SessionTimeoutMillis = 10
		noProtocols := joinReq(9, "fresh", "", nil)
		noProtocols.Protocols = nil

		for _, tc := range []struct {
			name string
			req  *kmsg.JoinGroupRequest
			want *kerr.Error
		}{
			{"protocol type mismatch", otherType, kerr.InconsistentGroupProtocol},
			{"no common protocol", joinReq(9, "g", "", nil, "sticky"), kerr.InconsistentGroupProtocol},
			{"no protocols", noProtocols, kerr.InconsistentGroupProtocol},
			{"unknown member", joinReq(9, "g", "ghost", nil), kerr.UnknownMemberID},
			{"unknown member of unknown group", joinReq(9, "nope", "ghost", nil), kerr.UnknownMemberID},
			{"session timeout below minimum", shortSession, kerr.InvalidSessionTimeout},
			{"empty group id", joinReq(9, "", "", nil), kerr.InvalidGroupID},
			{"unknown static member with id", joinReq(9, "g", a, str("inst")), kerr.UnknownMemberID},
		} {
			assert.Equal(t, tc.want.Code, do[*kmsg.JoinGroupResponse](t, c, tc.req).ErrorCode, tc.name)
		}
		// A common protocol among several is accepted.
		n := do[*kmsg.JoinGroupResponse](t, c, joinReq(9, "g", "", nil, "sticky", "range"))
		assert.Equal(t, kerr.MemberIDRequired.Code, n.ErrorCode)
	})
}

func TestGenerationAndMemberChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCoordinator(t, testConfig(t.TempDir()))
		a := memberID(t, c, "g")
		joinAll(t, c, "g", a)

		syncStale := syncReq("g", a, 0, nil)
		syncWrongProto := syncReq("g", a, 1, nil)
		syncWrongProto.Protocol = str("roundrobin")
		for _, tc := range []struct {
			name string
			req  kmsg.Request
			want *kerr.Error
		}{
			{"heartbeat stale generation", heartbeatReq("g", a, 0, nil), kerr.IllegalGeneration},
			{"heartbeat unknown member", heartbeatReq("g", "ghost", 1, nil), kerr.UnknownMemberID},
			{"heartbeat unknown group", heartbeatReq("ghost", a, 1, nil), kerr.UnknownMemberID},
			{"sync stale generation", syncStale, kerr.IllegalGeneration},
			{"sync unknown member", syncReq("g", "ghost", 1, nil), kerr.UnknownMemberID},
			{"sync wrong protocol", syncWrongProto, kerr.InconsistentGroupProtocol},
			{"commit stale generation", commitReq(7, "g", a, 0, "t", map[int32]int64{0: 1}), kerr.RebalanceInProgress},
		} {
			var code int16
			switch resp := wait[kmsg.Response](t, submit(t, c, tc.req)).(type) {
			case *kmsg.HeartbeatResponse:
				code = resp.ErrorCode
			case *kmsg.SyncGroupResponse:
				code = resp.ErrorCode
			case *kmsg.OffsetCommitResponse:
				code = commitCodes(resp)[0]
			}
			assert.Equal(t, tc.want.Code, code, tc.name)
		}
		require.Zero(t, do[*kmsg.SyncGroupResponse](t, c, syncReq("g", a, 1, nil)).ErrorCode)
		for _, tc := range []struct {
			name     string
			member   string
			gen      int32
			wantCode *kerr.Error
		}{
			{"stale generation", a, 0, kerr.IllegalGeneration},
			{"unknown member", "ghost", 1, kerr.UnknownMemberID},
			{"simple commit to a group with members", "", -1, kerr.UnknownMemberID},
		} {
			resp := do[*kmsg.OffsetCommitResponse](t, c, commitReq(7, "g", tc.member, tc.gen, "t", map[int32]int64{0: 1}))
			assert.Equal(t, tc.wantCode.Code, commitCodes(resp)[0], tc.name)
		}
		resp := do[*kmsg.OffsetCommitResponse](t, c, commitReq(7, "g", a, 1, "t", map[int32]int64{0: 42}))
		assert.Zero(t, commitCodes(resp)[0])
		assert.Equal(t, map[int32]int64{0: 42}, fetchOffsets(t, c, "g", "t", 0))
	})
}

func TestLeaderSyncDuringRebalanceAndParkedSyncs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCoordinator(t, testConfig(t.TempDir()))
		a, b := memberID(t, c, "g"), memberID(t, c, "g")
		joins := joinAll(t, c, "g", a, b)
		follower := a
		if joins[a].LeaderID == a {
			follower = b
		}
		parkedSync := submit(t, c, syncReq("g", follower, 1, nil))
		synctest.Wait()
		pending(t, parkedSync)
		// A third member arrives before the leader syncs: the parked
		// follower learns that the generation is over.
		n := memberID(t, c, "g")
		newJoin := submit(t, c, joinReq(9, "g", n, nil))
		assert.Equal(t, kerr.RebalanceInProgress.Code, wait[*kmsg.SyncGroupResponse](t, parkedSync).ErrorCode)
		assert.Equal(t, kerr.RebalanceInProgress.Code, heartbeat(t, c, "g", follower, 1))
		joins = joinAll(t, c, "g", a, b)
		r := wait[*kmsg.JoinGroupResponse](t, newJoin)
		assert.Equal(t, int32(2), r.Generation)
		assert.Equal(t, int32(2), joins[a].Generation)
	})
}

func TestCloseAnswersParkedRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := New(testConfig(t.TempDir()))
		require.NoError(t, err)
		id := memberID(t, c, "g")
		ch := submit(t, c, joinReq(9, "g", id, nil))
		synctest.Wait()
		pending(t, ch)
		require.NoError(t, c.Close(t.Context()))
		assert.Equal(t, kerr.NotCoordinator.Code, wait[*kmsg.JoinGroupResponse](t, ch).ErrorCode)
		assert.ErrorIs(t, c.Close(t.Context()), ErrClosed)
		assert.Equal(t, kerr.NotCoordinator.Code, heartbeat(t, c, "g", id, 1))
		resp := do[*kmsg.OffsetCommitResponse](t, c, commitReq(2, "simple", "", -1, "t", map[int32]int64{0: 1}))
		assert.Equal(t, kerr.NotCoordinator.Code, commitCodes(resp)[0])
	})
}
