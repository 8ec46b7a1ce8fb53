package partitioner

import (
	"fmt"
	"testing"
)

// BenchmarkPartition measures one partitioning decision per op, from
// parallel senders as in a busy producer. allocs/op must be 0.
func BenchmarkPartition(b *testing.B) {
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "user-%08d", i)
	}
	cases := []struct {
		name  string
		p     Partitioner
		keyed bool
	}{
		{"default/keyed", Default(), true},
		{"default/keyless", Default(), false},
		{"sticky", Sticky(0), false},
		{"hash/keyed", Hash(), true},
		{"hash/keyless", Hash(), false},
		{"roundrobin", RoundRobin(), false},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			sized, _ := tc.p.(SizeAware)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					var key []byte
					if tc.keyed {
						key = keys[i&1023]
					}
					var part int32
					if sized != nil {
						part = sized.PartitionSized("orders", key, 120, 64)
					} else {
						part = tc.p.Partition("orders", key, 64)
					}
					if part < 0 {
						b.Fatal(part)
					}
					i++
				}
			})
		})
	}
}

func BenchmarkMurmur2(b *testing.B) {
	for _, n := range []int{8, 36, 256} {
		key := make([]byte, n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				_ = Murmur2(key)
			}
		})
	}
}
