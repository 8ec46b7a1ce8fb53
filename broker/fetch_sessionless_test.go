package broker

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// TestFetchSessionEpochs pins Kafka's FetchMetadata.isFull: epochs 0
// (INITIAL) and -1 (FINAL) are full fetches whatever the session id (0
// creates a session, -1 does not), and any other epoch names a session
// that must exist.
func TestFetchSessionEpochs(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 1, nil))
	produceN(t, b, "t", 3)
	rc := dialRaw(t, b)
	for _, tc := range []struct {
		id, epoch   int32
		wantCode    int16
		wantSession bool
	}{
		{id: 0, epoch: 0, wantSession: true},
		{id: -1, epoch: -1}, // kafka-go's sessionless fetch
		{id: 0, epoch: -1},
		{id: 77, epoch: -1}, // closes session 77 if it exists, still a full fetch
		{id: 77, epoch: 0, wantSession: true},
		{id: 77, epoch: 3, wantCode: kerr.FetchSessionIDNotFound.Code},
		{id: 0, epoch: 1, wantCode: kerr.FetchSessionIDNotFound.Code},
	} {
		t.Run(fmt.Sprintf("id=%d,epoch=%d", tc.id, tc.epoch), func(t *testing.T) {
			req := fetchReq("t", 0, 0, 0)
			req.SessionID, req.SessionEpoch = tc.id, tc.epoch
			resp := rc.roundTrip(req, 11).(*kmsg.FetchResponse)
			assert.Equal(t, tc.wantCode, resp.ErrorCode)
			if tc.wantCode != 0 {
				assert.Empty(t, resp.Topics)
				assert.Zero(t, resp.SessionID)
				return
			}
			if tc.wantSession {
				assert.Positive(t, resp.SessionID, "epoch 0 creates a session")
			} else {
				assert.Zero(t, resp.SessionID, "epoch -1 is sessionless")
			}
			require.Len(t, resp.Topics, 1)
			require.Len(t, resp.Topics[0].Partitions, 1)
			p := resp.Topics[0].Partitions[0]
			assert.Zero(t, p.ErrorCode)
			assert.EqualValues(t, 3, p.HighWatermark)
			assert.NotEmpty(t, p.RecordBatches)
		})
	}
}

// TestKafkaGoClientFetch: kafka-go's Client.Fetch sends SessionID -1,
// SessionEpoch -1 and must read the records.
func TestKafkaGoClientFetch(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("kgf", 1, nil))
	produceN(t, b, "kgf", 5)
	c := &kafkago.Client{Addr: kafkago.TCP(b.Addr()), Timeout: 10 * time.Second}
	resp, err := c.Fetch(ctx(t), &kafkago.FetchRequest{Topic: "kgf", Partition: 0, Offset: 1, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, resp.Error)
	assert.EqualValues(t, 5, resp.HighWatermark)
	var got []string
	for {
		rec, err := resp.Records.ReadRecord()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if rec.Offset < 1 {
			continue // the batch holding offset 1 starts before it
		}
		v, err := io.ReadAll(rec.Value)
		require.NoError(t, err)
		got = append(got, string(v))
	}
	assert.Equal(t, []string{"v1", "v2", "v3", "v4"}, got)
}

// produceN produces n records "v0".."v<n-1>" to partition 0 of topic,
// one batch each.
func produceN(t testing.TB, b *Broker, topic string, n int) {
	t.Helper()
	cl := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range n {
		require.NoError(t, cl.ProduceSync(c, &kgo.Record{Value: []byte(fmt.Sprintf("v%d", i))}).FirstErr())
	}
}
