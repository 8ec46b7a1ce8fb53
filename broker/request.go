package broker

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/reqframe"
)

// Request and response framing (the byte layout, header versions and the
// KIP-511 exceptions) lives in internal/reqframe, shared with the fastack
// benchmark sink.

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
	// authzDone adds the answers for what the authorizer took out of
	// kreq (authz_apis.go); nil for most requests.
	authzDone func(kmsg.Response)
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
func parseRequest(frame []byte) (*request, error) {
	h, kreq, err := reqframe.Parse(frame)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadRequest, err)
	}
	r := &request{key: h.Key, version: h.Version, corr: h.Corr, kreq: kreq}
	if len(h.ClientID) > 0 {
		r.clientID = string(h.ClientID)
	}
	return r, nil
}

// encodeResponse builds the response frame for r.
func (r *request) encodeResponse(resp kmsg.Response) *[]byte {
	resp.SetVersion(r.version)
	bp := framePool.get()
	*bp = reqframe.AppendResponse(*bp, r.corr, resp)
	return bp
}

// respond answers r with resp.
func (r *request) respond(resp kmsg.Response) {
	if !r.answered.CompareAndSwap(false, true) {
		r.c.b.log.Error("bug: request answered twice", "api_key", r.key, "client", r.clientID)
		return
	}
	if r.authzDone != nil {
		r.authzDone(resp)
	}
	if r.timed() { // request_percentage (throttle_request.go)
		if d := r.c.b.throttleRequest(r, resp); d > 0 {
			r.c.b.purg.Watch(nil, &heldAnswer{r: r, frame: r.encodeResponse(resp), answered: true}, time.Now().Add(d))
			return
		}
	}
	r.sendFrame(r.encodeResponse(resp))
}

// sendFrame hands an answered request's encoded answer to the writer.
func (r *request) sendFrame(frame *[]byte) {
	r.c.unwritten.Add(int64(len(*frame)))
	r.c.send(response{seq: r.seq, frame: frame})
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
