package broker

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// Fetch sessions (KIP-227), with the semantics of Kafka's FetchSession.scala.
//
// A consumer of many partitions asks for a session with a full fetch at
// epoch 0 and session id 0; the broker remembers every partition of that
// fetch (its fetch offset and limits, and the high watermark, last stable
// offset and log start offset it last answered) and returns a session id.
// Each later fetch names the session and the next epoch and lists only the
// partitions added or changed since (a new fetch offset after consuming or
// seeking) plus ForgottenTopics; the broker reads every partition of the
// session and answers only those with records, an error, or a high
// watermark, last stable offset or log start offset the client has not
// seen. A consumer of 1,000 partitions then sends and receives a few
// partitions per fetch instead of 1,000.
//
// Sessions belong to the broker, not to a connection: a client that
// reconnects keeps its session. A session ends when its client closes it
// (epoch -1 with its id, or a full fetch naming it), when an incremental
// fetch forgets its last partition, or when a new session evicts it from
// the bounded cache (max.incremental.fetch.session.cache.slots); the cache
// holds no goroutine, so a session costs memory only until then.
//
// Locks: fetchSessionCache.mu, then fetchSession.mu (Kafka takes the cache's
// monitor, then the session's, in the same order); the cache's is never
// taken while a session's is held. Neither is held while a partition log
// is read.

// Session ids and epochs of FetchMetadata (the Java client's names).
const (
	sessionIDNone = 0  // INVALID_SESSION_ID: no session
	epochInitial  = 0  // INITIAL_EPOCH: a full fetch that asks for a session
	epochFinal    = -1 // FINAL_EPOCH: a full fetch without a session
)

// nextEpoch is FetchMetadata.nextEpoch: FINAL stays FINAL, and the epoch
// wraps from MaxInt32 to 1, never back to INITIAL.
func nextEpoch(e int32) int32 {
	switch {
	case e < 0:
		return epochFinal
	case e == math.MaxInt32:
		return 1
	}
	return e + 1
}

// fullFetch reports whether a request with this session epoch carries every
// partition it wants, as Kafka's FetchMetadata.isFull: epoch 0 (INITIAL)
// and -1 (FINAL, sessionless: kafka-go and librdkafka's legacy path send
// SessionID -1 with it) are full fetches whatever the session id; any other
// epoch is an incremental fetch of an existing session.
func fullFetch(epoch int32) bool { return epoch == epochInitial || epoch == epochFinal }

// sessionKey names a partition of a session: by topic id in a session
// created with Fetch v13+ (Kafka's TopicIdPartition), else by name.
type sessionKey struct {
	id    [16]byte
	topic string
	part  int32
}

// cachedPartition is Kafka's CachedPartition: what the client last asked
// for one partition and what the broker last told it.
type cachedPartition struct {
	key sessionKey
	// topic is the partition's topic name: the request's below v13; from
	// v13 the name the id resolved to when the partition joined the session
	// ("" when it did not resolve), as Kafka resolves it once.
	topic string

	// The request's parameters, updated by every request that lists it.
	fetchOffset      int64
	maxBytes         int32
	logStartOffset   int64 // the follower's log start; -1 for consumers
	leaderEpoch      int32
	lastFetchedEpoch int32

	// What the last response sent said. highWatermark is -1 until an
	// answer without error, so the partition is in the next response.
	highWatermark int64
	lastStable    int64
	logStart      int64

	// The session's order: Kafka moves a partition that returned records
	// to the end, so a response cut at max_bytes gives the next fetch's
	// budget to the partitions that got nothing.
	prev, next *cachedPartition
}

func newCachedPartition(key sessionKey, topic string, rp *kmsg.FetchRequestTopicPartition) *cachedPartition {
	cp := &cachedPartition{key: key, topic: topic, highWatermark: -1, lastStable: -1, logStart: -1}
	cp.updateRequest(rp)
	return cp
}

