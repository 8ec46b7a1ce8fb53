package txncoord

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/kerr"
)

// endIn brings t1 to state s (producer 1000, epoch 0) through the public
// operations. Prepare* states are held by failing every marker.
func endIn(t *testing.T, h *harness, s State) ProducerIDEpoch {
	t.Helper()
	pe := h.init(t, NoProducer)
	if s == Empty {
		return pe
	}
	for _, err := range h.c.AddPartitions("t1", pe.ProducerID, pe.Epoch, []TopicPartition{tpA0}) {
		require.NoError(t, err)
	}
	switch s {
	case Ongoing:
	case PrepareCommit, PrepareAbort:
		h.markers.setFailAll(true)
		t.Cleanup(func() { h.markers.setFailAll(false) })
		require.NoError(t, h.c.EndTxn("t1", pe.ProducerID, pe.Epoch, s == PrepareCommit))
	case CompleteCommit, CompleteAbort:
		require.NoError(t, h.c.EndTxn("t1", pe.ProducerID, pe.Epoch, s == CompleteCommit))
		synctest.Wait()
	default:
		t.Fatalf("endIn(%s)", s)
	}
	require.Equal(t, s, describe(t, h.c, "t1").State)
	return pe
}

func TestAddPartitions(t *testing.T) {
	cases := []struct {
		name    string
		from    State
		txnID   string
		pid     int64
		epoch   int16
		parts   []TopicPartition
		want    []error // per partition; nil entries succeed
		state   State
		inTxn   []TopicPartition
		noWrite bool
	}{
		{name: "Empty opens a transaction", from: Empty, parts: []TopicPartition{tpB0, tpA0}, want: []error{nil, nil}, state: Ongoing, inTxn: []TopicPartition{tpA0, tpB0}},
		{name: "Ongoing adds more", from: Ongoing, parts: []TopicPartition{tpA1}, want: []error{nil}, state: Ongoing, inTxn: []TopicPartition{tpA0, tpA1}},
		{name: "Ongoing with partitions already in it writes nothing", from: Ongoing, parts: []TopicPartition{tpA0}, want: []error{nil}, state: Ongoing, inTxn: []TopicPartition{tpA0}, noWrite: true},
		{name: "CompleteCommit opens the next transaction", from: CompleteCommit, parts: []TopicPartition{tpB0}, want: []error{nil}, state: Ongoing, inTxn: []TopicPartition{tpB0}},
		{name: "CompleteAbort opens the next transaction", from: CompleteAbort, parts: []TopicPartition{tpB0}, want: []error{nil}, state: Ongoing, inTxn: []TopicPartition{tpB0}},
		{name: "PrepareCommit is busy", from: PrepareCommit, parts: []TopicPartition{tpB0}, want: []error{kerr.ConcurrentTransactions}, state: PrepareCommit, inTxn: []TopicPartition{tpA0}},
		{name: "PrepareAbort is busy", from: PrepareAbort, parts: []TopicPartition{tpB0}, want: []error{kerr.ConcurrentTransactions}, state: PrepareAbort, inTxn: []TopicPartition{tpA0}},
		{name: "unknown topic", from: Empty, parts: []TopicPartition{tpA0, {"nope", 0}, {"a", 7}}, want: []error{kerr.OperationNotAttempted, kerr.UnknownTopicOrPartition, kerr.UnknownTopicOrPartition}, state: Empty},
		{name: "unknown transactional id", from: Empty, txnID: "t2", parts: []TopicPartition{tpA0}, want: []error{kerr.InvalidProducerIDMapping}, state: Empty},
		{name: "empty transactional id", from: Empty, txnID: "-", parts: []TopicPartition{tpA0}, want: []error{kerr.InvalidRequest}, state: Empty},
		{name: "another producer id", from: Ongoing, pid: 7, parts: []TopicPartition{tpA1}, want: []error{kerr.InvalidProducerIDMapping}, state: Ongoing, inTxn: []TopicPartition{tpA0}},
		{name: "old epoch is fenced", from: Ongoing, epoch: -1, parts: []TopicPartition{tpA1}, want: []error{kerr.ProducerFenced}, state: Ongoing, inTxn: []TopicPartition{tpA0}},
		{name: "future epoch is fenced too", from: Empty, epoch: 5, parts: []TopicPartition{tpA1}, want: []error{kerr.ProducerFenced}, state: Empty},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				pe := endIn(t, h, tc.from)
				id, pid, epoch := "t1", pe.ProducerID, pe.Epoch
				switch tc.txnID {
				case "":
				case "-":
					id = ""
				default:
					id = tc.txnID
				}
				if tc.pid != 0 {
					pid = tc.pid
				}
				if tc.epoch != 0 {
					epoch = tc.epoch
				}
				logged := len(h.loggedStates(t, "t1"))
				errs := h.c.AddPartitions(id, pid, epoch, tc.parts)
				require.Len(t, errs, len(tc.want))
				for i, want := range tc.want {
					if want == nil {
						assert.NoError(t, errs[i], "partition %d", i)
					} else {
						assert.ErrorIs(t, errs[i], want, "partition %d", i)
					}
				}
				d := describe(t, h.c, "t1")
				assert.Equal(t, tc.state, d.State)
				assert.Equal(t, tc.inTxn, d.Partitions)
				after := h.loggedStates(t, "t1")
				if tc.noWrite || tc.want[0] != nil {
					assert.Len(t, after, logged, "no log write")
				} else {
					assert.Equal(t, Ongoing, after[len(after)-1], "the new state is durable")
				}
				if tc.state == Ongoing && !tc.from.ended() {
					return
				}
				if tc.state == Ongoing {
					assert.Positive(t, d.StartMs, "a new transaction has a start time")
				}
			})
		})
	}
}

func TestAddPartitionsLogFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		pe := h.init(t, NoProducer)
		h.c.store.setFailWrite(errors.New("disk full"))
		errs := h.c.AddPartitions("t1", pe.ProducerID, pe.Epoch, []TopicPartition{tpA0})
		assert.ErrorIs(t, errs[0], kerr.CoordinatorNotAvailable)
		assert.Equal(t, Empty, describe(t, h.c, "t1").State)
		h.c.store.setFailWrite(nil)
		errs = h.c.AddPartitions("t1", pe.ProducerID, pe.Epoch, []TopicPartition{tpA0})
		assert.NoError(t, errs[0])
	})
}

func TestAddOffsetsToTxn(t *testing.T) {
	cases := []struct {
		name   string
		from   State
		group  string
		want   error
		state  State
		groups []string
	}{
		{name: "Empty opens a transaction", from: Empty, group: "g", state: Ongoing, groups: []string{"g"}},
		{name: "Ongoing adds the group", from: Ongoing, group: "g", state: Ongoing, groups: []string{"g"}},
		{name: "empty group id", from: Ongoing, group: "", want: kerr.InvalidGroupID, state: Ongoing},
		{name: "PrepareCommit is busy", from: PrepareCommit, group: "g", want: kerr.ConcurrentTransactions, state: PrepareCommit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				pe := endIn(t, h, tc.from)
				err := h.c.AddOffsetsToTxn("t1", pe.ProducerID, pe.Epoch, tc.group)
				if tc.want != nil {
					assert.ErrorIs(t, err, tc.want)
				} else {
					assert.NoError(t, err)
				}
				d := describe(t, h.c, "t1")
				assert.Equal(t, tc.state, d.State)
				assert.Equal(t, tc.groups, d.Groups)
			})
		})
	}
}

func TestEndTxn(t *testing.T) {
	cases := []struct {
		name    string
		from    State
		commit  bool
		epoch   int16 // added to the producer's epoch
		pid     int64
		want    error
		state   State // right after the call
		final   State // once completions ran
		markers []marker
	}{
		{name: "commit", from: Ongoing, commit: true, state: PrepareCommit, final: CompleteCommit, markers: []marker{{tpA0, 1000, 0, true}}},
		{name: "abort", from: Ongoing, state: PrepareAbort, final: CompleteAbort, markers: []marker{{tpA0, 1000, 0, false}}},
		{name: "no transaction", from: Empty, commit: true, want: kerr.InvalidTxnState, state: Empty, final: Empty},
		{name: "abort with no transaction", from: Empty, want: kerr.InvalidTxnState, state: Empty, final: Empty},
		{name: "retry of a completed commit", from: CompleteCommit, commit: true, state: CompleteCommit, final: CompleteCommit},
		{name: "abort after commit", from: CompleteCommit, want: kerr.InvalidTxnState, state: CompleteCommit, final: CompleteCommit},
		{name: "retry of a completed abort", from: CompleteAbort, state: CompleteAbort, final: CompleteAbort},
		{name: "commit after abort", from: CompleteAbort, commit: true, want: kerr.InvalidTxnState, state: CompleteAbort, final: CompleteAbort},
		{name: "retry of a commit still completing", from: PrepareCommit, commit: true, want: kerr.ConcurrentTransactions, state: PrepareCommit, final: CompleteCommit},
		{name: "abort while a commit completes", from: PrepareCommit, want: kerr.InvalidTxnState, state: PrepareCommit, final: CompleteCommit},
		{name: "retry of an abort still completing", from: PrepareAbort, want: kerr.ConcurrentTransactions, state: PrepareAbort, final: CompleteAbort},
		{name: "commit while an abort completes", from: PrepareAbort, commit: true, want: kerr.InvalidTxnState, state: PrepareAbort, final: CompleteAbort},
		{name: "old epoch", from: Ongoing, commit: true, epoch: -1, want: kerr.ProducerFenced, state: Ongoing, final: Ongoing},
		{name: "another producer id", from: Ongoing, commit: true, pid: 5, want: kerr.InvalidProducerIDMapping, state: Ongoing, final: Ongoing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				pe := endIn(t, h, tc.from)
				before := len(h.markers.list())
				pid := pe.ProducerID
				if tc.pid != 0 {
					pid = tc.pid
				}
				err := h.c.EndTxn("t1", pid, pe.Epoch+tc.epoch, tc.commit)
				if tc.want != nil {
					assert.ErrorIs(t, err, tc.want)
				} else {
					assert.NoError(t, err)
				}
				assert.Equal(t, tc.state, describe(t, h.c, "t1").State)
				h.markers.setFailAll(false)
				if tc.from == PrepareCommit || tc.from == PrepareAbort {
					time.Sleep(h.c.cfg.MarkerRetryBackoff)
				}
				synctest.Wait()
				assert.Equal(t, tc.final, describe(t, h.c, "t1").State)
				if tc.markers != nil {
					assert.Equal(t, tc.markers, h.markers.list()[before:])
				}
			})
		})
	}
}

