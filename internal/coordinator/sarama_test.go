package coordinator

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// saramaHandler commits an offset for every claimed partition in Setup and
// reports the claims.
type saramaHandler struct {
	claims chan map[string][]int32
}

func (h saramaHandler) Setup(s sarama.ConsumerGroupSession) error {
	for topic, parts := range s.Claims() {
		for _, p := range parts {
			s.MarkOffset(topic, p, int64(100+p), "sarama")
		}
	}
	s.Commit()
	h.claims <- s.Claims()
	return nil
}

func (saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		select {
		case <-c.Messages():
		case <-s.Context().Done():
			return nil
		}
	}
}

// TestSaramaConsumerGroup runs an IBM/sarama group consumer (its own
// request versions, range balancer) against the coordinator.
func TestSaramaConsumerGroup(t *testing.T) {
	b := startFakeBroker(t, "events", 3)
	cfg := testConfig(t.TempDir())
	cfg.InitialRebalanceDelay = 50 * time.Millisecond
	cfg.Port = b.port()
	c := newCoordinator(t, cfg)
	b.setCoordinator(c)

	sc := sarama.NewConfig()
	sc.ClientID = "sarama-test"
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	sc.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	sc.Consumer.Group.Heartbeat.Interval = 100 * time.Millisecond
	sc.Consumer.Group.Session.Timeout = 3 * time.Second
	sc.Consumer.Offsets.AutoCommit.Enable = false
	group, err := sarama.NewConsumerGroup([]string{b.ln.Addr().String()}, "sg", sc)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := saramaHandler{claims: make(chan map[string][]int32, 4)}
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			if err := group.Consume(ctx, []string{"events"}, h); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
				t.Errorf("consume: %v", err)
				return
			}
		}
	})

	select {
	case claims := <-h.claims:
		assert.ElementsMatch(t, []int32{0, 1, 2}, claims["events"])
	case <-ctx.Done():
		t.Fatal("sarama never joined")
	}
	info, ok := c.Group("sg")
	require.True(t, ok)
	assert.Equal(t, "Stable", info.State)
	assert.Equal(t, "range", info.Protocol)
	offsets := c.OffsetsForGroup("sg")
	require.Len(t, offsets, 3)
	for i, o := range offsets {
		assert.Equal(t, int64(100+i), o.Offset)
		assert.Equal(t, "sarama", o.Metadata)
	}

	cancel()
	require.NoError(t, group.Close())
	wg.Wait()
	info, _ = c.Group("sg")
	assert.Equal(t, "Empty", info.State, "sarama left the group on Close")
}
