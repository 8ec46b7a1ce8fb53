package coordinator

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/framelog"
	"github.com/skiffkit/skiff/kerr"
)

// stableGroup builds a Stable generation-1 group of n members whose leader
// assigned "a-<member id>" to each; it returns the member ids, leader
// first.
func stableGroup(t testing.TB, c *Coordinator, group string, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		ids = append(ids, memberID(t, c, group))
	}
	joins := joinAll(t, c, group, ids...)
	leader := joins[ids[0]].LeaderID
	as := make(map[string]string)
	for _, id := range ids {
		as[id] = "a-" + id
	}
	var syncs []<-chan kmsg.Response
	for _, id := range ids {
		if id != leader {
			syncs = append(syncs, submit(t, c, syncReq(group, id, 1, nil)))
		}
	}
	require.Zero(t, do[*kmsg.SyncGroupResponse](t, c, syncReq(group, leader, 1, as)).ErrorCode)
	for _, ch := range syncs {
		require.Zero(t, wait[*kmsg.SyncGroupResponse](t, ch).ErrorCode)
	}
	out := []string{leader}
	for _, id := range ids {
		if id != leader {
			out = append(out, id)
		}
	}
	return out
}

func listGroups(t testing.TB, c *Coordinator) map[string]kmsg.ListGroupsResponseGroup {
	t.Helper()
	req := kmsg.NewPtrListGroupsRequest()
	req.Version = 5
	resp := do[*kmsg.ListGroupsResponse](t, c, req)
	require.Zero(t, resp.ErrorCode)
	out := make(map[string]kmsg.ListGroupsResponseGroup)
	for _, g := range resp.Groups {
		out[g.Group] = g
	}
	return out
}

func describeGroup(t testing.TB, c *Coordinator, group string) kmsg.DescribeGroupsResponseGroup {
	t.Helper()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Version = 5
	req.Groups = []string{group}
	resp := do[*kmsg.DescribeGroupsResponse](t, c, req)
	require.Len(t, resp.Groups, 1)
	return resp.Groups[0]
}

func groupCommit(t testing.TB, c *Coordinator, group, member string, gen int32, offsets map[int32]int64) map[int32]int16 {
	t.Helper()
	return commitCodes(do[*kmsg.OffsetCommitResponse](t, c, commitReq(8, group, member, gen, "t", offsets)))
}

