package admin

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// joinGroup starts a franz-go group member of group consuming topic, waits
// until it owns partitions, and returns it; closing it leaves the group.
func joinGroup(t testing.TB, be backend, group, topic string, clientID string) *kgo.Client {
	t.Helper()
	assigned := make(chan struct{}, 1)
	cl := newKgo(t, be,
		kgo.ClientID(clientID),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			select {
			case assigned <- struct{}{}:
			default:
			}
		}),
	)
	ctx := testCtx(t)
	// Polling drives the join; the assignment callback runs inside it.
	go func() {
		for ctx.Err() == nil && !cl.PollFetches(ctx).IsClientClosed() {
		}
	}()
	select {
	case <-assigned:
	case <-ctx.Done():
		t.Fatalf("member of %s never got an assignment", group)
	}
	return cl
}

func commit(t testing.TB, cl *kgo.Client, topic string, offsets map[int32]int64) {
	t.Helper()
	m := map[string]map[int32]kgo.EpochOffset{topic: {}}
	for p, o := range offsets {
		m[topic][p] = kgo.EpochOffset{Epoch: -1, Offset: o}
	}
	var err error
	cl.CommitOffsetsSync(testCtx(t), m, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, e error) {
		err = e
		if e == nil {
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					if ce := kerr.ForCode(rp.ErrorCode); ce != nil {
						err = ce
					}
				}
			}
		}
	})
	require.NoError(t, err)
}

