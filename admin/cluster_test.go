package admin

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/skiffkit/skiff/kerr"
)

func TestDescribeCluster(t *testing.T) {
	oldKfake := kversion.V2_7_0() // before DescribeCluster (KIP-700, 2.8)
	bundled := newBundled(t)
	for _, tc := range []struct {
		name         string
		be           backend
		fromMetadata bool
	}{
		{name: "kfake", be: newKfake(t, kfake.NumBrokers(3), kfake.ClusterID("kc"))},
		{name: "kfake without DescribeCluster", be: newKfake(t, kfake.NumBrokers(3), kfake.ClusterID("kc"), kfake.MaxVersions(oldKfake)), fromMetadata: true},
		{name: "bundled", be: bundled, fromMetadata: !bundledServes(t, bundled, 60)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newAdmin(t, tc.be)
			cd, err := c.DescribeCluster(testCtx(t))
			require.NoError(t, err)
			assert.Equal(t, tc.fromMetadata, cd.FromMetadata)
			assert.NotEmpty(t, cd.ClusterID)
			if tc.be.name == "kfake" {
				assert.Equal(t, "kc", cd.ClusterID)
				require.Len(t, cd.Brokers, 3)
			} else {
				require.Len(t, cd.Brokers, 1)
			}
			ids := map[int32]bool{}
			for _, b := range cd.Brokers {
				assert.Equal(t, "127.0.0.1", b.Host)
				assert.Positive(t, b.Port)
				ids[b.NodeID] = true
			}
			assert.True(t, ids[cd.ControllerID], "controller %d is one of the brokers", cd.ControllerID)
		})
	}
}

// bundledServes reports whether the bundled broker advertises API key in
// ApiVersions.
func bundledServes(t testing.TB, be backend, key int16) bool {
	t.Helper()
	cl := newKgo(t, be)
	kresp, err := cl.Request(testCtx(t), kmsg.NewPtrApiVersionsRequest())
	require.NoError(t, err)
	for _, k := range kresp.(*kmsg.ApiVersionsResponse).ApiKeys {
		if k.ApiKey == key {
			return true
		}
	}
	return false
}

// TestBundledBrokerMissingAPIs pins what the admin client does with an API
// the bundled broker does not advertise: it is never sent (a broker closes
// the connection on an unknown key), and the call fails at once with an
// error wrapping kerr.UnsupportedVersion that names the API. Once the broker
// serves an API, the same call must succeed.
func TestBundledBrokerMissingAPIs(t *testing.T) {
	be := newBundled(t)
	c := newAdmin(t, be)
	mustCreate(t, c, "t", 1, nil)
	for _, tc := range []struct {
		api  string
		key  int16
		call func(ctx context.Context) error
	}{
		{"AlterConfigs", 33, func(ctx context.Context) error {
			rs, err := c.AlterConfigs(ctx, AlterConfig{Type: ResourceTopic, Name: "t", Configs: map[string]string{"retention.ms": "60000"}})
			return errors.Join(err, resultsErr(rs))
		}},
		{"IncrementalAlterConfigs", 44, func(ctx context.Context) error {
			rs, err := c.IncrementalAlterConfigs(ctx, IncrementalAlterConfig{Type: ResourceTopic, Name: "t", Changes: []ConfigChange{{Name: "retention.ms", Value: "60000"}}})
			return errors.Join(err, resultsErr(rs))
		}},
		{"CreatePartitions", 37, func(ctx context.Context) error {
			rs, err := c.CreatePartitions(ctx, 2, "t")
			return errors.Join(err, resultsErr(rs))
		}},
		{"DeleteRecords", 21, func(ctx context.Context) error {
			rs, err := c.DeleteRecords(ctx, map[string]map[int32]int64{"t": {0: 0}})
			return errors.Join(err, resultsErr(rs))
		}},
	} {
		t.Run(tc.api, func(t *testing.T) {
			err := tc.call(testCtx(t))
			if bundledServes(t, be, tc.key) {
				assert.NoError(t, err, "the broker advertises %s", tc.api)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, kerr.UnsupportedVersion)
			assert.Contains(t, err.Error(), tc.api)
		})
	}
	// The connection survived: nothing unknown was sent.
	ds, err := c.DescribeTopics(testCtx(t), "t")
	require.NoError(t, err)
	assert.NoError(t, ds.Error())
}

func resultsErr(rs interface{ Error() error }) error { return rs.Error() }