// TestGroupsSurviveRestart restarts the coordinator with a group in each
// state Kafka records (and one it does not: mid-rebalance) and checks what
// comes back, as Kafka's GroupMetadataManager restores groups from
// __consumer_offsets.
func TestGroupsSurviveRestart(t *testing.T) {
	type setup struct {
		ids []string // leader first
	}
	for _, tc := range []struct {
		name string
		// before builds the group; ids are its members before the restart.
		before func(t *testing.T, c *Coordinator) setup
		// after checks the restarted coordinator.
		after func(t *testing.T, c *Coordinator, s setup)
	}{{
		name: "stable",
		before: func(t *testing.T, c *Coordinator) setup {
			ids := stableGroup(t, c, "g", 3)
			require.Equal(t, map[int32]int16{0: 0}, groupCommit(t, c, "g", ids[1], 1, map[int32]int64{0: 7}))
			return setup{ids}
		},
		after: func(t *testing.T, c *Coordinator, s setup) {
			info, ok := c.Group("g")
			require.True(t, ok)
			assert.Equal(t, "Stable", info.State)
			assert.Equal(t, int32(1), info.Generation)
			assert.Equal(t, "consumer", info.ProtocolType)
			assert.Equal(t, "range", info.Protocol)
			assert.Equal(t, s.ids[0], info.Leader)
			require.Len(t, info.Members, 3)
			for _, m := range info.Members {
				assert.Contains(t, s.ids, m.ID)
				assert.Equal(t, "a-"+m.ID, string(m.Assignment))
				assert.Equal(t, []byte("md-range"), m.Metadata)
				assert.Equal(t, testClient.ID, m.ClientID)
				assert.Equal(t, testClient.Host, m.ClientHost)
			}
			// Members go on with their ids and generation.
			for _, id := range s.ids {
				assert.Zero(t, heartbeat(t, c, "g", id, 1), "heartbeat of %s", id)
			}
			assert.Equal(t, map[int32]int16{0: 0}, groupCommit(t, c, "g", s.ids[2], 1, map[int32]int64{0: 9}))
			assert.Equal(t, map[int32]int64{0: 9}, fetchOffsets(t, c, "g", "t", 0))
			// A member that missed its SyncGroup answer gets its share.
			sync := do[*kmsg.SyncGroupResponse](t, c, syncReq("g", s.ids[1], 1, nil))
			require.Zero(t, sync.ErrorCode)
			assert.Equal(t, "a-"+s.ids[1], string(sync.MemberAssignment))
			// A follower rejoining with unchanged protocols needs no
			// rebalance: its protocols came back too.
			join := do[*kmsg.JoinGroupResponse](t, c, joinReq(9, "g", s.ids[2], nil))
			require.Zero(t, join.ErrorCode)
			assert.Equal(t, int32(1), join.Generation)
			info, _ = c.Group("g")
			assert.Equal(t, "Stable", info.State)
			assert.Equal(t, kerr.IllegalGeneration.Code, heartbeat(t, c, "g", s.ids[0], 2))

			dg := describeGroup(t, c, "g")
			assert.Equal(t, "Stable", dg.State)
			assert.Equal(t, "consumer", dg.ProtocolType)
			assert.Equal(t, "range", dg.Protocol)
			assert.Len(t, dg.Members, 3)
			assert.Equal(t, "consumer", listGroups(t, c)["g"].ProtocolType)
		},
	}, {
		name: "mid-rebalance",
		before: func(t *testing.T, c *Coordinator) setup {
			ids := stableGroup(t, c, "g", 2)
			// A third member arrives: the group rebalances, the
			// leader rejoins and is parked when the broker stops.
			third := memberID(t, c, "g")
			joinThird := submit(t, c, joinReq(9, "g", third, nil))
			joinLeader := submit(t, c, joinReq(9, "g", ids[0], nil))
			synctest.Wait()
			pending(t, joinThird)
			pending(t, joinLeader)
			info, _ := c.Group("g")
			require.Equal(t, "PreparingRebalance", info.State)
			t.Cleanup(func() {
				// Close answered both parked joins.
				assert.Equal(t, kerr.NotCoordinator.Code, wait[*kmsg.JoinGroupResponse](t, joinThird).ErrorCode)
				assert.Equal(t, kerr.NotCoordinator.Code, wait[*kmsg.JoinGroupResponse](t, joinLeader).ErrorCode)
			})
			return setup{append(ids, third)}
		},
		after: func(t *testing.T, c *Coordinator, s setup) {
			// Kafka records completed generations only: the group is
			// back at generation 1, without the member that joined
			// during the rebalance.
			info, _ := c.Group("g")
			assert.Equal(t, "Stable", info.State)
			assert.Equal(t, int32(1), info.Generation)
			require.Len(t, info.Members, 2)
			assert.Zero(t, heartbeat(t, c, "g", s.ids[1], 1))
			assert.Equal(t, kerr.UnknownMemberID.Code, heartbeat(t, c, "g", s.ids[2], 1))
			assert.Equal(t, map[int32]int16{0: 0}, groupCommit(t, c, "g", s.ids[0], 1, map[int32]int64{0: 3}))

			// The leader's rejoin starts the rebalance again, with no
			// initial delay: the group is not new.
			start := time.Now()
			joinLeader := submit(t, c, joinReq(9, "g", s.ids[0], nil))
			synctest.Wait()
			pending(t, joinLeader)
			assert.Equal(t, kerr.RebalanceInProgress.Code, heartbeat(t, c, "g", s.ids[1], 1))
			joinFollower := do[*kmsg.JoinGroupResponse](t, c, joinReq(9, "g", s.ids[1], nil))
			require.Zero(t, joinFollower.ErrorCode)
			assert.Equal(t, int32(2), joinFollower.Generation)
			assert.Zero(t, time.Since(start))
			assert.Len(t, wait[*kmsg.JoinGroupResponse](t, joinLeader).Members, 2)
		},
	}, {
		name: "empty",
		before: func(t *testing.T, c *Coordinator) setup {
			ids := stableGroup(t, c, "g", 1)
			require.Equal(t, map[int32]int16{0: 0}, groupCommit(t, c, "g", ids[0], 1, map[int32]int64{0: 5}))
			leave := kmsg.NewPtrLeaveGroupRequest()
			leave.Version = 3
			leave.Group = "g"
			leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: ids[0]}}
			require.Zero(t, do[*kmsg.LeaveGroupResponse](t, c, leave).Members[0].ErrorCode)
			info, _ := c.Group("g")
			require.Equal(t, "Empty", info.State)
			require.Equal(t, int32(2), info.Generation)
			return setup{ids}
		},
		after: func(t *testing.T, c *Coordinator, s setup) {
			info, ok := c.Group("g")
			require.True(t, ok)
			assert.Equal(t, "Empty", info.State)
			assert.Equal(t, int32(2), info.Generation)
			assert.Equal(t, "consumer", info.ProtocolType, "an empty group keeps its protocol type")
			assert.Empty(t, info.Members)
			assert.Equal(t, "consumer", listGroups(t, c)["g"].ProtocolType)
			assert.Equal(t, "consumer", describeGroup(t, c, "g").ProtocolType)
			assert.Equal(t, "Empty", describeGroup(t, c, "g").State)
			assert.Equal(t, kerr.UnknownMemberID.Code, heartbeat(t, c, "g", s.ids[0], 1))
			assert.Equal(t, map[int32]int64{0: 5}, fetchOffsets(t, c, "g", "t", 0))

			// A member joining the restored group does not wait for
			// the initial rebalance delay, and the generation goes on.
			id := memberID(t, c, "g")
			start := time.Now()
			join := do[*kmsg.JoinGroupResponse](t, c, joinReq(9, "g", id, nil))
			require.Zero(t, join.ErrorCode)
			assert.Zero(t, time.Since(start), "no initial rebalance delay")
			assert.Equal(t, int32(3), join.Generation)
		},
	}, {
		name: "deleted",
		before: func(t *testing.T, c *Coordinator) setup {
			ids := stableGroup(t, c, "g", 1)
			require.Equal(t, map[int32]int16{0: 0}, groupCommit(t, c, "g", ids[0], 1, map[int32]int64{0: 5}))
			leave := kmsg.NewPtrLeaveGroupRequest()
			leave.Version = 1
			leave.Group, leave.MemberID = "g", ids[0]
			require.Zero(t, do[*kmsg.LeaveGroupResponse](t, c, leave).ErrorCode)
			del := kmsg.NewPtrDeleteGroupsRequest()
			del.Groups = []string{"g"}
			require.Zero(t, do[*kmsg.DeleteGroupsResponse](t, c, del).Groups[0].ErrorCode)
			return setup{ids}
		},
		after: func(t *testing.T, c *Coordinator, s setup) {
			_, ok := c.Group("g")
			assert.False(t, ok)
			assert.NotContains(t, listGroups(t, c), "g")
			assert.Equal(t, "Dead", describeGroup(t, c, "g").State)
			assert.Equal(t, map[int32]int64{0: -1}, fetchOffsets(t, c, "g", "t", 0))
			assert.Equal(t, kerr.UnknownMemberID.Code, heartbeat(t, c, "g", s.ids[0], 1))

			// A new group of that name is new: the initial delay applies.
			id := memberID(t, c, "g")
			start := time.Now()
			join := do[*kmsg.JoinGroupResponse](t, c, joinReq(9, "g", id, nil))
			require.Zero(t, join.ErrorCode)
			assert.Equal(t, 100*time.Millisecond, time.Since(start), "initial rebalance delay")
			assert.Equal(t, int32(1), join.Generation)
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := testConfig(t.TempDir())
				c := newCoordinator(t, cfg)
				s := tc.before(t, c)
				c = restart(t, c, cfg)
				tc.after(t, c, s)
			})
		})
	}
}

