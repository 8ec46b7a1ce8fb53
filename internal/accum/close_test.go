package accum

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCloseRacingNewBatches: appends opening batches all the time while
// Close runs; every record an Append accepted is in a batch Incomplete
// lists once Close returned (beginOpen's atomics, not a lock, order the
// two).
func TestCloseRacingNewBatches(t *testing.T) {
	for round := range 20 {
		a := newAcc(t, Config{BatchSize: 128, Linger: time.Hour, BufferMemory: 64 << 20})
		var accepted atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range 4 {
			wg.Go(func() {
				<-start
				for i := 0; ; i++ {
					if err := a.Append(context.Background(), "t", int32(g), rec(i, nil)); err != nil {
						require.ErrorIs(t, err, ErrClosed)
						return
					}
					accepted.Add(1)
				}
			})
		}
		close(start)
		// Close at a different point of the appends each round: after
		// round*50 of them were accepted, so it always races running
		// appends (not a wait that hopes for them to have started).
		for accepted.Load() < int64(round*50) {
			runtime.Gosched()
		}
		a.Close()
		batches := a.Incomplete(nil)
		wg.Wait() // appends into batches open before Close may finish
		listed := 0
		for _, b := range batches {
			listed += b.NumRecords()
		}
		require.Equal(t, int(accepted.Load()), listed, "round %d: every accepted record is in a listed batch", round)
	}
}
