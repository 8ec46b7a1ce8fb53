package txncoord

import (
	"context"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/kerr"
)

// TestRestart closes the coordinator with t1 in each state and checks what
// a new one makes of the log.
func TestRestart(t *testing.T) {
	cases := []struct {
		from    State
		after   State // right after New, once completions ran
		markers []marker
		offsets bool // the staged offset is visible after the restart
	}{
		{from: Empty, after: Empty},
		{from: Ongoing, after: Ongoing},
		{from: PrepareCommit, after: CompleteCommit, markers: []marker{{tpA0, 1000, 0, true}}, offsets: true},
		{from: PrepareAbort, after: CompleteAbort, markers: []marker{{tpA0, 1000, 0, false}}},
		{from: CompleteCommit, after: CompleteCommit, offsets: true},
		{from: CompleteAbort, after: CompleteAbort},
	}
	for _, tc := range cases {
		t.Run(tc.from.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				pe := h.init(t, NoProducer)
				if tc.from != Empty {
					for _, err := range h.c.AddPartitions("t1", pe.ProducerID, pe.Epoch, []TopicPartition{tpA0}) {
						require.NoError(t, err)
					}
					require.NoError(t, h.c.AddOffsetsToTxn("t1", pe.ProducerID, pe.Epoch, "g"))
					require.NoError(t, h.c.TxnOffsetCommit(TxnOffsetCommitRequest{TransactionalID: "t1", ProducerID: pe.ProducerID, Epoch: pe.Epoch, Group: "g"},
						[]TxnOffset{{Topic: "in", Partition: 2, Offset: 7, LeaderEpoch: -1}}))
				}
				switch tc.from {
				case PrepareCommit, PrepareAbort:
					h.markers.setFailAll(true)
					require.NoError(t, h.c.EndTxn("t1", pe.ProducerID, pe.Epoch, tc.from == PrepareCommit))
				case CompleteCommit, CompleteAbort:
					require.NoError(t, h.c.EndTxn("t1", pe.ProducerID, pe.Epoch, tc.from == CompleteCommit))
				}
				synctest.Wait()
				require.Equal(t, tc.from, describe(t, h.c, "t1").State)
				before := describe(t, h.c, "t1")
				closeCoord(t, h.c)

				h.markers.setFailAll(false)
				h.markers.mu.Lock()
				h.markers.written = nil
				h.markers.mu.Unlock()
				if tc.from == CompleteCommit {
					h.offsets.committed = nil // visible already; must not be committed again
				}
				c := h.open(t)
				synctest.Wait()
				d := describe(t, c, "t1")
				assert.Equal(t, tc.after, d.State)
				assert.Equal(t, before.ProducerID, d.ProducerID)
				assert.Equal(t, before.ProducerEpoch, d.ProducerEpoch)
				assert.Equal(t, before.StartMs, d.StartMs)
				assert.Equal(t, tc.markers, h.markers.list())
				_, visible := h.offsets.get("g", TopicPartition{"in", 2})
				assert.Equal(t, tc.offsets && tc.from != CompleteCommit, visible)
				if tc.from == Ongoing {
					assert.Equal(t, []TopicPartition{tpA0}, d.Partitions)
					assert.True(t, c.PendingOffsets("g", "in", 2), "staged offsets survive a restart")
					// The transaction goes on with the same producer.
					require.NoError(t, c.EndTxn("t1", pe.ProducerID, pe.Epoch, true))
					synctest.Wait()
					got, ok := h.offsets.get("g", TopicPartition{"in", 2})
					assert.True(t, ok)
					assert.Equal(t, int64(7), got)
				}
				// The next epoch follows the restored one.
				if tc.after.ended() {
					pe2, err := c.InitProducerID("t1", txnTimeout, NoProducer)
					require.NoError(t, err)
					assert.Equal(t, ProducerIDEpoch{pe.ProducerID, pe.Epoch + 1}, pe2)
				}
			})
		})
	}
}

// TestRestartOngoingTimesOut: an Ongoing transaction found at a restart is
// aborted once its timeout, counted from its start, passes.
func TestRestartOngoingTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		pe := begin(t, h.c, "t1", tpA0, tpB0)
		closeCoord(t, h.c)
		c := h.open(t)
		time.Sleep(txnTimeout / 2)
		synctest.Wait()
		require.Equal(t, Ongoing, describe(t, c, "t1").State)
		time.Sleep(txnTimeout/2 + c.cfg.AbortCheckInterval + time.Millisecond)
		synctest.Wait()
		d := describe(t, c, "t1")
		assert.Equal(t, CompleteAbort, d.State)
		assert.Equal(t, pe.Epoch+1, d.ProducerEpoch)
		assert.ElementsMatch(t, []marker{{tpA0, 1000, 1, false}, {tpB0, 1000, 1, false}}, h.markers.list())
	})
}

