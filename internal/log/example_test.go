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
