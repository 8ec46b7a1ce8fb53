package admin

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/kerr"
)

func TestDescribeConfigs(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			c := newAdmin(t, be)
			ctx := testCtx(t)
			mustCreate(t, c, "cfg", 1, map[string]string{"retention.ms": "3600000"})

			rcs, err := c.DescribeConfigs(ctx, ResourceTopic, "cfg", "missing")
			require.NoError(t, err)
			require.Len(t, rcs, 2)
			require.NoError(t, rcs[0].Err)
			assert.Equal(t, ResourceTopic, rcs[0].Type)
			assert.Equal(t, "cfg", rcs[0].Name)
			e, ok := rcs[0].Config("retention.ms")
			require.True(t, ok, "retention.ms described")
			require.NotNil(t, e.Value)
			assert.Equal(t, "3600000", *e.Value)
			assert.Equal(t, SourceDynamicTopic, e.Source)
			assert.False(t, e.IsDefault())
			assert.ErrorIs(t, rcs[1].Err, kerr.UnknownTopicOrPartition)
			assert.ErrorIs(t, rcs.Error(), kerr.UnknownTopicOrPartition)

			// A broker's configs are asked of that broker, named by id.
			cd, err := c.DescribeCluster(ctx)
			require.NoError(t, err)
			id := strconv.Itoa(int(cd.Brokers[0].NodeID))
			rcs, err = c.DescribeConfigs(ctx, ResourceBroker, id)
			require.NoError(t, err)
			require.NoError(t, rcs.Error())
			assert.Equal(t, id, rcs[0].Name)
			assert.NotEmpty(t, rcs[0].Configs)
		})
	}
}

// AlterConfigs and IncrementalAlterConfigs run against kfake: the bundled
// broker does not serve them yet (TestBundledBrokerMissingAPIs).
func TestIncrementalAlterConfigs(t *testing.T) {
	be := newKfake(t)
	c := newAdmin(t, be)
	mustCreate(t, c, "t", 1, map[string]string{"cleanup.policy": "delete"})
	for _, tc := range []struct {
		name     string
		validate bool
		res      IncrementalAlterConfig
		wantErr  error
		want     map[string]string // config → value after; "" means back to default
	}{
		{name: "set", res: IncrementalAlterConfig{Type: ResourceTopic, Name: "t", Changes: []ConfigChange{{Name: "retention.ms", Op: OpSet, Value: "60000"}}},
			want: map[string]string{"retention.ms": "60000", "cleanup.policy": "delete"}},
		{name: "validate only changes nothing", validate: true, res: IncrementalAlterConfig{Type: ResourceTopic, Name: "t", Changes: []ConfigChange{{Name: "retention.ms", Op: OpSet, Value: "1000"}}},
			want: map[string]string{"retention.ms": "60000"}},
		{name: "append", res: IncrementalAlterConfig{Type: ResourceTopic, Name: "t", Changes: []ConfigChange{{Name: "cleanup.policy", Op: OpAppend, Value: "compact"}}},
			want: map[string]string{"cleanup.policy": "delete,compact"}},
		{name: "delete", res: IncrementalAlterConfig{Type: ResourceTopic, Name: "t", Changes: []ConfigChange{{Name: "retention.ms", Op: OpDelete}}},
			want: map[string]string{"retention.ms": ""}},
		// kfake checks no topic config values; it refuses list operations
		// on scalar configs, with INVALID_REQUEST where Kafka answers
		// INVALID_CONFIG. Invalid values are refused by the bundled broker
		// (TestCreateTopicsInvalidConfigBundled).
		{name: "append to a scalar config", res: IncrementalAlterConfig{Type: ResourceTopic, Name: "t", Changes: []ConfigChange{{Name: "retention.ms", Op: OpAppend, Value: "5"}}},
			wantErr: kerr.InvalidRequest},
		{name: "unknown topic", res: IncrementalAlterConfig{Type: ResourceTopic, Name: "nope", Changes: []ConfigChange{{Name: "retention.ms", Op: OpSet, Value: "1"}}},
			wantErr: kerr.UnknownTopicOrPartition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			alter := c.IncrementalAlterConfigs
			if tc.validate {
				alter = c.ValidateIncrementalAlterConfigs
			}
			rs, err := alter(ctx, tc.res)
			require.NoError(t, err)
			require.Len(t, rs, 1)
			assert.Equal(t, tc.res.Name, rs[0].Name)
			if tc.wantErr != nil {
				assert.ErrorIs(t, rs[0].Err, tc.wantErr)
				assert.ErrorIs(t, rs.Error(), tc.wantErr)
				return
			}
			require.NoError(t, rs[0].Err)
			assertConfigs(t, c, "t", tc.want)
		})
	}
}

func TestAlterConfigs(t *testing.T) {
	be := newKfake(t)
	c := newAdmin(t, be)
	mustCreate(t, c, "t", 1, map[string]string{"retention.ms": "60000"})
	for _, tc := range []struct {
		name     string
		validate bool
		res      AlterConfig
		wantErr  error
		want     map[string]string
	}{
		{name: "validate only changes nothing", validate: true, res: AlterConfig{Type: ResourceTopic, Name: "t", Configs: map[string]string{"segment.ms": "1000"}},
			want: map[string]string{"retention.ms": "60000", "segment.ms": ""}},
		// Legacy AlterConfigs replaces the whole set: retention.ms,
		// left out, returns to its default.
		{name: "replace", res: AlterConfig{Type: ResourceTopic, Name: "t", Configs: map[string]string{"segment.ms": "3600000"}},
			want: map[string]string{"segment.ms": "3600000", "retention.ms": ""}},
		{name: "unknown topic", res: AlterConfig{Type: ResourceTopic, Name: "nope", Configs: map[string]string{"segment.ms": "1"}}, wantErr: kerr.UnknownTopicOrPartition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alter := c.AlterConfigs
			if tc.validate {
				alter = c.ValidateAlterConfigs
			}
			rs, err := alter(testCtx(t), tc.res)
			require.NoError(t, err)
			require.Len(t, rs, 1)
			if tc.wantErr != nil {
				assert.ErrorIs(t, rs[0].Err, tc.wantErr)
				return
			}
			require.NoError(t, rs[0].Err)
			assertConfigs(t, c, "t", tc.want)
		})
	}
}

// assertConfigs checks a topic's described configs: a value, or "" for a
// config that must be at its default.
func assertConfigs(t *testing.T, c *Client, topic string, want map[string]string) {
	t.Helper()
	rcs, err := c.DescribeConfigs(testCtx(t), ResourceTopic, topic)
	require.NoError(t, err)
	require.NoError(t, rcs.Error())
	for k, v := range want {
		e, ok := rcs[0].Config(k)
		if v == "" {
			assert.True(t, !ok || e.IsDefault(), "%s should be back at its default, is %+v", k, e)
			continue
		}
		require.True(t, ok, "config %s", k)
		require.NotNil(t, e.Value, k)
		assert.Equal(t, v, *e.Value, k)
		assert.Equal(t, SourceDynamicTopic, e.Source, k)
	}
}
