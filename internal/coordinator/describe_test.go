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

func TestDescribeAndListGroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCoordinator(t, testConfig(t.TempDir()))
		simpleCommit(t, c, "offsets", "t", map[int32]int64{0: 1})
		a := memberID(t, c, "stable")
		joinAll(t, c, "stable", a)
		require.Zero(t, do[*kmsg.SyncGroupResponse](t, c, syncReq("stable", a, 1, map[string]string{a: "asg"})).ErrorCode)
		b := memberID(t, c, "joining")
		joining := submit(t, c, joinReq(9, "joining", b, nil))

		desc := kmsg.NewPtrDescribeGroupsRequest()
		desc.Version = 5
		desc.Groups = []string{"stable", "joining", "offsets", "nope"}
		desc.IncludeAuthorizedOperations = true
		dr := do[*kmsg.DescribeGroupsResponse](t, c, desc)
		require.Len(t, dr.Groups, 4)
		st := dr.Groups[0]
		assert.Equal(t, "Stable", st.State)
		assert.Equal(t, "range", st.Protocol)
		assert.Equal(t, "consumer", st.ProtocolType)
		assert.Equal(t, int32(groupOperations), st.AuthorizedOperations)
		require.Len(t, st.Members, 1)
		m := st.Members[0]
		assert.Equal(t, a, m.MemberID)
		assert.Equal(t, "test-client", m.ClientID)
		assert.Equal(t, "/127.0.0.1", m.ClientHost)
		assert.Equal(t, []byte("md-range"), m.ProtocolMetadata)
		assert.Equal(t, []byte("asg"), m.MemberAssignment)

		jg := dr.Groups[1]
		assert.Equal(t, "PreparingRebalance", jg.State)
		assert.Empty(t, jg.Protocol, "no protocol before Stable")
		require.Len(t, jg.Members, 1)
		assert.Empty(t, jg.Members[0].ProtocolMetadata)
		assert.Equal(t, "Empty", dr.Groups[2].State)
		assert.Equal(t, "Dead", dr.Groups[3].State)
		assert.Zero(t, dr.Groups[3].ErrorCode)

		list := func(v int16, states ...string) map[string]string {
			req := kmsg.NewPtrListGroupsRequest()
			req.Version = v
			req.StatesFilter = states
			resp := do[*kmsg.ListGroupsResponse](t, c, req)
			require.Zero(t, resp.ErrorCode)
			out := map[string]string{}
			for _, g := range resp.Groups {
				out[g.Group] = g.GroupState
				assert.Equal(t, "classic", g.GroupType)
			}
			return out
		}
		assert.Equal(t, map[string]string{"stable": "Stable", "joining": "PreparingRebalance", "offsets": "Empty"}, list(5))
		assert.Equal(t, map[string]string{"stable": "Stable", "offsets": "Empty"}, list(4, "stable", "EMPTY"))
		require.Zero(t, wait[*kmsg.JoinGroupResponse](t, joining).ErrorCode)
	})
}

func TestFindCoordinator(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.NodeID, cfg.Host, cfg.Port = 7, "broker.local", 19092
	c := newCoordinator(t, cfg)
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version = 4
	req.CoordinatorKeys = []string{"a", "b"}
	resp := do[*kmsg.FindCoordinatorResponse](t, c, req)
	require.Len(t, resp.Coordinators, 2)
	for i, co := range resp.Coordinators {
		assert.Equal(t, req.CoordinatorKeys[i], co.Key)
		assert.Equal(t, int32(7), co.NodeID)
		assert.Equal(t, "broker.local", co.Host)
		assert.Equal(t, int32(19092), co.Port)
	}
	req = kmsg.NewPtrFindCoordinatorRequest()
	req.Version = 2
	req.CoordinatorType = 5
	resp = do[*kmsg.FindCoordinatorResponse](t, c, req)
	assert.Equal(t, kerr.InvalidRequest.Code, resp.ErrorCode)
	assert.NotNil(t, resp.ErrorMessage)
}

// TestPendingMemberExpires checks that a KIP-394 member id that never comes
// back does not hold a rebalance beyond its session timeout.
func TestPendingMemberExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCoordinator(t, testConfig(t.TempDir()))
		a := memberID(t, c, "g")
		joinAll(t, c, "g", a)
		require.Zero(t, do[*kmsg.SyncGroupResponse](t, c, syncReq("g", a, 1, nil)).ErrorCode)
		start := time.Now()
		memberID(t, c, "g") // never comes back
		// The leader rejoins: a rebalance that waits for pending ids.
		r := do[*kmsg.JoinGroupResponse](t, c, joinReq(9, "g", a, nil))
		require.Zero(t, r.ErrorCode)
		assert.Equal(t, time.Second, time.Since(start), "held until the pending id's session timeout")
		assert.Equal(t, int32(2), r.Generation)
		assert.Len(t, r.Members, 1)
	})
}

func TestConfigValidation(t *testing.T) {
	_, err := New(Config{MinSessionTimeout: time.Minute, MaxSessionTimeout: time.Second, Port: -1})
	require.Error(t, err)
	for _, want := range []string{"DataDir", "MaxSessionTimeout", "Port"} {
		assert.Contains(t, err.Error(), want)
	}
}
