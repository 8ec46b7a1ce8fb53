package broker

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/kerr"
)

// sessFetch is one Fetch of a session test: the session id and epoch, the
// partitions listed (partition to fetch offset) and those forgotten.
type sessFetch struct {
	id, epoch int32
	parts     map[int32]int64
	forget    []int32
	minBytes  int32
	maxWaitMs int32
	maxBytes  int32
}

// request builds the Fetch for topic (named, and by id from v13).
func (f sessFetch) request(topic string, id [16]byte) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.SessionID, req.SessionEpoch = f.id, f.epoch
	req.MinBytes, req.MaxWaitMillis, req.MaxBytes = f.minBytes, f.maxWaitMs, 1<<20
	if f.maxBytes > 0 {
		req.MaxBytes = f.maxBytes
	}
	if len(f.parts) > 0 {
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, id
		for _, p := range slices.Sorted(mapsKeys(f.parts)) {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, f.parts[p], 1<<20
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	if len(f.forget) > 0 {
		ft := kmsg.NewFetchRequestForgottenTopic()
		ft.Topic, ft.TopicID, ft.Partitions = topic, id, f.forget
		req.ForgottenTopics = append(req.ForgottenTopics, ft)
	}
	return req
}

func mapsKeys(m map[int32]int64) func(func(int32) bool) {
	return func(yield func(int32) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// sessPart is what a response said about one partition.
type sessPart struct {
	hw      int64
	data    bool
	errCode int16
}

// sessParts flattens a response, in order, failing on a partition listed
// twice.
func sessParts(t testing.TB, resp *kmsg.FetchResponse) (map[int32]sessPart, []int32) {
	t.Helper()
	got := make(map[int32]sessPart)
	var order []int32
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			_, dup := got[rp.Partition]
			require.False(t, dup, "partition %d answered twice", rp.Partition)
			got[rp.Partition] = sessPart{hw: rp.HighWatermark, data: len(rp.RecordBatches) > 0, errCode: rp.ErrorCode}
			order = append(order, rp.Partition)
		}
	}
	return got, order
}

// produceTo appends one batch of n records to topic[p] through a raw
// connection.
func produceTo(t testing.TB, rc *rawConn, topic string, p int32, n int) {
	t.Helper()
	resp := rc.roundTrip(produceReq(topic, p, makeBatch(n, 10, batch.NoProducer)), 7).(*kmsg.ProduceResponse)
	require.Len(t, resp.Topics, 1)
	require.Zero(t, resp.Topics[0].Partitions[0].ErrorCode)
}

// TestFetchSessionIncremental walks one session through Kafka's rules with
// exact requests: the full fetch creates it and answers everything; an
// incremental fetch answers only partitions with records or a high
// watermark the client has not seen; ForgottenTopics drop partitions; a
// partition added later is answered at once; epochs must follow; epoch -1
// closes the session.
func TestFetchSessionIncremental(t *testing.T) {
	for _, version := range []int16{7, 12, 13, 16} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			b := startBroker(t, Config{})
			require.NoError(t, b.CreateTopic("s", 4, nil))
			id := b.topics.byName("s").id
			rc, prod := dialRaw(t, b), dialRaw(t, b)
			produceTo(t, prod, "s", 0, 2)

			fetch := func(f sessFetch) *kmsg.FetchResponse {
				t.Helper()
				return rc.roundTrip(f.request("s", id), version).(*kmsg.FetchResponse)
			}
			// Full fetch at epoch 0 of partitions 0-2: a new session.
			resp := fetch(sessFetch{parts: map[int32]int64{0: 0, 1: 0, 2: 0}})
			require.Zero(t, resp.ErrorCode)
			sid := resp.SessionID
			require.Positive(t, sid, "a session was created")
			got, _ := sessParts(t, resp)
			assert.Equal(t, map[int32]sessPart{0: {hw: 2, data: true}, 1: {}, 2: {}}, got, "a full fetch answers every partition")
			assert.Equal(t, 3, b.fetchSessions.stats().partitions)

			// Consumed partition 0: nothing changed, nothing answered.
			resp = fetch(sessFetch{id: sid, epoch: 1, parts: map[int32]int64{0: 2}})
			require.Zero(t, resp.ErrorCode)
			assert.Equal(t, sid, resp.SessionID)
			assert.Empty(t, resp.Topics)

			// New records in partition 2: only it is answered, though the
			// request lists nothing.
			produceTo(t, prod, "s", 2, 1)
			resp = fetch(sessFetch{id: sid, epoch: 2})
			got, _ = sessParts(t, resp)
			assert.Equal(t, map[int32]sessPart{2: {hw: 1, data: true}}, got)

			// The same epoch again (a duplicate): rejected, session id 0,
			// and the session is unharmed.
			resp = fetch(sessFetch{id: sid, epoch: 2})
			assert.Equal(t, kerr.InvalidFetchSessionEpoch.Code, resp.ErrorCode)
			assert.Zero(t, resp.SessionID)
			assert.Empty(t, resp.Topics)
			resp = fetch(sessFetch{id: sid, epoch: 5})
			assert.Equal(t, kerr.InvalidFetchSessionEpoch.Code, resp.ErrorCode, "an epoch ahead is as wrong")

			// Partition 2 consumed and forgotten in one go, partition 3
			// added: 3 is new to the session and answered without records;
			// records produced to 2 afterwards are not.
			resp = fetch(sessFetch{id: sid, epoch: 3, parts: map[int32]int64{2: 1, 3: 0}, forget: []int32{2}})
			got, _ = sessParts(t, resp)
			assert.Equal(t, map[int32]sessPart{3: {}}, got)
			produceTo(t, prod, "s", 2, 1)
			resp = fetch(sessFetch{id: sid, epoch: 4})
			assert.Empty(t, resp.Topics, "partition 2 was forgotten")
			assert.Equal(t, 3, b.fetchSessions.stats().partitions)

			// Added back: answered with its records.
			resp = fetch(sessFetch{id: sid, epoch: 5, parts: map[int32]int64{2: 1}})
			got, _ = sessParts(t, resp)
			assert.Equal(t, map[int32]sessPart{2: {hw: 2, data: true}}, got)

			// A high watermark move is news even without records for this
			// fetch (here the client's position is already the new end).
			produceTo(t, prod, "s", 0, 1)
			resp = fetch(sessFetch{id: sid, epoch: 6, parts: map[int32]int64{2: 2, 0: 3}})
			got, _ = sessParts(t, resp)
			assert.Equal(t, map[int32]sessPart{0: {hw: 3}}, got)

			// Epoch -1 with the id closes the session and is a sessionless
			// full fetch of what it lists.
			resp = fetch(sessFetch{id: sid, epoch: -1, parts: map[int32]int64{1: 0}})
			require.Zero(t, resp.ErrorCode)
			assert.Zero(t, resp.SessionID)
			got, _ = sessParts(t, resp)
			assert.Equal(t, map[int32]sessPart{1: {}}, got)
			assert.Zero(t, b.fetchSessions.stats().sessions)
			resp = fetch(sessFetch{id: sid, epoch: 7})
			assert.Equal(t, kerr.FetchSessionIDNotFound.Code, resp.ErrorCode)
			assert.Empty(t, resp.Topics)
		})
	}
}

