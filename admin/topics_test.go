package admin

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/kerr"
)

func TestCreateTopics(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			c := newAdmin(t, be)
			mustCreate(t, c, "existing", 1, nil)
			for _, tc := range []struct {
				name     string
				validate bool
				topic    NewTopic
				wantErr  error
				wantN    int32
				exists   bool
				// bundledOnly marks Kafka validation kfake does not do
				// (it accepts any topic name).
				bundledOnly bool
			}{
				{name: "three partitions", topic: NewTopic{Name: "t3", Partitions: 3}, wantN: 3, exists: true},
				{name: "broker default partitions", topic: NewTopic{Name: "tdef"}, wantN: 1, exists: true},
				{name: "with configs", topic: NewTopic{Name: "tcfg", Partitions: 1, Configs: map[string]string{"retention.ms": "3600000"}}, wantN: 1, exists: true},
				{name: "validate only", validate: true, topic: NewTopic{Name: "tval", Partitions: 2}, wantN: 2, exists: false},
				{name: "already exists", topic: NewTopic{Name: "existing", Partitions: 1}, wantErr: kerr.TopicAlreadyExists, exists: true},
				{name: "invalid name", topic: NewTopic{Name: "bad/name", Partitions: 1}, wantErr: kerr.InvalidTopicException, bundledOnly: true},
			} {
				if tc.bundledOnly && !be.bundled {
					continue
				}
				t.Run(tc.name, func(t *testing.T) {
					ctx := testCtx(t)
					create := c.CreateTopics
					if tc.validate {
						create = c.ValidateCreateTopics
					}
					rs, err := create(ctx, tc.topic)
					require.NoError(t, err)
					require.Len(t, rs, 1)
					assert.Equal(t, tc.topic.Name, rs[0].Topic)
					if tc.wantErr != nil {
						assert.ErrorIs(t, rs[0].Err, tc.wantErr)
						assert.ErrorIs(t, rs.Error(), tc.wantErr)
					} else {
						require.NoError(t, rs[0].Err)
						assert.Equal(t, tc.wantN, rs[0].Partitions)
					}
					ds, err := c.DescribeTopics(ctx, tc.topic.Name)
					require.NoError(t, err)
					require.Len(t, ds, 1)
					if tc.exists {
						require.NoError(t, ds[0].Err)
						if tc.wantErr == nil {
							assert.Len(t, ds[0].Partitions, int(tc.wantN))
						}
					} else {
						// UNKNOWN_TOPIC_OR_PARTITION, or INVALID_TOPIC_EXCEPTION
						// for a name no topic can have.
						assert.Error(t, ds[0].Err)
					}
				})
			}
		})
	}
}

// Kafka rejects a partition count below 1 other than -1 (the default);
// kfake is lenient there (it takes any negative count as the default), so
// this case runs against the bundled broker, and kfake's INVALID_PARTITIONS
// is covered by TestCreatePartitions.
func TestCreateTopicsInvalidPartitions(t *testing.T) {
	c := newAdmin(t, newBundled(t))
	rs, err := c.CreateTopics(testCtx(t), NewTopic{Name: "neg", Partitions: -5}, NewTopic{Name: "ok", Partitions: 1})
	require.NoError(t, err)
	require.Len(t, rs, 2)
	assert.ErrorIs(t, rs[0].Err, kerr.InvalidPartitions)
	assert.NoError(t, rs[1].Err, "one bad topic must not fail the others")
}

func TestCreateTopicsInvalidConfigBundled(t *testing.T) {
	c := newAdmin(t, newBundled(t))
	rs, err := c.CreateTopics(testCtx(t), NewTopic{Name: "badcfg", Partitions: 1, Configs: map[string]string{"retention.ms": "soon"}})
	require.NoError(t, err)
	assert.ErrorIs(t, rs[0].Err, kerr.InvalidConfig)
}

func TestDeleteTopics(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			c := newAdmin(t, be)
			ctx := testCtx(t)
			mustCreate(t, c, "gone", 2, nil)
			rs, err := c.DeleteTopics(ctx, "gone", "never")
			require.NoError(t, err)
			require.Len(t, rs, 2)
			assert.NoError(t, rs[0].Err)
			assert.ErrorIs(t, rs[1].Err, kerr.UnknownTopicOrPartition)
			assert.ErrorIs(t, rs.Error(), kerr.UnknownTopicOrPartition)

			require.Eventually(t, func() bool {
				ds, err := c.DescribeTopics(ctx, "gone")
				return err == nil && len(ds) == 1 && ds[0].Err != nil
			}, 10e9, 20e6, "deleted topic still described")
		})
	}
}

func TestListAndDescribeTopics(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			c := newAdmin(t, be)
			ctx := testCtx(t)
			mustCreate(t, c, "a", 3, nil)
			mustCreate(t, c, "b", 1, nil)

			ts, err := c.ListTopics(ctx)
			require.NoError(t, err)
			assert.Equal(t, []string{"a", "b"}, ts.Names())
			for _, td := range ts {
				assert.False(t, td.Internal)
			}

			ds, err := c.DescribeTopics(ctx, "b", "a", "missing")
			require.NoError(t, err)
			require.Equal(t, []string{"a", "b", "missing"}, ds.Names())
			a, ok := ds.Topic("a")
			require.True(t, ok)
			require.NoError(t, a.Err)
			assert.NotEqual(t, TopicID{}, a.ID)
			require.Len(t, a.Partitions, 3)
			for i, p := range a.Partitions {
				assert.Equal(t, int32(i), p.Partition)
				assert.GreaterOrEqual(t, p.Leader, int32(0))
				assert.Equal(t, []int32{p.Leader}, p.Replicas)
				assert.Equal(t, []int32{p.Leader}, p.ISR)
				assert.NoError(t, p.Err)
			}
			assert.Equal(t, 1, a.ReplicationFactor())
			m, _ := ds.Topic("missing")
			assert.ErrorIs(t, m.Err, kerr.UnknownTopicOrPartition)
			assert.ErrorIs(t, ds.Error(), kerr.UnknownTopicOrPartition)
		})
	}
}

// ListTopics leaves Kafka's internal topics out; ListTopicsWithInternal
// shows them, flagged. kfake marks a topic internal with its
// kfake.is_internal config.
func TestListTopicsInternal(t *testing.T) {
	c := newAdmin(t, newKfake(t))
	ctx := testCtx(t)
	mustCreate(t, c, "user", 1, nil)
	mustCreate(t, c, "__internal_like", 1, map[string]string{"kfake.is_internal": "true"})

	ts, err := c.ListTopics(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"user"}, ts.Names())

	ts, err = c.ListTopicsWithInternal(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"__internal_like", "user"}, ts.Names())
	assert.True(t, ts[0].Internal)
	assert.False(t, ts[1].Internal)
}
