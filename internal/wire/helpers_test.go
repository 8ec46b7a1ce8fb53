package wire

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newCluster(tb testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	tb.Helper()
	c, err := kfake.NewCluster(opts...)
	require.NoError(tb, err)
	tb.Cleanup(c.Close)
	return c
}

// newTestClient starts a client on seeds and checks on cleanup that Close
// left none of the package's goroutines behind.
func newTestClient(tb testing.TB, cfg Config) *Client {
	tb.Helper()
	if cfg.Logger == nil && testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cl, err := NewClient(cfg)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		require.NoError(tb, cl.Close())
		requireNoWireGoroutines(tb)
	})
	return cl
}

// requireNoWireGoroutines fails if any goroutine is still running code of
// this package (other than the test itself). A goroutine that has just
// called wg.Done is still briefly on its way out, so leftovers get a short
// grace period before they count.
func requireNoWireGoroutines(tb testing.TB) {
	tb.Helper()
	var left string
	for range 200 {
		left = wireGoroutines()
		if left == "" {
			return
		}
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond)
	}
	tb.Fatalf("goroutine left running after Close:\n%s", left)
}

func wireGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "internal/wire.(*Conn)") || strings.Contains(g, "internal/wire.(*Client)") {
			if strings.Contains(g, "testing.tRunner") || strings.Contains(g, "requireNoWireGoroutines") {
				continue
			}
			return g
		}
	}
	return ""
}

func testCtx(tb testing.TB, d time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// deadAddr returns a 127.0.0.1 address nothing listens on.
func deadAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	addr := ln.Addr().String()
	require.NoError(tb, ln.Close())
	return addr
}

// recordBatch encodes n records into a valid uncompressed record batch v2
// (offsets 0..n-1), so that tests can produce without internal/batch.
func recordBatch(n int, value []byte) []byte {
	var recs []byte
	for i := range n {
		var body []byte
		body = append(body, 0)                     // attributes
		body = binary.AppendVarint(body, 0)        // timestamp delta
		body = binary.AppendVarint(body, int64(i)) // offset delta
		body = binary.AppendVarint(body, -1)       // null key
		body = binary.AppendVarint(body, int64(len(value)))
		body = append(body, value...)
		body = binary.AppendVarint(body, 0) // no headers
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(n - 1),
		FirstTimestamp:       now,
		MaxTimestamp:         now,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(n),
		Records:              recs,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// produceRequest builds a Produce request capped at v12, the last version
// that names topics (v13+ needs topic IDs).
func produceRequest(topic string, partition int32, acks int16, batch []byte) kmsg.Request {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = acks
	req.TimeoutMillis = 5000
	t := kmsg.NewProduceRequestTopic()
	t.Topic = topic
	p := kmsg.NewProduceRequestTopicPartition()
	p.Partition = partition
	p.Records = batch
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	return MaxVersion(MinVersion(req, 3), 12)
}

// endOffset asks node for partition's log end offset.
func endOffset(tb testing.TB, ctx context.Context, cn *Conn, topic string, partition int32) int64 {
	tb.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = topic
	p := kmsg.NewListOffsetsRequestTopicPartition()
	p.Partition = partition
	p.Timestamp = -1
	p.CurrentLeaderEpoch = -1
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	resp, err := cn.Do(ctx, req)
	require.NoError(tb, err)
	lr := resp.(*kmsg.ListOffsetsResponse)
	require.Len(tb, lr.Topics, 1)
	require.Len(tb, lr.Topics[0].Partitions, 1)
	require.Zero(tb, lr.Topics[0].Partitions[0].ErrorCode)
	return lr.Topics[0].Partitions[0].Offset
}
