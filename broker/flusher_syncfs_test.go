package broker

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/log/vfs"
	"github.com/skiffkit/skiff/internal/log/vfs/errorfs"
)

// syncfsProbe is an injected syncfs: it counts calls, fails the first
// failFirst of them, and otherwise runs the real syncfs(2) where there is
// one, so the logs it reports synced are.
type syncfsProbe struct {
	calls     atomic.Int64
	failFirst int64
	real      func() error
}

func (s *syncfsProbe) syncfs() error {
	if s.calls.Add(1) <= s.failFirst {
		return &os.SyscallError{Syscall: "syncfs", Err: errors.New("input/output error")}
	}
	if s.real != nil {
		return s.real()
	}
	return nil
}

// wideBroker starts a broker whose logs are on an errorfs (to count and
// fail per-file fsyncs) with an injected syncfs, and a topic of n
// partitions. FlushInterval is an hour, so the test runs every round
// itself (syncDirty) and the flusher goroutine never does.
func wideBroker(t *testing.T, fsync FsyncPolicy, n int32, failFirst int64) (*Broker, *errorfs.FS, *syncfsProbe) {
	t.Helper()
	fsys := errorfs.Wrap(vfs.Default)
	cfg := Config{Logger: discardLogger(), Fsync: fsync, FlushInterval: time.Hour, DataDir: t.TempDir()}
	cfg.logFS = fsys
	b := startBroker(t, cfg)
	require.Nil(t, b.flush.syncfs, "an injected filesystem turns syncfs off")
	probe := &syncfsProbe{failFirst: failFirst}
	real, dir, err := openSyncfs(cfg.DataDir)
	require.NoError(t, err)
	if dir != nil {
		t.Cleanup(func() { dir.Close() })
	}
	probe.real = real
	b.flush.syncfs = probe.syncfs
	require.NoError(t, b.CreateTopic("wide", n, nil))
	return b, fsys, probe
}

// dirtyAll appends a batch to every online partition of the topic and
// marks it for the next round.
func dirtyAll(t *testing.T, b *Broker, topic string) {
	t.Helper()
	for _, p := range b.topics.byName(topic).parts {
		if p.log.Offline() != nil {
			continue
		}
		_, err := p.log.Append(makeBatch(3, 10, batch.NoProducer), time.Now())
		require.NoError(t, err)
		b.flush.appended(p)
	}
}

// logFsyncs counts the fsyncs of partition .log files so far.
func logFsyncs(fsys *errorfs.FS) int {
	n := 0
	for _, r := range fsys.Records(errorfs.OpSync) {
		if strings.HasSuffix(r.Path, ".log") {
			n++
		}
	}
	return n
}

// TestFlusherCoalescesWithSyncfs: under FsyncInterval a round with many
// dirty partitions on the data directory's filesystem syncs them with one
// syncfs and fsyncs none of their .log files; a round with few, a round of
// partitions on another filesystem fsync each partition. If the coalescing stopped, the "many" case fails on both
// counts.
func TestFlusherCoalescesWithSyncfs(t *testing.T) {
	for _, tc := range []struct {
		name        string
		fsync       FsyncPolicy
		partitions  int32
		elsewhere   bool // the partitions look as if on another filesystem
		wantSyncfs  int64
		wantFsyncss int // per round
	}{
		{"many", FsyncInterval, 2 * syncfsMinLogs, false, 1, 0},
		{"few", FsyncInterval, syncfsMinLogs - 1, false, 0, syncfsMinLogs - 1},
		{"many on another filesystem", FsyncInterval, 2 * syncfsMinLogs, true, 0, 2 * syncfsMinLogs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, fsys, probe := wideBroker(t, tc.fsync, tc.partitions, 0)
			parts := b.topics.byName("wide").parts
			for _, p := range parts {
				require.True(t, p.onDataFS || runtime.GOOS != "linux", "partition %d not seen on the data filesystem", p.index)
				if tc.elsewhere {
					p.onDataFS = false
				}
			}
			for round := int64(1); round <= 2; round++ {
				before := logFsyncs(fsys)
				dirtyAll(t, b, "wide")
				b.flush.syncDirty()
				assert.Equal(t, tc.wantSyncfs*round, probe.calls.Load(), "syncfs calls after round %d", round)
				assert.Equal(t, tc.wantFsyncss, logFsyncs(fsys)-before, ".log fsyncs in round %d", round)
				for _, p := range parts {
					assert.Equal(t, p.log.EndOffset(), p.log.SyncedOffset(), "partition %d after round %d", p.index, round)
				}
			}
		})
	}
}

