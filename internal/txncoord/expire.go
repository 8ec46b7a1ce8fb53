package txncoord

import "time"

// expiryLoop is the coordinator's one timer goroutine, Kafka's two
// scheduled tasks: every AbortCheckInterval it aborts the Ongoing
// transactions past their timeout, and every IDExpirationCheckInterval it
// forgets the transactional ids idle for IDExpiration. Kafka checks on an
// interval rather than arming a timer per transaction, so a transaction
// can outlive its timeout by up to one interval; this mirrors that.
func (c *Coordinator) expiryLoop() {
	abort := time.NewTicker(c.cfg.AbortCheckInterval)
	defer abort.Stop()
	ids := time.NewTicker(c.cfg.IDExpirationCheckInterval)
	defer ids.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-abort.C:
			c.abortTimedOut()
		case <-ids.C:
			c.expireIDs()
		}
	}
}

// abortTimedOut aborts every Ongoing transaction whose timeout passed,
// bumping the epoch so that the producer that let it time out is fenced
// (a zombie: it may still be alive, only slow). Kafka's
// abortTimedOutTransactions does the same.
func (c *Coordinator) abortTimedOut() {
	now := nowMs()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.snapshot() {
		// Re-checked for each: fenceAndAbort drops mu while it writes.
		if c.closed || c.txns[m.id] != m || m.pending || m.state != Ongoing {
			continue
		}
		if m.startMs+int64(m.timeoutMs) >= now {
			continue
		}
		if err := c.fenceAndAbort(m); err != nil {
			c.cfg.Logger.Warn("transaction timeout: abort failed, retrying at the next check",
				"transactional_id", m.id, "err", err)
		}
	}
}

// expireIDs forgets the transactional ids with no transaction open or
// completing and no request for IDExpiration (Kafka's
// transactional.id.expiration.ms), with a tombstone in the log so that
// compaction drops them.
func (c *Coordinator) expireIDs() {
	now := nowMs()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.snapshot() {
		if c.closed || c.txns[m.id] != m || m.pending || m.completing || !m.state.ended() {
			continue
		}
		if m.lastUpdateMs+c.cfg.IDExpiration.Milliseconds() > now {
			continue
		}
		if err := c.write(m, []logEntry{{kind: entryTombstone, txnID: m.id}}); err != nil {
			c.cfg.Logger.Warn("transactional id expiry failed, retrying at the next check",
				"transactional_id", m.id, "err", err)
			continue
		}
		c.forget(m)
	}
}

// snapshot lists the metadata so that a loop can drop mu in between.
// Callers hold mu.
func (c *Coordinator) snapshot() []*txnMeta {
	out := make([]*txnMeta, 0, len(c.txns))
	for _, m := range c.txns {
		out = append(out, m)
	}
	return out
}
