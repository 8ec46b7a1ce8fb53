package accum

// incompleteList is the set of batches not yet released, which Flush and
// Close wait for: a doubly linked list threaded through the batches, in
// the order they were opened. It was a map; at 1,000 partitions a batch
// holds a handful of records, and hashing every batch in and out of a map
// (mapassign and the delete in Release) showed in the producer's profile.
// Guarded by the accumulator's incompleteMu.
type incompleteList[M any] struct {
	head, tail *Batch[M]
	n          int
}

// incompleteLinks are a batch's links in the incompleteList.
type incompleteLinks[M any] struct {
	prev, next *Batch[M]
	in         bool
}

func (l *incompleteList[M]) add(b *Batch[M]) {
	if b.inc.in {
		return
	}
	b.inc = incompleteLinks[M]{prev: l.tail, in: true}
	if l.tail != nil {
		l.tail.inc.next = b
	} else {
		l.head = b
	}
	l.tail = b
	l.n++
}

func (l *incompleteList[M]) remove(b *Batch[M]) {
	if !b.inc.in {
		return
	}
	if b.inc.prev != nil {
		b.inc.prev.inc.next = b.inc.next
	} else {
		l.head = b.inc.next
	}
	if b.inc.next != nil {
		b.inc.next.inc.prev = b.inc.prev
	} else {
		l.tail = b.inc.prev
	}
	b.inc = incompleteLinks[M]{}
	l.n--
}