// TestFlusherFsyncAlwaysFsyncsEachLog: under FsyncAlways the flusher
// fsyncs each dirty partition however many there are, because acks=all
// produces wait on it and a syncfs would wait for all the filesystem's
// dirty data.
func TestFlusherFsyncAlwaysFsyncsEachLog(t *testing.T) {
	const n = 2 * syncfsMinLogs
	b, fsys, probe := wideBroker(t, FsyncAlways, n, 0)
	before := logFsyncs(fsys)
	dirtyAll(t, b, "wide") // kicks the flusher goroutine, which runs the rounds
	parts := b.topics.byName("wide").parts
	// No event says every partition's round is done; the offsets do.
	require.Eventually(t, func() bool {
		for _, p := range parts {
			if p.log.SyncedOffset() != p.log.EndOffset() {
				return false
			}
		}
		return true
	}, 10*time.Second, time.Millisecond)
	assert.Zero(t, probe.calls.Load(), "syncfs calls")
	assert.Equal(t, n, logFsyncs(fsys)-before, ".log fsyncs")
}

// TestFlusherSyncfsErrorFallsBackForGood: the round whose syncfs fails
// fsyncs each of its logs, so the one whose fsync fails goes offline and
// every other one is synced; later rounds never call syncfs again (see
// syncWide for why a second syncfs could miss an error) and fsync each
// partition.
func TestFlusherSyncfsErrorFallsBackForGood(t *testing.T) {
	const n = 2 * syncfsMinLogs
	b, fsys, probe := wideBroker(t, FsyncInterval, n, 1)
	parts := b.topics.byName("wide").parts
	bad := parts[5]
	badDir := bad.log.Dir() + string(filepath.Separator)
	fsys.Inject(errorfs.Fault{Ops: errorfs.OpSync, Path: func(p string) bool {
		return strings.HasPrefix(p, badDir) && strings.HasSuffix(p, ".log")
	}, Once: true})

	dirtyAll(t, b, "wide")
	before := logFsyncs(fsys)
	b.flush.syncDirty()
	assert.Equal(t, int64(1), probe.calls.Load())
	assert.Equal(t, n, logFsyncs(fsys)-before, "every log of the failed round fsyncs its .log")
	require.Error(t, bad.log.Offline(), "the fsync error reached its log")
	assert.Equal(t, int64(0), bad.log.SyncedOffset())
	for _, p := range parts {
		if p != bad {
			assert.NoError(t, p.log.Offline(), "partition %d", p.index)
			assert.Equal(t, p.log.EndOffset(), p.log.SyncedOffset(), "partition %d", p.index)
		}
	}

	for round := 2; round <= 3; round++ {
		dirtyAll(t, b, "wide")
		before = logFsyncs(fsys)
		b.flush.syncDirty()
		assert.Equal(t, int64(1), probe.calls.Load(), "syncfs called again in round %d", round)
		assert.Equal(t, n-1, logFsyncs(fsys)-before, ".log fsyncs in round %d", round)
		for _, p := range parts {
			if p != bad {
				assert.Equal(t, p.log.EndOffset(), p.log.SyncedOffset(), "partition %d", p.index)
			}
		}
	}
}

// TestFlusherUsesSyncfsByDefault: on Linux a broker on the OS filesystem
// under FsyncInterval has syncfs on, sees its partitions on the data
// directory's filesystem, and a wide round with the real syncfs leaves
// every partition synced; FsyncAlways and FsyncNone leave it off.
func TestFlusherUsesSyncfsByDefault(t *testing.T) {
	if runtime.GOOS != "linux" {
		b := startBroker(t, Config{Logger: discardLogger(), Fsync: FsyncInterval})
		assert.Nil(t, b.flush.syncfs, "syncfs(2) is Linux's")
		return
	}
	for _, fsync := range []FsyncPolicy{FsyncAlways, FsyncNone} {
		b := startBroker(t, Config{Logger: discardLogger(), Fsync: fsync})
		assert.Nil(t, b.flush.syncfs, "policy %v", fsync)
	}
	b := startBroker(t, Config{Logger: discardLogger(), Fsync: FsyncInterval, FlushInterval: time.Hour})
	require.NotNil(t, b.flush.syncfs)
	require.NoError(t, b.CreateTopic("wide", 2*syncfsMinLogs, nil))
	dirtyAll(t, b, "wide")
	b.flush.syncDirty()
	assert.False(t, b.flush.syncfsFailed)
	for _, p := range b.topics.byName("wide").parts {
		assert.True(t, p.onDataFS, "partition %d", p.index)
		assert.Equal(t, p.log.EndOffset(), p.log.SyncedOffset(), "partition %d", p.index)
	}
}

func TestOnDataFilesystem(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "t-0")
	require.NoError(t, os.Mkdir(sub, 0o755))
	if runtime.GOOS != "linux" {
		assert.False(t, onDataFilesystem(dir, sub))
		return
	}
	assert.True(t, onDataFilesystem(dir, sub))
	assert.False(t, onDataFilesystem(dir, "/proc"), "procfs is another filesystem")
	assert.False(t, onDataFilesystem(dir, filepath.Join(dir, "missing")))
}
