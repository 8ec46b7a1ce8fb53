package txncoord

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// isClosed reports whether ch is closed, without waiting.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestCompleting: the channel of a Prepare* transaction closes exactly
// when its completion is logged (markers failing keep it open), is nil
// outside Prepare*, and closes on Close for a transaction that never
// completes.
func TestCompleting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		assert.Nil(t, h.c.Completing("t1"), "unknown id")
		pe := begin(t, h.c, "t1", tpA0, tpB0)
		assert.Nil(t, h.c.Completing("t1"), "Ongoing")

		h.markers.failN[tpB0] = 2
		require.NoError(t, h.c.EndTxn("t1", pe.ProducerID, pe.Epoch, true))
		done := h.c.Completing("t1")
		require.NotNil(t, done, "PrepareCommit")
		assert.Equal(t, done, h.c.Completing("t1"), "one channel per completion")
		for range 2 {
			synctest.Wait()
			assert.False(t, isClosed(done), "a marker is still failing")
			time.Sleep(h.c.cfg.MarkerRetryBackoff)
		}
		synctest.Wait()
		assert.True(t, isClosed(done))
		assert.Equal(t, CompleteCommit, describe(t, h.c, "t1").State, "closed once CompleteCommit is logged")
		assert.Nil(t, h.c.Completing("t1"), "CompleteCommit")

		// The next transaction may begin at once.
		for _, err := range h.c.AddPartitions("t1", pe.ProducerID, pe.Epoch, []TopicPartition{tpA0}) {
			assert.NoError(t, err)
		}

		// A completion that never ends (every marker fails) is released
		// by Close.
		h.markers.setFailAll(true)
		require.NoError(t, h.c.EndTxn("t1", pe.ProducerID, pe.Epoch, false))
		done = h.c.Completing("t1")
		require.NotNil(t, done, "PrepareAbort")
		synctest.Wait()
		assert.False(t, isClosed(done))
		closeCoord(t, h.c)
		assert.True(t, isClosed(done))
	})
}

// barrierMarkers holds every marker write until the test releases them,
// recording which partitions are being written meanwhile.
type barrierMarkers struct {
	*markers
	arrived chan TopicPartition
	release chan struct{}
}

func (m *barrierMarkers) WriteMarker(topic string, partition int32, producerID int64, epoch int16, coordEpoch int32, commit bool) error {
	m.arrived <- TopicPartition{topic, partition}
	<-m.release
	return m.markers.WriteMarker(topic, partition, producerID, epoch, coordEpoch, commit)
}

// TestMarkersWrittenConcurrently: the markers of a transaction's
// partitions are all in flight at once (each is an fsync in the broker),
// so a completion costs one marker write, not one per partition.
func TestMarkersWrittenConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		bm := &barrierMarkers{markers: e.markers, arrived: make(chan TopicPartition, 3), release: make(chan struct{})}
		cfg := e.config()
		cfg.Markers = bm
		c, err := New(cfg)
		require.NoError(t, err)
		pe := begin(t, c, "t1", tpA0, tpA1, tpB0)
		require.NoError(t, c.EndTxn("t1", pe.ProducerID, pe.Epoch, true))
		synctest.Wait()
		assert.Len(t, bm.arrived, 3, "every partition's marker is being written at once")
		close(bm.release)
		synctest.Wait()
		assert.Equal(t, CompleteCommit, describe(t, c, "t1").State)
		assert.ElementsMatch(t, []marker{{tpA0, 1000, 0, true}, {tpA1, 1000, 0, true}, {tpB0, 1000, 0, true}}, e.markers.list())
		closeCoord(t, c)
	})
}
