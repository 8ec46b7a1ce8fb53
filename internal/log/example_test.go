package log_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/log"
)

func Example() {
	dir, _ := os.MkdirTemp("", "skiff-log")
	defer os.RemoveAll(dir)

	l, err := log.Open(filepath.Join(dir, "orders-0"), log.Config{})
	if err != nil {
		panic(err)
	}
	// A producer's batch, as it arrives in a Produce request.
	var b batch.Builder
	b.Reset(nil, 1700000000000)
	batch.Append[batch.RecordHeader](&b, 1700000000000, []byte("key"), []byte("hello"), nil)
	batch.Append[batch.RecordHeader](&b, 1700000000001, []byte("key"), []byte("world"), nil)
	produced := append([]byte(nil), b.Finish(batch.Params{ProducerID: 7, ProducerEpoch: 0, BaseSequence: 0, PartitionLeaderEpoch: -1})...)

	info, err := l.Append(append([]byte(nil), produced...), time.Now())
	if err != nil {
		panic(err)
	}
	fmt.Println("appended", info.BaseOffset, "to", info.LastOffset)

	// The producer retries (say, after a timeout): deduplicated.
	retry, _ := l.Append(append([]byte(nil), produced...), time.Now())
	fmt.Println("retry duplicate:", retry.Duplicate, "offset", retry.BaseOffset)

	// acks=all: wait until the append is on disk.
	synced, _ := l.Sync()
	fmt.Println("synced to", synced)

	// Fetch from offset 1: the whole batch holding it comes back.
	data, _ := l.Read(1, 1<<20, nil)
	var dec batch.Decoder
	_ = dec.Records(data, func(_ *batch.Header, r *batch.Record) error {
		fmt.Printf("offset %d: %s\n", r.Offset, r.Value)
		return nil
	})
	if err := l.Close(); err != nil {
		panic(err)
	}
	// Output:
	// appended 0 to 1
	// retry duplicate: true offset 0
	// synced to 2
	// offset 0: hello
	// offset 1: world
}

// A transaction as a partition sees it: the producer's transactional
// batches hold the last stable offset until the coordinator's marker, and
// read_committed fetches learn which transactions were aborted.
func ExampleLog_AppendMarker() {
	dir, _ := os.MkdirTemp("", "skiff-log")
	defer os.RemoveAll(dir)
	l, err := log.Open(filepath.Join(dir, "orders-0"), log.Config{})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	produce := func(value string, seq int32) {
		var b batch.Builder
		b.Reset(nil, 1700000000000)
		batch.Append[batch.RecordHeader](&b, 1700000000000, nil, []byte(value), nil)
		p := batch.Params{ProducerID: 7, ProducerEpoch: 0, BaseSequence: seq, Transactional: true, PartitionLeaderEpoch: -1}
		if _, err := l.Append(append([]byte(nil), b.Finish(p)...), time.Now()); err != nil {
			panic(err)
		}
	}
	produce("first try", 0)
	fmt.Println("end", l.EndOffset(), "LSO", l.LastStableOffset())
	if _, err := l.AppendMarker(log.Marker{ProducerID: 7, ProducerEpoch: 0, CoordinatorEpoch: 0, Commit: false}, time.Now()); err != nil {
		panic(err)
	}
	produce("second try", 1)
	if _, err := l.AppendMarker(log.Marker{ProducerID: 7, ProducerEpoch: 0, CoordinatorEpoch: 0, Commit: true}, time.Now()); err != nil {
		panic(err)
	}
	data, lso, _ := l.ReadCommitted(0, 1<<20, nil)
	aborted, _ := l.AbortedTransactions(0, lso, nil)
	fmt.Println("end", l.EndOffset(), "LSO", lso, "aborted", aborted)
	// A read_committed consumer drops a producer's records from the listed
	// first offset up to its next marker (the ABORT), and skips markers.
	abortedFrom := map[int64]int64{}
	for _, a := range aborted {
		abortedFrom[a.ProducerID] = a.FirstOffset
	}
	skipping := map[int64]bool{}
	var dec batch.Decoder
	for rest := data; len(rest) > 0; {
		one, r, h, _ := batch.Next(rest)
		rest = r
		if first, ok := abortedFrom[h.ProducerID]; ok && h.BaseOffset >= first {
			skipping[h.ProducerID] = true
			delete(abortedFrom, h.ProducerID)
		}
		if h.IsControl() {
			delete(skipping, h.ProducerID)
			continue
		}
		if skipping[h.ProducerID] {
			continue
		}
		_ = dec.Records(one, func(_ *batch.Header, r *batch.Record) error {
			fmt.Printf("offset %d: %s\n", r.Offset, r.Value)
			return nil
		})
	}
	// Output:
	// end 1 LSO 0
	// end 4 LSO 4 aborted [{7 0}]
	// offset 2: second try
}