// TestRestoredSessionsRestartAtLoad: restored members' session timers start
// when the coordinator loads the group. Members that come back keep the
// group; one that never does is removed a session timeout after the load,
// not earlier (its last heartbeat was long before) and not never.
func TestRestoredSessionsRestartAtLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t.TempDir())
		c := newCoordinator(t, cfg)
		ids := stableGroup(t, c, "g", 2)
		// The broker is down for longer than the session timeout (1s).
		require.NoError(t, c.Close(context.Background()))
		time.Sleep(3 * time.Second)
		c = newCoordinator(t, cfg)
		loaded := time.Now()

		var code int16
		for code == 0 {
			time.Sleep(200 * time.Millisecond)
			code = heartbeat(t, c, "g", ids[0], 1)
			require.Less(t, time.Since(loaded), 3*time.Second)
		}
		assert.Equal(t, kerr.RebalanceInProgress.Code, code)
		assert.GreaterOrEqual(t, time.Since(loaded), time.Second, "not before the session timeout after load")
		joins := joinAll(t, c, "g", ids[0])
		assert.Equal(t, int32(2), joins[ids[0]].Generation)
		assert.Len(t, joins[ids[0]].Members, 1)
		assert.Equal(t, kerr.UnknownMemberID.Code, heartbeat(t, c, "g", ids[1], 2))

		// The generation the survivor completes is itself durable.
		require.Zero(t, do[*kmsg.SyncGroupResponse](t, c, syncReq("g", ids[0], 2, map[string]string{ids[0]: "all"})).ErrorCode)
		c = restart(t, c, cfg)
		info, _ := c.Group("g")
		assert.Equal(t, int32(2), info.Generation)
		require.Len(t, info.Members, 1)
		assert.Equal(t, "all", string(info.Members[0].Assignment))
	})
}