// updateRequest is CachedPartition.updateRequestParams.
func (cp *cachedPartition) updateRequest(rp *kmsg.FetchRequestTopicPartition) {
	cp.fetchOffset = rp.FetchOffset
	cp.maxBytes = rp.PartitionMaxBytes
	cp.logStartOffset = rp.LogStartOffset
	cp.leaderEpoch = rp.CurrentLeaderEpoch
	cp.lastFetchedEpoch = rp.LastFetchedEpoch
}

// mustRespond is CachedPartition.maybeUpdateResponseData: whether an
// incremental response must include this partition, remembering what it
// says when update is set. Records, an error, a preferred read replica or
// a diverging epoch are always sent; otherwise only news is: a high
// watermark, log start offset or (beyond Kafka, which relies on the
// marker that moves the LSO also moving the high watermark) last stable
// offset the client was not told yet.
func (cp *cachedPartition) mustRespond(sp *kmsg.FetchResponseTopicPartition, update bool) bool {
	must := len(sp.RecordBatches) > 0
	if cp.highWatermark != sp.HighWatermark {
		must = true
		if update {
			cp.highWatermark = sp.HighWatermark
		}
	}
	if cp.lastStable != sp.LastStableOffset {
		must = true
		if update {
			cp.lastStable = sp.LastStableOffset
		}
	}
	if cp.logStart != sp.LogStartOffset {
		must = true
		if update {
			cp.logStart = sp.LogStartOffset
		}
	}
	if sp.PreferredReadReplica >= 0 || sp.DivergingEpoch.Epoch >= 0 {
		must = true
	}
	if sp.ErrorCode != 0 {
		// Forget the high watermark: once the error goes away the
		// partition is sent again.
		must = true
		if update {
			cp.highWatermark = -1
		}
	}
	return must
}

// fetchSession is Kafka's FetchSession.
type fetchSession struct {
	id         int32
	privileged bool // a follower's (replica id >= 0); consumers are not
	usesIDs    bool // created by Fetch v13+: partitions are named by topic id
	created    time.Time

	// Guarded by fetchSessionCache.mu: the LRU list, the last use, and
	// the size and evictability as of the last touch (Kafka's
	// EvictableKey is taken at touch time too).
	lastUsed          time.Time
	lruPrev, lruNext  *fetchSession
	cachedSize        int
	evictByAll        bool // evictable by any new session
	evictByPrivileged bool // evictable by a new follower session

	mu         sync.Mutex // guards the fields below
	epoch      int32      // the epoch the next incremental fetch must carry
	parts      map[sessionKey]*cachedPartition
	head, tail *cachedPartition
	// spareTopics and spareOrder are the slices of the last incremental
	// fetch's view, given back by finish for the next one, so a steady
	// consumer of many partitions does not allocate them per fetch.
	spareTopics []kmsg.FetchRequestTopic
	spareOrder  []*cachedPartition
}

func (s *fetchSession) push(cp *cachedPartition) {
	cp.prev, cp.next = s.tail, nil
	if s.tail != nil {
		s.tail.next = cp
	} else {
		s.head = cp
	}
	s.tail = cp
}

func (s *fetchSession) unlink(cp *cachedPartition) {
	if cp.prev != nil {
		cp.prev.next = cp.next
	} else {
		s.head = cp.next
	}
	if cp.next != nil {
		cp.next.prev = cp.prev
	} else {
		s.tail = cp.prev
	}
	cp.prev, cp.next = nil, nil
}

func (s *fetchSession) add(cp *cachedPartition) {
	if old := s.parts[cp.key]; old != nil {
		s.unlink(old) // a full fetch listing a partition twice: the last wins
	}
	s.parts[cp.key] = cp
	s.push(cp)
}

