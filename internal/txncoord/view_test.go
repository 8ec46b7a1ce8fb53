package txncoord

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/kerr"
)

func TestDescribeTransactions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		start := time.Now().UnixMilli()
		pe := begin(t, h.c, "t1", tpB0, tpA0)
		require.NoError(t, h.c.AddOffsetsToTxn("t1", pe.ProducerID, pe.Epoch, "g"))
		d := h.c.Describe([]string{"t1", "nope"})
		assert.Equal(t, Description{
			TransactionalID: "t1", State: Ongoing, ProducerID: 1000, ProducerEpoch: 0,
			Timeout: txnTimeout, StartMs: start,
			Partitions: []TopicPartition{tpA0, tpB0}, Groups: []string{"g"},
		}, d[0])
		assert.ErrorIs(t, d[1].Err, kerr.TransactionalIDNotFound)
		assert.Equal(t, "Ongoing", d[0].State.String())
	})
}

func TestListTransactions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		begin(t, h.c, "a", tpA0)
		time.Sleep(time.Second)
		begin(t, h.c, "b")
		pc := begin(t, h.c, "c", tpB0)
		require.NoError(t, h.c.EndTxn("c", pc.ProducerID, pc.Epoch, true))
		synctest.Wait()

		cases := []struct {
			name    string
			f       ListFilter
			want    []string
			unknown []string
		}{
			{name: "all", want: []string{"a", "b", "c"}},
			{name: "by state", f: ListFilter{States: []string{"Ongoing", "Empty"}}, want: []string{"a", "b"}},
			{name: "unknown state", f: ListFilter{States: []string{"Bogus", "CompleteCommit"}}, want: []string{"c"}, unknown: []string{"Bogus"}},
			{name: "only unknown states", f: ListFilter{States: []string{"Bogus"}}, unknown: []string{"Bogus"}},
			{name: "by producer id", f: ListFilter{ProducerIDs: []int64{pc.ProducerID}}, want: []string{"c"}},
			{name: "by duration", f: ListFilter{MinDuration: time.Second, States: []string{"Ongoing"}}, want: []string{"a"}},
		}
		// t.Run cannot be called inside a synctest bubble.
		for _, tc := range cases {
			got, unknown := h.c.List(tc.f)
			var ids []string
			for _, l := range got {
				ids = append(ids, l.TransactionalID)
			}
			assert.Equal(t, tc.want, ids, tc.name)
			assert.Equal(t, tc.unknown, unknown, tc.name)
		}
	})
}

func TestVerifyProduce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		pe := begin(t, h.c, "t1", tpA0)
		assert.NoError(t, h.c.VerifyProduce(pe.ProducerID, pe.Epoch, tpA0))
		assert.ErrorIs(t, h.c.VerifyProduce(pe.ProducerID, pe.Epoch, tpA1), kerr.InvalidTxnState, "a partition never added")
		assert.ErrorIs(t, h.c.VerifyProduce(77, 0, tpA0), kerr.InvalidTxnState, "an unknown producer")
		assert.ErrorIs(t, h.c.VerifyProduce(pe.ProducerID, pe.Epoch+1, tpA0), kerr.InvalidTxnState)
		require.NoError(t, h.c.EndTxn("t1", pe.ProducerID, pe.Epoch, true))
		synctest.Wait()
		assert.ErrorIs(t, h.c.VerifyProduce(pe.ProducerID, pe.Epoch, tpA0), kerr.InvalidTxnState, "after the commit")
	})
}

func TestConfigValidate(t *testing.T) {
	_, err := New(Config{MaxTimeout: -1})
	require.Error(t, err)
	for _, want := range []string{"DataDir", "ProducerIDs", "Partitions", "Markers", "Offsets", "MaxTimeout"} {
		assert.ErrorContains(t, err, want)
	}
}

func TestStateNames(t *testing.T) {
	for s := Empty; s <= PrepareEpochFence; s++ {
		got, ok := ParseState(s.String())
		assert.True(t, ok)
		assert.Equal(t, s, got)
	}
	assert.Equal(t, "Unknown", State(42).String())
}
