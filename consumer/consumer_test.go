package consumer

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestAssignModeEveryCodec(t *testing.T) {
	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		{"none", kgo.NoCompression()},
		{"gzip", kgo.GzipCompression()},
		{"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()},
		{"zstd", kgo.ZstdCompression()},
	}
	for _, tc := range codecs {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const parts, n = 3, 300
			c := newCluster(t, 1, parts, "t")
			pr := newProducer(t, c, kgo.ProducerBatchCompression(tc.codec), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			base := time.UnixMilli(1_700_000_000_000)
			var want []*kgo.Record
			for i := 0; i < n; i++ {
				r := &kgo.Record{Topic: "t", Partition: int32(i % parts), Timestamp: base.Add(time.Duration(i) * time.Millisecond)}
				switch i % 4 {
				case 0:
					r.Key, r.Value = []byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprintf("v%d", i))
				case 1:
					r.Key, r.Value = nil, []byte(fmt.Sprintf("v%d", i)) // null key
				case 2:
					r.Key, r.Value = []byte(fmt.Sprintf("k%d", i)), nil // tombstone
					r.Headers = []kgo.RecordHeader{{Key: "h1", Value: []byte("x")}, {Key: "h2", Value: nil}}
				case 3:
					r.Key, r.Value = []byte{}, []byte{}
					r.Headers = []kgo.RecordHeader{{Key: "only", Value: []byte(fmt.Sprint(i))}}
				}
				want = append(want, r)
			}
			produce(t, pr, want...)

			cons := newTestConsumer(t, Config{Brokers: c.ListenAddrs(), Assign: allPartitions("t", parts, OffsetEarliest)})
			got := pollN(t, cons, n, 20*time.Second)
			sortRecords(got)
			byKey := map[string]*kgo.Record{}
			for _, w := range want {
				byKey[fmt.Sprintf("t/%d/%d", w.Partition, w.Offset)] = w
			}
			for _, g := range got {
				w := byKey[recordID(g)]
				require.NotNil(t, w, "unexpected record %s", recordID(g))
				assert.Equal(t, w.Key, g.Key, recordID(g))
				assert.Equal(t, w.Value, g.Value, recordID(g))
				assert.Equal(t, w.Key == nil, g.Key == nil, "null key %s", recordID(g))
				assert.Equal(t, w.Value == nil, g.Value == nil, "tombstone %s", recordID(g))
				assert.Equal(t, w.Timestamp.UnixMilli(), g.Timestamp.UnixMilli(), recordID(g))
				require.Len(t, g.Headers, len(w.Headers), recordID(g))
				for i, h := range w.Headers {
					assert.Equal(t, h.Key, g.Headers[i].Key)
					assert.Equal(t, h.Value, g.Headers[i].Value)
				}
			}
		})
	}
}