// fetchSessionCache is Kafka's FetchSessionCache: at most maxEntries
// sessions; a new session beyond that evicts, in this order, the least
// recently used session if it was idle longer than evictAfter, else the
// least valuable session that a new one may evict (see tryEvict), else it
// is not created and the client gets session id 0 (full fetches).
type fetchSessionCache struct {
	maxEntries int
	evictAfter time.Duration // min.incremental.fetch.session.eviction.ms
	now        func() time.Time
	// names and topicID resolve topic ids and names for v13+ sessions:
	// the broker's topic table; nil in unit tests.
	names   func(id [16]byte) string
	topicID func(name string) ([16]byte, bool)

	mu       sync.Mutex // guards everything below and the sessions' cache fields
	sessions map[int32]*fetchSession
	// lruHead is the least recently used session, lruTail the most.
	lruHead, lruTail *fetchSession
	partitions       int // over all sessions, as of their last touch
	evictions        int // sessions evicted to make room
	incrementals     int // incremental fetches accepted
}

func newFetchSessionCache(maxEntries int, evictAfter time.Duration) *fetchSessionCache {
	return &fetchSessionCache{
		maxEntries: maxEntries,
		evictAfter: evictAfter,
		now:        time.Now,
		sessions:   make(map[int32]*fetchSession),
	}
}

// fetchSessionStats is what the cache did, for tests and logs.
type fetchSessionStats struct {
	sessions, partitions, evictions, incrementals int
}

func (c *fetchSessionCache) stats() fetchSessionStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fetchSessionStats{sessions: len(c.sessions), partitions: c.partitions, evictions: c.evictions, incrementals: c.incrementals}
}

func (c *fetchSessionCache) get(id int32) *fetchSession { return c.sessions[id] }

// newID is FetchSessionCache.newSessionId: random, positive, unused.
func (c *fetchSessionCache) newID() int32 {
	for {
		id := rand.Int32N(math.MaxInt32) + 1
		if c.sessions[id] == nil {
			return id
		}
	}
}

// evictKeyLess orders sessions by Kafka's EvictableKey: unprivileged before
// privileged, then fewer partitions, then lower id.
func evictKeyLess(aPriv bool, aSize int, aID int32, bPriv bool, bSize int, bID int32) bool {
	if aPriv != bPriv {
		return !aPriv
	}
	if aSize != bSize {
		return aSize < bSize
	}
	return aID < bID
}

// create is FetchSessionCache.maybeCreateSession: it adds a session when
// there is room or room can be made by eviction, and returns it with c.mu
// released, or nil when the cache declined.
func (c *fetchSessionCache) create(privileged bool, size int, usesIDs bool) *fetchSession {
	if c.maxEntries <= 0 {
		return nil
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sessions) >= c.maxEntries && !c.tryEvictLocked(privileged, size, now) {
		return nil
	}
	s := &fetchSession{
		id:         c.newID(),
		privileged: privileged,
		usesIDs:    usesIDs,
		created:    now,
		cachedSize: -1,
		epoch:      nextEpoch(epochInitial),
		parts:      make(map[sessionKey]*cachedPartition, size),
	}
	c.sessions[s.id] = s
	// The caller fills the partitions before anyone can name the id (it
	// is only sent in the response), so size stands in for them here.
	c.touchLocked(s, size, now)
	return s
}

// tryEvictLocked is FetchSessionCache.tryEvict. A proposed new session A
// may evict an existing session B when B is stale (unused for longer than
// evictAfter), or when A is privileged and B is not, or when A has more
// partitions than B and B is not recently created (older than evictAfter
// at its last use). Privileged sessions are those of followers: a single
// node has none unless a client sends a replica id, so in practice a new
// consumer session evicts the smallest established one when it is bigger.
func (c *fetchSessionCache) tryEvictLocked(privileged bool, size int, now time.Time) bool {
	lru := c.lruHead
	if lru == nil {
		return false
	}
	if now.Sub(lru.lastUsed) > c.evictAfter {
		c.removeLocked(lru)
		c.evictions++
		return true
	}
	var victim *fetchSession
	for _, s := range c.sessions {
		if (privileged && !s.evictByPrivileged) || (!privileged && !s.evictByAll) {
			continue
		}
		if victim == nil || evictKeyLess(s.privileged, s.cachedSize, s.id, victim.privileged, victim.cachedSize, victim.id) {
			victim = s
		}
	}
	// The proposed key carries id 0, below every real id: a new session
	// must be strictly more valuable than the one it evicts.
	if victim == nil || evictKeyLess(privileged, size, 0, victim.privileged, victim.cachedSize, victim.id) {
		return false
	}
	c.removeLocked(victim)
	c.evictions++
	return true
}

