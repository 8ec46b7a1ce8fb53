package accumulator_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/skiffkit/skiff/accumulator"
)

// The producer's sender loop in miniature: append, ask who is ready,
// drain a request's worth, and complete the batches.
func Example() {
	acc, err := accumulator.New(accumulator.Config{
		Linger: 10 * time.Millisecond,
		Leader: func(topic string, partition int32) (int32, bool) { return 1, true }, // from metadata
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 {
		rec := &accumulator.Record{Timestamp: time.Now().UnixMilli(), Value: fmt.Appendf(nil, "v%d", i), Callback: i}
		if err := acc.Append(ctx, "orders", 0, rec); err != nil {
			log.Fatal(err)
		}
	}
	nodes, next, _ := acc.Ready(time.Now(), nil)
	fmt.Println("ready now:", len(nodes), "- wake again in <= 10ms:", time.Until(next) <= 10*time.Millisecond)

	acc.BeginFlush() // or wait for linger
	nodes, _, _ = acc.Ready(time.Now(), nil)
	for _, node := range nodes {
		for _, b := range acc.Drain(node, 1<<20, time.Now(), nil) {
			// b.Records() goes into a Produce request; on the answer:
			acc.Done(b, true)
			for _, p := range b.Pending() {
				fmt.Printf("record %v at base+%d\n", p.Callback, p.OffsetDelta)
			}
			acc.Release(b)
		}
	}
	acc.EndFlush()
	// Output:
	// ready now: 0 - wake again in <= 10ms: true
	// record 0 at base+0
	// record 1 at base+1
	// record 2 at base+2
}
