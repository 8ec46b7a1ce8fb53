package broker

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/log"
	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// worker is one I/O goroutine's private state, reused request after
// request so the produce path validates batches without allocating.
type worker struct {
	dec batch.Decoder
	// app writes a Produce request's batches together (log.Appender);
	// appends holds the request's partitions meanwhile.
	app     log.Appender
	appends []partitionAppend
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
			b.serveTurns(w, r)
		case <-b.expired.ready:
			if op, ok := b.expired.pop(); ok {
				b.expire(op)
			}
		case <-b.stopping:
			return
		}
	}
}

// serveTurns serves r and then the requests of its connection read
// meanwhile (conn_turn.go).
func (b *Broker) serveTurns(w *worker, r *request) {
	for r != nil {
		r = b.serve(w, r)
	}
}

// serve handles one request, applying injected faults first, and returns
// the connection's next request when the reader already read it (see
// conn.endTurn): the caller serves it next.
func (b *Broker) serve(w *worker, r *request) *request {
	if r.c.closed() {
		return b.finish(r) // nobody left to answer
	}
	b.startRequestTime(r) // request_percentage (throttle_request.go)
	if b.cfg.Faults != nil {
		f := b.cfg.Faults(r.key, r.version)
		switch {
		case f.Drop:
			r.drop()
			return b.finish(r)
		case f.Delay > 0:
			b.delay(r, f.Delay, f.ErrCode) // keeps the turn until handled
			return nil
		case f.ErrCode != 0:
			b.answerError(r, f.ErrCode)
			return b.finish(r)
		}
	}
	b.handle(w, r)
	return b.finish(r)
}

// finish ends a request's time with the worker, once its handler returned
// (an answer may still wait in the purgatory, but it holds only its
// response): the frame goes back to its pool, its bytes back to
// queued.max.request.bytes, and the connection's turn passes to its next
// request, which finish returns when the reader already read it.
func (b *Broker) finish(r *request) *request {
	r.endRequestTime() // request_percentage (throttle_request.go)
	r.releaseFrame()
	b.queueBytes.release(int64(r.size))
	r.size = 0
	return r.c.endTurn()
}

// handle dispatches r to its API. A panic here is a bug: it is logged with
// its stack and the client gets UNKNOWN_SERVER_ERROR, or a closed
// connection when no error response exists, rather than a dead broker.
func (b *Broker) handle(w *worker, r *request) {
	defer func() {
		if v := recover(); v != nil {
			// Appends prepared before the panic still hold their logs'
			// mutexes: write and release them.
			w.app.Flush()
			w.app.Reset()
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
	w := newWorker()
	d.b.startRequestTime(d.r) // the delay was no handler's time
	if d.code != 0 {
		d.b.answerError(d.r, d.code)
	} else {
		d.b.handle(w, d.r)
	}
	if next := d.b.finish(d.r); next != nil {
		d.b.serveTurns(w, next)
	}
}

func (b *Broker) delay(r *request, d time.Duration, code int16) {
	b.purg.Watch(nil, &delayedRequest{b: b, r: r, code: code}, time.Now().Add(d))
}