// touchLocked is FetchSessionCache.touch: the session was used now and
// holds size partitions.
func (c *fetchSessionCache) touchLocked(s *fetchSession, size int, now time.Time) {
	c.lruUnlink(s)
	s.lastUsed = now
	c.lruPush(s)
	if s.cachedSize >= 0 {
		c.partitions -= s.cachedSize
	}
	s.cachedSize = size
	c.partitions += size
	old := now.Sub(s.created) > c.evictAfter
	s.evictByPrivileged = !s.privileged || old
	s.evictByAll = old
}

func (c *fetchSessionCache) removeLocked(s *fetchSession) {
	if c.sessions[s.id] != s {
		return
	}
	delete(c.sessions, s.id)
	c.lruUnlink(s)
	if s.cachedSize > 0 {
		c.partitions -= s.cachedSize
	}
}

// remove drops session id if it is cached (a client closing it).
func (c *fetchSessionCache) remove(id int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.sessions[id]; s != nil {
		c.removeLocked(s)
	}
}

func (c *fetchSessionCache) lruPush(s *fetchSession) {
	s.lruPrev, s.lruNext = c.lruTail, nil
	if c.lruTail != nil {
		c.lruTail.lruNext = s
	} else {
		c.lruHead = s
	}
	c.lruTail = s
}

func (c *fetchSessionCache) lruUnlink(s *fetchSession) {
	if s.lruPrev == nil && s.lruNext == nil && c.lruHead != s {
		return // not linked
	}
	if s.lruPrev != nil {
		s.lruPrev.lruNext = s.lruNext
	} else {
		c.lruHead = s.lruNext
	}
	if s.lruNext != nil {
		s.lruNext.lruPrev = s.lruPrev
	} else {
		c.lruTail = s.lruPrev
	}
	s.lruPrev, s.lruNext = nil, nil
}

// fetchContextKind is which of Kafka's FetchContext classes a request got.
type fetchContextKind uint8

const (
	// sessionlessFetch: a full fetch that does not create a session
	// (epoch -1, or an incremental fetch that forgot its last partition,
	// or Fetch below v7).
	sessionlessFetch fetchContextKind = iota
	// fullSessionFetch: epoch 0, creates a session when it is answered.
	fullSessionFetch
	// incrementalFetch: reads the session's partitions and answers the
	// changed ones.
	incrementalFetch
)

// fetchContext is Kafka's FetchContext: what one Fetch request reads and
// how its response is shaped. The handler reads the partitions of view and
// passes the response through prepare, then commit or throttled (finish is
// prepare and commit), once, however long the fetch waited in the
// purgatory.
type fetchContext struct {
	kind  fetchContextKind
	cache *fetchSessionCache
	// view is what to read: the request itself for full fetches, the
	// session's partitions in session order for incremental ones.
	view *kmsg.FetchRequest
	// incremental: the session, the epoch it moved to when this request
	// was accepted, and view's partitions in order.
	sess  *fetchSession
	epoch int32
	order []*cachedPartition
	// full fetch with epoch 0: whether a new session would be a follower's
	// and use topic ids, and the session prepare made.
	privileged bool
	usesIDs    bool
	created    *fetchSession

	// prepared is set by prepare; done by commit or throttled, so each
	// runs once whatever the caller does.
	prepared, done bool
	// stale: the session's epoch moved between the request and prepare
	// (a duplicate overtook it); the answer is INVALID_FETCH_SESSION_EPOCH.
	stale bool
	// sent is the response prepare shaped, whose partitions commit
	// records as told; included are their cached partitions, in order
	// (in fc.order's array).
	sent     *kmsg.FetchResponse
	included []*cachedPartition
}

