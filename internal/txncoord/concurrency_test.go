package txncoord

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/kerr"
)

// TestConcurrentTransactions runs transactions on several ids at once, and
// races two producers on one id, with -race watching the lock that transit
// drops for each append. A restart must then see what the goroutines saw.
func TestConcurrentTransactions(t *testing.T) {
	e := newEnv(t)
	c := e.open(t)
	const ids, rounds = 6, 15
	var wg sync.WaitGroup
	for i := range ids {
		id := fmt.Sprintf("tx-%d", i)
		wg.Go(func() {
			pe, err := c.InitProducerID(id, txnTimeout, NoProducer)
			if !assert.NoError(t, err) {
				return
			}
			for r := range rounds {
				tp := []TopicPartition{tpA0, tpA1, tpB0}[r%3]
				for _, err := range c.AddPartitions(id, pe.ProducerID, pe.Epoch, []TopicPartition{tp}) {
					assert.NoError(t, err)
				}
				assert.NoError(t, c.EndTxn(id, pe.ProducerID, pe.Epoch, r%2 == 0))
				// Wait for the completion as a client does: retry while
				// CONCURRENT_TRANSACTIONS.
				waitEnded(t, c, id)
			}
		})
	}
	// Two producers fight over one id: every call ends in success, a fence
	// or CONCURRENT_TRANSACTIONS, never anything else.
	for range 2 {
		wg.Go(func() {
			for range rounds {
				pe, err := c.InitProducerID("shared", txnTimeout, NoProducer)
				if errors.Is(err, kerr.ConcurrentTransactions) {
					continue
				}
				if !assert.NoError(t, err) {
					return
				}
				errs := c.AddPartitions("shared", pe.ProducerID, pe.Epoch, []TopicPartition{tpA0})
				if errs[0] == nil {
					errs[0] = c.EndTxn("shared", pe.ProducerID, pe.Epoch, true)
				}
				if errs[0] != nil && !errors.Is(errs[0], kerr.ProducerFenced) && !errors.Is(errs[0], kerr.ConcurrentTransactions) {
					t.Errorf("shared: %v", errs[0])
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			c.List(ListFilter{})
			c.Describe([]string{"tx-0", "shared"})
		}
	})
	wg.Wait()

	for i := range ids {
		waitEnded(t, c, fmt.Sprintf("tx-%d", i))
	}
	waitEnded(t, c, "shared")
	all := make([]string, 0, ids+1)
	for i := range ids {
		all = append(all, fmt.Sprintf("tx-%d", i))
	}
	all = append(all, "shared")
	want := c.Describe(all)
	for _, d := range want[:ids] {
		assert.Equal(t, CompleteCommit, d.State, d.TransactionalID) // the last round (14) commits
	}
	closeCoord(t, c)
	c = e.open(t)
	assert.Equal(t, want, c.Describe(all))
	// Every round wrote exactly one marker per id.
	perID := make(map[int64]int)
	for _, m := range e.markers.list() {
		perID[m.producerID]++
	}
	for _, d := range want[:ids] {
		assert.Equal(t, rounds, perID[d.ProducerID], d.TransactionalID)
	}
}

// waitEnded waits for id's transaction to leave Prepare*. It polls because
// a completing transaction has no event a client could wait on either; the
// deadline keeps a hang from stalling the suite.
func waitEnded(t testing.TB, c *Coordinator, id string) {
	t.Helper()
	require.Eventually(t, func() bool {
		d := c.Describe([]string{id})[0]
		return d.Err == nil && d.State != PrepareCommit && d.State != PrepareAbort && d.State != PrepareEpochFence
	}, 10*time.Second, time.Millisecond)
}