// TestFetchSessionErrors pins the session error answers of Kafka's
// FetchManager.newContext.
func TestFetchSessionErrors(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("e", 1, nil))
	id := b.topics.byName("e").id
	rc := dialRaw(t, b)
	open := func(version int16) int32 {
		resp := rc.roundTrip(sessFetch{parts: map[int32]int64{0: 0}}.request("e", id), version).(*kmsg.FetchResponse)
		require.Zero(t, resp.ErrorCode)
		require.Positive(t, resp.SessionID)
		return resp.SessionID
	}
	v12, v13 := open(12), open(13)
	for _, tc := range []struct {
		name      string
		version   int16
		id, epoch int32
		want      int16
	}{
		{"unknown id", 12, 12345, 1, kerr.FetchSessionIDNotFound.Code},
		{"id 0 with an incremental epoch", 12, 0, 1, kerr.FetchSessionIDNotFound.Code},
		{"wrong epoch", 12, v12, 2, kerr.InvalidFetchSessionEpoch.Code},
		{"negative epoch below -1", 12, v12, -2, kerr.InvalidFetchSessionEpoch.Code},
		{"session by name continued with ids", 13, v12, 1, kerr.FetchSessionTopicIDError.Code},
		{"session by id continued with names", 12, v13, 1, kerr.FetchSessionTopicIDError.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := rc.roundTrip(sessFetch{id: tc.id, epoch: tc.epoch}.request("e", id), tc.version).(*kmsg.FetchResponse)
			assert.Equal(t, tc.want, resp.ErrorCode)
			assert.Zero(t, resp.SessionID)
			assert.Empty(t, resp.Topics)
		})
	}
	// The errors left both sessions as they were.
	for _, s := range []struct {
		id      int32
		version int16
	}{{v12, 12}, {v13, 13}} {
		resp := rc.roundTrip(sessFetch{id: s.id, epoch: 1}.request("e", id), s.version).(*kmsg.FetchResponse)
		assert.Zero(t, resp.ErrorCode)
		assert.Equal(t, s.id, resp.SessionID)
	}
}

