package fastack

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/reqframe"
)

// maxFrame bounds a request frame, like Kafka's socket.request.max.bytes.
const maxFrame = 100 << 20

// Sink is a running fastack broker.
type Sink struct {
	ln         net.Listener
	host       string
	port       int32
	partitions int32

	wg     sync.WaitGroup // acceptor and connection goroutines
	mu     sync.Mutex     // guards conns, closed
	conns  map[net.Conn]struct{}
	closed bool

	pids     atomic.Int64
	records  atomic.Int64
	batches  atomic.Int64
	requests atomic.Int64
	accepted atomic.Int64
	offsets  sync.Map // topic -> []atomic.Int64, one per partition
}

// Start listens on 127.0.0.1 with every topic having partitions
// partitions, and closes the sink when tb's test ends.
func Start(tb testing.TB, partitions int) (*Sink, string) {
	tb.Helper()
	s, err := Listen("127.0.0.1:0", partitions)
	if err != nil {
		tb.Fatalf("fastack: %v", err)
	}
	tb.Cleanup(s.Close)
	return s, s.Addr()
}

// Listen starts a sink on addr (host:port, port 0 for any).
func Listen(addr string, partitions int) (*Sink, error) {
	if partitions <= 0 {
		return nil, fmt.Errorf("fastack: partitions must be positive, got %d", partitions)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fastack: %w", err)
	}
	host, portS, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(portS)
	s := &Sink{ln: ln, host: host, port: int32(port), partitions: int32(partitions), conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the sink's host:port.
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// Records is the number of records acknowledged so far.
func (s *Sink) Records() int64 { return s.records.Load() }

// Batches is the number of record batches acknowledged so far.
func (s *Sink) Batches() int64 { return s.batches.Load() }

// Requests is the number of Produce requests handled so far.
func (s *Sink) Requests() int64 { return s.requests.Load() }

// Connections is the number of connections accepted so far.
func (s *Sink) Connections() int64 { return s.accepted.Load() }

// Close stops listening, closes every connection and waits for the sink's
// goroutines to exit.
func (s *Sink) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	_ = s.ln.Close()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Sink) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.accepted.Add(1)
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

// serve handles one connection: requests are answered in order, and
// responses are flushed when no further request is already buffered, so a
// pipelining client gets them in few writes.
func (s *Sink) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	r := bufio.NewReaderSize(c, 256<<10)
	w := bufio.NewWriterSize(c, 64<<10)
	var frame, out []byte
	var size [4]byte
	for {
		n, err := reqframe.ReadSize(r, &size, maxFrame)
		if err != nil {
			return
		}
		// The frame buffer is reused: it grows to the largest request
		// and stays.
		if frame, err = reqframe.ReadBody(r, int(n), frame[:0]); err != nil {
			return
		}
		out, err = s.handle(out[:0], frame)
		if err != nil {
			return
		}
		if len(out) > 0 {
			if _, err := w.Write(out); err != nil {
				return
			}
		}
		if !wholeFrameBuffered(r) {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

// wholeFrameBuffered reports whether r already holds the whole next
// request, so that its answer can go out in the same write as the ones
// before it. Only then may answers wait: a pipelining client whose next
// request has only begun to arrive would otherwise wait for its earlier
// answers until the rest of it came in (a 48 KiB produce request arrives
// in several reads), which made the in-process sink look slower than the
// broker it is meant to bound.
func wholeFrameBuffered(r *bufio.Reader) bool {
	if r.Buffered() < 4 {
		return false
	}
	size, err := r.Peek(4)
	return err == nil && r.Buffered()-4 >= int(binary.BigEndian.Uint32(size))
}

var errUnsupported = errors.New("fastack: unsupported request")

// handle decodes one request frame and appends the response frame (none
// for acks=0 Produce) to out.
func (s *Sink) handle(out, frame []byte) ([]byte, error) {
	h, req, err := reqframe.Parse(frame)
	if err != nil {
		return out, fmt.Errorf("fastack: %w", err)
	}
	version, corr := h.Version, h.Corr
	if req == nil {
		// KIP-511: answer a too-new ApiVersions in v0 with our range.
		resp := s.apiVersions(0)
		resp.ErrorCode = 35 // UNSUPPORTED_VERSION
		return reqframe.AppendResponse(out, corr, resp), nil
	}
	var resp kmsg.Response
	switch req := req.(type) {
	case *kmsg.ApiVersionsRequest:
		resp = s.apiVersions(version)
	case *kmsg.MetadataRequest:
		resp = s.metadata(req)
	case *kmsg.InitProducerIDRequest:
		r := req.ResponseKind().(*kmsg.InitProducerIDResponse)
		r.ProducerID = s.pids.Add(1) - 1
		r.ProducerEpoch = 0
		resp = r
	case *kmsg.ProduceRequest:
		r := s.produce(req)
		if req.Acks == 0 {
			return out, nil
		}
		resp = r
	default:
		return out, errUnsupported
	}
	return reqframe.AppendResponse(out, corr, resp), nil
}

// supported are the APIs and versions the sink advertises.
var supported = []struct{ key, min, max int16 }{
	{int16(kmsg.Produce), 3, 12},
	{int16(kmsg.Metadata), 0, 12},
	{int16(kmsg.ApiVersions), 0, 4},
	{int16(kmsg.InitProducerID), 0, 5},
}

func (s *Sink) apiVersions(version int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(version)
	for _, a := range supported {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.key, a.min, min(a.max, kmsg.RequestForKey(a.key).MaxVersion())
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp
}

func (s *Sink) metadata(req *kmsg.MetadataRequest) *kmsg.MetadataResponse {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = 0, s.host, s.port
	resp.Brokers = append(resp.Brokers, b)
	resp.ControllerID = 0
	for _, rt := range req.Topics {
		if rt.Topic == nil {
			continue
		}
		t := kmsg.NewMetadataResponseTopic()
		t.Topic = kmsg.StringPtr(*rt.Topic)
		t.TopicID = topicID(*rt.Topic)
		for p := range s.partitions {
			mp := kmsg.NewMetadataResponseTopicPartition()
			mp.Partition = p
			mp.Leader = 0
			mp.Replicas = []int32{0}
			mp.ISR = []int32{0}
			t.Partitions = append(t.Partitions, mp)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

// topicID derives a stable, non-zero id from the name.
func topicID(name string) [16]byte {
	var id [16]byte
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	binary.BigEndian.PutUint64(id[:8], h|1)
	binary.BigEndian.PutUint64(id[8:], h*31+7)
	return id
}

func (s *Sink) partitionOffsets(topic string) []atomic.Int64 {
	if v, ok := s.offsets.Load(topic); ok {
		return v.([]atomic.Int64)
	}
	v, _ := s.offsets.LoadOrStore(topic, make([]atomic.Int64, s.partitions))
	return v.([]atomic.Int64)
}

func (s *Sink) produce(req *kmsg.ProduceRequest) *kmsg.ProduceResponse {
	s.requests.Add(1)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range req.Topics {
		offs := s.partitionOffsets(rt.Topic)
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.TopicID = rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LogAppendTime = -1
			records, batches, ok := countRecords(rp.Records)
			switch {
			case rp.Partition < 0 || rp.Partition >= s.partitions:
				sp.ErrorCode = 3 // UNKNOWN_TOPIC_OR_PARTITION
			case !ok:
				sp.ErrorCode = 2 // CORRUPT_MESSAGE
			default:
				sp.BaseOffset = offs[rp.Partition].Add(records) - records
				s.records.Add(records)
				s.batches.Add(batches)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// countRecords reads the record counts of a concatenation of record batch
// v2 headers (batchLength at byte 8, magic at 16, recordCount at 57).
func countRecords(b []byte) (records, batches int64, ok bool) {
	for len(b) > 0 {
		if len(b) < 61 || b[16] != 2 {
			return 0, 0, false
		}
		n := 12 + int64(int32(binary.BigEndian.Uint32(b[8:])))
		if n < 61 || n > int64(len(b)) {
			return 0, 0, false
		}
		records += int64(int32(binary.BigEndian.Uint32(b[57:])))
		batches++
		b = b[n:]
	}
	return records, batches, batches > 0
}
