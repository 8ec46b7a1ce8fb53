package broker

import (
	"io/fs"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/log/vfs"
)

// slowSyncFS is the OS filesystem with an fsync that counts how many run
// at once. Once armed, the next fsync holds until either more than
// storageParallelism run at once (a flusher without the bound) or every
// other fsync of the round has finished (a flusher with it), so both
// the bound and the overlap below it are seen without timing; only a
// flusher that fsyncs one at a time makes it wait, 10 s, and fail.
type slowSyncFS struct {
	vfs.FS
	running, most, done atomic.Int64
	others              int64 // the fsyncs of the round besides the armed one
	armed               atomic.Bool
	changed             chan struct{} // a token after each change of running or done
}

func (s *slowSyncFS) note() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
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
	s := f.fs
	n := s.running.Add(1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	s.note()
	if s.armed.CompareAndSwap(true, false) {
		timeout := time.After(10 * time.Second)
	wait:
		for s.running.Load() <= storageParallelism && s.done.Load() < s.others {
			select {
			case <-s.changed:
			case <-timeout:
				break wait
			}
		}
	}
	err := f.File.Sync()
	s.running.Add(-1)
	s.done.Add(1)
	s.note()
	return err
}

// TestFlusherBoundsParallelFsyncs: a round over many dirty partitions
// fsyncs a few at a time, not one goroutine (and, blocked in fsync, one OS
// thread) per partition, and still covers every partition.
func TestFlusherBoundsParallelFsyncs(t *testing.T) {
	fsys := &slowSyncFS{FS: vfs.Default, changed: make(chan struct{}, 1)}
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
	fsys.done.Store(0)
	fsys.others = partitions - 1
	fsys.armed.Store(true)
	b.flush.syncDirty()
	for _, p := range parts {
		assert.Equal(t, p.log.EndOffset(), p.log.SyncedOffset(), "partition %d", p.index)
	}
	most := fsys.most.Load()
	assert.LessOrEqual(t, most, int64(storageParallelism), "fsyncs at once")
	assert.Greater(t, most, int64(1), "fsyncs overlap")
}