// TestFetchSessionEmptied: an incremental fetch that forgets the last
// partition ends the session (Kafka answers it sessionless).
func TestFetchSessionEmptied(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("m", 2, nil))
	rc := dialRaw(t, b)
	resp := rc.roundTrip(sessFetch{parts: map[int32]int64{0: 0, 1: 0}}.request("m", [16]byte{}), 12).(*kmsg.FetchResponse)
	sid := resp.SessionID
	require.Positive(t, sid)
	resp = rc.roundTrip(sessFetch{id: sid, epoch: 1, forget: []int32{0, 1}}.request("m", [16]byte{}), 12).(*kmsg.FetchResponse)
	assert.Zero(t, resp.ErrorCode)
	assert.Zero(t, resp.SessionID)
	assert.Zero(t, b.fetchSessions.stats().sessions)
}

// TestFetchSessionReconnect: sessions belong to the broker; a client that
// reconnects continues its session on the new connection.
func TestFetchSessionReconnect(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("r", 2, nil))
	first := dialRaw(t, b)
	resp := first.roundTrip(sessFetch{parts: map[int32]int64{0: 0, 1: 0}}.request("r", [16]byte{}), 12).(*kmsg.FetchResponse)
	sid := resp.SessionID
	require.Positive(t, sid)
	first.c.Close()

	second := dialRaw(t, b)
	produceTo(t, second, "r", 1, 3)
	resp = second.roundTrip(sessFetch{id: sid, epoch: 1}.request("r", [16]byte{}), 12).(*kmsg.FetchResponse)
	require.Zero(t, resp.ErrorCode)
	assert.Equal(t, sid, resp.SessionID)
	got, _ := sessParts(t, resp)
	assert.Equal(t, map[int32]sessPart{1: {hw: 3, data: true}}, got)
}

