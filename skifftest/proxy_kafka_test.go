package skifftest

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// frameOf encodes resp as the broker would: size, correlation ID, the
// header's tags when flexible, then the body.
func frameOf(corr int32, resp kmsg.Response) []byte {
	b := make([]byte, 8, 256)
	binary.BigEndian.PutUint32(b[4:], uint32(corr))
	if resp.IsFlexible() && resp.Key() != ApiVersions {
		b = append(b, 0)
	}
	b = resp.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// decodeFrame is what a client does with a response frame.
func decodeFrame(t *testing.T, frame []byte, key, version int16) kmsg.Response {
	t.Helper()
	require.EqualValues(t, len(frame)-4, binary.BigEndian.Uint32(frame), "size prefix")
	resp := kmsg.ResponseForKey(key)
	resp.SetVersion(version)
	body := frame[8:]
	if resp.IsFlexible() {
		require.Equal(t, byte(0), body[0], "empty header tags")
		body = body[1:]
	}
	require.NoError(t, resp.ReadFrom(body))
	return resp
}

func toProxy(host string, port int32) (string, int32, bool) {
	return "127.0.0.1", 40000, host != "127.0.0.1" || port != 40000
}

func TestRewriteResponse(t *testing.T) {
	t.Parallel()
	metadata := func(v int16) kmsg.Response {
		r := kmsg.NewPtrMetadataResponse()
		r.SetVersion(v)
		r.Brokers = []kmsg.MetadataResponseBroker{{NodeID: 0, Host: "broker-0", Port: 9092}, {NodeID: 1, Host: "broker-1", Port: 9093}}
		tp := kmsg.NewMetadataResponseTopic()
		name := "orders"
		tp.Topic = &name
		tp.Partitions = []kmsg.MetadataResponseTopicPartition{{Partition: 0, Leader: 1, Replicas: []int32{1}, ISR: []int32{1}}}
		r.Topics = append(r.Topics, tp)
		return r
	}
	findCoord := func(v int16, code int16) kmsg.Response {
		r := kmsg.NewPtrFindCoordinatorResponse()
		r.SetVersion(v)
		if v < 4 {
			r.ErrorCode, r.NodeID, r.Host, r.Port = code, 0, "broker-0", 9092
		} else {
			r.Coordinators = []kmsg.FindCoordinatorResponseCoordinator{
				{Key: "g1", NodeID: 0, Host: "broker-0", Port: 9092},
				{Key: "g2", NodeID: -1, Host: "", Port: -1, ErrorCode: code},
			}
		}
		return r
	}
	for _, tc := range []struct {
		name  string
		resp  kmsg.Response
		check func(t *testing.T, r kmsg.Response)
	}{
		{"Metadata v0", metadata(0), nil},
		{"Metadata v8", metadata(8), nil},
		{"Metadata v9 flexible", metadata(9), nil},
		{"Metadata v13", metadata(13), nil},
		{"FindCoordinator v0", findCoord(0, 0), nil},
		{"FindCoordinator v3 flexible", findCoord(3, 0), nil},
		{"FindCoordinator v4 list", findCoord(4, 15), func(t *testing.T, r kmsg.Response) {
			cs := r.(*kmsg.FindCoordinatorResponse).Coordinators
			assert.Equal(t, "", cs[1].Host, "an error entry is left alone")
			assert.EqualValues(t, -1, cs[1].Port)
		}},
		{"DescribeCluster v0", func() kmsg.Response {
			r := kmsg.NewPtrDescribeClusterResponse()
			r.Brokers = []kmsg.DescribeClusterResponseBroker{{NodeID: 0, Host: "broker-0", Port: 9092}}
			return r
		}(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := frameOf(77, tc.resp)
			h := reqInfo{key: tc.resp.Key(), version: tc.resp.GetVersion()}
			out, ok := rewriteResponse(h, in, toProxy)
			require.True(t, ok)
			assert.Equal(t, in[4:8], out[4:8], "correlation ID kept")
			got := decodeFrame(t, out, h.key, h.version)
			want := decodeFrame(t, in, h.key, h.version)
			switch g := got.(type) {
			case *kmsg.MetadataResponse:
				for i, b := range g.Brokers {
					assert.Equal(t, "127.0.0.1", b.Host)
					assert.EqualValues(t, 40000, b.Port)
					assert.Equal(t, want.(*kmsg.MetadataResponse).Brokers[i].NodeID, b.NodeID)
				}
				assert.Equal(t, want.(*kmsg.MetadataResponse).Topics, g.Topics, "the rest is untouched")
			case *kmsg.FindCoordinatorResponse:
				if h.version < 4 {
					assert.Equal(t, "127.0.0.1", g.Host)
					assert.EqualValues(t, 40000, g.Port)
				} else {
					assert.Equal(t, "127.0.0.1", g.Coordinators[0].Host)
					assert.EqualValues(t, 40000, g.Coordinators[0].Port)
				}
			case *kmsg.DescribeClusterResponse:
				assert.Equal(t, "127.0.0.1", g.Brokers[0].Host)
				assert.EqualValues(t, 40000, g.Brokers[0].Port)
			}
			if tc.check != nil {
				tc.check(t, got)
			}

			// Already pointing at the proxy: nothing to do, the frame
			// goes on byte for byte.
			_, ok = rewriteResponse(h, out, toProxy)
			assert.False(t, ok)
		})
	}

	t.Run("not rewritten", func(t *testing.T) {
		good := frameOf(1, metadata(12))
		for _, tc := range []struct {
			name  string
			h     reqInfo
			frame []byte
		}{
			{"unknown key", reqInfo{key: 9999, version: 0}, good},
			{"produce", reqInfo{key: Produce, version: 9}, good},
			{"version beyond kmsg", reqInfo{key: Metadata, version: 999}, good},
			{"negative version", reqInfo{key: Metadata, version: -1}, good},
			{"truncated", reqInfo{key: Metadata, version: 12}, good[:len(good)/2]},
			{"short", reqInfo{key: Metadata, version: 12}, good[:6]},
			{"bad tags", reqInfo{key: Metadata, version: 12}, append(append([]byte(nil), good[:8]...), 0xff, 0xff, 0xff)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, ok := rewriteResponse(tc.h, tc.frame, toProxy)
				assert.False(t, ok)
			})
		}
	})
}

