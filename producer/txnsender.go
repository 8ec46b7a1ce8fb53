package producer

import "fmt"

// txnSender is the sender goroutine's part of a transactional producer:
// before a partition's first batch of a transaction goes out, the
// partition joins the transaction with AddPartitionsToTxn. Produce requests
// with such a partition wait (in drain order, so no partition's batches
// overtake each other) until the partitions gathered meanwhile have been
// added in one request, as Java's TransactionManager batches its
// newPartitionsInTransaction. A non-transactional producer never gets here.
type txnSender struct {
	t       *txnManager
	held    []*request       // drained, in order, waiting for partitions to join
	pending []topicPartition // to add in the next AddPartitionsToTxn
	queued  map[topicPartition]bool
	adding  bool // an AddPartitionsToTxn is on its way
}

// dispatch sends r now if all its partitions are in the transaction and
// nothing is held before it, else holds it.
func (x *txnSender) dispatch(s *sender, r *request) {
	if x.queued == nil {
		x.queued = make(map[topicPartition]bool)
	}
	t := x.t
	missing := false
	t.mu.Lock()
	for _, b := range r.batches {
		tp := topicPartition{b.Topic(), b.Partition()}
		if t.added[tp] {
			continue
		}
		missing = true
		if !x.queued[tp] {
			x.queued[tp] = true
			x.pending = append(x.pending, tp)
		}
	}
	t.mu.Unlock()
	if !missing && len(x.held) == 0 {
		s.dispatch(r)
		return
	}
	x.held = append(x.held, r)
	x.maybeAdd(s)
}

// failHeld fails every held request's batches: AddPartitionsToTxn failed,
// or Close gave up. They had sequences, so their partitions wait for a
// new epoch.
func (x *txnSender) failHeld(s *sender, err error) {
	for _, r := range x.held {
		s.node(r.node).inFlight--
		for _, b := range r.batches {
			s.idem.requestBump(b, "AddPartitionsToTxn failed")
			s.fail(b, err, true)
		}
	}
	clear(x.held)
	x.held = x.held[:0]
}

func (x *txnSender) maybeAdd(s *sender) {
	if x.adding || len(x.pending) == 0 {
		return
	}
	x.adding = true
	parts := x.pending
	x.pending = nil
	p := s.p
	p.goTracked(func() {
		err := x.t.addPartitions(parts)
		p.events.push(event{kind: eventTxnAdded, txnParts: parts, err: err})
	})
}

// onAdded records AddPartitionsToTxn's outcome and sends the held requests
// it unblocked. On failure the transaction is doomed (abortable, or fatal
// if fenced): the held batches fail, and their partitions stay fenced
// until AbortTransaction moved to a new epoch, as their sequences now
// have a gap.
func (x *txnSender) onAdded(s *sender, e *event) {
	x.adding = false
	t := x.t
	for _, tp := range e.txnParts {
		delete(x.queued, tp)
	}
	if e.err != nil {
		err := e.err
		if s.p.ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", ErrClosed, err) // Close gave up on it
		}
		t.fail(err)
		x.failHeld(s, err)
		x.maybeAdd(s)
		return
	}
	t.mu.Lock()
	for _, tp := range e.txnParts {
		t.added[tp] = true
	}
	t.started = true
	n := 0
	for _, r := range x.held {
		ok := true
		for _, b := range r.batches {
			if !t.added[topicPartition{b.Topic(), b.Partition()}] {
				ok = false
				break
			}
		}
		if !ok {
			break
		}
		n++
	}
	t.mu.Unlock()
	for _, r := range x.held[:n] {
		s.dispatch(r)
	}
	rest := copy(x.held, x.held[n:])
	clear(x.held[rest:])
	x.held = x.held[:rest]
	x.maybeAdd(s)
}
