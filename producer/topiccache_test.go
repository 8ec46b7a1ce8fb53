package producer

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
)

// partitionCount serves the last topic from its cache only while the
// metadata snapshot is unchanged, and a producer alternating between topics
// keeps its entry instead of replacing it on every miss.
func TestPartitionCountCache(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "three"), kfake.SeedTopics(5, "five"))
	p := newProducer(t, Config{Brokers: c.ListenAddrs()})
	ctx := context.Background()
	for _, topic := range []string{"three", "five"} {
		_, err := p.SendSync(ctx, Record{Topic: topic, Value: []byte("warm")})
		require.NoError(t, err)
	}

	require.Equal(t, 3, p.partitionCount("three"))
	cached := p.topicCache.Load()
	require.NotNil(t, cached)
	require.Equal(t, "three", cached.topic)
	assert.Equal(t, 3, p.partitionCount("three"))
	assert.Same(t, cached, p.topicCache.Load(), "a hit does not replace the entry")

	for range 10 {
		assert.Equal(t, 5, p.partitionCount("five"))
		assert.Equal(t, 3, p.partitionCount("three"))
	}
	assert.Same(t, cached, p.topicCache.Load(), "alternating topics do not churn the entry")
	assert.Zero(t, p.partitionCount("missing"))

	// A new snapshot invalidates the entry; the next lookup re-caches.
	updated := p.client.MetadataUpdated()
	p.client.RefreshMetadata()
	select {
	case <-updated:
	case <-time.After(10 * time.Second):
		t.Fatal("metadata not refreshed")
	}
	assert.Equal(t, 3, p.partitionCount("three"))
	assert.NotSame(t, cached, p.topicCache.Load())
	assert.Equal(t, p.client.MetadataUpdated(), p.topicCache.Load().snapshot)
}