// feedChunks passes stream through a respRewriter in random-size chunks.
func feedChunks(rng *rand.Rand, stream []byte, r *respRewriter) []byte {
	var out []byte
	emit := func(b []byte) { out = append(out, b...) }
	for len(stream) > 0 {
		n := 1 + rng.IntN(min(len(stream), 50))
		r.feed(stream[:n], emit)
		stream = stream[n:]
	}
	r.flush(emit)
	return out
}

// TestRespRewriterStream: in a stream of responses cut at random places,
// exactly the ones answering a Metadata or FindCoordinator request are
// rewritten, and everything else passes byte for byte.
func TestRespRewriterStream(t *testing.T) {
	t.Parallel()
	md := kmsg.NewPtrMetadataResponse()
	md.SetVersion(12)
	md.Brokers = []kmsg.MetadataResponseBroker{{Host: "broker-0", Port: 9092}}
	other := kmsg.NewPtrProduceResponse()
	other.SetVersion(9)
	other.Topics = []kmsg.ProduceResponseTopic{{Topic: "orders-with-a-long-name-to-span-chunks"}}

	for seed := range uint64(50) {
		pending := map[int32]reqInfo{2: {key: Metadata, version: 12}}
		r := respRewriter{
			expecting: func() bool { return len(pending) > 0 },
			lookup: func(corr int32) (reqInfo, bool) {
				h, ok := pending[corr]
				delete(pending, corr)
				return h, ok
			},
			rewrite: func(h reqInfo, frame []byte) []byte {
				out, ok := rewriteResponse(h, frame, toProxy)
				if !ok {
					return frame
				}
				return out
			},
		}
		in := bytes.Join([][]byte{frameOf(1, other), frameOf(2, md), frameOf(3, other), frameOf(4, md)}, nil)
		rewritten, ok := rewriteResponse(reqInfo{key: Metadata, version: 12}, frameOf(2, md), toProxy)
		require.True(t, ok)
		want := bytes.Join([][]byte{frameOf(1, other), rewritten, frameOf(3, other), frameOf(4, md)}, nil)
		got := feedChunks(rand.New(rand.NewPCG(seed, seed)), in, &r)
		require.Equal(t, want, got, "seed %d", seed)
	}
}

// FuzzReqScanner: any client bytes, cut anywhere, never panic the scanner,
// and a well-formed request's header is reported whole.
func FuzzReqScanner(f *testing.F) {
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(12)
	frame := encodeRequest(req, 42)
	f.Add(frame, uint64(1))
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0xa5}, uint64(2)) // a TLS ClientHello
	f.Add([]byte{0, 0, 0, 4, 0, 3, 0, 12}, uint64(3))
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, seed))
		var s reqScanner
		var seen []int32
		stream := append(append([]byte(nil), frame...), in...)
		for len(stream) > 0 {
			n := 1 + rng.IntN(len(stream))
			s.scan(stream[:n], func(h reqInfo, corr int32) { seen = append(seen, corr) })
			stream = stream[n:]
		}
		require.NotEmpty(t, seen)
		assert.EqualValues(t, 42, seen[0])
	})
}

// encodeRequest frames req with a v1/v2 request header.
func encodeRequest(req kmsg.Request, corr int32) []byte {
	b := make([]byte, 4, 128)
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 0xffff) // null client ID
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// FuzzRespRewriter: any broker bytes, cut anywhere, with any request
// believed outstanding, never panic; when the mapping changes nothing, the
// stream comes out exactly as it went in.
func FuzzRespRewriter(f *testing.F) {
	md := kmsg.NewPtrMetadataResponse()
	md.SetVersion(12)
	md.Brokers = []kmsg.MetadataResponseBroker{{Host: "broker-0", Port: 9092}}
	fc := kmsg.NewPtrFindCoordinatorResponse()
	fc.SetVersion(4)
	fc.Coordinators = []kmsg.FindCoordinatorResponseCoordinator{{Key: "g", Host: "broker-0", Port: 9092}}
	f.Add(frameOf(1, md), int16(Metadata), int16(12), uint64(1))
	f.Add(frameOf(1, fc), int16(FindCoordinator), int16(4), uint64(2))
	f.Add(frameOf(1, fc)[:20], int16(FindCoordinator), int16(4), uint64(3))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"), int16(Metadata), int16(0), uint64(4))
	f.Fuzz(func(t *testing.T, in []byte, key, version int16, seed uint64) {
		for _, change := range []bool{false, true} {
			r := respRewriter{
				expecting: func() bool { return true },
				lookup:    func(int32) (reqInfo, bool) { return reqInfo{key: key, version: version}, true },
				rewrite: func(h reqInfo, frame []byte) []byte {
					out, ok := rewriteResponse(h, frame, func(host string, port int32) (string, int32, bool) {
						return "proxy", 1, change
					})
					if !ok {
						return frame
					}
					require.True(t, change, "rewrote with a mapping that changes nothing")
					return out
				},
			}
			out := feedChunks(rand.New(rand.NewPCG(seed, seed)), in, &r)
			if !change && !bytes.Equal(in, out) {
				t.Fatalf("passed through changed:\n in %x\nout %x", in, out)
			}
		}
	})
}
