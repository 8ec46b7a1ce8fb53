package coordinator

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// TestValidateTxnOffsetCommit: KIP-447's member and generation checks of
// TxnOffsetCommit, and no check for a commit naming no member (v0-v2).
func TestValidateTxnOffsetCommit(t *testing.T) {
	c := newCoordinator(t, testConfig(t.TempDir()))
	id := memberID(t, c, "g")
	join := do[*kmsg.JoinGroupResponse](t, c, joinReq(9, "g", id, nil))
	require.Zero(t, join.ErrorCode)
	sync := do[*kmsg.SyncGroupResponse](t, c, syncReq("g", id, join.Generation, map[string]string{id: "a"}))
	require.Zero(t, sync.ErrorCode)

	for _, tc := range []struct {
		name, group, member string
		gen                 int32
		want                error
	}{
		{"no member named", "g", "", -1, nil},
		{"current member", "g", id, join.Generation, nil},
		{"other generation", "g", id, join.Generation + 1, kerr.IllegalGeneration},
		{"unknown member", "g", "nobody", join.Generation, kerr.UnknownMemberID},
		{"generation of a group never seen", "other", "m", 3, kerr.IllegalGeneration},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.ValidateTxnOffsetCommit(tc.group, tc.member, nil, tc.gen)
			if tc.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.want)
			}
		})
	}
}

// TestCommitTxnOffsets: committed transaction offsets are visible to
// OffsetFetch, durable across a restart, and committing them again is
// harmless.
func TestCommitTxnOffsets(t *testing.T) {
	dir := t.TempDir()
	c := newCoordinator(t, testConfig(dir))
	offs := []TxnOffset{{Topic: "t", Partition: 0, Offset: 7, LeaderEpoch: -1}, {Topic: "t", Partition: 1, Offset: 9, LeaderEpoch: 0, Metadata: str("m")}}
	require.NoError(t, c.CommitTxnOffsets("g", offs))
	require.NoError(t, c.CommitTxnOffsets("g", offs))
	fetch := func(c *Coordinator) map[int32]int64 {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = 7
		req.Group = "g"
		req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0, 1}}}
		resp := do[*kmsg.OffsetFetchResponse](t, c, req)
		got := map[int32]int64{}
		for _, p := range resp.Topics[0].Partitions {
			got[p.Partition] = p.Offset
		}
		return got
	}
	assert.Equal(t, map[int32]int64{0: 7, 1: 9}, fetch(c))
	require.NoError(t, c.Close(context.Background()))
	assert.Error(t, c.CommitTxnOffsets("g", offs), "a closed coordinator commits nothing")

	c2 := newCoordinator(t, testConfig(dir))
	assert.Equal(t, map[int32]int64{0: 7, 1: 9}, fetch(c2))
}