// newFetchContext is FetchManager.newContext. A non-zero error code is a
// session error: the answer is that code, session id 0 and no partitions.
func (c *fetchSessionCache) newFetchContext(version int16, req *kmsg.FetchRequest) (*fetchContext, int16) {
	if version < 7 {
		return &fetchContext{kind: sessionlessFetch, view: req}, 0
	}
	if fullFetch(req.SessionEpoch) {
		if req.SessionID != sessionIDNone {
			// Any session a full fetch names is closed.
			c.remove(req.SessionID)
		}
		if req.SessionEpoch == epochFinal {
			return &fetchContext{kind: sessionlessFetch, view: req}, 0
		}
		privileged := req.ReplicaID >= 0
		if version >= 15 {
			privileged = req.ReplicaState.ID >= 0
		}
		return &fetchContext{kind: fullSessionFetch, cache: c, view: req, privileged: privileged, usesIDs: version >= 13}, 0
	}

	c.mu.Lock()
	s := c.get(req.SessionID)
	if s == nil {
		c.mu.Unlock()
		return nil, kerr.FetchSessionIDNotFound.Code
	}
	s.mu.Lock()
	switch {
	case s.epoch != req.SessionEpoch:
		s.mu.Unlock()
		c.mu.Unlock()
		return nil, kerr.InvalidFetchSessionEpoch.Code
	case s.usesIDs != (version >= 13):
		// A session keyed by topic ids cannot be continued by a request
		// that names topics, nor the reverse.
		s.mu.Unlock()
		c.mu.Unlock()
		return nil, kerr.FetchSessionTopicIDError.Code
	}
	s.update(req, c.names)
	if len(s.parts) == 0 {
		// Nothing left: the session ends, and this request is answered
		// as a sessionless full fetch of what it listed.
		c.removeLocked(s)
		s.mu.Unlock()
		c.mu.Unlock()
		return &fetchContext{kind: sessionlessFetch, view: req}, 0
	}
	c.touchLocked(s, len(s.parts), c.now())
	c.incrementals++
	s.epoch = nextEpoch(s.epoch)
	c.mu.Unlock()
	fc := &fetchContext{kind: incrementalFetch, cache: c, sess: s, epoch: s.epoch}
	fc.view, fc.order = s.view(req, c.names)
	s.mu.Unlock()
	return fc, 0
}

// update is FetchSession.update: the request's partitions are added or
// have their parameters updated, then its ForgottenTopics are removed.
func (s *fetchSession) update(req *kmsg.FetchRequest, names func([16]byte) string) {
	for i := range req.Topics {
		rt := &req.Topics[i]
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			key := s.keyOf(rt.Topic, rt.TopicID, rp.Partition)
			if cp := s.parts[key]; cp != nil {
				cp.updateRequest(rp)
				continue
			}
			name := rt.Topic
			if s.usesIDs && names != nil {
				name = names(rt.TopicID)
			}
			s.add(newCachedPartition(key, name, rp))
		}
	}
	for i := range req.ForgottenTopics {
		ft := &req.ForgottenTopics[i]
		for _, p := range ft.Partitions {
			key := s.keyOf(ft.Topic, ft.TopicID, p)
			if cp := s.parts[key]; cp != nil {
				s.unlink(cp)
				delete(s.parts, key)
			}
		}
	}
}

func (s *fetchSession) keyOf(topic string, id [16]byte, part int32) sessionKey {
	if s.usesIDs {
		return sessionKey{id: id, part: part}
	}
	return sessionKey{topic: topic, part: part}
}

