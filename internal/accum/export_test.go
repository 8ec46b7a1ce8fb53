package accum

// queue returns a copy of partition id's queue in topic "t".
func (a *Accumulator[M]) queue(id int32) []*Batch[M] {
	p := a.partitionFor("t", id)
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*Batch[M](nil), p.q...)
}

// openSize is the size in bytes of the last (open) batch of partition id
// in topic "t", 0 if none.
func (a *Accumulator[M]) openSize(id int32) int {
	q := a.queue(id)
	if len(q) == 0 {
		return 0
	}
	b := q[len(q)-1]
	b.p.mu.Lock()
	defer b.p.mu.Unlock()
	return b.sizeBytes
}