// TestStaticMemberReplacementSurvivesRestart: a static member that rejoins
// Stable gets a new id without a rebalance; the new id, not the fenced
// one, is what the group knows after a restart.
func TestStaticMemberReplacementSurvivesRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t.TempDir())
		c := newCoordinator(t, cfg)
		inst := str("instance-1")
		first := do[*kmsg.JoinGroupResponse](t, c, joinReq(9, "g", "", inst))
		require.Zero(t, first.ErrorCode)
		require.Zero(t, do[*kmsg.SyncGroupResponse](t, c, syncReq("g", first.MemberID, 1, map[string]string{first.MemberID: "x"})).ErrorCode)
		second := do[*kmsg.JoinGroupResponse](t, c, joinReq(9, "g", "", inst))
		require.Zero(t, second.ErrorCode)
		require.NotEqual(t, first.MemberID, second.MemberID)
		assert.True(t, second.SkipAssignment)

		c = restart(t, c, cfg)
		assert.Zero(t, do[*kmsg.HeartbeatResponse](t, c, heartbeatReq("g", second.MemberID, 1, inst)).ErrorCode)
		assert.Equal(t, kerr.FencedInstanceID.Code, do[*kmsg.HeartbeatResponse](t, c, heartbeatReq("g", first.MemberID, 1, inst)).ErrorCode)
	})
}

