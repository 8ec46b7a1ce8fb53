package txncoord

// Completing returns a channel that is closed once txnID's transaction,
// now in PrepareCommit or PrepareAbort (its outcome decided, its markers
// being written), has logged CompleteCommit or CompleteAbort, or the
// coordinator closed; nil when the id is not in Prepare* now.
//
// Kafka answers every request for such an id CONCURRENT_TRANSACTIONS at
// once, and a producer that begins its next transaction right after a
// commit meets that answer on its first AddPartitionsToTxn: the Java client
// retries after 20 ms, others after their retry backoff. The broker can
// wait on this channel instead and then run the request, so that the
// producer's next transaction starts as soon as the markers are durable
// (docs/transactions.md, "Completing a transaction").
func (c *Coordinator) Completing(txnID string) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.txns[txnID]
	if c.closed || m == nil || (m.state != PrepareCommit && m.state != PrepareAbort) {
		return nil
	}
	if m.done == nil {
		m.done = make(chan struct{})
	}
	return m.done
}

// wakeCompleted closes m's Completing channel, if any. Callers hold mu.
func (m *txnMeta) wakeCompleted() {
	if m.done != nil {
		close(m.done)
		m.done = nil
	}
}
