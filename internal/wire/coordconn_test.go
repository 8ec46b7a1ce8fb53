package wire

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/broker"
)

// TestCoordinatorRequestsSkipParkedFetch is the guarantee the consumer
// relies on: while a Fetch is parked on a broker for fetch.max.wait.ms, a
// Heartbeat and an OffsetCommit to that same broker are answered. Kafka
// answers one connection's requests in order, so on a shared connection
// they would wait for the Fetch; RequestNode sends them on the broker's
// coordinator connection instead.
func TestCoordinatorRequestsSkipParkedFetch(t *testing.T) {
	const topic = "parked"
	tests := []struct {
		name  string
		start func(t *testing.T) string
	}{
		{"kfake", func(t *testing.T) string {
			return newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(1, topic)).ListenAddrs()[0]
		}},
		{"bundled broker", func(t *testing.T) string {
			b, err := broker.Start(context.Background(), broker.Config{
				Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
			})
			require.NoError(t, err)
			t.Cleanup(func() { _ = b.Close(context.Background()) })
			require.NoError(t, b.CreateTopic(topic, 1, nil))
			return b.Addr()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tt.start(t)
			cl := newTestClient(t, Config{SeedBrokers: []string{addr}})
			ctx := testCtx(t, 20*time.Second)
			ti, err := cl.Topic(ctx, topic)
			require.NoError(t, err)
			leader := ti.Partitions[0].Leader
			coord, err := cl.Coordinator(ctx, "g", CoordinatorGroup)
			require.NoError(t, err)
			require.Equal(t, leader, coord, "one broker: the fetch and the group share it")

			// An empty partition and MinBytes 1: the broker parks the
			// Fetch for the whole MaxWait, far longer than the test.
			fetch := kmsg.NewPtrFetchRequest()
			fetch.MaxWaitMillis, fetch.MinBytes, fetch.MaxBytes = 15_000, 1, 1<<20
			ft := kmsg.NewFetchRequestTopic()
			ft.Topic = topic
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.Partition, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = 0, 1<<20, -1
			ft.Partitions = append(ft.Partitions, fp)
			fetch.Topics = append(fetch.Topics, ft)
			dataConn, err := cl.Conn(ctx, leader)
			require.NoError(t, err)
			fetched := make(chan error, 1)
			dataConn.DoAsync(MaxVersion(MinVersion(fetch, 4), 12), func(_ kmsg.Response, err error) { fetched <- err })

			// Without a coordinator connection these queue behind the
			// Fetch (queued first, on the one connection) for its 15s.
			// Bounded well below the Fetch's wait, so a regression fails
			// here rather than at the test deadline.
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			hb := kmsg.NewPtrHeartbeatRequest()
			hb.Group, hb.MemberID, hb.Generation = "g", "nobody", 1
			resp, err := cl.RequestNode(cctx, coord, hb)
			require.NoError(t, err, "heartbeat answered while the fetch is parked")
			assert.NotNil(t, resp.(*kmsg.HeartbeatResponse))

			oc := kmsg.NewPtrOffsetCommitRequest()
			oc.Group, oc.Generation, oc.MemberID = "g", -1, ""
			ot := kmsg.NewOffsetCommitRequestTopic()
			ot.Topic = topic
			op := kmsg.NewOffsetCommitRequestTopicPartition()
			op.Partition, op.Offset = 0, 0
			ot.Partitions = append(ot.Partitions, op)
			oc.Topics = append(oc.Topics, ot)
			resp, err = cl.RequestNode(cctx, coord, MaxVersion(oc, 9))
			require.NoError(t, err, "offset commit answered while the fetch is parked")
			assert.NotNil(t, resp.(*kmsg.OffsetCommitResponse))

			select {
			case err := <-fetched:
				t.Fatalf("the fetch completed (%v) before the coordinator requests; the test proves nothing", err)
			default:
			}
			coordConn, err := cl.CoordinatorConn(ctx, coord)
			require.NoError(t, err)
			assert.NotSame(t, dataConn, coordConn, "two connections to one broker")
		})
	}
}