// TestSyncGroupWaitsForDurableAssignment: the SyncGroup answers are sent
// only once the generation's record is written, and a failed write answers
// them NOT_COORDINATOR and rebalances instead of making the group Stable.
func TestSyncGroupWaitsForDurableAssignment(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.InitialRebalanceDelay = -1
	c := newCoordinator(t, cfg)
	id := memberID(t, c, "g")
	require.Zero(t, do[*kmsg.JoinGroupResponse](t, c, joinReq(9, "g", id, nil)).ErrorCode)

	release := make(chan struct{})
	entered := make(chan struct{})
	var good *os.File
	c.store.beforeWrite = func() {
		close(entered)
		<-release
		// Fail this one write: swap in a read-only handle.
		ro, err := os.Open(c.store.path)
		if err != nil {
			t.Error(err)
			return
		}
		good, c.store.f = c.store.f, ro
		c.store.beforeWrite = nil
	}
	ch := submit(t, c, syncReq("g", id, 1, map[string]string{id: "x"}))
	<-entered
	pending(t, ch)
	info, _ := c.Group("g")
	assert.Equal(t, "CompletingRebalance", info.State, "not Stable before the record is durable")
	close(release)
	assert.Equal(t, kerr.NotCoordinator.Code, wait[*kmsg.SyncGroupResponse](t, ch).ErrorCode)
	c.locked(func() {
		c.store.f.Close()
		c.store.f = good
	})
	info, _ = c.Group("g")
	assert.Equal(t, "PreparingRebalance", info.State)

	// The member rejoins; this time the write succeeds.
	join := do[*kmsg.JoinGroupResponse](t, c, joinReq(9, "g", id, nil))
	require.Zero(t, join.ErrorCode)
	require.Zero(t, do[*kmsg.SyncGroupResponse](t, c, syncReq("g", id, join.Generation, map[string]string{id: "y"})).ErrorCode)
	c = restart(t, c, cfg)
	info, _ = c.Group("g")
	assert.Equal(t, join.Generation, info.Generation)
	require.Len(t, info.Members, 1)
	assert.Equal(t, "y", string(info.Members[0].Assignment))
}

// TestEmptyGroupWithoutOffsetsIsForgottenDurably: the expiry pass forgets
// an Empty group without offsets (Kafka: the group becomes Dead) and
// writes its metadata tombstone, so it does not come back after a restart;
// a group that keeps offsets keeps its metadata.
func TestEmptyGroupWithoutOffsetsIsForgottenDurably(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t.TempDir())
		cfg.OffsetsRetentionCheckInterval = time.Minute
		c := newCoordinator(t, cfg)
		for _, name := range []string{"bare", "kept"} {
			ids := stableGroup(t, c, name, 1)
			if name == "kept" {
				require.Equal(t, map[int32]int16{0: 0}, groupCommit(t, c, name, ids[0], 1, map[int32]int64{0: 1}))
			}
			leave := kmsg.NewPtrLeaveGroupRequest()
			leave.Version = 1
			leave.Group, leave.MemberID = name, ids[0]
			require.Zero(t, do[*kmsg.LeaveGroupResponse](t, c, leave).ErrorCode)
		}
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		_, ok := c.Group("bare")
		assert.False(t, ok)
		c = restart(t, c, cfg)
		_, ok = c.Group("bare")
		assert.False(t, ok, "forgotten durably")
		info, ok := c.Group("kept")
		require.True(t, ok)
		assert.Equal(t, "consumer", info.ProtocolType)
	})
}

// TestGroupRecordsSurviveCompaction: compaction rewrites the live group
// records next to the live offsets.
func TestGroupRecordsSurviveCompaction(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.InitialRebalanceDelay = -1
	c := newCoordinator(t, cfg)
	c.store.compactMin = 4096
	id := memberID(t, c, "g")
	require.Zero(t, do[*kmsg.JoinGroupResponse](t, c, joinReq(9, "g", id, nil)).ErrorCode)
	require.Zero(t, do[*kmsg.SyncGroupResponse](t, c, syncReq("g", id, 1, map[string]string{id: "x"})).ErrorCode)
	before := c.store.size
	for i := range 300 {
		require.Equal(t, map[int32]int16{0: 0}, groupCommit(t, c, "g", id, 1, map[int32]int64{0: int64(i)}))
	}
	c.locked(func() {}) // the last commit's frame is applied before its answer
	require.Less(t, c.store.size, before+300*40, "compacted")
	c = restart(t, c, cfg)
	info, _ := c.Group("g")
	assert.Equal(t, "Stable", info.State)
	require.Len(t, info.Members, 1)
	assert.Equal(t, id, info.Members[0].ID)
	assert.Zero(t, heartbeat(t, c, "g", id, 1))
	assert.Equal(t, map[int32]int64{0: 299}, fetchOffsets(t, c, "g", "t", 0))
}

