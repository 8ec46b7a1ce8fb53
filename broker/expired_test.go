package broker

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/purgatory"
)

// stuckOp is a parked op whose expiry blocks, like a fetch whose read hangs
// on a slow disk.
type stuckOp struct {
	entered, release chan struct{}
}

func (o *stuckOp) TryComplete() bool { return false }
func (o *stuckOp) OnComplete()       {}
func (o *stuckOp) OnExpire() {
	close(o.entered)
	<-o.release
}

// TestExpiryRunsOnWorkers: an expiring op's completion runs on an I/O
// worker, not on the purgatory's timer goroutine: while one expiry is stuck
// (in its read), a parked fetch still expires at its max wait and is
// answered. With expiries on the timer goroutine, the stuck one held every
// other deadline behind it.
func TestExpiryRunsOnWorkers(t *testing.T) {
	b := startBroker(t, Config{NumIOThreads: 2})
	require.NoError(t, b.CreateTopic("t", 1, nil))

	stuck := &stuckOp{entered: make(chan struct{}), release: make(chan struct{})}
	var once sync.Once
	unstick := func() { once.Do(func() { close(stuck.release) }) }
	t.Cleanup(unstick) // before the broker's Close, which waits for its workers
	b.purg.Watch([]purgatory.Key{{Topic: "t", Partition: 0}}, stuck, time.Now())
	select {
	case <-stuck.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the stuck op never expired")
	}

	rc := dialRaw(t, b)
	start := time.Now()
	resp := rc.roundTrip(fetchReq("t", 0, 1<<20, 50), 12).(*kmsg.FetchResponse)
	assert.Zero(t, resp.Topics[0].Partitions[0].ErrorCode)
	assert.Empty(t, resp.Topics[0].Partitions[0].RecordBatches)
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "answered at its max wait")
	unstick()
}
