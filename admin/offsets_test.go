package admin

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/kerr"
)

func TestListOffsets(t *testing.T) {
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			c := newAdmin(t, be)
			mustCreate(t, c, "lo", 2, nil)
			mustCreate(t, c, "empty", 1, nil)
			produceN(t, be, "lo", 2, 5, base)
			for _, tc := range []struct {
				name   string
				spec   OffsetSpec
				topics []string
				want   map[tp]int64 // partition → offset
			}{
				{name: "earliest", spec: Earliest, topics: []string{"lo"}, want: map[tp]int64{{"lo", 0}: 0, {"lo", 1}: 0}},
				{name: "latest", spec: Latest, topics: []string{"lo"}, want: map[tp]int64{{"lo", 0}: 5, {"lo", 1}: 5}},
				{name: "at time of the third record", spec: AtTime(base.Add(2 * time.Second)), topics: []string{"lo"}, want: map[tp]int64{{"lo", 0}: 2, {"lo", 1}: 2}},
				{name: "between records", spec: AtTime(base.Add(2500 * time.Millisecond)), topics: []string{"lo"}, want: map[tp]int64{{"lo", 0}: 3, {"lo", 1}: 3}},
				{name: "after every record", spec: AtTime(base.Add(time.Minute)), topics: []string{"lo"}, want: map[tp]int64{{"lo", 0}: -1, {"lo", 1}: -1}},
				{name: "empty topic", spec: Latest, topics: []string{"empty"}, want: map[tp]int64{{"empty", 0}: 0}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					ls, err := c.ListOffsets(testCtx(t), tc.spec, tc.topics...)
					require.NoError(t, err)
					require.NoError(t, ls.Error())
					require.Len(t, ls, len(tc.want))
					for k, want := range tc.want {
						l, ok := ls.Lookup(k.topic, k.partition)
						require.True(t, ok, "%v listed", k)
						assert.Equal(t, want, l.Offset, "%v", k)
					}
				})
			}
			t.Run("unknown topic", func(t *testing.T) {
				ls, err := c.ListOffsets(testCtx(t), Latest, "lo", "nope")
				require.NoError(t, err)
				require.Len(t, ls, 3)
				n, ok := ls.Lookup("nope", -1)
				require.True(t, ok)
				assert.ErrorIs(t, n.Err, kerr.UnknownTopicOrPartition)
				assert.ErrorIs(t, ls.Error(), kerr.UnknownTopicOrPartition)
				l, _ := ls.Lookup("lo", 1)
				assert.Equal(t, int64(5), l.Offset, "the known topic is still listed")
			})
		})
	}
}

// DeleteRecords runs against kfake: the bundled broker does not serve it
// yet (TestBundledBrokerMissingAPIs).
func TestDeleteRecords(t *testing.T) {
	be := newKfake(t)
	c := newAdmin(t, be)
	mustCreate(t, c, "dr", 2, nil)
	produceN(t, be, "dr", 2, 10, time.Now())
	ctx := testCtx(t)

	rs, err := c.DeleteRecords(ctx, map[string]map[int32]int64{
		"dr":   {0: 4, 1: 11},
		"nope": {0: 1},
	})
	require.NoError(t, err)
	require.Len(t, rs, 3)
	assert.Equal(t, DeleteRecordsResult{Topic: "dr", Partition: 0, LowWatermark: 4}, rs[0])
	assert.ErrorIs(t, rs[1].Err, kerr.OffsetOutOfRange, "an offset above the high watermark")
	assert.Equal(t, "nope", rs[2].Topic)
	assert.ErrorIs(t, rs[2].Err, kerr.UnknownTopicOrPartition)

	ls, err := c.ListOffsets(ctx, Earliest, "dr")
	require.NoError(t, err)
	l0, _ := ls.Lookup("dr", 0)
	l1, _ := ls.Lookup("dr", 1)
	assert.Equal(t, int64(4), l0.Offset, "log start moved")
	assert.Equal(t, int64(0), l1.Offset, "refused delete left the log alone")

	// -1 deletes up to the high watermark.
	rs, err = c.DeleteRecords(ctx, map[string]map[int32]int64{"dr": {1: -1}})
	require.NoError(t, err)
	require.NoError(t, rs.Error())
	assert.Equal(t, int64(10), rs[0].LowWatermark)
}

// CreatePartitions runs against kfake: the bundled broker does not serve it
// yet (TestBundledBrokerMissingAPIs).
func TestCreatePartitions(t *testing.T) {
	be := newKfake(t)
	c := newAdmin(t, be)
	mustCreate(t, c, "cp", 2, nil)
	for _, tc := range []struct {
		name     string
		validate bool
		total    int32
		topic    string
		wantErr  error
		wantN    int
	}{
		{name: "validate only", validate: true, total: 4, topic: "cp", wantN: 2},
		{name: "grow", total: 4, topic: "cp", wantN: 4},
		{name: "shrink", total: 1, topic: "cp", wantErr: kerr.InvalidPartitions, wantN: 4},
		{name: "unknown topic", total: 3, topic: "nope", wantErr: kerr.UnknownTopicOrPartition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			create := c.CreatePartitions
			if tc.validate {
				create = c.ValidateCreatePartitions
			}
			rs, err := create(ctx, tc.total, tc.topic)
			require.NoError(t, err)
			require.Len(t, rs, 1)
			if tc.wantErr != nil {
				assert.ErrorIs(t, rs[0].Err, tc.wantErr)
				assert.ErrorIs(t, rs.Error(), tc.wantErr)
			} else {
				require.NoError(t, rs[0].Err)
			}
			if tc.wantN > 0 {
				ds, err := c.DescribeTopics(ctx, tc.topic)
				require.NoError(t, err)
				assert.Len(t, ds[0].Partitions, tc.wantN)
			}
		})
	}
}
