package coordinator

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/purgatory"
	"github.com/skiffkit/skiff/kerr"
)

// Client identifies the connection a request came from: the request
// header's client.id and the peer's IP. Member ids are built from the
// client id ("<client.id>-<uuid>", as Kafka does) and DescribeGroups reports
// both.
type Client struct {
	ID   string
	Host string
}

// Coordinator is the group coordinator of a single-node broker: classic
// consumer-group membership and rebalances, and durable committed offsets.
// It is safe for concurrent use.
//
// Locking: mu guards groups, closed, outbox, acts and every group and
// member (except liveness.seq, an atomic). Lock order: mu, then
// offsetStore.mu; offsetStore.qmu is a leaf. Neither responses nor
// purgatory calls are made with mu held: handlers queue them in outbox and
// acts, and the caller that releases mu sends and runs them (see locked).
// The purgatory's lock is thus never taken under mu, and the delayed ops'
// callbacks, which take mu, never run under it (delayed.go has the
// details).
type Coordinator struct {
	cfg   Config
	log   *slog.Logger
	store *offsetStore
	// purg holds every delayed operation of the coordinator: join
	// phases, sessions, the offsets expiry pass. Its timer goroutine is
	// created by New and stopped by Close.
	purg *purgatory.Purgatory
	wg   sync.WaitGroup

	mu     sync.Mutex
	groups map[string]*group
	closed bool
	outbox []reply
	acts   *[]act // from actsPool; nil when nothing is queued
}

type reply struct {
	respond func(kmsg.Response)
	resp    kmsg.Response
}

// New loads the committed offsets and the groups from cfg.DataDir and
// starts the coordinator's two goroutines (its purgatory's timer goroutine
// and the offsets-log writer). Groups come back as their last metadata
// record left them (grouplog.go): a Stable group keeps its generation,
// leader, members and assignments, so members go on heartbeating and
// committing with their ids; each member's session starts anew.
func New(cfg Config) (*Coordinator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	store, err := openOffsetStore(cfg.DataDir, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	c := &Coordinator{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "coordinator"),
		store:  store,
		purg:   purgatory.New(),
		groups: make(map[string]*group),
	}
	store.start(&c.wg)
	c.locked(func() {
		c.restoreGroups()
		c.scheduleRetention()
	})
	return c, nil
}

// restoreGroups loads every group that has a metadata record, as Kafka's
// GroupMetadataManager loads __consumer_offsets when it becomes the
// coordinator, and starts each member's session from now (Kafka's
// onGroupLoaded: completeAndScheduleNextHeartbeatExpiration per member), so
// a member that never comes back is removed after its session timeout.
// Callers hold mu.
func (c *Coordinator) restoreGroups() {
	for name, r := range c.store.groupRecords() {
		g := restoreGroup(name, r)
		c.groups[name] = g
		for _, id := range g.order {
			c.scheduleSession(g, g.members[id])
		}
		c.log.Info("group restored", "group", name, "state", g.state, "generation", g.generation,
			"protocol", g.protocol, "members", len(g.members))
	}
}

// storeGroup writes g's metadata record without waiting for it: for
// changes whose requests need no durability before their answer (a group
// that became Empty, a replaced static member). A lost record only means
// the group comes back as its previous record left it. Callers hold mu and
// have checked that the coordinator is not closed (so submit does not call
// done at once).
func (c *Coordinator) storeGroup(g *group) {
	name := g.name
	c.store.submit(&storeOp{
		entries: []logEntry{{kind: entryGroupMetadata, key: offsetKey{group: name}, meta: g.record(nil)}},
		done: func(err error) {
			if err != nil {
				c.log.Error("storing group metadata failed", "group", name, "err", err)
			}
		},
	})
}

// Close answers every parked JoinGroup and SyncGroup with NOT_COORDINATOR
// (as Kafka does when it unloads a group), closes the purgatory (dropping
// every delayed op: the requests they stood for are answered already, and a
// callback that still runs sees closed and does nothing) and lets the
// offsets-log writer finish every queued commit and close the file. It
// returns when both goroutines have exited or ctx is done.
func (c *Coordinator) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.closed = true
	for _, g := range c.groups {
		for _, m := range g.members {
			c.failParked(m, kerr.NotCoordinator.Code)
		}
	}
	out := c.takeOutbox()
	c.acts = nil // the purgatory is closing: nothing more to park
	c.mu.Unlock()
	send(out)

	c.store.close()
	done := make(chan struct{})
	go func() {
		// purgatory.Close waits for its timer goroutine, which may be
		// waiting for mu in an OnExpire: never call it with mu held.
		c.purg.Close()
		c.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("coordinator: close: %w", ctx.Err())
	}
}

// Handles reports whether Handle serves API key key. The broker routes
// exactly these keys to the coordinator.
func Handles(key int16) bool {
	switch key {
	case 8, 9, 10, 11, 12, 13, 14, 15, 16, 42, 47:
		return true
	}
	return false
}