// sampleGroupRecord has every field set, a static and a dynamic member.
func sampleGroupRecord() *groupRecord {
	return &groupRecord{
		generation: 4, protocolType: "consumer", protocol: "range", leader: "m1",
		members: []memberRecord{
			{id: "m1", clientID: "c", clientHost: "h", sessionTimeout: 10, rebalanceTimeout: 20,
				protocols: []protocol{{"range", []byte{1}}, {"sticky", nil}}, assignment: []byte{2, 3}},
			{id: "m2", instanceID: str("i"), clientID: "c", clientHost: "h", sessionTimeout: 10, rebalanceTimeout: 20},
		},
	}
}

func TestGroupRecordMatchesDocumentedBytes(t *testing.T) {
	r := sampleGroupRecord()
	got := appendFrame(nil, []logEntry{
		{kind: entryGroupMetadata, key: offsetKey{group: "g"}, meta: r},
		{kind: entryGroupMetadataDelete, key: offsetKey{group: "x"}},
	})
	body := []byte{
		4, 0, 1, 'g', // kind, group
		0,          // version
		0, 0, 0, 4, // generation
		0, 8, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r', // protocol type
		0, 5, 'r', 'a', 'n', 'g', 'e', // protocol
		0, 2, 'm', '1', // leader
		0, 0, 0, 2, // member count
		0, 2, 'm', '1', // member id
		0xff, 0xff, // instance id: null
		0, 1, 'c', 0, 1, 'h', // client id, host
		0, 0, 0, 10, 0, 0, 0, 20, // session, rebalance timeout
		0, 0, 0, 2, // protocol count
		0, 5, 'r', 'a', 'n', 'g', 'e', 0, 0, 0, 1, 1, // range, metadata {1}
		0, 6, 's', 't', 'i', 'c', 'k', 'y', 0, 0, 0, 0, // sticky, no metadata
		0, 0, 0, 2, 2, 3, // assignment
		0, 2, 'm', '2', 0, 1, 'i', 0, 1, 'c', 0, 1, 'h', // member 2, instance "i"
		0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, // timeouts, no protocols, no assignment
		5, 0, 1, 'x', // metadata tombstone
	}
	assert.Equal(t, body, got[8:])
	entries, err := decodeEntries(nil, got[8:])
	require.NoError(t, err)
	require.Len(t, entries, 2)
	assert.Equal(t, r, entries[0].meta)
	assert.Equal(t, entrySize(&entries[0])+entrySize(&entries[1]), len(body))

	// A version this reader does not know is not trusted.
	body[4] = 1
	_, err = decodeEntries(nil, body)
	assert.ErrorIs(t, err, errCorrupt)
}

// FuzzGroupRecord feeds arbitrary bytes to the group metadata decoder: it
// must never panic, and whatever it accepts must encode back to the bytes
// it consumed (so a compaction rewrites exactly what was read).
func FuzzGroupRecord(f *testing.F) {
	good := appendGroupRecord(nil, sampleGroupRecord())
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(appendGroupRecord(nil, &groupRecord{protocolType: "consumer"}))
	f.Add([]byte{0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := reader{B: data}
		rec, err := readGroupRecord(&r)
		if err != nil {
			require.ErrorIs(t, err, errCorrupt)
			return
		}
		if r.Bad {
			return // cut short: the caller reports errCorrupt
		}
		used := data[:len(data)-len(r.B)]
		assert.Equal(t, used, appendGroupRecord(nil, rec))
		assert.Equal(t, len(used), groupRecordSize(rec))
		if len(rec.members) > 0 {
			g := restoreGroup("g", rec)
			assert.Equal(t, "Stable", g.state.String())
			assert.Len(t, g.order, len(g.members), "duplicate member ids collapse")
		}
	})
}

