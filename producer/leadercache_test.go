package producer

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/skiffkit/skiff/internal/wire"
)

// TestLeaderCacheFollowsMetadata: the cache answers as the client does for
// the cached topic, for another topic, and for unknown ones, and follows a
// leader move once new metadata arrives.
func TestLeaderCacheFollowsMetadata(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(4, "a", "b"))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	client, err := wire.NewClient(wire.Config{SeedBrokers: c.ListenAddrs()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	ctx := context.Background()
	_, err = client.Metadata(ctx, []string{"a", "b"})
	require.NoError(t, err)

	lc := &leaderCache{client: client}
	check := func() {
		t.Helper()
		for _, topic := range []string{"a", "b", "a", "missing"} {
			for p := int32(-1); p <= 4; p++ {
				want, _, wantOK := client.Leader(topic, p)
				got, ok := lc.leader(topic, p)
				assert.Equal(t, wantOK, ok, "%s[%d]", topic, p)
				if wantOK {
					assert.Equal(t, want, got, "%s[%d]", topic, p)
				}
			}
		}
	}
	check()

	old, ok := lc.leader("a", 1)
	require.True(t, ok)
	to := (old + 1) % 3
	require.NoError(t, c.MoveTopicPartition("a", 1, to))
	require.Eventually(t, func() bool {
		_, err := client.Metadata(ctx, []string{"a", "b"})
		require.NoError(t, err)
		got, ok := lc.leader("a", 1)
		return ok && got == to
	}, 10*time.Second, 10*time.Millisecond, "the cache follows the moved leader")
	check()
}