// TestFetchSessionParked: an incremental fetch waiting in the purgatory
// for fetch.min.bytes updates its session once, when it is answered, and a
// request of the same session that overtook it (the next epoch sent from
// another connection) makes it answer INVALID_FETCH_SESSION_EPOCH, as
// Kafka's IncrementalFetchContext does for a possible duplicate.
func TestFetchSessionParked(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("p", 3, nil))
	rc, prod := dialRaw(t, b), dialRaw(t, b)
	resp := rc.roundTrip(sessFetch{parts: map[int32]int64{0: 0, 1: 0, 2: 0}}.request("p", [16]byte{}), 12).(*kmsg.FetchResponse)
	sid := resp.SessionID
	require.Positive(t, sid)

	parked := func(epoch int32) <-chan *kmsg.FetchResponse {
		done := make(chan *kmsg.FetchResponse, 1)
		c := dialRaw(t, b)
		f := sessFetch{id: sid, epoch: epoch, minBytes: 1, maxWaitMs: 20_000}
		c.write(frame(f.request("p", [16]byte{}), 12, 1))
		go func() {
			body, err := c.readFrame(30 * time.Second)
			if err != nil {
				done <- nil
				return
			}
			r := kmsg.NewPtrFetchResponse()
			r.Version = 12
			// Skip the correlation id and the flexible header's tags.
			if err := r.ReadFrom(body[5:]); err != nil {
				done <- nil
				return
			}
			done <- r
		}()
		return done
	}
	waitParked := func(n int) {
		require.Eventually(t, func() bool { return b.fetchSessions.stats().incrementals == n }, 10*time.Second, time.Millisecond)
	}

	// Epoch 1 parks; a record for partition 1 answers it with partition
	// 1 alone.
	done := parked(1)
	waitParked(1)
	produceTo(t, prod, "p", 1, 1)
	resp = <-done
	require.NotNil(t, resp)
	require.Zero(t, resp.ErrorCode)
	got, _ := sessParts(t, resp)
	assert.Equal(t, map[int32]sessPart{1: {hw: 1, data: true}}, got)

	// The session still holds partition 1 at offset 0, where records
	// are: tell it the new position (nothing else is news).
	resp = rc.roundTrip(sessFetch{id: sid, epoch: 2, parts: map[int32]int64{1: 1}}.request("p", [16]byte{}), 12).(*kmsg.FetchResponse)
	require.Zero(t, resp.ErrorCode)
	assert.Empty(t, resp.Topics)

	// Epoch 3 parks; epoch 4 from another connection overtakes it and
	// parks too. The first is answered with INVALID_FETCH_SESSION_EPOCH
	// when data comes; the second with the data.
	first := parked(3)
	waitParked(3)
	second := parked(4)
	waitParked(4)
	produceTo(t, prod, "p", 2, 1)
	r1, r2 := <-first, <-second
	require.NotNil(t, r1)
	require.NotNil(t, r2)
	assert.Equal(t, kerr.InvalidFetchSessionEpoch.Code, r1.ErrorCode)
	assert.Empty(t, r1.Topics)
	assert.Zero(t, r2.ErrorCode)
	got, _ = sessParts(t, r2)
	assert.Equal(t, map[int32]sessPart{2: {hw: 1, data: true}}, got)
	// And the session moved on exactly once per accepted request.
	resp = rc.roundTrip(sessFetch{id: sid, epoch: 5, parts: map[int32]int64{2: 1}}.request("p", [16]byte{}), 12).(*kmsg.FetchResponse)
	assert.Zero(t, resp.ErrorCode)
	assert.Equal(t, sid, resp.SessionID)
}

// TestFetchSessionRotation: a partition that returned records moves to the
// end of its session (Kafka's fairness rule), so when max_bytes cuts every
// response after its first batch, a partition with a long backlog does not
// starve the others.
func TestFetchSessionRotation(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("o", 3, nil))
	rc := dialRaw(t, b)
	const per = 20 // records per batch
	for range 5 {
		produceTo(t, rc, "o", 0, per)
	}
	produceTo(t, rc, "o", 1, per)
	produceTo(t, rc, "o", 2, per)

	// max_bytes 1: only the first partition with records gets its first
	// batch (KIP-74); the others are answered without records.
	pos := map[int32]int64{0: 0, 1: 0, 2: 0}
	resp := rc.roundTrip(sessFetch{parts: pos, maxBytes: 1}.request("o", [16]byte{}), 12).(*kmsg.FetchResponse)
	sid := resp.SessionID
	require.Positive(t, sid)
	got, order := sessParts(t, resp)
	require.Equal(t, []int32{0, 1, 2}, order)
	require.True(t, got[0].data)
	require.False(t, got[1].data)
	pos = map[int32]int64{0: per} // consumed; tell the session
	var served []int32
	for epoch := int32(1); epoch <= 4; epoch++ {
		resp := rc.roundTrip(sessFetch{id: sid, epoch: epoch, parts: pos, maxBytes: 1}.request("o", [16]byte{}), 12).(*kmsg.FetchResponse)
		require.Zero(t, resp.ErrorCode)
		got, order := sessParts(t, resp)
		pos = map[int32]int64{}
		for _, p := range order {
			if got[p].data {
				served = append(served, p)
				pos[p] = b.fetchSessionOffset(t, sid, "o", p) + per
			}
		}
	}
	// Without the rotation partition 0 would be served four times.
	assert.Equal(t, []int32{0, 1, 2, 0}, served)
}

