package broker

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A request frame on the wire, after its int32 size prefix:
//
//	offset  width  field
//	     0      2  api key         int16
//	     2      2  api version     int16
//	     4      4  correlation id  int32, echoed in the response
//	     8      2  client id len   int16, -1 for null
//	    10      *  client id       bytes
//	     *      *  tagged fields   only in header v2, i.e. for flexible versions
//	     *      *  body            the kmsg request at that version
//
// The response frame is size, correlation id, then (response header v1,
// flexible versions except ApiVersions, KIP-511) an empty tagged field
// section, then the body.

// request is one parsed request on its way through the queue, a worker and
// possibly the purgatory. respond, skip or drop must be called exactly once.
type request struct {
	c        *conn
	seq      uint64 // position in c's response order
	key      int16
	version  int16
	corr     int32
	clientID string
	kreq     kmsg.Request // nil only for an ApiVersions above what kmsg parses
	answered atomic.Bool
	// size is the frame's length, taken from queued.max.request.bytes
	// until the handler returned (see Broker.finish).
	size int32
	// pooled is the frame of a Produce request, from reqPool: kreq's record
	// sets alias it until the handler returns (see releaseFrame).
	pooled *[]byte
}

// releaseFrame returns a produce request's frame to reqPool once its
// handler returned. Nothing reads kreq's byte fields after that: a parked
// acks=all produce holds only its response.
func (r *request) releaseFrame() {
	bp := r.pooled
	if bp == nil {
		return
	}
	r.pooled = nil
	reqPool.put(bp)
}

// parseRequest decodes a frame (without its size prefix). An error means the
// bytes are not a request we can answer, and the connection is closed.
// kmsg's decoders check every length against the input (FuzzRequest holds
// them to it); the recover is the last line of defence that keeps a decoder
// bug from taking the broker down with it.
func parseRequest(frame []byte) (r *request, err error) {
	defer func() {
		if v := recover(); v != nil {
			r, err = nil, fmt.Errorf("%w: bug: decoder panicked: %v", errBadRequest, v)
		}
	}()
	if len(frame) < 10 {
		return nil, fmt.Errorf("%w: %d byte frame is shorter than a request header", errBadRequest, len(frame))
	}
	r = &request{
		key:     int16(binary.BigEndian.Uint16(frame[0:])),
		version: int16(binary.BigEndian.Uint16(frame[2:])),
		corr:    int32(binary.BigEndian.Uint32(frame[4:])),
	}
	idLen := int(int16(binary.BigEndian.Uint16(frame[8:])))
	body := frame[10:]
	if idLen > 0 {
		if idLen > len(body) {
			return nil, fmt.Errorf("%w: client id of %d bytes in a %d byte frame", errBadRequest, idLen, len(frame))
		}
		r.clientID = string(body[:idLen])
		body = body[idLen:]
	} else if idLen < -1 {
		return nil, fmt.Errorf("%w: client id length %d", errBadRequest, idLen)
	}

	kreq := kmsg.RequestForKey(r.key)
	if kreq == nil {
		return nil, fmt.Errorf("%w: unknown api key %d", errBadRequest, r.key)
	}
	if r.key == apiVersionsKey && r.version > kreq.MaxVersion() {
		// KIP-511: a client newer than us sends ApiVersions at a version
		// whose body we cannot parse; it gets our versions in a v0 reply.
		return r, nil
	}
	if r.version < 0 || r.version > kreq.MaxVersion() {
		return nil, fmt.Errorf("%w: api key %d version %d is beyond what this broker can parse", errBadRequest, r.key, r.version)
	}
	kreq.SetVersion(r.version)
	if kreq.IsFlexible() {
		rd := kbin.Reader{Src: body}
		kmsg.SkipTags(&rd)
		if !rd.Ok() {
			return nil, fmt.Errorf("%w: bad tagged fields in the header of api key %d v%d", errBadRequest, r.key, r.version)
		}
		body = rd.Src
	}
	if err := kreq.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("%w: api key %d v%d: %v", errBadRequest, r.key, r.version, err)
	}
	r.kreq = kreq
	return r, nil
}

// encodeResponse builds the response frame for r.
func (r *request) encodeResponse(resp kmsg.Response) *[]byte {
	resp.SetVersion(r.version)
	bp := framePool.get()
	buf := append(*bp, 0, 0, 0, 0)
	buf = binary.BigEndian.AppendUint32(buf, uint32(r.corr))
	if resp.IsFlexible() && r.key != apiVersionsKey {
		buf = append(buf, 0) // response header v1: no tagged fields
	}
	buf = resp.AppendTo(buf)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	*bp = buf
	return bp
}

// respond answers r with resp.
func (r *request) respond(resp kmsg.Response) {
	if !r.answered.CompareAndSwap(false, true) {
		r.c.b.log.Error("bug: request answered twice", "api_key", r.key, "client", r.clientID)
		return
	}
	r.c.send(response{seq: r.seq, frame: r.encodeResponse(resp)})
}

// skip answers r with nothing (acks=0 produce), keeping the order of the
// connection's later responses.
func (r *request) skip() {
	if r.answered.CompareAndSwap(false, true) {
		r.c.send(response{seq: r.seq})
	}
}

// drop closes the connection once every earlier response is written.
func (r *request) drop() {
	if r.answered.CompareAndSwap(false, true) {
		r.c.send(response{seq: r.seq, close: true})
	}
}
