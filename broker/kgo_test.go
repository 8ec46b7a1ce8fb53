package broker

import (
	"fmt"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestKgoProduceConsume(t *testing.T) {
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	acks := map[string]kgo.Acks{"0": kgo.NoAck(), "1": kgo.LeaderAck(), "all": kgo.AllISRAcks()}
	for _, fsync := range []FsyncPolicy{FsyncInterval, FsyncAlways} {
		b := startBroker(t, Config{Fsync: fsync, NumPartitions: 3})
		for cname, codec := range codecs {
			for aname, ack := range acks {
				t.Run(fmt.Sprintf("%s/%s/acks=%s", fsync, cname, aname), func(t *testing.T) {
					topic := fmt.Sprintf("t-%s-%s-%s", fsync, cname, aname)
					opts := []kgo.Opt{kgo.ProducerBatchCompression(codec), kgo.RequiredAcks(ack), kgo.AllowAutoTopicCreation()}
					if aname != "all" {
						opts = append(opts, kgo.DisableIdempotentWrite())
					}
					cl := newClient(t, b, opts...)
					const n = 300
					var recs []*kgo.Record
					for i := range n {
						recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i % 7)), Value: []byte(fmt.Sprintf("value-%d", i))})
					}
					require.NoError(t, cl.ProduceSync(ctx(t), recs...).FirstErr())
					got := consumeN(t, b, topic, n)
					require.Len(t, got, n)
					var vals []string
					perPart := map[int32]int64{}
					for _, r := range got {
						vals = append(vals, string(r.Value))
						assert.Equal(t, perPart[r.Partition], r.Offset, "offsets are dense per partition")
						perPart[r.Partition]++
					}
					var want []string
					for i := range n {
						want = append(want, fmt.Sprintf("value-%d", i))
					}
					sort.Strings(vals)
					sort.Strings(want)
					assert.Equal(t, want, vals)
				})
			}
		}
	}
}

// TestPipelinedIdempotentOrder: kgo pipelines up to 5 produce requests on
// one connection; the broker must append them in the order sent, or the
// idempotent producer sees OUT_OF_ORDER_SEQUENCE_NUMBER and records land
// out of order.
func TestPipelinedIdempotentOrder(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("ordered", 1, nil))
	cl := newClient(t, b, kgo.DefaultProduceTopic("ordered"), kgo.ProducerBatchMaxBytes(1024),
		kgo.ProducerLinger(time.Millisecond), kgo.ProducerBatchCompression(kgo.NoCompression()))
	const n = 5000
	var failed atomic.Int64
	for i := range n {
		cl.Produce(ctx(t), &kgo.Record{Value: []byte(strconv.Itoa(i))}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
			}
		})
	}
	require.NoError(t, cl.Flush(ctx(t)))
	require.Zero(t, failed.Load())
	recs := consumeN(t, b, "ordered", n)
	for i, r := range recs {
		require.Equal(t, strconv.Itoa(i), string(r.Value), "offset %d", r.Offset)
	}
}