// view builds the request the handler reads for an incremental fetch: every
// partition of the session in session order, with its cached parameters and
// the request's global ones, consecutive partitions of a topic under one
// topic entry (a topic may appear more than once, as in Kafka's response).
// The topic and partition slices of the previous view are reused: finish
// gives them back once the response is built, and nothing reads a view
// after that (the response copies what it needs).
func (s *fetchSession) view(req *kmsg.FetchRequest, names func([16]byte) string) (*kmsg.FetchRequest, []*cachedPartition) {
	v := &kmsg.FetchRequest{
		Version:        req.Version,
		ReplicaID:      req.ReplicaID,
		ReplicaState:   req.ReplicaState,
		MaxWaitMillis:  req.MaxWaitMillis,
		MinBytes:       req.MinBytes,
		MaxBytes:       req.MaxBytes,
		IsolationLevel: req.IsolationLevel,
		SessionID:      req.SessionID,
		SessionEpoch:   req.SessionEpoch,
		Rack:           req.Rack,
	}
	topics, order := s.spareTopics[:0], s.spareOrder[:0]
	s.spareTopics, s.spareOrder = nil, nil
	n := 0
	for cp := s.head; cp != nil; cp = cp.next {
		if s.usesIDs && cp.topic == "" && names != nil {
			// Kafka's maybeResolveUnknownName: an id unknown when the
			// partition joined may name a topic now.
			cp.topic = names(cp.key.id)
		}
		if n == 0 || topics[n-1].TopicID != cp.key.id || topics[n-1].Topic != cp.topic {
			if n < cap(topics) {
				topics = topics[:n+1]
				topics[n].Partitions = topics[n].Partitions[:0]
			} else {
				topics = append(topics, kmsg.FetchRequestTopic{})
			}
			topics[n].Topic, topics[n].TopicID = cp.topic, cp.key.id
			n++
		}
		rt := &topics[n-1]
		rt.Partitions = append(rt.Partitions, kmsg.FetchRequestTopicPartition{
			Partition:          cp.key.part,
			CurrentLeaderEpoch: cp.leaderEpoch,
			FetchOffset:        cp.fetchOffset,
			LastFetchedEpoch:   cp.lastFetchedEpoch,
			LogStartOffset:     cp.logStartOffset,
			PartitionMaxBytes:  cp.maxBytes,
		})
		order = append(order, cp)
	}
	v.Topics = topics
	return v, order
}

// A response passes through its context in two steps, as in Kafka's
// KafkaApis: prepare shapes it without touching the session (what
// getResponseSize measures, so a quota can judge the real size), then
// either commit records it as sent (updateAndGenerateResponseData) or
// throttled replaces it with an empty one and leaves the session as it was
// (getThrottledResponse). finish is prepare then commit, for a response
// that is sent as it is.
//
//   - sessionless: session id 0, everything read.
//   - full fetch at epoch 0: prepare creates the session of every partition
//     read (as Kafka does, when the response is built; its id must be in
//     the encoded answer) and sends its id, 0 when the cache declined; a
//     throttled answer removes it again and carries id 0.
//   - incremental: only the partitions that must be sent (mustRespond);
//     commit remembers what they said and moves those that returned
//     records to the end of the session. If the session's epoch moved
//     since the request was accepted (the same epoch sent twice), the
//     answer is INVALID_FETCH_SESSION_EPOCH instead.
//
// A partition has records when its RecordBatches are not empty: whoever
// builds the response must fill them before prepare.
func (fc *fetchContext) finish(resp *kmsg.FetchResponse) {
	fc.prepare(resp)
	fc.commit()
}

// prepare shapes resp for sending; it changes no session state other than
// creating the session of a full fetch.
func (fc *fetchContext) prepare(resp *kmsg.FetchResponse) {
	if fc == nil || fc.prepared {
		return
	}
	fc.prepared = true
	switch fc.kind {
	case sessionlessFetch:
		resp.SessionID = sessionIDNone
	case fullSessionFetch:
		resp.SessionID = fc.createSession(resp)
	case incrementalFetch:
		fc.prepareIncremental(resp)
	}
}

