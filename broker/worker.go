package broker

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// worker is one I/O goroutine's private state, reused request after
// request so the produce path validates batches without allocating.
type worker struct {
	dec batch.Decoder
}

func newWorker() *worker {
	w := &worker{}
	w.dec.ReuseBuffer = true
	return w
}

// workerLoop is one of num.io.threads goroutines serving the request queue
// and the delayed requests whose deadline passed (expired.go).
func (b *Broker) workerLoop() {
	w := newWorker()
	for {
		select {
		case r := <-b.queue:
			b.serve(w, r)
		case <-b.expired.ready:
			if op, ok := b.expired.pop(); ok {
				b.expire(op)
			}
		case <-b.stopping:
			return
		}
	}
}

// serve handles one request, applying injected faults first, and then
// hands the connection its next request.
func (b *Broker) serve(w *worker, r *request) {
	if r.c.closed() {
		b.finish(r) // nobody left to answer
		return
	}
	if b.cfg.Faults != nil {
		f := b.cfg.Faults(r.key, r.version)
		switch {
		case f.Drop:
			r.drop()
			b.finish(r)
			return
		case f.Delay > 0:
			b.delay(r, f.Delay, f.ErrCode) // keeps the turn until handled
			return
		case f.ErrCode != 0:
			b.answerError(r, f.ErrCode)
			b.finish(r)
			return
		}
	}
	b.handle(w, r)
	b.finish(r)
}

// finish ends a request's time with the worker, once its handler returned
// (an answer may still wait in the purgatory, but it holds only its
// response): the frame goes back to its pool, its bytes back to
// queued.max.request.bytes, and the connection's next request may go.
func (b *Broker) finish(r *request) {
	r.releaseFrame()
	b.queueBytes.release(int64(r.size))
	r.size = 0
	r.c.endTurn()
}

// handle dispatches r to its API. A panic here is a bug: it is logged with
// its stack and the client gets UNKNOWN_SERVER_ERROR, or a closed
// connection when no error response exists, rather than a dead broker.
func (b *Broker) handle(w *worker, r *request) {
	defer func() {
		if v := recover(); v != nil {
			b.bugs.Add(1)
			b.log.Error("bug: panic handling request", "api_key", r.key, "version", r.version,
				"client", r.clientID, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !r.answered.Load() {
				b.answerError(r, kerr.UnknownServerError.Code)
			}
		}
	}()
	if r.kreq == nil { // ApiVersions newer than kmsg parses
		r.version = 0 // KIP-511: answered as v0
		r.respond(apiVersionsUnsupported(b))
		return
	}
	if b.authz.active() && b.authorize(r) {
		return // denied whole, and answered (authz_apis.go)
	}
	a := apiFor(r.key)
	if a == nil {
		if ga := groupAPIFor(r.key); ga != nil && b.groups != nil && r.version >= ga.min && r.version <= ga.max {
			b.handleGroup(r)
			return
		}
		b.answerError(r, kerr.UnsupportedVersion.Code)
		return
	}
	if r.version < a.min || r.version > a.max {
		if r.key == apiVersionsKey {
			r.version = 0 // KIP-511: answered as v0
			r.respond(apiVersionsUnsupported(b))
			return
		}
		b.answerError(r, kerr.UnsupportedVersion.Code)
		return
	}
	if resp := a.handle(b, w, r); resp != nil {
		r.respond(resp)
	}
}

// answerError answers r with code in every error field of its response, or
// closes the connection when the request kind has no error response here.
func (b *Broker) answerError(r *request, code int16) {
	if r.kreq == nil {
		r.version = 0 // KIP-511: answered as v0
		r.respond(apiVersionsUnsupported(b))
		return
	}
	if p, ok := r.kreq.(*kmsg.ProduceRequest); ok && p.Acks == 0 {
		// acks=0 never gets an answer; Kafka closes the connection so the
		// client notices the failure on its next request.
		r.drop()
		return
	}
	resp := errorResponse(r.kreq, code)
	if resp == nil {
		b.log.Warn("closing connection: no error response for this request", "api_key", r.key,
			"version", r.version, "client", r.clientID, "code", code)
		r.drop()
		return
	}
	r.respond(resp)
}

// delayedRequest is a request held back by an injected Delay, parked in the
// purgatory under no key so its deadline alone releases it.
type delayedRequest struct {
	b    *Broker
	r    *request
	code int16
}

func (d *delayedRequest) TryComplete() bool { return false }
func (d *delayedRequest) OnComplete()       {}

// OnExpire runs on a worker (the purgatory hands expired ops to them).
func (d *delayedRequest) OnExpire() {
	defer d.b.finish(d.r)
	if d.code != 0 {
		d.b.answerError(d.r, d.code)
		return
	}
	d.b.handle(newWorker(), d.r)
}

func (b *Broker) delay(r *request, d time.Duration, code int16) {
	b.purg.Watch(nil, &delayedRequest{b: b, r: r, code: code}, time.Now().Add(d))
}
