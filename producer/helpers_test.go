package producer

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newCluster(tb testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	tb.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	require.NoError(tb, err)
	tb.Cleanup(c.Close)
	return c
}

func newProducer(tb testing.TB, cfg Config) *Producer {
	tb.Helper()
	p, err := New(cfg)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

// consume reads n records of topic from the start with kgo, an
// independent client.
func consume(tb testing.TB, addrs []string, topic string, n int) []*kgo.Record {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(tb, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		require.NoError(tb, ctx.Err(), "got %d of %d records", len(out), n)
		fs.EachError(func(t string, p int32, err error) { tb.Fatalf("fetch %s[%d]: %v", t, p, err) })
		out = append(out, fs.Records()...)
	}
	// Anything beyond n would be a duplicate; give it a moment to show.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	out = append(out, cl.PollFetches(ctx2).Records()...)
	return out
}

// countingHandler is a slog.Handler counting records whose message
// contains substr.
type countingHandler struct {
	substr string
	n      *atomic.Int32
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.substr) {
		h.n.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// logCounter returns a logger and the count of its messages containing substr.
func logCounter(substr string) (*slog.Logger, *atomic.Int32) {
	n := &atomic.Int32{}
	return slog.New(countingHandler{substr: substr, n: n}), n
}

// produceError answers every partition of req with code, as a broker
// refusing the whole request would; ControlKey handlers inject it.
func produceError(req *kmsg.ProduceRequest, code int16) *kmsg.ProduceResponse {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
