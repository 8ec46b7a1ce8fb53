package broker

import (
	"sync"
	"sync/atomic"
)

// storageParallelism bounds the per-partition storage work of one step
// (an fsync round, opening a new topic's logs, closing them all) that runs
// at once. Each blocked fsync or file creation holds an OS thread: one
// goroutine per partition made a broker with 1,000 busy partitions grow to
// 800 threads every second. The filesystem journal serialises much of
// that work anyway; a few at a time let a slow one overlap the others.
const storageParallelism = 8

// forEachPartition runs do(i) for i in [0, n), storageParallelism at a
// time, and returns when all are done.
func forEachPartition(n int, do func(i int)) {
	var (
		wg   sync.WaitGroup
		next atomic.Int64
	)
	for range min(n, storageParallelism) {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				do(int(i))
			}
		})
	}
	wg.Wait()
}
