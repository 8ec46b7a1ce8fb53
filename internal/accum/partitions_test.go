package accum

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGrowParts(t *testing.T) {
	p := &partition[*int]{}
	roomy := make([]*partition[*int], 2, 8)
	for _, tc := range []struct {
		name      string
		parts     []*partition[*int]
		id        int32
		wantLen   int
		sameArray bool
	}{
		{"empty", nil, 0, 1, false},
		{"past the end, within capacity: in place", roomy, 5, 6, true},
		{"past capacity: doubles", roomy[:8], 8, 9, false},
		{"a gap inside: copies", []*partition[*int]{p, nil, p}, 1, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := growParts(tc.parts, tc.id)
			require.Len(t, got, tc.wantLen)
			if tc.sameArray {
				assert.Same(t, &tc.parts[:cap(tc.parts)][0], &got[0])
			} else if len(tc.parts) > 0 {
				assert.NotSame(t, &tc.parts[:cap(tc.parts)][0], &got[0])
				assert.Equal(t, tc.parts, got[:len(tc.parts)])
			}
			if tc.name == "past capacity: doubles" {
				assert.Equal(t, 16, cap(got))
			}
		})
	}
}

// TestPartitionForConcurrent creates 1,000 partitions in random order
// while other goroutines look up the ones already made (the lock-free
// path): under -race, growing the snapshots in place must not race with
// their readers, and every partition must be found, once.
func TestPartitionForConcurrent(t *testing.T) {
	a := newAcc(t, Config{})
	const n = 1000
	ids := rand.Perm(n)
	made := make(chan int32, n)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(made)
		for _, id := range ids {
			a.partitionFor("t", int32(id))
			made <- int32(id)
		}
	})
	seen := make([][]int32, 3)
	for r := range seen {
		wg.Go(func() {
			for id := range made {
				seen[r] = append(seen[r], id)
				// Probe ids not made yet too, as lock-free readers do
				// (a gap written in place would race with this).
				if tp := (*a.topics.Load())["t"]; tp != nil {
					for probe := int32(0); probe < n; probe += 7 {
						if p := tp.get(probe); p != nil && p.id != probe {
							t.Errorf("slot %d holds partition %d", probe, p.id)
							return
						}
					}
				}
				for _, old := range seen[r] {
					if p := a.partitionFor("t", old); p == nil || p.id != old {
						t.Errorf("partition %d: got %v", old, p)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	all := *a.all.Load()
	require.Len(t, all, n)
	byID := map[int32]*partition[*int]{}
	for _, p := range all {
		byID[p.id] = p
	}
	require.Len(t, byID, n, "each partition made once")
	for id, p := range byID {
		assert.Same(t, p, a.partitionFor("t", id))
	}
}
