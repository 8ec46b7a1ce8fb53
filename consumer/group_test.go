package consumer

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

func produceN(t testing.TB, pr *kgo.Client, topic string, n int, prefix string) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("%s-%d", prefix, i)), Value: []byte(fmt.Sprintf("%s-%d", prefix, i))}
	}
	produce(t, pr, recs...)
}

func fastGroupConfig(c Config) Config {
	c.HeartbeatInterval = 100 * time.Millisecond
	c.SessionTimeout = 3 * time.Second
	c.AutoOffsetReset = "earliest"
	c.RetryBackoff = 20 * time.Millisecond
	return c
}

func TestGroupSingleMember(t *testing.T) {
	c := newCluster(t, 1, 4, "t")
	pr := newProducer(t, c)
	produceN(t, pr, "t", 400, "a")
	var assigned []TopicPartition
	cons := newTestConsumer(t, fastGroupConfig(Config{
		Brokers: c.ListenAddrs(), GroupID: "g", Topics: []string{"t"},
		Rebalance: RebalanceFuncs{Assigned: func(_ context.Context, _ *Consumer, ps []TopicPartition) { assigned = append(assigned, ps...) }},
	}))
	got := pollN(t, cons, 400, 20*time.Second)
	assert.Len(t, assigned, 4)
	seen := map[string]bool{}
	for _, r := range got {
		assert.False(t, seen[string(r.Key)], "duplicate %s", r.Key)
		seen[string(r.Key)] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, cons.CommitSync(ctx))
	committed, err := cons.Committed(ctx, cons.Assignment())
	require.NoError(t, err)
	var total int64
	for _, o := range committed {
		total += o.Offset
	}
	assert.Equal(t, int64(400), total)
	require.NoError(t, cons.Close(ctx))
}

var _ = sync.Mutex{}
