package broker

import (
	"encoding/binary"
	"io"
	"net"
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
	nc, err := net.Dial("tcp", br.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	const inFlight = 5
	slots := make(chan struct{}, inFlight)
	done := make(chan error, 1)
	b.SetBytes(int64(len(f)))
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		var size [4]byte
		var body []byte
		for range b.N {
			if _, err := io.ReadFull(nc, size[:]); err != nil {
				done <- err
				return
			}
			n := int(binary.BigEndian.Uint32(size[:]))
			if cap(body) < n {
				body = make([]byte, n)
			}
			if _, err := io.ReadFull(nc, body[:n]); err != nil {
				done <- err
				return
			}
			<-slots
		}
		done <- nil
	}()
	for range b.N {
		slots <- struct{}{}
		if _, err := nc.Write(f); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*partitions*records)/b.Elapsed().Seconds(), "records/s")
}
