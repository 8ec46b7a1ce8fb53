package coordinator

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestClientVersionProfiles runs a whole group lifecycle at exactly the
// request versions the Debian-packaged clients send (design.md's table),
// through the wire codec.
func TestClientVersionProfiles(t *testing.T) {
	for _, p := range []struct {
		name                                              string
		find, join, sync, heartbeat, commit, fetch, leave int16
	}{
		{"kcat/librdkafka 2.0.2", 2, 5, 3, 3, 7, 7, 1},
		{"kafka-python 2.0.2", 0, 2, 1, 1, 2, 1, 1},
		{"kafka-python 2.0.2 fetch v3", 0, 2, 1, 1, 2, 3, 1},
	} {
		t.Run(p.name, func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			cfg.InitialRebalanceDelay = -1
			c := newCoordinator(t, cfg)

			find := kmsg.NewPtrFindCoordinatorRequest()
			find.Version, find.CoordinatorKey = p.find, "g"
			fr := roundTrip(t, c, find).(*kmsg.FindCoordinatorResponse)
			require.Zero(t, fr.ErrorCode)
			assert.Equal(t, int32(9092), fr.Port)

			join := joinReq(p.join, "g", "", nil, "range", "roundrobin")
			jr := roundTrip(t, c, join).(*kmsg.JoinGroupResponse)
			if p.join >= 4 {
				require.Equal(t, int16(79), jr.ErrorCode)
				join.MemberID = jr.MemberID
				jr = roundTrip(t, c, join).(*kmsg.JoinGroupResponse)
			}
			require.Zero(t, jr.ErrorCode)
			id := jr.MemberID
			assert.Equal(t, id, jr.LeaderID)
			assert.Equal(t, "range", *jr.Protocol)
			require.Len(t, jr.Members, 1)
			assert.Equal(t, []byte("md-range"), jr.Members[0].ProtocolMetadata)

			sync := syncReq("g", id, jr.Generation, map[string]string{id: "assignment"})
			sync.Version = p.sync
			sr := roundTrip(t, c, sync).(*kmsg.SyncGroupResponse)
			require.Zero(t, sr.ErrorCode)
			assert.Equal(t, []byte("assignment"), sr.MemberAssignment)

			hb := heartbeatReq("g", id, jr.Generation, nil)
			hb.Version = p.heartbeat
			require.Zero(t, roundTrip(t, c, hb).(*kmsg.HeartbeatResponse).ErrorCode)

			commit := commitReq(p.commit, "g", id, jr.Generation, "t", map[int32]int64{0: 11})
			cr := roundTrip(t, c, commit).(*kmsg.OffsetCommitResponse)
			assert.Equal(t, map[int32]int16{0: 0}, commitCodes(cr))

			fetch := kmsg.NewPtrOffsetFetchRequest()
			fetch.Version, fetch.Group = p.fetch, "g"
			fetch.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0, 1}}}
			of := roundTrip(t, c, fetch).(*kmsg.OffsetFetchResponse)
			require.Zero(t, of.ErrorCode)
			require.Len(t, of.Topics, 1)
			assert.Equal(t, int64(11), of.Topics[0].Partitions[0].Offset)
			assert.Equal(t, "md", *of.Topics[0].Partitions[0].Metadata)
			assert.Equal(t, int64(-1), of.Topics[0].Partitions[1].Offset)

			leave := kmsg.NewPtrLeaveGroupRequest()
			leave.Version, leave.Group, leave.MemberID = p.leave, "g", id
			require.Zero(t, roundTrip(t, c, leave).(*kmsg.LeaveGroupResponse).ErrorCode)
			info, _ := c.Group("g")
			assert.Equal(t, "Empty", info.State)
		})
	}
}
