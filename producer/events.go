package producer

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/wire"
)

// event is something that happened off the sender goroutine and that the
// sender must act on.
type event struct {
	kind eventKind
	err  error

	req  *request // eventResponse: a Produce request's outcome
	resp kmsg.Response

	dialNode int32 // eventDial: a connection's outcome
	cn       *wire.Conn

	producerID int64 // eventProducerID: an InitProducerId's outcome
	epoch      int16

	txnParts []topicPartition // eventTxnAdded: AddPartitionsToTxn's outcome
}

type eventKind uint8

const (
	eventResponse eventKind = iota
	eventDial
	eventProducerID
	eventTxnAdded
)

// request is one Produce request in flight.
type request struct {
	node    int32
	batches []*sendBatch
	sent    int64 // unix nanos
	req     *kmsg.ProduceRequest
}

// topicID is the id the request named topic by, zero if none.
func (r *request) topicID(topic string) [16]byte {
	for i := range r.req.Topics {
		if r.req.Topics[i].Topic == topic {
			return r.req.Topics[i].TopicID
		}
	}
	return [16]byte{}
}

// eventQueue hands events from connection goroutines (DoAsync callbacks must
// not block) and dialers to the sender. Unbounded, but its length is bounded
// by the requests in flight plus the dials in progress.
type eventQueue struct {
	mu    sync.Mutex
	items []event
	wake  chan struct{} // cap 1
}

func (q *eventQueue) init() { q.wake = make(chan struct{}, 1) }

func (q *eventQueue) push(e event) {
	q.mu.Lock()
	q.items = append(q.items, e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take swaps the queued events into buf and returns them.
func (q *eventQueue) take(buf []event) []event {
	q.mu.Lock()
	items := q.items
	q.items = buf[:0]
	q.mu.Unlock()
	return items
}
