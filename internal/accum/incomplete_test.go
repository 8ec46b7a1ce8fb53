package accum

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestIncompleteList: batches leave the list from anywhere, once, and the
// rest keep their order.
func TestIncompleteList(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remove []int // indexes of the batches removed, in order
		want   []int
	}{
		{"none", nil, []int{0, 1, 2, 3}},
		{"head", []int{0}, []int{1, 2, 3}},
		{"middle", []int{2}, []int{0, 1, 3}},
		{"tail, then the new tail", []int{3, 2}, []int{0, 1}},
		{"twice", []int{1, 1}, []int{0, 2, 3}},
		{"all", []int{1, 3, 0, 2}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l incompleteList[*int]
			bs := make([]*Batch[*int], 4)
			for i := range bs {
				bs[i] = &Batch[*int]{recordsN: i}
				l.add(bs[i])
			}
			l.add(bs[0]) // already in: no change
			for _, i := range tc.remove {
				l.remove(bs[i])
			}
			var got []int
			for b := l.head; b != nil; b = b.inc.next {
				got = append(got, b.recordsN)
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, len(tc.want), l.n)
			var back []int
			for b := l.tail; b != nil; b = b.inc.prev {
				back = append([]int{b.recordsN}, back...)
			}
			assert.Equal(t, tc.want, back, "the links back agree")
			l.remove(bs[0])
			l.add(bs[0])
			assert.Same(t, bs[0], l.tail, "a removed batch can be added again")
		})
	}
}
