package fastack

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestKgoProducesToSink(t *testing.T) {
	for _, acks := range []kgo.Acks{kgo.AllISRAcks(), kgo.NoAck()} {
		t.Run(fmt.Sprint(acks), func(t *testing.T) {
			sink, addr := Start(t, 4)
			opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.RequiredAcks(acks), kgo.ProducerLinger(0)}
			if acks == kgo.NoAck() {
				opts = append(opts, kgo.DisableIdempotentWrite())
			}
			cl, err := kgo.NewClient(opts...)
			require.NoError(t, err)
			defer cl.Close()
			const n = 1000
			var wg sync.WaitGroup
			offsets := map[int32][]int64{}
			var mu sync.Mutex
			for i := range n {
				wg.Add(1)
				cl.Produce(context.Background(), &kgo.Record{Topic: "t", Key: []byte(fmt.Sprint(i % 10)), Value: []byte("v")}, func(r *kgo.Record, err error) {
					defer wg.Done()
					assert.NoError(t, err)
					mu.Lock()
					offsets[r.Partition] = append(offsets[r.Partition], r.Offset)
					mu.Unlock()
				})
			}
			wg.Wait()
			require.NoError(t, cl.Flush(context.Background()))
			// With acks=0 the client is done once it wrote; the sink may
			// still be reading.
			require.Eventually(t, func() bool { return sink.Records() == n }, 5*time.Second, time.Millisecond, "records: %d", sink.Records())
			assert.Positive(t, sink.Batches())
			if acks == kgo.AllISRAcks() {
				for p, offs := range offsets {
					for i, o := range offs {
						assert.Equal(t, int64(i), o, "partition %d offsets are dense and increasing", p)
					}
				}
			}
		})
	}
}

func TestCloseStopsEverything(t *testing.T) {
	s, err := Listen("127.0.0.1:0", 1)
	require.NoError(t, err)
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr()))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "x", Value: []byte("v")}).FirstErr())
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung")
	}
	s.Close() // idempotent
}

func TestListenRejectsBadPartitions(t *testing.T) {
	_, err := Listen("127.0.0.1:0", 0)
	assert.Error(t, err)
}

// frame builds a request frame as a client would send it.
func frame(req kmsg.Request, corr int32) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 0xffff) // null client id
	if req.IsFlexible() {
		b = append(b, 0)
	}
	return req.AppendTo(b)
}

func FuzzHandle(f *testing.F) {
	mr := kmsg.NewPtrMetadataRequest()
	mr.SetVersion(9)
	mr.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("t")}}
	f.Add(frame(mr, 1))
	pr := kmsg.NewPtrProduceRequest()
	pr.SetVersion(9)
	pr.Acks = -1
	pr.Topics = []kmsg.ProduceRequestTopic{{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: make([]byte, 70)}}}}
	f.Add(frame(pr, 2))
	av := kmsg.NewPtrApiVersionsRequest()
	av.SetVersion(3)
	f.Add(frame(av, 3))
	f.Add([]byte{0, 18, 0, 99, 0, 0, 0, 1, 0xff, 0xff})
	s := &Sink{partitions: 2, host: "127.0.0.1", port: 1}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = s.handle(nil, b) // must not panic
	})
}

func TestHandleMetadataAndProduce(t *testing.T) {
	s := &Sink{partitions: 3, host: "127.0.0.1", port: 9}
	mr := kmsg.NewPtrMetadataRequest()
	mr.SetVersion(9)
	mr.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("orders")}}
	out, err := s.handle(nil, frame(mr, 7))
	require.NoError(t, err)
	assert.Equal(t, uint32(7), binary.BigEndian.Uint32(out[4:]))
	resp := kmsg.NewPtrMetadataResponse()
	resp.SetVersion(9)
	require.NoError(t, resp.ReadFrom(out[9:])) // size, corr, tags
	require.Len(t, resp.Topics, 1)
	assert.Len(t, resp.Topics[0].Partitions, 3)
	assert.Equal(t, int32(9), resp.Brokers[0].Port)

	// A Produce with a corrupt batch is answered CORRUPT_MESSAGE, not a panic.
	pr := kmsg.NewPtrProduceRequest()
	pr.SetVersion(7)
	pr.Acks = 1
	pr.Topics = []kmsg.ProduceRequestTopic{{Topic: "orders", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 1, Records: []byte{1, 2, 3}}}}}
	out, err = s.handle(nil, frame(pr, 8))
	require.NoError(t, err)
	presp := kmsg.NewPtrProduceResponse()
	presp.SetVersion(7)
	require.NoError(t, presp.ReadFrom(out[8:]))
	assert.Equal(t, int16(2), presp.Topics[0].Partitions[0].ErrorCode)
}

// TestAnswersDoNotWaitForAPartialRequest pipelines a whole Metadata request
// and the first bytes of a second one: the first answer must arrive while
// the second request is still incomplete (a sink that held answers until
// its input ran dry delayed every ack by a request's transfer time).
func TestAnswersDoNotWaitForAPartialRequest(t *testing.T) {
	_, addr := Start(t, 1)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	mr := kmsg.NewPtrMetadataRequest()
	mr.SetVersion(4)
	sized := func(f []byte) []byte { return append(binary.BigEndian.AppendUint32(nil, uint32(len(f))), f...) }
	second := sized(frame(mr, 2))
	// Both in one write, so they arrive in one read on the sink's side.
	_, err = c.Write(append(sized(frame(mr, 1)), second[:6]...))
	require.NoError(t, err)

	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	var head [8]byte
	_, err = io.ReadFull(c, head[:])
	require.NoError(t, err, "the first answer did not come while the second request was incomplete")
	assert.Equal(t, int32(1), int32(binary.BigEndian.Uint32(head[4:])), "correlation id")
	body := make([]byte, binary.BigEndian.Uint32(head[:4])-4)
	_, err = io.ReadFull(c, body)
	require.NoError(t, err)

	// The rest of the second request gets its answer too.
	_, err = c.Write(second[6:])
	require.NoError(t, err)
	_, err = io.ReadFull(c, head[:])
	require.NoError(t, err)
	assert.Equal(t, int32(2), int32(binary.BigEndian.Uint32(head[4:])))
}