// commit records the prepared response as sent.
func (fc *fetchContext) commit() {
	if fc == nil || !fc.prepared || fc.done {
		return
	}
	fc.done = true
	if fc.kind != incrementalFetch {
		return
	}
	s := fc.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	defer fc.giveBackView()
	if fc.stale || s.epoch != fc.epoch {
		return // overtaken: the next request's answer tells what this one says
	}
	k := 0
	for i := range fc.sent.Topics {
		st := &fc.sent.Topics[i]
		for j := range st.Partitions {
			sp := &st.Partitions[j]
			cp := fc.included[k]
			k++
			cp.mustRespond(sp, true)
			if len(sp.RecordBatches) > 0 && s.parts[cp.key] == cp {
				s.unlink(cp)
				s.push(cp)
			}
		}
	}
}

// throttled turns the prepared response into Kafka's answer to a fetch
// over its quota: no partitions, the session untouched. A full fetch's
// new session is dropped and the answer carries id 0; an incremental
// fetch keeps its session id (or its INVALID_FETCH_SESSION_EPOCH).
func (fc *fetchContext) throttled(resp *kmsg.FetchResponse) {
	if fc == nil {
		resp.Topics = nil
		return
	}
	fc.prepare(resp)
	if fc.done {
		return
	}
	fc.done = true
	resp.Topics = nil
	switch fc.kind {
	case fullSessionFetch:
		if fc.created != nil {
			fc.cache.remove(fc.created.id)
		}
		resp.SessionID = sessionIDNone
	case incrementalFetch:
		s := fc.sess
		s.mu.Lock()
		fc.giveBackView()
		s.mu.Unlock()
	}
}

func (fc *fetchContext) createSession(resp *kmsg.FetchResponse) int32 {
	req := fc.view
	size := 0
	for i := range req.Topics {
		size += len(req.Topics[i].Partitions)
	}
	c := fc.cache
	s := c.create(fc.privileged, size, fc.usesIDs)
	if s == nil {
		return sessionIDNone
	}
	fc.created = s
	if n := fc.fillSession(s, resp); n != size {
		// Partitions listed twice count once, as in Kafka's map. The
		// cache's lock is taken with the session's released (lock order).
		c.mu.Lock()
		if c.sessions[s.id] == s {
			c.touchLocked(s, n, s.lastUsed)
		}
		c.mu.Unlock()
	}
	return s.id
}

// fillSession adds the full fetch's partitions to its new session, with
// what the response tells of each, and returns how many there are.
func (fc *fetchContext) fillSession(s *fetchSession, resp *kmsg.FetchResponse) int {
	req, c := fc.view, fc.cache
	s.mu.Lock()
	defer s.mu.Unlock()
	// The response lists the request's topics and partitions in order.
	for i := range req.Topics {
		rt := &req.Topics[i]
		name := rt.Topic
		if fc.usesIDs {
			name = c.topicName(rt.TopicID)
		}
		var st *kmsg.FetchResponseTopic
		if i < len(resp.Topics) {
			st = &resp.Topics[i]
		}
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			cp := newCachedPartition(s.keyOf(rt.Topic, rt.TopicID, rp.Partition), name, rp)
			if st != nil && j < len(st.Partitions) {
				cp.mustRespond(&st.Partitions[j], true)
			}
			s.add(cp)
		}
	}
	return len(s.parts)
}

// topicName resolves a topic id for a v13+ session ("" when unknown).
func (c *fetchSessionCache) topicName(id [16]byte) string {
	if c.names == nil {
		return ""
	}
	return c.names(id)
}

