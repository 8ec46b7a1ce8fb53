package producer

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// pipeBroker is a one-node, in-memory Kafka broker reached through
// net.Pipe, so that a producer can run inside a testing/synctest bubble
// (goroutines blocked on real sockets would keep the bubble from ever
// being idle). It answers ApiVersions, Metadata, InitProducerId and
// Produce, acknowledging every batch.
type pipeBroker struct {
	topic      string
	partitions int32

	mu      sync.Mutex
	offsets map[int32]int64
	wg      sync.WaitGroup
}

// usePipeBroker installs a pipeBroker as the producer's network for the
// rest of the test and returns its bootstrap address.
func usePipeBroker(tb testing.TB, topic string, partitions int32) *pipeBroker {
	b := &pipeBroker{topic: topic, partitions: partitions, offsets: map[int32]int64{}}
	testDial = func(ctx context.Context, _, _ string) (net.Conn, error) {
		client, server := net.Pipe()
		b.wg.Add(1)
		go b.serve(server)
		return client, nil
	}
	tb.Cleanup(func() {
		testDial = nil
		b.wg.Wait() // every connection was closed by the producer's Close
	})
	return b
}

func (b *pipeBroker) serve(c net.Conn) {
	defer b.wg.Done()
	defer c.Close()
	br := bufio.NewReader(c)
	var size [4]byte
	for {
		if _, err := io.ReadFull(br, size[:]); err != nil {
			return
		}
		frame := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(br, frame); err != nil {
			return
		}
		req, corrID, err := parsePipeRequest(frame)
		if err != nil {
			return
		}
		resp := b.handle(req)
		if resp == nil { // acks=0
			continue
		}
		if _, err := c.Write(pipeResponseFrame(corrID, resp)); err != nil {
			return
		}
	}
}

func (b *pipeBroker) handle(kreq kmsg.Request) kmsg.Response {
	kresp := kreq.ResponseKind()
	kresp.SetVersion(kreq.GetVersion())
	switch req := kreq.(type) {
	case *kmsg.ApiVersionsRequest:
		resp := kresp.(*kmsg.ApiVersionsResponse)
		for _, k := range []struct{ key, min, max int16 }{
			{int16(kmsg.ApiVersions), 0, 3},
			{int16(kmsg.Metadata), 0, 12},
			{int16(kmsg.Produce), 3, 9},
			{int16(kmsg.InitProducerID), 0, 4},
		} {
			ak := kmsg.NewApiVersionsResponseApiKey()
			ak.ApiKey, ak.MinVersion, ak.MaxVersion = k.key, k.min, k.max
			resp.ApiKeys = append(resp.ApiKeys, ak)
		}
	case *kmsg.MetadataRequest:
		resp := kresp.(*kmsg.MetadataResponse)
		br := kmsg.NewMetadataResponseBroker()
		br.NodeID, br.Host, br.Port = 1, "pipe", 9092
		resp.Brokers = append(resp.Brokers, br)
		resp.ControllerID = 1
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic = kmsg.StringPtr(b.topic)
		for i := range b.partitions {
			rp := kmsg.NewMetadataResponseTopicPartition()
			rp.Partition, rp.Leader, rp.Replicas, rp.ISR = i, 1, []int32{1}, []int32{1}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	case *kmsg.InitProducerIDRequest:
		resp := kresp.(*kmsg.InitProducerIDResponse)
		resp.ProducerID, resp.ProducerEpoch = 1, 0
	case *kmsg.ProduceRequest:
		if req.Acks == 0 {
			return nil
		}
		resp := kresp.(*kmsg.ProduceResponse)
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.BaseOffset, sp.LogAppendTime = rp.Partition, b.offsets[rp.Partition], -1
				// The record count sits at bytes 57..61 of a v2 batch.
				if len(rp.Records) >= 61 {
					b.offsets[rp.Partition] += int64(binary.BigEndian.Uint32(rp.Records[57:61]))
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
	default:
		return nil
	}
	return kresp
}

// parsePipeRequest decodes a request frame (after its size prefix).
func parsePipeRequest(frame []byte) (kmsg.Request, int32, error) {
	if len(frame) < 10 {
		return nil, 0, errors.New("short request")
	}
	key := int16(binary.BigEndian.Uint16(frame))
	ver := int16(binary.BigEndian.Uint16(frame[2:]))
	corrID := int32(binary.BigEndian.Uint32(frame[4:]))
	idLen := int(int16(binary.BigEndian.Uint16(frame[8:])))
	body := frame[10:]
	if idLen > 0 {
		if idLen > len(body) {
			return nil, 0, errors.New("short client id")
		}
		body = body[idLen:]
	}
	req := kmsg.RequestForKey(key)
	if req == nil {
		return nil, 0, errors.New("unknown key")
	}
	req.SetVersion(ver)
	if req.IsFlexible() {
		if len(body) < 1 || body[0] != 0 {
			return nil, 0, errors.New("unexpected header tags")
		}
		body = body[1:]
	}
	return req, corrID, req.ReadFrom(body)
}

// pipeResponseFrame frames resp with its response header (v0 for
// ApiVersions, whatever its version, as Kafka does).
func pipeResponseFrame(corrID int32, resp kmsg.Response) []byte {
	b := make([]byte, 8, 64)
	binary.BigEndian.PutUint32(b[4:], uint32(corrID))
	if resp.IsFlexible() && resp.Key() != int16(kmsg.ApiVersions) {
		b = append(b, 0)
	}
	b = resp.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}