// TestMarkerFailuresRetried: a failing partition is retried until its
// marker is written, the others are not written twice, and nothing marks
// the transaction complete, in memory or in the log, before the last one.
func TestMarkerFailuresRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.markers.failN[tpB0] = 3
		pe := begin(t, h.c, "t1", tpA0, tpB0)
		require.NoError(t, h.c.AddOffsetsToTxn("t1", pe.ProducerID, pe.Epoch, "g"))
		require.NoError(t, h.c.TxnOffsetCommit(TxnOffsetCommitRequest{TransactionalID: "t1", ProducerID: pe.ProducerID, Epoch: pe.Epoch, Group: "g"},
			[]TxnOffset{{Topic: "in", Partition: 0, Offset: 5, LeaderEpoch: -1}}))
		require.NoError(t, h.c.EndTxn("t1", pe.ProducerID, pe.Epoch, true))
		for range 3 {
			synctest.Wait()
			assert.Equal(t, PrepareCommit, describe(t, h.c, "t1").State)
			assert.Equal(t, PrepareCommit, last(h.loggedStates(t, "t1")), "no completion in the log before every marker")
			_, ok := h.offsets.get("g", TopicPartition{"in", 0})
			assert.False(t, ok, "offsets wait for the markers")
			assert.ErrorIs(t, h.c.EndTxn("t1", pe.ProducerID, pe.Epoch, true), kerr.ConcurrentTransactions)
			time.Sleep(h.c.cfg.MarkerRetryBackoff)
		}
		synctest.Wait()
		assert.Equal(t, CompleteCommit, describe(t, h.c, "t1").State)
		assert.Equal(t, CompleteCommit, last(h.loggedStates(t, "t1")))
		assert.Equal(t, []marker{{tpA0, 1000, 0, true}, {tpB0, 1000, 0, true}}, h.markers.list())
		_, ok := h.offsets.get("g", TopicPartition{"in", 0})
		assert.True(t, ok)
		assert.NoError(t, h.c.EndTxn("t1", pe.ProducerID, pe.Epoch, true), "a retried EndTxn after completion succeeds")
	})
}

// TestOffsetCommitFailureRetried: CompleteCommit waits for the offsets too.
func TestOffsetCommitFailureRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.offsets.failN = 2
		pe := begin(t, h.c, "t1", tpA0)
		require.NoError(t, h.c.AddOffsetsToTxn("t1", pe.ProducerID, pe.Epoch, "g"))
		require.NoError(t, h.c.TxnOffsetCommit(TxnOffsetCommitRequest{TransactionalID: "t1", ProducerID: pe.ProducerID, Epoch: pe.Epoch, Group: "g"},
			[]TxnOffset{{Topic: "in", Partition: 0, Offset: 5, LeaderEpoch: -1}}))
		require.NoError(t, h.c.EndTxn("t1", pe.ProducerID, pe.Epoch, true))
		synctest.Wait()
		assert.Equal(t, PrepareCommit, describe(t, h.c, "t1").State)
		time.Sleep(2 * h.c.cfg.MarkerRetryBackoff)
		synctest.Wait()
		assert.Equal(t, CompleteCommit, describe(t, h.c, "t1").State)
		assert.Equal(t, 1, h.offsets.commits)
	})
}

// TestDeletedPartitionSkipped: a partition deleted during the transaction
// does not block its completion.
func TestDeletedPartitionSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		pe := begin(t, h.c, "t1", tpA0, tpB0)
		h.parts.remove(tpB0)
		require.NoError(t, h.c.EndTxn("t1", pe.ProducerID, pe.Epoch, false))
		synctest.Wait()
		assert.Equal(t, CompleteAbort, describe(t, h.c, "t1").State)
		assert.Equal(t, []marker{{tpA0, 1000, 0, false}}, h.markers.list())
	})
}

func last[T any](s []T) T {
	var zero T
	if len(s) == 0 {
		return zero
	}
	return s[len(s)-1]
}

