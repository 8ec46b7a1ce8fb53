package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestConsumerGroupCommitsSurviveRestart: a kgo group consumer commits,
// the broker restarts on the same directory, and the group resumes after
// its committed offsets.
func TestConsumerGroupCommitsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir, GroupInitialRebalanceDelay: -1}
	b := startBroker(t, cfg)
	require.NoError(t, b.CreateTopic("g", 2, nil))
	prod := newClient(t, b, kgo.DefaultProduceTopic("g"))
	for i := range 20 {
		require.NoError(t, prod.ProduceSync(ctx(t), kgo.StringRecord(fmt.Sprint("first-", i))).FirstErr())
	}

	group := func(b *Broker) *kgo.Client {
		return newClient(t, b, kgo.ConsumerGroup("grp"), kgo.ConsumeTopics("g"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
			kgo.FetchMaxWait(100*time.Millisecond))
	}
	c1 := group(b)
	seen := 0
	for seen < 20 {
		fs := c1.PollFetches(ctx(t))
		require.NoError(t, ctx(t).Err())
		fs.EachError(func(_ string, _ int32, err error) { t.Fatal(err) })
		seen += fs.NumRecords()
	}
	require.Equal(t, 20, seen)
	require.NoError(t, c1.CommitUncommittedOffsets(ctx(t)))
	c1.Close()
	prod.Close()
	closeBroker(t, b)

	b2 := startBroker(t, cfg)
	prod2 := newClient(t, b2, kgo.DefaultProduceTopic("g"))
	for i := range 5 {
		require.NoError(t, prod2.ProduceSync(ctx(t), kgo.StringRecord(fmt.Sprint("second-", i))).FirstErr())
	}
	c2 := group(b2)
	var vals []string
	for len(vals) < 5 {
		fs := c2.PollFetches(ctx(t))
		require.NoError(t, ctx(t).Err())
		fs.EachRecord(func(r *kgo.Record) { vals = append(vals, string(r.Value)) })
	}
	assert.Len(t, vals, 5)
	for _, v := range vals {
		assert.Contains(t, v, "second-", "only records after the committed offsets")
	}
}

func TestSaramaConsumerGroup(t *testing.T) {
	b := startBroker(t, Config{GroupInitialRebalanceDelay: -1})
	require.NoError(t, b.CreateTopic("sg", 2, nil))
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Producer.Return.Successes = true
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	prod, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
	require.NoError(t, err)
	defer prod.Close()
	for i := range 10 {
		_, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "sg", Value: sarama.StringEncoder(fmt.Sprint(i))})
		require.NoError(t, err)
	}
	cg, err := sarama.NewConsumerGroup([]string{b.Addr()}, "sarama-group", cfg)
	require.NoError(t, err)
	defer cg.Close()
	h := &saramaHandler{got: make(chan string, 100)}
	c := ctx(t)
	go func() {
		for c.Err() == nil {
			if err := cg.Consume(c, []string{"sg"}, h); err != nil {
				return
			}
		}
	}()
	got := map[string]bool{}
	for len(got) < 10 {
		select {
		case v := <-h.got:
			got[v] = true
		case <-c.Done():
			t.Fatalf("sarama group consumed %d of 10", len(got))
		}
	}
}

type saramaHandler struct{ got chan string }

func (h *saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.got <- string(m.Value)
		s.MarkMessage(m, "")
	}
	return nil
}
