package producer

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/broker"
)

// TestAcksZeroCloseKeepsEverything is issue 13's "acks=0 loses whole runs":
// a producer at acks=0 that Sends and then Closes cleanly must leave every
// record it reported as sent on the broker. acks=0 gives up the
// acknowledgement, not the delivery of what was written: Close returns only
// once the bytes are on the socket and the connection was shut down
// gracefully (FIN after the data, never a reset that makes the peer drop
// what it has not read yet).
func TestAcksZeroCloseKeepsEverything(t *testing.T) {
	const (
		rounds  = 50
		perRun  = 200
		topic   = "acks-zero"
		timeout = 10 * time.Second
	)
	ctx := context.Background()
	b, err := broker.Start(ctx, broker.Config{
		Listen:  "127.0.0.1:0",
		DataDir: t.TempDir(),
		Logger:  slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Close(cctx)
	})
	require.NoError(t, b.CreateTopic(topic, 1, nil))

	counter, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	require.NoError(t, err)
	t.Cleanup(counter.Close)

	for round := range rounds {
		p, err := New(Config{
			Brokers:            []string{b.Addr()},
			Acks:               AcksNone,
			DisableIdempotence: true,
			Linger:             NoLinger,
		})
		require.NoError(t, err)
		var acked int
		for i := range perRun {
			v := strconv.Itoa(round*perRun + i)
			err := p.Send(ctx, Record{Topic: topic, Value: []byte(v)}, func(_ RecordMetadata, err error) {
				if err == nil {
					acked++ // callbacks run one at a time, on the completer
				}
			})
			require.NoError(t, err)
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		require.NoError(t, p.Close(cctx), "round %d", round)
		cancel()
		require.Equal(t, perRun, acked, "round %d: successful callbacks", round)

		// The broker handles a request after reading it, so what Close
		// wrote may land a moment after Close returned; wait for it, and
		// fail the round if it never does.
		want := int64((round + 1) * perRun)
		var got int64
		deadline := time.Now().Add(timeout)
		for {
			got = endOffset(t, counter, topic)
			if got >= want || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		require.Equal(t, want, got, "round %d: records stored after a clean Close at acks=0", round)
	}
	assert.Equal(t, int64(rounds*perRun), endOffset(t, counter, topic))
}

// endOffset asks the broker for partition 0's log end offset, which for a
// topic written only by non-transactional producers is its record count.
func endOffset(tb testing.TB, cl *kgo.Client, topic string) int64 {
	tb.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = 0, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(tb, err)
	require.Len(tb, resp.Topics, 1)
	require.Len(tb, resp.Topics[0].Partitions, 1)
	p := resp.Topics[0].Partitions[0]
	require.Zero(tb, p.ErrorCode, fmt.Sprintf("list offsets %s[0]", topic))
	return p.Offset
}