// Handle serves one group-coordinator request: FindCoordinator, JoinGroup,
// Heartbeat, LeaveGroup, SyncGroup, OffsetCommit, OffsetFetch,
// DescribeGroups, ListGroups, DeleteGroups and OffsetDelete, at every
// version kmsg knows.
// respond is called exactly once with a response of the request's version,
// possibly later and from another goroutine: JoinGroup and SyncGroup park
// until the rebalance progresses, OffsetCommit and DeleteGroups until their
// log write is durable. respond must not block: it runs on the caller's
// goroutine, the timer goroutine or the offsets-log writer, so it should
// only queue the response for the connection's writer. Handle reports
// false, without calling respond, for any other request.
func (c *Coordinator) Handle(cl Client, req kmsg.Request, respond func(kmsg.Response)) bool {
	switch r := req.(type) {
	case *kmsg.FindCoordinatorRequest:
		respond(c.findCoordinator(r))
	case *kmsg.JoinGroupRequest:
		c.locked(func() { c.joinGroup(cl, r, respond) })
	case *kmsg.HeartbeatRequest:
		c.locked(func() { c.heartbeat(r, respond) })
	case *kmsg.LeaveGroupRequest:
		c.locked(func() { c.leaveGroup(r, respond) })
	case *kmsg.SyncGroupRequest:
		c.locked(func() { c.syncGroup(r, respond) })
	case *kmsg.OffsetCommitRequest:
		c.locked(func() { c.offsetCommit(r, respond) })
	case *kmsg.OffsetFetchRequest:
		c.locked(func() { c.offsetFetch(r, respond) })
	case *kmsg.DescribeGroupsRequest:
		c.locked(func() { c.describeGroups(r, respond) })
	case *kmsg.ListGroupsRequest:
		c.locked(func() { c.listGroups(r, respond) })
	case *kmsg.DeleteGroupsRequest:
		c.locked(func() { c.deleteGroups(r, respond) })
	case *kmsg.OffsetDeleteRequest:
		c.locked(func() { c.offsetDelete(r, respond) })
	default:
		return false
	}
	return true
}

// locked runs f with mu held, then makes the purgatory calls f queued and
// sends the responses it queued. The purgatory calls go first so that what
// a request sets off at once (a join phase that can complete now, as when
// the last member leaves) has happened before the request is answered, as
// it would under Kafka's group lock.
func (c *Coordinator) locked(f func()) {
	c.mu.Lock()
	f()
	out := c.takeOutbox()
	acts := c.acts
	c.acts = nil
	c.mu.Unlock()
	c.runActs(acts)
	send(out)
}

// reply queues a response to be sent once mu is released. Callers hold mu.
func (c *Coordinator) reply(respond func(kmsg.Response), resp kmsg.Response) {
	c.outbox = append(c.outbox, reply{respond, resp})
}

func (c *Coordinator) takeOutbox() []reply {
	out := c.outbox
	c.outbox = nil
	return out
}

func send(out []reply) {
	for _, r := range out {
		r.respond(r.resp)
	}
}

// newMemberID is Kafka's "<client.id>-<uuid v4>".
func newMemberID(clientID string) string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", clientID, b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func millis(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }

// expireOffsets mirrors Kafka's cleanupGroupMetadata: offsets of groups
// without members expire offsets.retention.minutes after their commit (or at
// the explicit expiry an OffsetCommit v2-v4 asked for), and Empty groups with
// no offsets left are forgotten. KIP-211 measures from the time the group
// became empty; skiff measures from the commit, which is never later. Callers
// hold mu.
func (c *Coordinator) expireOffsets() {
	if c.closed {
		return
	}
	retention := c.cfg.OffsetsRetention.Milliseconds()
	c.store.submit(&storeOp{
		prepare: func() []logEntry {
			active := make(map[string]bool)
			c.mu.Lock()
			for name, g := range c.groups {
				if len(g.members) > 0 || len(g.pending) > 0 {
					active[name] = true
				}
			}
			c.mu.Unlock()
			return c.store.expired(time.Now().UnixMilli(), retention, func(g string) bool { return active[g] })
		},
		done: func(err error) {
			if err != nil {
				c.log.Error("offsets expiry failed", "err", err)
			}
		},
	})
	for name, g := range c.groups {
		if g.state == stateEmpty && len(g.pending) == 0 && !c.store.hasGroup(name) {
			delete(c.groups, name)
			if c.store.hasGroupRecord(name) {
				// Kafka writes the group's tombstone when it
				// becomes Dead. Only the metadata: a commit queued
				// behind this pass must survive it.
				c.store.submit(&storeOp{
					entries: []logEntry{{kind: entryGroupMetadataDelete, key: offsetKey{group: name}}},
					done: func(err error) {
						if err != nil {
							c.log.Error("deleting group metadata failed", "group", name, "err", err)
						}
					},
				})
			}
		}
	}
}