func TestEndTxnUnknownID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		assert.ErrorIs(t, h.c.EndTxn("nope", 1, 0, true), kerr.InvalidProducerIDMapping)
		assert.ErrorIs(t, h.c.EndTxn("", 1, 0, true), kerr.InvalidRequest)
	})
}

func TestTxnOffsetCommit(t *testing.T) {
	off := []TxnOffset{{Topic: "in", Partition: 0, Offset: 42, LeaderEpoch: -1}}
	cases := []struct {
		name     string
		from     State
		addGroup bool
		validate error
		epoch    int16
		want     error
	}{
		{name: "staged", from: Ongoing, addGroup: true},
		{name: "group not added", from: Ongoing, want: kerr.InvalidTxnState},
		{name: "no transaction", from: Empty, want: kerr.InvalidTxnState},
		{name: "after a commit", from: CompleteCommit, want: kerr.InvalidTxnState},
		{name: "while completing", from: PrepareCommit, want: kerr.ConcurrentTransactions},
		{name: "group in another generation", from: Ongoing, addGroup: true, validate: kerr.IllegalGeneration, want: kerr.IllegalGeneration},
		{name: "old epoch", from: Ongoing, addGroup: true, epoch: -1, want: kerr.ProducerFenced},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				pe := endIn(t, h, tc.from)
				if tc.addGroup {
					require.NoError(t, h.c.AddOffsetsToTxn("t1", pe.ProducerID, pe.Epoch, "g"))
				}
				h.offsets.validate = tc.validate
				err := h.c.TxnOffsetCommit(TxnOffsetCommitRequest{
					TransactionalID: "t1", ProducerID: pe.ProducerID, Epoch: pe.Epoch + tc.epoch,
					Group: "g", Generation: -1,
				}, off)
				if tc.want != nil {
					assert.ErrorIs(t, err, tc.want)
					assert.False(t, h.c.PendingOffsets("g", "in", 0))
				} else {
					assert.NoError(t, err)
					assert.True(t, h.c.PendingOffsets("g", "in", 0))
				}
			})
		})
	}
}

// TestTxnOffsetsVisibleOnlyOnCommit: offsets reach the group coordinator
// after the markers of a commit, and never for an abort.
func TestTxnOffsetsVisibleOnlyOnCommit(t *testing.T) {
	for _, commit := range []bool{true, false} {
		t.Run(endName(commit), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				pe := begin(t, h.c, "t1", tpA0)
				require.NoError(t, h.c.AddOffsetsToTxn("t1", pe.ProducerID, pe.Epoch, "g"))
				meta := "m"
				require.NoError(t, h.c.TxnOffsetCommit(TxnOffsetCommitRequest{TransactionalID: "t1", ProducerID: pe.ProducerID, Epoch: pe.Epoch, Group: "g"},
					[]TxnOffset{{Topic: "in", Partition: 0, Offset: 10, LeaderEpoch: 3, Metadata: &meta}}))
				require.NoError(t, h.c.TxnOffsetCommit(TxnOffsetCommitRequest{TransactionalID: "t1", ProducerID: pe.ProducerID, Epoch: pe.Epoch, Group: "g"},
					[]TxnOffset{{Topic: "in", Partition: 0, Offset: 11, LeaderEpoch: 3}}))
				_, ok := h.offsets.get("g", TopicPartition{"in", 0})
				require.False(t, ok, "staged offsets are not visible before the commit")
				require.NoError(t, h.c.EndTxn("t1", pe.ProducerID, pe.Epoch, commit))
				synctest.Wait()
				got, ok := h.offsets.get("g", TopicPartition{"in", 0})
				assert.Equal(t, commit, ok)
				if commit {
					assert.Equal(t, int64(11), got, "the last staged offset wins")
				}
				assert.False(t, h.c.PendingOffsets("g", "in", 0))
			})
		})
	}
}

func TestTransitIllegal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.init(t, NoProducer)
		h.c.mu.Lock()
		m := h.c.txns["t1"]
		rec := m.txnRecord
		rec.state = PrepareCommit
		err := h.c.transit(m, rec)
		h.c.mu.Unlock()
		assert.ErrorIs(t, err, kerr.InvalidTxnState)
		assert.Equal(t, Empty, describe(t, h.c, "t1").State)
	})
}
