package consumer

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// fetchSession is the consumer's side of a KIP-227 incremental fetch
// session with one broker, as the Java client's FetchSessionHandler and
// kgo's fetchSession keep it.
//
// The first fetch to a broker is full (epoch 0, every partition) and asks
// for a session; the broker answers with its id. Later fetches carry the id
// and the next epoch and list only partitions that are new to the session
// or whose fetch offset, leader epoch or size limit changed (consumed,
// seeked), and forget (ForgottenTopics) those no longer fetched from this
// broker (paused, revoked, moved, backing off). The broker answers only
// partitions with records or news, so a consumer of 1,000 quiet partitions
// sends and receives a few bytes per fetch.
//
// What the broker's session holds changes only when a fetch is answered
// without a session error; any failure starts over with a full fetch
// (epoch 0, naming the old id so the broker closes it). A broker that
// declines (session id 0 in a full answer) is asked again at every full
// fetch, as Java does, so a session is made as soon as it has room.
//
// A session is used by the one fetch in flight to its broker at a time
// (Consumer.inflightNodes), so it needs no lock of its own.
type fetchSession struct {
	id    int32
	epoch int32 // of the next fetch; 0: a full fetch asking for a session

	// sent is what the broker's session holds, spare the map the next
	// one is built in: a steady consumer swaps them and allocates none.
	sent, spare map[TopicPartition]sessionPart
	// full is whether the request in flight is a full fetch.
	full bool
	// seen publishes id and epoch (id<<32 | epoch) after each answer, for
	// readers outside the fetch (tests).
	seen atomic.Uint64
}

// state returns the session id and next epoch as of the last answer.
func (s *fetchSession) state() (id, epoch int32) {
	v := s.seen.Load()
	return int32(v >> 32), int32(uint32(v))
}

func (s *fetchSession) publish() { s.seen.Store(uint64(uint32(s.id))<<32 | uint64(uint32(s.epoch))) }

// sessionPart is one partition as the broker's session holds it.
type sessionPart struct {
	topicID  [16]byte
	offset   int64
	epoch    int32
	maxBytes int32
}

func newFetchSession() *fetchSession {
	return &fetchSession{sent: make(map[TopicPartition]sessionPart), spare: make(map[TopicPartition]sessionPart)}
}

// fill sets the request's session fields and returns the partitions it
// must list: all of them on a full fetch, else the changed ones, with the
// forgotten ones in req.ForgottenTopics. It builds the session state the
// request would leave in s.spare. A nil session is a sessionless fetch
// (epoch -1): DisableFetchSessions.
func (s *fetchSession) fill(req *kmsg.FetchRequest, parts []fetchPart, maxBytes int32) []fetchPart {
	if s == nil {
		req.SessionID, req.SessionEpoch = 0, -1
		return parts
	}
	req.SessionID, req.SessionEpoch = s.id, s.epoch
	clear(s.spare)
	for _, fp := range parts {
		s.spare[fp.ps.tp] = sessionPart{topicID: fp.topic, offset: fp.offset, epoch: fp.epoch, maxBytes: maxBytes}
	}
	if s.epoch == 0 {
		s.full = true
		return parts
	}
	s.full = false
	var listed []fetchPart
	for _, fp := range parts {
		old, ok := s.sent[fp.ps.tp]
		if ok && old.topicID != fp.topic {
			// The topic was deleted and created again: its partitions
			// cannot be renamed in place, so start a new session.
			s.reset(true)
			return s.fill(req, parts, maxBytes)
		}
		if !ok || old != s.spare[fp.ps.tp] {
			listed = append(listed, fp)
		}
	}
	for tp, sp := range s.sent {
		if _, ok := s.spare[tp]; ok {
			continue
		}
		n := len(req.ForgottenTopics)
		if n == 0 || req.ForgottenTopics[n-1].Topic != tp.Topic {
			ft := kmsg.NewFetchRequestForgottenTopic()
			ft.Topic, ft.TopicID = tp.Topic, sp.topicID
			// Topics may repeat when the map's order interleaves them;
			// the broker takes each entry as it comes.
			req.ForgottenTopics = append(req.ForgottenTopics, ft)
			n++
		}
		req.ForgottenTopics[n-1].Partitions = append(req.ForgottenTopics[n-1].Partitions, tp.Partition)
	}
	return listed
}