// fetchSessionOffset is the fetch offset session sid holds for topic[p].
func (b *Broker) fetchSessionOffset(t testing.TB, sid int32, topic string, p int32) int64 {
	t.Helper()
	c := b.fetchSessions
	c.mu.Lock()
	s := c.sessions[sid]
	c.mu.Unlock()
	require.NotNil(t, s)
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := s.parts[sessionKey{topic: topic, part: p}]
	require.NotNil(t, cp)
	return cp.fetchOffset
}

// TestFetchSessionCacheFull: with one slot, a second client's session is
// declined (session id 0, a full fetch) while the first is young, and
// evicts it once the first is older than the eviction time and smaller;
// the evicted client's next incremental fetch gets
// FETCH_SESSION_ID_NOT_FOUND.
func TestFetchSessionCacheFull(t *testing.T) {
	b := startBroker(t, Config{FetchSessionCacheSlots: 1, FetchSessionEvictionMin: 300 * time.Millisecond})
	require.NoError(t, b.CreateTopic("f", 3, nil))
	a, c := dialRaw(t, b), dialRaw(t, b)
	resp := a.roundTrip(sessFetch{parts: map[int32]int64{0: 0}}.request("f", [16]byte{}), 12).(*kmsg.FetchResponse)
	sidA := resp.SessionID
	require.Positive(t, sidA)

	resp = c.roundTrip(sessFetch{parts: map[int32]int64{0: 0, 1: 0}}.request("f", [16]byte{}), 12).(*kmsg.FetchResponse)
	assert.Zero(t, resp.ErrorCode)
	assert.Zero(t, resp.SessionID, "the cache is full of a young session")
	got, _ := sessParts(t, resp)
	assert.Len(t, got, 2, "declined is still a full fetch")

	// A keeps using its session; once it is older than the eviction time
	// at its last use, a bigger session evicts it.
	epoch := int32(1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp = a.roundTrip(sessFetch{id: sidA, epoch: epoch}.request("f", [16]byte{}), 12).(*kmsg.FetchResponse)
		require.Zero(t, resp.ErrorCode)
		epoch++
		resp = c.roundTrip(sessFetch{parts: map[int32]int64{0: 0, 1: 0}}.request("f", [16]byte{}), 12).(*kmsg.FetchResponse)
		if resp.SessionID != 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "never evicted")
		time.Sleep(50 * time.Millisecond) // A's session ages; no event marks it
	}
	st := b.fetchSessions.stats()
	assert.Equal(t, 1, st.evictions)
	assert.Equal(t, 1, st.sessions)
	resp = a.roundTrip(sessFetch{id: sidA, epoch: epoch}.request("f", [16]byte{}), 12).(*kmsg.FetchResponse)
	assert.Equal(t, kerr.FetchSessionIDNotFound.Code, resp.ErrorCode)
}

