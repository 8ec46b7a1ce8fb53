package broker

import (
	"testing"
	"time"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkConnProduceWide is BenchmarkConnProduce at the shape of issue
// 14's 1,000-partition ingest: one Produce v9 request carries a 25-record
// batch for each of 1,000 partitions, about 2.8 MB, over TCP with up to 5
// requests in flight. Beside the per-batch append it shows what a request
// of several MB costs the connection (reading the frame, its buffer).
//
//	go test -run '^$' -bench ConnProduceWide -benchmem -benchtime 50x ./broker/
func BenchmarkConnProduceWide(b *testing.B) {
	const partitions, records = 1000, 25
	br := startBroker(b, Config{Logger: discardLogger(), RetentionCheckInterval: 100 * time.Millisecond})
	if err := br.CreateTopic("bench", partitions, map[string]string{"segment.bytes": "1048576", "retention.bytes": "2097152"}); err != nil {
		b.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "bench"
	for p := range int32(partitions) {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = p, makeBatch(records, 100, batch.NoProducer)
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	f := frame(req, 9, 1)
	b.SetBytes(int64(len(f)))
	pipelineFrames(b, br.Addr(), f)
	b.ReportMetric(float64(b.N*partitions*records)/b.Elapsed().Seconds(), "records/s")
}
