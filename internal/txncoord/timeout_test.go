package txncoord

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/kerr"
)

// TestTimeoutAbortsAndFences: transaction.timeout.ms aborts on its own and
// bumps the epoch, so the producer that left it open is fenced everywhere.
func TestTimeoutAbortsAndFences(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		pe := begin(t, h.c, "t1", tpA0)
		require.NoError(t, h.c.AddOffsetsToTxn("t1", pe.ProducerID, pe.Epoch, "g"))
		require.NoError(t, h.c.TxnOffsetCommit(TxnOffsetCommitRequest{TransactionalID: "t1", ProducerID: pe.ProducerID, Epoch: pe.Epoch, Group: "g"},
			[]TxnOffset{{Topic: "in", Partition: 0, Offset: 1, LeaderEpoch: -1}}))

		// Not before the timeout, even across several checks.
		time.Sleep(txnTimeout - time.Millisecond)
		synctest.Wait()
		require.Equal(t, Ongoing, describe(t, h.c, "t1").State)
		require.Empty(t, h.markers.list())

		time.Sleep(h.c.cfg.AbortCheckInterval + time.Millisecond)
		synctest.Wait()
		d := describe(t, h.c, "t1")
		assert.Equal(t, CompleteAbort, d.State)
		assert.Equal(t, pe.Epoch+1, d.ProducerEpoch)
		assert.Equal(t, []marker{{tpA0, pe.ProducerID, pe.Epoch + 1, false}}, h.markers.list(), "the abort marker carries the bumped epoch")
		_, ok := h.offsets.get("g", TopicPartition{"in", 0})
		assert.False(t, ok, "aborted offsets never become visible")

		// The zombie is fenced for everything.
		assert.ErrorIs(t, h.c.EndTxn("t1", pe.ProducerID, pe.Epoch, true), kerr.ProducerFenced)
		assert.ErrorIs(t, h.c.AddPartitions("t1", pe.ProducerID, pe.Epoch, []TopicPartition{tpA0})[0], kerr.ProducerFenced)
		assert.ErrorIs(t, h.c.AddOffsetsToTxn("t1", pe.ProducerID, pe.Epoch, "g"), kerr.ProducerFenced)
		assert.ErrorIs(t, h.c.VerifyProduce(pe.ProducerID, pe.Epoch, tpA0), kerr.InvalidProducerEpoch)
		_, err := h.c.InitProducerID("t1", txnTimeout, pe)
		assert.ErrorIs(t, err, kerr.ProducerFenced, "a KIP-360 bump from the zombie's epoch")

		// A new producer goes on with the next epoch.
		pe2, err := h.c.InitProducerID("t1", txnTimeout, NoProducer)
		require.NoError(t, err)
		assert.Equal(t, pe.Epoch+2, pe2.Epoch)
	})
}

// TestTimeoutLogFailureRetried: an abort whose log write fails leaves the
// transaction Ongoing with its old epoch, and the next check aborts it.
func TestTimeoutLogFailureRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		pe := begin(t, h.c, "t1", tpA0)
		h.c.store.setFailWrite(assert.AnError)
		time.Sleep(txnTimeout + h.c.cfg.AbortCheckInterval)
		synctest.Wait()
		d := describe(t, h.c, "t1")
		assert.Equal(t, Ongoing, d.State)
		assert.Equal(t, pe.Epoch, d.ProducerEpoch)
		h.c.store.setFailWrite(nil)
		time.Sleep(h.c.cfg.AbortCheckInterval)
		synctest.Wait()
		assert.Equal(t, CompleteAbort, describe(t, h.c, "t1").State)
	})
}

// TestFencingByNewProducer: a second producer's InitProducerId aborts the
// first one's transaction, whose commit then fails.
func TestFencingByNewProducer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		old := begin(t, h.c, "t1", tpA0, tpA1)
		_, err := h.c.InitProducerID("t1", txnTimeout, NoProducer)
		require.ErrorIs(t, err, kerr.ConcurrentTransactions)
		assert.ErrorIs(t, h.c.EndTxn("t1", old.ProducerID, old.Epoch, true), kerr.ProducerFenced)
		synctest.Wait()
		fresh, err := h.c.InitProducerID("t1", txnTimeout, NoProducer)
		require.NoError(t, err)
		assert.Equal(t, ProducerIDEpoch{old.ProducerID, old.Epoch + 2}, fresh)
		assert.ElementsMatch(t, []marker{{tpA0, 1000, 1, false}, {tpA1, 1000, 1, false}}, h.markers.list(), "written concurrently")
		assert.ErrorIs(t, h.c.EndTxn("t1", old.ProducerID, old.Epoch, false), kerr.ProducerFenced)
	})
}

// TestIDExpiration: an idle transactional id is forgotten, durably; a
// recently used one is not.
func TestIDExpiration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.init(t, NoProducer)
		time.Sleep(h.c.cfg.IDExpiration + h.c.cfg.IDExpirationCheckInterval)
		_, err := h.c.InitProducerID("fresh", txnTimeout, NoProducer)
		require.NoError(t, err)
		synctest.Wait()
		d := h.c.Describe([]string{"t1", "fresh"})
		assert.ErrorIs(t, d[0].Err, kerr.TransactionalIDNotFound)
		assert.NoError(t, d[1].Err)
		closeCoord(t, h.c)
		c := h.open(t)
		assert.ErrorIs(t, c.Describe([]string{"t1"})[0].Err, kerr.TransactionalIDNotFound, "the tombstone is durable")
		pe, err := c.InitProducerID("t1", txnTimeout, NoProducer)
		require.NoError(t, err)
		assert.Equal(t, int16(0), pe.Epoch, "an expired id starts over")
		assert.NotEqual(t, int64(1000), pe.ProducerID)
	})
}

func TestIDExpirationKeepsOpenTransactions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		cfg := e.config()
		cfg.MarkerRetryBackoff = time.Hour
		c, err := New(cfg)
		require.NoError(t, err)
		t.Cleanup(func() { closeCoord(t, c) })
		e.markers.setFailAll(true)
		pe := begin(t, c, "t1", tpA0)
		require.NoError(t, c.EndTxn("t1", pe.ProducerID, pe.Epoch, true))
		time.Sleep(c.cfg.IDExpiration + c.cfg.IDExpirationCheckInterval)
		synctest.Wait()
		assert.Equal(t, PrepareCommit, describe(t, c, "t1").State, "a completing transaction is never forgotten")
	})
}
