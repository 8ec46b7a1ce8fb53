package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeBroker is a minimal TCP server speaking Kafka framing, for the cases
// kfake cannot stage: old ApiVersions, huge frames, raw byte control.
type fakeBroker struct {
	ln      net.Listener
	handler func(req kmsg.Request, corrID int32) fakeReply
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
}

// fakeReply is what the fake broker does with one request.
type fakeReply struct {
	resp  kmsg.Response // encoded with the request's version and header rules
	raw   []byte        // written as is (already framed) if resp is nil
	close bool          // close the connection instead of answering
}

func newFakeBroker(tb testing.TB, handler func(req kmsg.Request, corrID int32) fakeReply) *fakeBroker {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	fb := &fakeBroker{ln: ln, handler: handler}
	fb.wg.Add(1)
	go fb.accept()
	tb.Cleanup(fb.close)
	return fb
}

func (fb *fakeBroker) addr() string { return fb.ln.Addr().String() }

func (fb *fakeBroker) close() {
	_ = fb.ln.Close()
	fb.mu.Lock()
	for _, c := range fb.conns {
		_ = c.Close()
	}
	fb.mu.Unlock()
	fb.wg.Wait()
}

func (fb *fakeBroker) accept() {
	defer fb.wg.Done()
	for {
		c, err := fb.ln.Accept()
		if err != nil {
			return
		}
		fb.mu.Lock()
		fb.conns = append(fb.conns, c)
		fb.mu.Unlock()
		fb.wg.Add(1)
		go fb.serve(c)
	}
}

func (fb *fakeBroker) serve(c net.Conn) {
	defer fb.wg.Done()
	defer c.Close()
	br := bufio.NewReader(c)
	bw := bufio.NewWriter(c)
	var size [4]byte
	for {
		if _, err := io.ReadFull(br, size[:]); err != nil {
			return
		}
		frame := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(br, frame); err != nil {
			return
		}
		req, corrID, err := parseRequestFrame(frame)
		if err != nil {
			return
		}
		reply := fb.handler(req, corrID)
		switch {
		case reply.close:
			return
		case reply.resp != nil:
			bw.Write(responseFrame(req, corrID, reply.resp))
		case reply.raw != nil:
			bw.Write(reply.raw)
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return
			}
		}
	}
}

// parseRequestFrame decodes a request frame (without size prefix).
func parseRequestFrame(frame []byte) (kmsg.Request, int32, error) {
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
	if err := req.ReadFrom(body); err != nil {
		return nil, 0, err
	}
	return req, corrID, nil
}

// responseFrame encodes resp as the framed answer to req.
func responseFrame(req kmsg.Request, corrID int32, resp kmsg.Response) []byte {
	b := make([]byte, 8, 64)
	binary.BigEndian.PutUint32(b[4:], uint32(corrID))
	if resp.IsFlexible() && resp.Key() != int16(kmsg.ApiVersions) {
		b = append(b, 0)
	}
	b = resp.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// apiVersionsReply advertises keys at the given (min, max) ranges.
func apiVersionsReply(version int16, keys map[int16][2]int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(version)
	for k, r := range keys {
		ak := kmsg.NewApiVersionsResponseApiKey()
		ak.ApiKey, ak.MinVersion, ak.MaxVersion = k, r[0], r[1]
		resp.ApiKeys = append(resp.ApiKeys, ak)
	}
	return resp
}