// answered applies the broker's answer to the request fill built. It
// reports the session error the answer carries, if any, after resetting
// the session for it; the caller then fetches again at once (a full fetch
// cannot fail so).
func (s *fetchSession) answered(resp *kmsg.FetchResponse) error {
	if s == nil {
		return nil
	}
	defer s.publish()
	err := kerr.ForCode(resp.ErrorCode)
	switch {
	case errors.Is(err, kerr.FetchSessionIDNotFound):
		// Evicted or never made: a new session, no id to close.
		s.id = 0
		s.reset(false)
		return err
	case errors.Is(err, kerr.InvalidFetchSessionEpoch), errors.Is(err, kerr.FetchSessionTopicIDError):
		s.reset(true)
		return err
	case err != nil:
		s.reset(true)
		return nil // not a session error: the caller handles it
	}
	switch {
	case resp.SessionID == 0:
		// A full fetch the broker declined to make a session of, or an
		// incremental one whose session the broker ended: ask again.
		s.id = 0
		s.reset(false)
	case s.full:
		s.id, s.epoch = resp.SessionID, 1
		s.commit()
	default:
		s.epoch = nextSessionEpoch(s.epoch)
		s.commit()
	}
	return nil
}

// failed starts over after a fetch that got no answer: the broker may or
// may not have applied it.
func (s *fetchSession) failed() {
	if s != nil {
		s.reset(true)
		s.publish()
	}
}

func (s *fetchSession) commit() { s.sent, s.spare = s.spare, s.sent }

// reset makes the next fetch a full one. Keeping the id closes the old
// session on the broker when that fetch names it.
func (s *fetchSession) reset(keepID bool) {
	if !keepID {
		s.id = 0
	}
	s.epoch = 0
	clear(s.sent)
}

// nextSessionEpoch is Java's FetchMetadata.nextEpoch for a live session:
// it wraps from MaxInt32 to 1, never to 0 (which asks for a new session).
func nextSessionEpoch(e int32) int32 {
	if e == math.MaxInt32 {
		return 1
	}
	return e + 1
}

// sessionForLocked returns node's fetch session, made on first use; nil when
// sessions are disabled. c.mu must be held.
func (c *Consumer) sessionForLocked(node int32) *fetchSession {
	if c.cfg.DisableFetchSessions {
		return nil
	}
	s := c.sessions[node]
	if s == nil {
		if c.sessions == nil {
			c.sessions = make(map[int32]*fetchSession)
		}
		s = newFetchSession()
		c.sessions[node] = s
	}
	return s
}

// closeFetchSessions tells every broker holding a session of ours to drop
// it (a fetch with epoch -1 and its id, listing nothing), as the Java
// consumer does on close, so the slots are free at once instead of waiting
// for eviction. Best effort, bounded by ctx and request.timeout.ms; run
// after the fetch goroutines stopped.
func (c *Consumer) closeFetchSessions(ctx context.Context) {
	c.mu.Lock()
	ids := make(map[int32]int32)
	for node, s := range c.sessions {
		if s.id != 0 {
			ids[node] = s.id
		}
	}
	c.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for node, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := kmsg.NewPtrFetchRequest()
			req.ReplicaID = -1
			req.SessionID, req.SessionEpoch = id, -1
			req.MaxBytes = c.cfg.FetchMaxBytes
			if _, err := c.cl.requestNode(ctx, node, req); err != nil {
				c.log.Debug("closing fetch session failed", "broker", node, "session", id, "err", err)
			}
		}()
	}
	wg.Wait()
}