// TestFetchSessionTopicIDs: a v13+ session names partitions by topic id and
// resolved their topic once: a topic deleted since answers
// UNKNOWN_TOPIC_OR_PARTITION, one created again under the same name
// INCONSISTENT_TOPIC_ID; a full fetch of an unknown id UNKNOWN_TOPIC_ID.
func TestFetchSessionTopicIDs(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("d", 1, nil))
	require.NoError(t, b.CreateTopic("x", 1, nil))
	idD, idX := b.topics.byName("d").id, b.topics.byName("x").id
	rc := dialRaw(t, b)
	open := func(topic string, id [16]byte) int32 {
		resp := rc.roundTrip(sessFetch{parts: map[int32]int64{0: 0}}.request(topic, id), 13).(*kmsg.FetchResponse)
		require.Zero(t, resp.ErrorCode)
		require.Positive(t, resp.SessionID)
		return resp.SessionID
	}
	sidD, sidX := open("d", idD), open("x", idX)
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.TopicNames = []string{"d", "x"}
	del.Topics = []kmsg.DeleteTopicsRequestTopic{{Topic: kmsg.StringPtr("d")}, {Topic: kmsg.StringPtr("x")}}
	delResp := rc.roundTrip(del, 6).(*kmsg.DeleteTopicsResponse)
	for _, rt := range delResp.Topics {
		require.Zero(t, rt.ErrorCode)
	}
	require.NoError(t, b.CreateTopic("x", 1, nil))

	partErr := func(resp *kmsg.FetchResponse) int16 {
		t.Helper()
		require.Zero(t, resp.ErrorCode)
		require.Len(t, resp.Topics, 1)
		require.Len(t, resp.Topics[0].Partitions, 1)
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	resp := rc.roundTrip(sessFetch{id: sidD, epoch: 1}.request("d", idD), 13).(*kmsg.FetchResponse)
	assert.Equal(t, kerr.UnknownTopicOrPartition.Code, partErr(resp))
	resp = rc.roundTrip(sessFetch{id: sidX, epoch: 1}.request("x", idX), 13).(*kmsg.FetchResponse)
	assert.Equal(t, kerr.InconsistentTopicID.Code, partErr(resp))
	// Errors are answered every time, not only when they change.
	resp = rc.roundTrip(sessFetch{id: sidX, epoch: 2}.request("x", idX), 13).(*kmsg.FetchResponse)
	assert.Equal(t, kerr.InconsistentTopicID.Code, partErr(resp))
	resp = rc.roundTrip(sessFetch{parts: map[int32]int64{0: 0}, epoch: -1}.request("x", idX), 13).(*kmsg.FetchResponse)
	assert.Equal(t, kerr.UnknownTopicID.Code, partErr(resp))
}

// TestFetchSessionsDisabled: FetchSessionCacheSlots < 0 is Kafka's 0
// slots: every full fetch is answered with session id 0.
func TestFetchSessionsDisabled(t *testing.T) {
	b := startBroker(t, Config{FetchSessionCacheSlots: -1})
	require.NoError(t, b.CreateTopic("n", 1, nil))
	rc := dialRaw(t, b)
	resp := rc.roundTrip(sessFetch{parts: map[int32]int64{0: 0}}.request("n", [16]byte{}), 12).(*kmsg.FetchResponse)
	assert.Zero(t, resp.ErrorCode)
	assert.Zero(t, resp.SessionID)
	got, _ := sessParts(t, resp)
	assert.Len(t, got, 1)
}

// Fuzzing incremental fetches: session ids are random, so FuzzRequest could
// never name a live session. Sessions 1 (by topic name) and 2 (by topic
// id) are therefore installed at whatever epoch a fuzzed incremental fetch
// carries, holding fz[0], so every such request goes through the session's
// update, view and response filter.
const (
	fuzzSessionNames = 1
	fuzzSessionIDs   = 2
)

