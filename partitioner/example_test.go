package partitioner_test

import (
	"fmt"

	"github.com/skiffkit/skiff/partitioner"
)

// The same key lands on the same partition as with the Java client.
func ExampleKeyPartition() {
	fmt.Println(partitioner.Murmur2([]byte("foobar")))
	fmt.Println(partitioner.KeyPartition([]byte("foobar"), 12))
	// Output:
	// -790332482
	// 6
}

// The producer calls PartitionSized with each record's encoded size when
// the partitioner implements SizeAware.
func ExampleStickyPartitioner() {
	p, err := partitioner.NewSticky(partitioner.StickyConfig{BatchSize: 1000})
	if err != nil {
		panic(err)
	}
	first := p.PartitionSized("events", nil, 400, 6)
	second := p.PartitionSized("events", nil, 400, 6)
	fmt.Println(first == second) // 800 bytes: still under batch.size

	keyed := p.PartitionSized("events", []byte("user-42"), 400, 6)
	fmt.Println(keyed == partitioner.KeyPartition([]byte("user-42"), 6))
	// Output:
	// true
	// true
}

func ExamplePartitionerFunc() {
	// Send everything for "audit" to partition 0, hash the rest.
	hash := partitioner.Hash()
	p := partitioner.PartitionerFunc(func(topic string, key []byte, n int32) int32 {
		if topic == "audit" {
			return 0
		}
		return hash.Partition(topic, key, n)
	})
	fmt.Println(p.Partition("audit", []byte("x"), 8))
	fmt.Println(p.Partition("orders", []byte("foobar"), 12))
	// Output:
	// 0
	// 6
}