// TestGroupRecordRecovery damages the last group record as a crash or a bad
// disk would: the torn or corrupt record is dropped with everything after
// it, and the group comes back as its previous record left it.
func TestGroupRecordRecovery(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string, lastFrame int64)
	}{
		{"torn tail", func(t *testing.T, path string, lastFrame int64) {
			fi, err := os.Stat(path)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(path, fi.Size()-3))
		}},
		{"unknown version", func(t *testing.T, path string, lastFrame int64) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			frame := data[lastFrame:]
			// kind, group "g", then the version byte; the CRC is made
			// right again, as a newer writer's would be.
			require.Equal(t, byte(entryGroupMetadata), frame[framelog.HeaderSize])
			frame[framelog.HeaderSize+4] = groupRecordVersion + 1
			rechecksum(frame)
			require.NoError(t, os.WriteFile(path, data, 0o644))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := testConfig(t.TempDir())
				path := filepath.Join(cfg.DataDir, offsetsFile)
				c := newCoordinator(t, cfg)
				ids := stableGroup(t, c, "g", 1)
				fi, err := os.Stat(path)
				require.NoError(t, err)
				lastFrame := fi.Size()
				leave := kmsg.NewPtrLeaveGroupRequest()
				leave.Version = 1
				leave.Group, leave.MemberID = "g", ids[0]
				require.Zero(t, do[*kmsg.LeaveGroupResponse](t, c, leave).ErrorCode)
				require.NoError(t, c.Close(context.Background()))
				fi, err = os.Stat(path)
				require.NoError(t, err)
				require.Greater(t, fi.Size(), lastFrame, "the Empty record was written")

				tc.damage(t, path, lastFrame)
				c = newCoordinator(t, cfg)
				info, ok := c.Group("g")
				require.True(t, ok)
				assert.Equal(t, "Stable", info.State, "back to the record before the damaged one")
				assert.Equal(t, int32(1), info.Generation)
				assert.Zero(t, heartbeat(t, c, "g", ids[0], 1))
				fi, err = os.Stat(path)
				require.NoError(t, err)
				assert.Equal(t, lastFrame, fi.Size(), "the damaged tail is truncated")
			})
		})
	}
}

// TestSyncGroupsParkWhileAssignmentIsWritten: a follower's SyncGroup that
// arrives while the leader's assignment is being written waits for it, and
// a repeated leader SyncGroup does not write a second assignment: the first
// one decides what everyone gets.
func TestSyncGroupsParkWhileAssignmentIsWritten(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.InitialRebalanceDelay = -1
	c := newCoordinator(t, cfg)
	ids := []string{memberID(t, c, "g"), memberID(t, c, "g")}
	joins := joinAll(t, c, "g", ids...)
	leader := joins[ids[0]].LeaderID
	follower := ids[0]
	if follower == leader {
		follower = ids[1]
	}

	release := make(chan struct{})
	entered := make(chan struct{})
	c.store.beforeWrite = func() {
		close(entered)
		<-release
		c.store.beforeWrite = nil
	}
	first := submit(t, c, syncReq("g", leader, 1, map[string]string{leader: "L1", follower: "F1"}))
	<-entered
	fsync := submit(t, c, syncReq("g", follower, 1, nil))
	again := submit(t, c, syncReq("g", leader, 1, map[string]string{leader: "L2", follower: "F2"}))
	// The repeated leader SyncGroup replaces the parked one, which is
	// told to retry, as any repeated SyncGroup is.
	assert.Equal(t, kerr.RebalanceInProgress.Code, wait[*kmsg.SyncGroupResponse](t, first).ErrorCode)
	pending(t, fsync)
	pending(t, again)
	close(release)
	assert.Equal(t, "F1", string(wait[*kmsg.SyncGroupResponse](t, fsync).MemberAssignment))
	assert.Equal(t, "L1", string(wait[*kmsg.SyncGroupResponse](t, again).MemberAssignment))
	syncs := c.store.syncs.Load()
	c = restart(t, c, cfg)
	info, _ := c.Group("g")
	for _, m := range info.Members {
		assert.Contains(t, []string{"L1", "F1"}, string(m.Assignment))
	}
	assert.Equal(t, int64(1), syncs, "one record written for the generation")
}