// TestTornTail cuts the log inside its last frame and flips a byte of a
// frame: the coordinator comes back with the state before it.
func TestTornTail(t *testing.T) {
	for _, damage := range []string{"torn", "corrupt"} {
		t.Run(damage, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				pe := h.init(t, NoProducer)
				st, err := os.Stat(h.logPath())
				require.NoError(t, err)
				good := st.Size()
				for _, err := range h.c.AddPartitions("t1", pe.ProducerID, pe.Epoch, []TopicPartition{tpA0}) {
					require.NoError(t, err)
				}
				closeCoord(t, h.c)

				data, err := os.ReadFile(h.logPath())
				require.NoError(t, err)
				if damage == "torn" {
					data = data[:len(data)-3]
				} else {
					data[len(data)-3] ^= 0xff
				}
				require.NoError(t, os.WriteFile(h.logPath(), data, 0o644))

				c := h.open(t)
				d := describe(t, c, "t1")
				assert.Equal(t, Empty, d.State)
				assert.Equal(t, pe.Epoch, d.ProducerEpoch)
				st, err = os.Stat(h.logPath())
				require.NoError(t, err)
				assert.Equal(t, good, st.Size(), "the bad tail is truncated")
				// Appends go on after the truncation and survive a restart.
				for _, err := range c.AddPartitions("t1", pe.ProducerID, pe.Epoch, []TopicPartition{tpB0}) {
					require.NoError(t, err)
				}
				closeCoord(t, c)
				c = h.open(t)
				assert.Equal(t, []TopicPartition{tpB0}, describe(t, c, "t1").Partitions)
			})
		})
	}
}

func TestForeignFileRefused(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, os.WriteFile(e.logPath(), []byte("not a transaction log at all"), 0o644))
	_, err := New(e.config())
	assert.ErrorIs(t, err, errCorrupt)
}

// TestCompaction: a log of many transitions is rewritten with only the
// live state, and a restart sees the same transactions.
func TestCompaction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.c.store.compactMin = 4096
		for i := range 200 {
			pe := begin(t, h.c, "t1", tpA0, tpA1)
			require.NoError(t, h.c.AddOffsetsToTxn("t1", pe.ProducerID, pe.Epoch, "g1"))
			require.NoError(t, h.c.TxnOffsetCommit(TxnOffsetCommitRequest{TransactionalID: "t1", ProducerID: pe.ProducerID, Epoch: pe.Epoch, Group: "g1"},
				[]TxnOffset{{Topic: "in", Partition: 0, Offset: int64(i), LeaderEpoch: -1}}))
			require.NoError(t, h.c.EndTxn("t1", pe.ProducerID, pe.Epoch, true))
			synctest.Wait()
		}
		pe := begin(t, h.c, "t2", tpB0)
		require.NoError(t, h.c.AddOffsetsToTxn("t2", pe.ProducerID, pe.Epoch, "g"))
		require.NoError(t, h.c.TxnOffsetCommit(TxnOffsetCommitRequest{TransactionalID: "t2", ProducerID: pe.ProducerID, Epoch: pe.Epoch, Group: "g"},
			[]TxnOffset{{Topic: "in", Partition: 0, Offset: 9, LeaderEpoch: -1}}))
		st, err := os.Stat(h.logPath())
		require.NoError(t, err)
		assert.Less(t, st.Size(), int64(4096*2), "the log was compacted")
		want := h.c.Describe([]string{"t1", "t2"})
		closeCoord(t, h.c)

		c := h.open(t)
		assert.Equal(t, want, c.Describe([]string{"t1", "t2"}))
		assert.True(t, c.PendingOffsets("g", "in", 0), "compaction keeps the staged offsets of an open transaction")
		assert.False(t, c.PendingOffsets("g1", "in", 0), "compaction drops the offsets of completed transactions")
		require.NoError(t, c.EndTxn("t2", pe.ProducerID, pe.Epoch, true))
		synctest.Wait()
		got, ok := h.offsets.get("g", TopicPartition{"in", 0})
		assert.True(t, ok)
		assert.Equal(t, int64(9), got)
	})
}

func TestCloseTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		closeCoord(t, h.c)
		assert.ErrorIs(t, h.c.Close(context.Background()), ErrClosed)
		_, err := h.c.InitProducerID("t1", txnTimeout, NoProducer)
		assert.ErrorIs(t, err, ErrClosed)
	})
}

// TestCrashedCompactionLeftover: a compaction that crashed before its
// rename leaves a .compact file; the original log is complete and wins.
func TestCrashedCompactionLeftover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		pe := begin(t, h.c, "t1", tpA0)
		closeCoord(t, h.c)
		require.NoError(t, os.WriteFile(h.logPath()+".compact", []byte(logMagic+"half a frame"), 0o644))
		c := h.open(t)
		d := describe(t, c, "t1")
		assert.Equal(t, Ongoing, d.State)
		assert.Equal(t, pe.Epoch, d.ProducerEpoch)
		_, err := os.Stat(h.logPath() + ".compact")
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}

// TestTornMagic: a crash while the magic of a new log was written leaves a
// prefix of it, which is a new, empty log rather than a foreign file.
func TestTornMagic(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, os.WriteFile(e.logPath(), []byte(logMagic[:3]), 0o644))
	c := e.open(t)
	_, err := c.InitProducerID("t1", txnTimeout, NoProducer)
	require.NoError(t, err)
	closeCoord(t, c)
	c = e.open(t)
	assert.Equal(t, Empty, describe(t, c, "t1").State)
}
