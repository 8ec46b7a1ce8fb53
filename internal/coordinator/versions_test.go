package coordinator

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// roundTrip sends req through the wire encoding both ways: the request is
// encoded and decoded with kmsg before Handle sees it, and the response is
// encoded and decoded before the test does, so fields a version cannot carry
// are dropped exactly as on a real connection.
func roundTrip(t testing.TB, c *Coordinator, req kmsg.Request) kmsg.Response {
	t.Helper()
	decoded := kmsg.RequestForKey(req.Key())
	decoded.SetVersion(req.GetVersion())
	require.NoError(t, decoded.ReadFrom(req.AppendTo(nil)), "decode %T v%d", req, req.GetVersion())
	resp := wait[kmsg.Response](t, submit(t, c, decoded))
	require.Equal(t, req.GetVersion(), resp.GetVersion(), "response version of %T", req)
	out := decoded.ResponseKind()
	require.NoError(t, out.ReadFrom(resp.AppendTo(nil)), "decode %T v%d", resp, resp.GetVersion())
	return out
}

// TestEveryVersion drives every version kmsg knows of every coordinator API
// through the wire codec.
func TestEveryVersion(t *testing.T) {
	c := newCoordinator(t, testConfig(t.TempDir()))
	md := "meta"
	for _, key := range []int16{8, 9, 10, 11, 12, 13, 14, 15, 16, 42} {
		require.True(t, Handles(key))
		proto := kmsg.RequestForKey(key)
		for v := int16(0); v <= proto.MaxVersion(); v++ {
			var req kmsg.Request
			switch key {
			case 8:
				r := commitReq(v, "simple", "", -1, "t", map[int32]int64{0: int64(v)})
				r.Topics[0].Partitions[0].Metadata = &md
				req = r
			case 9:
				r := kmsg.NewPtrOffsetFetchRequest()
				r.Group = "simple"
				r.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0}}}
				g := kmsg.NewOffsetFetchRequestGroup()
				g.Group = "simple"
				r.Groups = []kmsg.OffsetFetchRequestGroup{g}
				req = r
			case 10:
				r := kmsg.NewPtrFindCoordinatorRequest()
				r.CoordinatorKey = "g"
				r.CoordinatorKeys = []string{"g", "h"}
				req = r
			case 11:
				r := joinReq(v, "join-v"+strconv.Itoa(int(v)), "", nil)
				req = r
			case 12:
				req = heartbeatReq("g", "ghost", 1, nil)
			case 13:
				r := kmsg.NewPtrLeaveGroupRequest()
				r.Group, r.MemberID = "g", "ghost"
				r.Members = []kmsg.LeaveGroupRequestMember{{MemberID: "ghost"}}
				req = r
			case 14:
				req = syncReq("g", "ghost", 1, nil)
			case 15:
				r := kmsg.NewPtrDescribeGroupsRequest()
				r.Groups = []string{"simple", "unknown"}
				req = r
			case 16:
				req = kmsg.NewPtrListGroupsRequest()
			case 42:
				r := kmsg.NewPtrDeleteGroupsRequest()
				r.Groups = []string{"unknown"}
				req = r
			}
			req.SetVersion(v)
			resp := roundTrip(t, c, req)
			switch r := resp.(type) {
			case *kmsg.OffsetCommitResponse:
				if v >= 10 {
					// v10 names topics by id; this config knows none.
					assert.Equal(t, kerr.UnknownTopicID.Code, r.Topics[0].Partitions[0].ErrorCode)
				} else {
					assert.Zero(t, r.Topics[0].Partitions[0].ErrorCode, "commit v%d", v)
				}
			case *kmsg.OffsetFetchResponse:
				// The v9 commit is the last that succeeded.
				switch {
				case v >= 10:
					// Null topics at v10 list topics by id: none known.
					assert.Empty(t, r.Groups[0].Topics)
				case v >= 8:
					assert.Equal(t, int64(9), r.Groups[0].Topics[0].Partitions[0].Offset)
				default:
					assert.Equal(t, int64(9), r.Topics[0].Partitions[0].Offset, "fetch v%d", v)
				}
			case *kmsg.FindCoordinatorResponse:
				if v >= 4 {
					require.Len(t, r.Coordinators, 2)
					assert.Equal(t, int32(9092), r.Coordinators[1].Port)
				} else {
					assert.Zero(t, r.ErrorCode)
					assert.Equal(t, int32(9092), r.Port)
					assert.Equal(t, "127.0.0.1", r.Host)
				}
			case *kmsg.JoinGroupResponse:
				if v >= 4 {
					assert.Equal(t, int16(79), r.ErrorCode, "join v%d", v)
				} else {
					// Parked until the initial delay: answered.
					assert.Zero(t, r.ErrorCode, "join v%d", v)
				}
			case *kmsg.HeartbeatResponse:
				assert.Equal(t, int16(25), r.ErrorCode)
			case *kmsg.LeaveGroupResponse:
				if v >= 3 {
					assert.Equal(t, int16(25), r.Members[0].ErrorCode)
				} else {
					assert.Equal(t, int16(25), r.ErrorCode)
				}
			case *kmsg.SyncGroupResponse:
				assert.Equal(t, int16(25), r.ErrorCode)
			case *kmsg.DescribeGroupsResponse:
				require.Len(t, r.Groups, 2)
				assert.Equal(t, "Empty", r.Groups[0].State)
				assert.Equal(t, "Dead", r.Groups[1].State)
			case *kmsg.ListGroupsResponse:
				assert.NotEmpty(t, r.Groups)
			case *kmsg.DeleteGroupsResponse:
				assert.Equal(t, int16(69), r.Groups[0].ErrorCode)
			}
		}
	}
}

func TestHandleIgnoresOtherKeys(t *testing.T) {
	c := newCoordinator(t, testConfig(t.TempDir()))
	assert.False(t, Handles(0))
	called := false
	assert.False(t, c.Handle(testClient, kmsg.NewPtrProduceRequest(), func(kmsg.Response) { called = true }))
	assert.False(t, called)
}
