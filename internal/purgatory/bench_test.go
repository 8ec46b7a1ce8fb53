package purgatory

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkWatchComplete1000 is what a fetch session of 1,000 partitions
// pays to park in the purgatory and leave it while a producer trickles
// records into one partition at a time (bench/fetch-sessions.sh): Watch
// under every key, then a Notify of one key completes it. Each loop is one
// such trickle fetch, with the other 999 keys' registrations left behind.
func BenchmarkWatchComplete1000(b *testing.B) {
	for _, parked := range []int{0, 10} {
		b.Run(fmt.Sprintf("others-parked=%d", parked), func(b *testing.B) {
			p := New()
			defer p.Close()
			keys := make([]Key, 1000)
			for i := range keys {
				keys[i] = Key{Topic: "trickle", Partition: int32(i)}
			}
			// Long-lived fetches of other sessions on the same keys
			// (other consumers), which never complete here.
			for range parked {
				p.Watch(keys, &countOp{}, time.Now().Add(time.Hour))
			}
			deadline := time.Now().Add(time.Minute)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				op := &countOp{}
				p.Watch(keys, op, deadline)
				op.ready.Store(true)
				if p.Notify(keys[i%len(keys)]) != 1 {
					b.Fatal("the trickle fetch did not complete")
				}
				i++
			}
		})
	}
}