func fuzzFetchSession(b *Broker, r *request) {
	req, ok := r.kreq.(*kmsg.FetchRequest)
	if !ok || r.version < 7 || fullFetch(req.SessionEpoch) {
		return
	}
	if req.SessionID != fuzzSessionNames && req.SessionID != fuzzSessionIDs {
		return
	}
	fz := b.topics.byName("fz")
	if fz == nil {
		return
	}
	c := b.fetchSessions
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.sessions[req.SessionID]; old != nil {
		c.removeLocked(old)
	}
	s := &fetchSession{
		id:         req.SessionID,
		usesIDs:    req.SessionID == fuzzSessionIDs,
		created:    c.now(),
		cachedSize: -1,
		epoch:      req.SessionEpoch,
		parts:      make(map[sessionKey]*cachedPartition),
	}
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	s.add(newCachedPartition(s.keyOf("fz", fz.id, 0), "fz", &rp))
	c.sessions[s.id] = s
	c.touchLocked(s, len(s.parts), c.now())
}

// fetchSessionSeeds are FuzzRequest's incremental fetches: partitions
// added, changed and forgotten, by name and by id, and a full fetch that
// creates a session.
func fetchSessionSeeds(b *Broker) [][]byte {
	id := b.topics.byName("fz").id
	var seeds [][]byte
	for _, tc := range []struct {
		sid      int32
		versions []int16
	}{
		{fuzzSessionNames, []int16{7, 9, 12}},
		{fuzzSessionIDs, []int16{13, 15, 18}},
	} {
		for _, v := range tc.versions {
			for _, f := range []sessFetch{
				{id: tc.sid, epoch: 1},
				{id: tc.sid, epoch: 5, parts: map[int32]int64{0: 1, 1: 0}, forget: []int32{0}},
				{id: tc.sid, epoch: 2, forget: []int32{0, 1, 7}},
				{id: tc.sid, epoch: 3, parts: map[int32]int64{9: 0}, minBytes: 1, maxWaitMs: 10},
				{parts: map[int32]int64{0: 0, 1: 0}},
			} {
				seeds = append(seeds, frame(f.request("fz", id), v, 9)[4:])
			}
		}
	}
	return seeds
}

// TestFetchSessionLogStartMoves: a log start offset that moved (here by
// DeleteRecords) is news for a session even without records or a high
// watermark change, as Kafka's CachedPartition compares it.
func TestFetchSessionLogStartMoves(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("ls", 2, nil))
	rc := dialRaw(t, b)
	produceTo(t, rc, "ls", 0, 3)
	resp := rc.roundTrip(sessFetch{parts: map[int32]int64{0: 3, 1: 0}}.request("ls", [16]byte{}), 12).(*kmsg.FetchResponse)
	sid := resp.SessionID
	require.Positive(t, sid)
	resp = rc.roundTrip(sessFetch{id: sid, epoch: 1}.request("ls", [16]byte{}), 12).(*kmsg.FetchResponse)
	require.Empty(t, resp.Topics)

	del := kmsg.NewPtrDeleteRecordsRequest()
	dt := kmsg.NewDeleteRecordsRequestTopic()
	dt.Topic = "ls"
	dt.Partitions = []kmsg.DeleteRecordsRequestTopicPartition{{Partition: 0, Offset: 2}}
	del.Topics = append(del.Topics, dt)
	del.TimeoutMillis = 5000
	dr := rc.roundTrip(del, 2).(*kmsg.DeleteRecordsResponse)
	require.Zero(t, dr.Topics[0].Partitions[0].ErrorCode)

	resp = rc.roundTrip(sessFetch{id: sid, epoch: 2}.request("ls", [16]byte{}), 12).(*kmsg.FetchResponse)
	require.Zero(t, resp.ErrorCode)
	require.Len(t, resp.Topics, 1)
	require.Len(t, resp.Topics[0].Partitions, 1)
	p := resp.Topics[0].Partitions[0]
	assert.EqualValues(t, 0, p.Partition)
	assert.EqualValues(t, 2, p.LogStartOffset)
	assert.EqualValues(t, 3, p.HighWatermark)
	assert.Empty(t, p.RecordBatches)
	resp = rc.roundTrip(sessFetch{id: sid, epoch: 3}.request("ls", [16]byte{}), 12).(*kmsg.FetchResponse)
	assert.Empty(t, resp.Topics, "told once")
}
