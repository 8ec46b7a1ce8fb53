package accumulator_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/skiffkit/skiff/accumulator"
)

// Ack is what this sender tells a record's callback: where it landed.
type Ack struct {
	Partition int32
	Offset    int64
}

// A sender loop in miniature: append with typed callbacks, ask who is
// ready, drain a request's worth, answer the callbacks and release.
func Example() {
	acc, err := accumulator.New[Ack](accumulator.Config{
		Linger: 10 * time.Millisecond,
		Leader: func(topic string, partition int32) (int32, bool) { return 1, true }, // from metadata
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 {
		rec := &accumulator.Record[Ack]{
			Timestamp: time.Now().UnixMilli(),
			Value:     fmt.Appendf(nil, "v%d", i),
			Callback: func(a Ack, err error) {
				fmt.Printf("record %d: partition %d offset %d, err %v\n", i, a.Partition, a.Offset, err)
			},
		}
		if err := acc.Append(ctx, "orders", 0, rec); err != nil {
			log.Fatal(err)
		}
	}
	nodes, next, _ := acc.Ready(time.Now(), nil)
	// The wake-up comes a little after linger.ms, so one wake-up gathers
	// the partitions whose lingers end close together.
	fmt.Println("ready now:", len(nodes), "- ask again within 11ms:", time.Until(next) <= 11*time.Millisecond)

	// Once linger.ms passed, the partition's batch is ready.
	later := time.Now().Add(10 * time.Millisecond)
	nodes, _, _ = acc.Ready(later, nil)
	for _, node := range nodes {
		for _, b := range acc.Drain(node, 1<<20, later, nil) {
			// Send b.Records() to node in a Produce request; say the
			// broker answers with base offset 40.
			const baseOffset = 40
			for p := range b.Pending() {
				p.Callback(Ack{Partition: b.Partition(), Offset: baseOffset + int64(p.OffsetDelta)}, nil)
			}
			acc.Release(b)
		}
	}
	fmt.Println("memory in use:", acc.MemoryUsed())
	// Output:
	// ready now: 0 - ask again within 11ms: true
	// record 0: partition 0 offset 40, err <nil>
	// record 1: partition 0 offset 41, err <nil>
	// record 2: partition 0 offset 42, err <nil>
	// memory in use: 0
}
