package broker

import (
	"io/fs"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/log/vfs"
)

// slowSyncFS is the OS filesystem with an fsync that counts how many run
// at once. Once armed, the next fsync holds until a second one runs (or
// 5 s pass, which only a flusher that fsyncs one at a time lets happen), so
// overlap is seen whenever the flusher allows it.
type slowSyncFS struct {
	vfs.FS
	running, most atomic.Int64
	armed         atomic.Bool
	overlap       chan struct{} // closed once two fsyncs ran at once
	overlapOnce   sync.Once
}

type slowSyncFile struct {
	vfs.File
	fs *slowSyncFS
}

func (s *slowSyncFS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	f, err := s.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &slowSyncFile{File: f, fs: s}, nil
}

func (f *slowSyncFile) Sync() error {
	n := f.fs.running.Add(1)
	defer f.fs.running.Add(-1)
	for m := f.fs.most.Load(); n > m && !f.fs.most.CompareAndSwap(m, n); m = f.fs.most.Load() {
	}
	if n > 1 {
		f.fs.overlapOnce.Do(func() { close(f.fs.overlap) })
	}
	if f.fs.armed.CompareAndSwap(true, false) {
		select {
		case <-f.fs.overlap:
		case <-time.After(5 * time.Second):
		}
	}
	// A disk's latency, so that a flusher starting every fsync at once
	// would have more than storageParallelism running.
	time.Sleep(5 * time.Millisecond)
	return f.File.Sync()
}

// TestFlusherBoundsParallelFsyncs: a round over many dirty partitions
// fsyncs a few at a time, not one goroutine (and, blocked in fsync, one OS
// thread) per partition, and still covers every partition.
func TestFlusherBoundsParallelFsyncs(t *testing.T) {
	fsys := &slowSyncFS{FS: vfs.Default, overlap: make(chan struct{})}
	cfg := Config{Logger: discardLogger(), Fsync: FsyncInterval, FlushInterval: time.Hour}
	cfg.logFS = fsys
	b := startBroker(t, cfg)
	const partitions = 64
	require.NoError(t, b.CreateTopic("many", partitions, nil))
	parts := b.topics.byName("many").parts
	for _, p := range parts {
		_, err := p.log.Append(makeBatch(3, 10, batch.NoProducer), time.Now())
		require.NoError(t, err)
		b.flush.appended(p)
	}
	fsys.most.Store(0)
	fsys.armed.Store(true)
	b.flush.syncDirty()
	for _, p := range parts {
		assert.Equal(t, p.log.EndOffset(), p.log.SyncedOffset(), "partition %d", p.index)
	}
	most := fsys.most.Load()
	assert.LessOrEqual(t, most, int64(storageParallelism), "fsyncs at once")
	assert.Greater(t, most, int64(1), "fsyncs overlap")
}
