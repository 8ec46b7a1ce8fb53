package accum

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReleaseAll: releasing a response's batches together gives back all
// their memory (shrunk or not, compressed or not), completes each, and
// completes a split batch once both its halves are released.
func TestReleaseAll(t *testing.T) {
	const batchSize = 1024
	for _, tc := range []struct {
		name    string
		codec   int8
		records []int // records per partition before the drain
		split   bool  // split partition 0's batch and release its halves together
	}{
		{"small batches, shrunk", 0, []int{1, 2, 3}, false},
		{"full batches keep their buffer", 0, []int{30, 30}, false},
		{"mixed", 0, []int{1, 30, 5}, false},
		{"compressed", 4, []int{1, 30, 5}, false},
		{"split halves", 0, []int{6, 2}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAcc(t, Config{BatchSize: batchSize, Linger: -1, Codec: tc.codec})
			for p, n := range tc.records {
				for i := range n {
					require.NoError(t, a.Append(context.Background(), "t", int32(p), rec(i, tag(i))))
				}
			}
			var bs []*Batch[*int]
			for {
				got := a.Drain(1, 1<<20, time.Now(), nil)
				if len(got) == 0 {
					break
				}
				bs = append(bs, got...)
			}
			require.NotEmpty(t, bs)
			var parent *Batch[*int]
			if tc.split {
				parent = bs[0]
				require.True(t, a.Split(parent, time.Now())) // takes it out of flight
				bs = bs[1:]
			}
			for _, b := range bs {
				a.Done(b, true)
			}
			if tc.split {
				for range 2 { // the second half goes once the first is back
					half := a.Drain(1, 1<<20, time.Now().Add(time.Hour), nil)
					require.Len(t, half, 1)
					a.Done(half[0], true)
					bs = append(bs, half[0])
				}
			}
			a.ReleaseAll(bs)
			for _, b := range bs {
				select {
				case <-b.Done():
				default:
					t.Fatal("a released batch is not done")
				}
			}
			if parent != nil {
				select {
				case <-parent.Done():
				default:
					t.Fatal("the split batch is not done with both halves released")
				}
			}
			assert.Zero(t, a.NumIncomplete())
			assert.Zero(t, a.MemoryUsed())
			assert.Zero(t, a.InFlight())
		})
	}
}