func TestGroups(t *testing.T) {
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			c := newAdmin(t, be)
			ctx := testCtx(t)
			mustCreate(t, c, "g", 3, nil)
			produceN(t, be, "g", 3, 10, base)

			member := joinGroup(t, be, "grp", "g", "member-client")
			commit(t, member, "g", map[int32]int64{0: 4, 1: 7})

			// A group with a member: described, listed, lagging, and
			// protected from resets and deletion.
			dgs, err := c.DescribeGroups(ctx, "grp")
			require.NoError(t, err)
			require.NoError(t, dgs.Error())
			dg := dgs[0]
			assert.Equal(t, StateStable, dg.State)
			assert.Equal(t, "consumer", dg.ProtocolType)
			assert.NotEmpty(t, dg.Protocol)
			assert.True(t, dg.Exists())
			require.Len(t, dg.Members, 1)
			m := dg.Members[0]
			assert.Equal(t, "member-client", m.ClientID)
			assert.NotEmpty(t, m.MemberID)
			assert.NoError(t, m.Err)
			assert.Equal(t, []string{"g"}, m.Subscribed)
			assert.Equal(t, map[string][]int32{"g": {0, 1, 2}}, m.Assigned)

			gs, err := c.ListGroups(ctx)
			require.NoError(t, err)
			require.Len(t, gs, 1)
			assert.Equal(t, "grp", gs[0].Group)
			assert.Equal(t, "consumer", gs[0].ProtocolType)

			lag, err := c.Lag(ctx, "grp")
			require.NoError(t, err)
			assert.Equal(t, StateStable, lag.State)
			require.Len(t, lag.Partitions, 3)
			for i, want := range []struct{ committed, lag int64 }{{4, 6}, {7, 3}, {-1, 10}} {
				p := lag.Partitions[i]
				assert.Equal(t, int32(i), p.Partition)
				assert.NoError(t, p.Err)
				assert.Equal(t, want.committed, p.Committed, "partition %d committed", i)
				assert.Equal(t, int64(10), p.End)
				assert.Equal(t, int64(0), p.Start)
				assert.Equal(t, want.lag, p.Lag, "partition %d lag", i)
				assert.Equal(t, m.MemberID, p.MemberID)
				assert.Equal(t, "member-client", p.ClientID)
			}
			assert.Equal(t, int64(19), lag.Total)
			assert.Equal(t, map[string]int64{"g": 19}, lag.TopicTotals())

			_, err = c.PlanResetOffsets(ctx, "grp", ToEarliest(), map[string][]int32{"g": nil})
			assert.ErrorIs(t, err, ErrGroupNotEmpty)
			assert.ErrorIs(t, err, kerr.NonEmptyGroup)
			drs, err := c.DeleteGroups(ctx, "grp")
			require.NoError(t, err)
			assert.ErrorIs(t, drs[0].Err, kerr.NonEmptyGroup)

			// The member leaves (kgo's Close sends LeaveGroup and waits).
			member.Close()
			dgs, err = c.DescribeGroups(ctx, "grp")
			require.NoError(t, err)
			assert.Equal(t, StateEmpty, dgs[0].State)
			assert.Empty(t, dgs[0].Members)
			// Without members only committed partitions are reported, as
			// kafka-consumer-groups --describe shows an inactive group.
			lag, err = c.Lag(ctx, "grp")
			require.NoError(t, err)
			require.Len(t, lag.Partitions, 2)
			assert.Equal(t, int64(9), lag.Total, "committed offsets outlive the member")
			assert.Empty(t, lag.Partitions[0].MemberID)

			for _, tc := range []struct {
				name   string
				spec   ResetSpec
				topics map[string][]int32
				want   []PartitionReset // Err compared with ErrorIs
			}{
				{name: "to earliest", spec: ToEarliest(), topics: map[string][]int32{"g": nil},
					want: []PartitionReset{{"g", 0, 4, 0, nil}, {"g", 1, 7, 0, nil}, {"g", 2, -1, 0, nil}}},
				{name: "to latest, all committed topics", spec: ToLatest(), topics: nil,
					want: []PartitionReset{{"g", 0, 4, 10, nil}, {"g", 1, 7, 10, nil}, {"g", 2, -1, 10, nil}}},
				{name: "to datetime", spec: ToTime(base.Add(3 * time.Second)), topics: map[string][]int32{"g": {1}},
					want: []PartitionReset{{"g", 1, 7, 3, nil}}},
				{name: "to datetime after the last record", spec: ToTime(base.Add(time.Hour)), topics: map[string][]int32{"g": {0}},
					want: []PartitionReset{{"g", 0, 4, 10, nil}}},
				{name: "to offset", spec: ToOffset(5), topics: map[string][]int32{"g": {0, 2}},
					want: []PartitionReset{{"g", 0, 4, 5, nil}, {"g", 2, -1, 5, nil}}},
				{name: "to offset above the end", spec: ToOffset(50), topics: map[string][]int32{"g": {0}},
					want: []PartitionReset{{"g", 0, 4, 10, nil}}},
				{name: "to offset below the start", spec: ToOffset(-3), topics: map[string][]int32{"g": {0}},
					want: []PartitionReset{{"g", 0, 4, 0, nil}}},
				{name: "shift back", spec: ShiftBy(-2), topics: map[string][]int32{"g": nil},
					want: []PartitionReset{{"g", 0, 4, 2, nil}, {"g", 1, 7, 5, nil}, {"g", 2, -1, -1, ErrNoCommittedOffset}}},
				{name: "shift past the end", spec: ShiftBy(100), topics: map[string][]int32{"g": {1}},
					want: []PartitionReset{{"g", 1, 7, 10, nil}}},
				{name: "unknown partition", spec: ToEarliest(), topics: map[string][]int32{"g": {7}},
					want: []PartitionReset{{"g", 7, -1, -1, kerr.UnknownTopicOrPartition}}},
				{name: "unknown topic", spec: ToEarliest(), topics: map[string][]int32{"nope": nil},
					want: []PartitionReset{{"nope", -1, -1, -1, kerr.UnknownTopicOrPartition}}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					plan, err := c.PlanResetOffsets(testCtx(t), "grp", tc.spec, tc.topics)
					require.NoError(t, err)
					assert.Equal(t, "grp", plan.Group)
					require.Len(t, plan.Partitions, len(tc.want), "%+v", plan.Partitions)
					for i, w := range tc.want {
						got := plan.Partitions[i]
						assert.Equal(t, w.Topic, got.Topic)
						assert.Equal(t, w.Partition, got.Partition)
						assert.Equal(t, w.Current, got.Current, "%s[%d] current", w.Topic, w.Partition)
						if w.Err != nil {
							assert.ErrorIs(t, got.Err, w.Err)
							continue
						}
						assert.NoError(t, got.Err)
						assert.Equal(t, w.Target, got.Target, "%s[%d] target", w.Topic, w.Partition)
					}
				})
			}

			// Planning changed nothing; applying commits the plan.
			committed, err := c.FetchOffsets(ctx, "grp")
			require.NoError(t, err)
			require.Len(t, committed, 2)
			plan, err := c.PlanResetOffsets(ctx, "grp", ShiftBy(-2), map[string][]int32{"g": nil})
			require.NoError(t, err)
			res, err := c.ResetOffsets(ctx, plan)
			require.NoError(t, err)
			require.Len(t, res, 3)
			assert.NoError(t, res[0].Err)
			assert.NoError(t, res[1].Err)
			assert.ErrorIs(t, res[2].Err, ErrNoCommittedOffset, "a partition that could not be planned is left alone")
			committed, err = c.FetchOffsets(ctx, "grp")
			require.NoError(t, err)
			require.Len(t, committed, 2)
			assert.Equal(t, int64(2), committed[0].Offset)
			assert.Equal(t, int64(5), committed[1].Offset)
			lag, err = c.Lag(ctx, "grp")
			require.NoError(t, err)
			assert.Equal(t, int64(8+5), lag.Total)

			// A member joining between plan and apply stops the apply.
			plan, err = c.PlanResetOffsets(ctx, "grp", ToLatest(), nil)
			require.NoError(t, err)
			member = joinGroup(t, be, "grp", "g", "member-2")
			_, err = c.ResetOffsets(ctx, plan)
			assert.ErrorIs(t, err, ErrGroupNotEmpty)
			committed, err = c.FetchOffsets(ctx, "grp")
			require.NoError(t, err)
			assert.Equal(t, int64(2), committed[0].Offset, "refused reset committed nothing")
			member.Close()

			// A group nobody has used: the plan creates its offsets.
			plan, err = c.PlanResetOffsets(ctx, "fresh", ToEarliest(), map[string][]int32{"g": {0}})
			require.NoError(t, err)
			require.NoError(t, plan.Partitions.Error())
			res, err = c.ResetOffsets(ctx, plan)
			require.NoError(t, err)
			require.NoError(t, res.Error())
			committed, err = c.FetchOffsets(ctx, "fresh")
			require.NoError(t, err)
			require.Len(t, committed, 1)
			assert.Equal(t, int64(0), committed[0].Offset)

			// Deleting empty groups drops their offsets.
			drs, err = c.DeleteGroups(ctx, "grp", "fresh", "never-existed")
			require.NoError(t, err)
			require.Len(t, drs, 3)
			assert.NoError(t, drs[0].Err)
			assert.NoError(t, drs[1].Err)
			assert.ErrorIs(t, drs[2].Err, kerr.GroupIDNotFound)
			committed, err = c.FetchOffsets(ctx, "grp")
			require.NoError(t, err)
			assert.Empty(t, committed)
		})
	}
}