func (fc *fetchContext) prepareIncremental(resp *kmsg.FetchResponse) {
	s := fc.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	resp.SessionID = s.id
	if s.epoch != fc.epoch {
		fc.stale = true
		resp.ErrorCode = kerr.InvalidFetchSessionEpoch.Code
		resp.Topics = nil
		return
	}
	k := 0                                 // cursor into fc.order: the response follows the view
	included := fc.order[:0:len(fc.order)] // compacted in place: included[n] comes from order[>= n]
	out := resp.Topics[:0]
	for i := range resp.Topics {
		st := resp.Topics[i]
		parts := st.Partitions[:0]
		for j := range st.Partitions {
			sp := st.Partitions[j]
			if k >= len(fc.order) {
				break
			}
			cp := fc.order[k]
			k++
			if sp.ErrorCode == kerr.UnknownTopicID.Code && s.usesIDs {
				sp.ErrorCode = fc.cache.sessionTopicError(cp)
			}
			if !cp.mustRespond(&sp, false) {
				continue
			}
			parts = append(parts, sp)
			included = append(included, cp)
		}
		if len(parts) == 0 {
			continue
		}
		st.Partitions = parts
		if n := len(out); n > 0 && out[n-1].Topic == st.Topic && out[n-1].TopicID == st.TopicID {
			// Kafka groups consecutive partitions of one topic.
			out[n-1].Partitions = append(out[n-1].Partitions, st.Partitions...)
			continue
		}
		out = append(out, st)
	}
	resp.Topics = out
	fc.sent, fc.included = resp, included
}

// giveBackView hands the view's slices to the session for the next fetch
// (s.mu held): nothing reads them once the response is built.
func (fc *fetchContext) giveBackView() {
	if fc.view == nil || fc.view.Topics == nil {
		return
	}
	clear(fc.order[:cap(fc.order)])
	fc.sess.spareTopics, fc.sess.spareOrder = fc.view.Topics, fc.order[:0]
	fc.view.Topics, fc.order, fc.included = nil, nil, nil
}

// sessionTopicError is what Kafka answers for a partition of a v13+ session
// whose topic id no longer resolves: the session resolved its name once,
// when the partition joined, so a topic deleted since is
// UNKNOWN_TOPIC_OR_PARTITION and one deleted and created again under the
// same name is INCONSISTENT_TOPIC_ID (the log's id is not the session's).
// An id that never resolved stays UNKNOWN_TOPIC_ID.
func (c *fetchSessionCache) sessionTopicError(cp *cachedPartition) int16 {
	if cp.topic == "" || c.topicID == nil {
		return kerr.UnknownTopicID.Code
	}
	id, ok := c.topicID(cp.topic)
	switch {
	case !ok:
		return kerr.UnknownTopicOrPartition.Code
	case id != cp.key.id:
		return kerr.InconsistentTopicID.Code
	}
	return kerr.UnknownTopicID.Code
}

// Kafka's defaults for the session cache.
const (
	defaultFetchSessionCacheSlots  = 1000
	defaultFetchSessionEvictionMin = 2 * time.Minute
)

// newFetchSessionCache sizes the cache from Config and resolves topics
// through the topic table.
func (b *Broker) newFetchSessionCache() *fetchSessionCache {
	slots, evict := b.cfg.FetchSessionCacheSlots, b.cfg.FetchSessionEvictionMin
	switch {
	case slots == 0:
		slots = defaultFetchSessionCacheSlots
	case slots < 0:
		slots = 0
	}
	switch {
	case evict == 0:
		evict = defaultFetchSessionEvictionMin
	case evict < 0:
		evict = 0
	}
	c := newFetchSessionCache(slots, evict)
	c.names = func(id [16]byte) string {
		if t := b.topics.byID(id); t != nil {
			return t.name
		}
		return ""
	}
	c.topicID = func(name string) ([16]byte, bool) {
		if t := b.topics.byName(name); t != nil {
			return t.id, true
		}
		return [16]byte{}, false
	}
	return c
}
