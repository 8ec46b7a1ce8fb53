package accum

import "time"

// When a partition's head batch may leave: the drain policy.
//
// Kafka's RecordAccumulator.ready marks a node ready once any partition it
// leads has a batch due, and drain then takes the head batch of every
// partition on that node, due or not. With a few partitions that costs
// little. With many, some partition is always due, so every Produce
// request also carries every other partition's young batch of a record or
// two, and each answer, freeing an in-flight slot, starts another such
// drain: at 1,000 partitions skiff sent 2.4 records per batch where kgo
// (one request in flight, so batches grow while it waits) sent 38, and the
// broker spent 3x the CPU per record (issue 14).
//
// So here a head batch leaves only when it is due on its own: it is full
// (or a later batch is queued behind it, which closed it), its own
// linger.ms has passed, or everything is urgent (Flush, Close, appenders
// waiting for buffer.memory: Kafka's "exhausted"). That is linger.ms as
// documented, "wait up to linger.ms for more records", per partition, as
// franz-go lingers each partition's buffer on its own; linger 0 sends at
// once. Requests still carry many partitions: Drain gathers every partition
// that is due when it runs, and the sender keeps one timer, for the
// earliest deadline, not one per partition.
//
// Without more, partitions whose batches opened a few microseconds apart
// would each get a wake-up and a request of their own, and every wake-up
// scans all partitions in Ready. So a batch counts as due lingerSlack
// before its linger ends: the sender, waking for the earliest linger
// deadline, takes along the batches whose lingers end within the slack
// after it. Each batch waits at least linger-slack and at most its linger,
// never longer: linger.ms stays an upper bound, as Kafka documents it. The
// slack is linger/8, at most 1ms: with linger 5ms a batch waits 4.4-5ms,
// and a sender for 1,000 partitions wakes at most ~1,600 times a second on
// its timer.

// A head batch that is not due but at least half full rides along with a
// request that goes out anyway (one with a due batch): it already carries
// most of what a batch can, so sending it now costs the broker little per
// record, and it saves a request of its own a moment later. With a few
// partitions filling at about the same pace, the batch that fills first
// otherwise leaves alone and each of the others follows in a request of
// its own. Tiny young batches, the 1,000-partition problem, never ride.

// rideAlong reports whether head, not due, may ride along; p.mu must be
// held.
func (a *Accumulator[M]) rideAlong(head *Batch[M]) bool {
	return head.sizeBytes*2 >= a.cfg.BatchSize
}

// maxLingerSlack caps lingerSlack, so a long linger.ms does not add much.
const maxLingerSlack = time.Millisecond

// lingerSlack is how long before its linger ends a batch counts as due;
// zero with linger 0.
func lingerSlack(linger time.Duration) time.Duration {
	return min(linger/8, maxLingerSlack)
}

// urgent reports whether every batch is due now: a flush or Close is in
// progress, or appenders wait for memory that only sent batches give back.
func (a *Accumulator[M]) urgent() bool {
	return a.flushing.Load() > 0 || a.closed.Load() || a.pool.nwait.Load() > 0
}

// due reports whether p's head batch may leave at now (backoff and
// in-flight limits aside: see drainable), and if not, when the sender
// should look again; p.mu must be held.
func (a *Accumulator[M]) due(p *partition[M], head *Batch[M], now time.Time, urgent bool) (bool, time.Time) {
	if urgent || head.full || len(p.q) > 1 {
		return true, time.Time{}
	}
	at := head.created.Add(a.cfg.Linger - a.slack)
	if !now.Before(at) {
		return true, time.Time{}
	}
	return false, a.lingerWake(head.created)
}

// lingerWake is when the sender wakes for a batch opened at created that
// nothing else makes due: its linger deadline.
func (a *Accumulator[M]) lingerWake(created time.Time) time.Time {
	return created.Add(a.cfg.Linger)
}
