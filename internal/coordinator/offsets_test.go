package coordinator

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// simpleCommit commits offsets as a consumer without group management.
func simpleCommit(t testing.TB, c *Coordinator, group, topic string, offsets map[int32]int64) {
	t.Helper()
	resp := do[*kmsg.OffsetCommitResponse](t, c, commitReq(8, group, "", -1, topic, offsets))
	for p, code := range commitCodes(resp) {
		require.Zero(t, code, "partition %d", p)
	}
}

func restart(t testing.TB, c *Coordinator, cfg Config) *Coordinator {
	t.Helper()
	require.NoError(t, c.Close(context.Background()))
	return newCoordinator(t, cfg)
}

func TestOffsetsSurviveRestart(t *testing.T) {
	cfg := testConfig(t.TempDir())
	c := newCoordinator(t, cfg)
	simpleCommit(t, c, "g1", "orders", map[int32]int64{0: 10, 1: 20})
	simpleCommit(t, c, "g1", "orders", map[int32]int64{1: 21})
	simpleCommit(t, c, "g2", "payments", map[int32]int64{0: 5})

	c = restart(t, c, cfg)
	assert.Equal(t, map[int32]int64{0: 10, 1: 21, 2: -1}, fetchOffsets(t, c, "g1", "orders", 0, 1, 2))
	assert.Equal(t, map[int32]int64{0: 5}, fetchOffsets(t, c, "g2", "payments", 0))
	got := c.OffsetsForGroup("g1")
	require.Len(t, got, 2)
	assert.Equal(t, CommittedOffset{Topic: "orders", Partition: 1, Offset: 21, LeaderEpoch: 3, Metadata: "md", CommitTime: got[1].CommitTime}, got[1])
	assert.WithinDuration(t, time.Now(), got[1].CommitTime, time.Minute)

	var names []string
	for _, g := range c.Groups() {
		names = append(names, g.Name)
		assert.Equal(t, "Empty", g.State)
	}
	assert.Equal(t, []string{"g1", "g2"}, names)
}

// TestOffsetFetchVersions checks every OffsetFetch shape: per-group (v0-v7),
// batched (v8+), null topics (all partitions), unknown partitions.
func TestOffsetFetchVersions(t *testing.T) {
	cfg := testConfig(t.TempDir())
	id := [16]byte{1, 2, 3}
	cfg.TopicName = func(got [16]byte) (string, bool) { return "t", got == id }
	cfg.TopicID = func(name string) ([16]byte, bool) { return id, name == "t" }
	c := newCoordinator(t, cfg)
	simpleCommit(t, c, "g", "t", map[int32]int64{0: 7, 1: 8})
	simpleCommit(t, c, "g", "u", map[int32]int64{3: 9})

	for v := int16(0); v <= 10; v++ {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = v
		if v >= 8 {
			g := kmsg.NewOffsetFetchRequestGroup()
			g.Group = "g"
			rt := kmsg.NewOffsetFetchRequestGroupTopic()
			rt.Topic, rt.TopicID, rt.Partitions = "t", id, []int32{1, 5}
			g.Topics = []kmsg.OffsetFetchRequestGroupTopic{rt}
			all := kmsg.NewOffsetFetchRequestGroup()
			all.Group = "g"
			req.Groups = []kmsg.OffsetFetchRequestGroup{g, all}
		} else {
			req.Group = "g"
			req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{1, 5}}}
		}
		resp := roundTrip(t, c, req).(*kmsg.OffsetFetchResponse)
		if v < 8 {
			require.Len(t, resp.Topics, 1, "v%d", v)
			ps := resp.Topics[0].Partitions
			require.Len(t, ps, 2)
			assert.Equal(t, int64(8), ps[0].Offset, "v%d", v)
			assert.Equal(t, int64(-1), ps[1].Offset, "v%d", v)
			if v >= 5 {
				assert.Equal(t, int32(3), ps[0].LeaderEpoch)
			}
			assert.Equal(t, "md", *ps[0].Metadata)
			continue
		}
		require.Len(t, resp.Groups, 2, "v%d", v)
		ps := resp.Groups[0].Topics[0].Partitions
		assert.Equal(t, int64(8), ps[0].Offset, "v%d", v)
		assert.Equal(t, int64(-1), ps[1].Offset, "v%d", v)
		all := resp.Groups[1].Topics
		if v >= 10 {
			// "u" has no topic id: a v10 client cannot name it.
			require.Len(t, all, 1)
			assert.Equal(t, id, all[0].TopicID)
		} else {
			require.Len(t, all, 2)
			assert.Equal(t, "u", all[1].Topic)
			assert.Equal(t, int64(9), all[1].Partitions[0].Offset)
		}
		if v < 10 {
			assert.Equal(t, "t", all[0].Topic, "v%d", v)
		}
		require.Len(t, all[0].Partitions, 2)
		assert.Equal(t, int64(7), all[0].Partitions[0].Offset)
	}

	// v10 commit by topic id; an unknown id fails per partition.
	req := commitReq(10, "g", "", -1, "", map[int32]int64{0: 70})
	req.Topics[0].TopicID = id
	bad := kmsg.NewOffsetCommitRequestTopic()
	bad.TopicID = [16]byte{9}
	bad.Partitions = []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1, LeaderEpoch: -1}}
	req.Topics = append(req.Topics, bad)
	resp := roundTrip(t, c, req).(*kmsg.OffsetCommitResponse)
	assert.Zero(t, resp.Topics[0].Partitions[0].ErrorCode)
	assert.Equal(t, kerr.UnknownTopicID.Code, resp.Topics[1].Partitions[0].ErrorCode)
	assert.Equal(t, map[int32]int64{0: 70}, fetchOffsets(t, c, "g", "t", 0))
}

func TestOffsetCommitValidation(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MaxMetadataSize = 4
	c := newCoordinator(t, cfg)
	req := commitReq(2, "g", "", -1, "t", map[int32]int64{0: 1})
	req.Topics[0].Partitions[0].Metadata = str("too long")
	resp := do[*kmsg.OffsetCommitResponse](t, c, req)
	assert.Equal(t, kerr.OffsetMetadataTooLarge.Code, commitCodes(resp)[0])

	// A generation for a group that does not exist.
	resp = do[*kmsg.OffsetCommitResponse](t, c, commitReq(7, "nope", "m", 3, "t", map[int32]int64{0: 1}))
	assert.Equal(t, kerr.IllegalGeneration.Code, commitCodes(resp)[0])

	// v2 retention sets an explicit expiry.
	req = commitReq(2, "g", "", -1, "t", map[int32]int64{0: 1})
	req.Topics[0].Partitions[0].Metadata = nil
	req.RetentionTimeMillis = 1000
	assert.Zero(t, commitCodes(do[*kmsg.OffsetCommitResponse](t, c, req))[0])
	v, ok := c.store.fetch("g", topicPartition{"t", 0})
	require.True(t, ok)
	assert.Equal(t, v.commitTime+1000, v.expireTime)
	assert.Nil(t, v.metadata)
}

func TestConcurrentCommitsShareFsync(t *testing.T) {
	cfg := testConfig(t.TempDir())
	c := newCoordinator(t, cfg)
	// Hold the first append until every other commit is queued: they
	// must then all share the second fsync.
	const n = 64
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	// Set before the first commit; submit's lock orders it before the
	// writer reads it.
	c.store.beforeWrite = func() {
		once.Do(func() {
			close(entered)
			<-release
		})
	}
	first := submit(t, c, commitReq(8, "g", "", -1, "t", map[int32]int64{0: 0}))
	<-entered
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() {
			simpleCommit(t, c, "g", "t", map[int32]int64{int32(i): int64(i)})
		})
	}
	require.Eventually(t, func() bool {
		c.store.qmu.Lock()
		defer c.store.qmu.Unlock()
		return len(c.store.queue) == n-1
	}, 10*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	assert.Zero(t, commitCodes(wait[*kmsg.OffsetCommitResponse](t, first))[0])
	assert.Equal(t, int64(2), c.store.syncs.Load(), "group commit")
	c = restart(t, c, cfg)
	parts := make([]int32, n)
	want := map[int32]int64{}
	for i := range n {
		parts[i] = int32(i)
		want[int32(i)] = int64(i)
	}
	assert.Equal(t, want, fetchOffsets(t, c, "g", "t", parts...))
}

func TestOffsetsLogRecovery(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string, lastFrame int64)
	}{
		{"torn tail", func(t *testing.T, path string, lastFrame int64) {
			fi, err := os.Stat(path)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(path, fi.Size()-3))
		}},
		{"torn header", func(t *testing.T, path string, lastFrame int64) {
			require.NoError(t, os.Truncate(path, lastFrame+5))
		}},
		{"flipped byte", func(t *testing.T, path string, lastFrame int64) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			require.NoError(t, err)
			defer f.Close()
			b := []byte{0}
			_, err = f.ReadAt(b, lastFrame+12)
			require.NoError(t, err)
			b[0] ^= 0x40
			_, err = f.WriteAt(b, lastFrame+12)
			require.NoError(t, err)
		}},
		{"garbage appended", func(t *testing.T, path string, lastFrame int64) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			defer f.Close()
			_, err = f.Write([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3})
			require.NoError(t, err)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t.TempDir())
			path := filepath.Join(cfg.DataDir, offsetsFile)
			c := newCoordinator(t, cfg)
			simpleCommit(t, c, "g", "t", map[int32]int64{0: 1, 1: 2})
			fi, err := os.Stat(path)
			require.NoError(t, err)
			lastFrame := fi.Size()
			simpleCommit(t, c, "g", "t", map[int32]int64{0: 100, 1: 200})
			require.NoError(t, c.Close(context.Background()))

			tc.damage(t, path, lastFrame)
			c = newCoordinator(t, cfg)
			want := map[int32]int64{0: 1, 1: 2}
			if tc.name == "garbage appended" {
				want = map[int32]int64{0: 100, 1: 200}
			}
			// Both partitions of a frame are applied or neither is.
			assert.Equal(t, want, fetchOffsets(t, c, "g", "t", 0, 1))

			// The bad tail is gone: new commits append after the
			// valid prefix and survive the next restart.
			simpleCommit(t, c, "g", "t", map[int32]int64{2: 3})
			c = restart(t, c, cfg)
			want[2] = 3
			assert.Equal(t, want, fetchOffsets(t, c, "g", "t", 0, 1, 2))
		})
	}
}

func TestOffsetsLogRefusesForeignFile(t *testing.T) {
	cfg := testConfig(t.TempDir())
	require.NoError(t, os.WriteFile(filepath.Join(cfg.DataDir, offsetsFile), []byte("not an offsets log"), 0o644))
	_, err := New(cfg)
	assert.ErrorIs(t, err, errCorrupt)
	require.NoError(t, os.WriteFile(filepath.Join(cfg.DataDir, offsetsFile), []byte("abc"), 0o644))
	_, err = New(cfg)
	assert.ErrorIs(t, err, errCorrupt, "short foreign file")

	// A file torn while its magic was written is simply restarted.
	require.NoError(t, os.WriteFile(filepath.Join(cfg.DataDir, offsetsFile), []byte("SKOF"), 0o644))
	c := newCoordinator(t, cfg)
	simpleCommit(t, c, "g", "t", map[int32]int64{0: 1})
	c = restart(t, c, cfg)
	assert.Equal(t, map[int32]int64{0: 1}, fetchOffsets(t, c, "g", "t", 0))
}

func TestOffsetsLogCompaction(t *testing.T) {
	cfg := testConfig(t.TempDir())
	path := filepath.Join(cfg.DataDir, offsetsFile)
	c := newCoordinator(t, cfg)
	c.store.compactMin = 4096
	simpleCommit(t, c, "keep", "t", map[int32]int64{0: 1, 1: 1})
	var maxSize int64
	for i := range 500 {
		simpleCommit(t, c, "g", "t", map[int32]int64{0: int64(i)})
		fi, err := os.Stat(path)
		require.NoError(t, err)
		maxSize = max(maxSize, fi.Size())
	}
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Less(t, maxSize, int64(4096+200), "compacted once past the threshold")
	assert.Less(t, fi.Size(), maxSize)

	c = restart(t, c, cfg)
	assert.Equal(t, map[int32]int64{0: 499}, fetchOffsets(t, c, "g", "t", 0))
	assert.Equal(t, map[int32]int64{0: 1, 1: 1}, fetchOffsets(t, c, "keep", "t", 0, 1))
	_, err = os.Stat(path + ".compact")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestOffsetsExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t.TempDir())
		cfg.OffsetsRetention = time.Hour
		cfg.OffsetsRetentionCheckInterval = time.Minute
		c := newCoordinator(t, cfg)
		simpleCommit(t, c, "old", "t", map[int32]int64{0: 1})
		time.Sleep(40 * time.Minute)
		simpleCommit(t, c, "young", "t", map[int32]int64{0: 1})

		// A group with a member keeps its offsets however old they are.
		join := joinReq(3, "active", "", nil)
		join.SessionTimeoutMillis = int32((30 * time.Minute).Milliseconds())
		jr := do[*kmsg.JoinGroupResponse](t, c, join)
		require.Zero(t, jr.ErrorCode)
		a := jr.MemberID
		require.Zero(t, do[*kmsg.SyncGroupResponse](t, c, syncReq("active", a, 1, nil)).ErrorCode)
		resp := do[*kmsg.OffsetCommitResponse](t, c, commitReq(7, "active", a, 1, "t", map[int32]int64{0: 1}))
		require.Zero(t, commitCodes(resp)[0])

		// idle passes time while the active member heartbeats.
		idle := func(d time.Duration) {
			for ; d > 0; d -= 10 * time.Minute {
				time.Sleep(10 * time.Minute)
				require.Zero(t, heartbeat(t, c, "active", a, 1))
			}
			synctest.Wait()
		}
		idle(30 * time.Minute) // 70m: old expired, young 30m old
		assert.Equal(t, map[int32]int64{0: -1}, fetchOffsets(t, c, "old", "t", 0))
		assert.Equal(t, map[int32]int64{0: 1}, fetchOffsets(t, c, "young", "t", 0))
		idle(80 * time.Minute) // 150m
		assert.Equal(t, map[int32]int64{0: -1}, fetchOffsets(t, c, "young", "t", 0))
		assert.Equal(t, map[int32]int64{0: 1}, fetchOffsets(t, c, "active", "t", 0))
		_, ok := c.Group("old")
		assert.False(t, ok, "expired group is forgotten")
	})
}

func TestDeleteGroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t.TempDir())
		c := newCoordinator(t, cfg)
		simpleCommit(t, c, "offsets-only", "t", map[int32]int64{0: 1})
		simpleCommit(t, c, "other", "t", map[int32]int64{0: 2})
		a := memberID(t, c, "busy")
		joinAll(t, c, "busy", a)
		// A group whose members all left is Empty and deletable.
		b := memberID(t, c, "left")
		joinAll(t, c, "left", b)
		leave := kmsg.NewPtrLeaveGroupRequest()
		leave.Version = 0
		leave.Group, leave.MemberID = "left", b
		require.Zero(t, do[*kmsg.LeaveGroupResponse](t, c, leave).ErrorCode)

		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Version = 2
		req.Groups = []string{"offsets-only", "busy", "missing", "left"}
		resp := do[*kmsg.DeleteGroupsResponse](t, c, req)
		codes := map[string]int16{}
		for _, g := range resp.Groups {
			codes[g.Group] = g.ErrorCode
		}
		assert.Equal(t, map[string]int16{
			"offsets-only": 0,
			"busy":         kerr.NonEmptyGroup.Code,
			"missing":      kerr.GroupIDNotFound.Code,
			"left":         0,
		}, codes)
		assert.Equal(t, map[int32]int64{0: -1}, fetchOffsets(t, c, "offsets-only", "t", 0))

		c = restart(t, c, cfg)
		assert.Equal(t, map[int32]int64{0: -1}, fetchOffsets(t, c, "offsets-only", "t", 0), "tombstone is durable")
		assert.Equal(t, map[int32]int64{0: 2}, fetchOffsets(t, c, "other", "t", 0))
		var names []string
		for _, g := range c.Groups() {
			names = append(names, g.Name)
		}
		assert.Equal(t, []string{"other"}, names)
	})
}

// TestOffsetsLogMatchesDocumentedBytes pins the frame layout documented in
// offsetlog.go and docs/coordinator.md.
func TestOffsetsLogMatchesDocumentedBytes(t *testing.T) {
	md := "m"
	got := appendFrame(nil, []logEntry{
		{kind: entryCommit, key: offsetKey{"g", "t", 2}, value: offsetValue{offset: 5, leaderEpoch: -1, commitTime: 6, expireTime: -1, metadata: &md}},
		{kind: entryGroupDelete, key: offsetKey{group: "x"}},
	})
	body := []byte{
		1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 2, // kind, group, topic, partition
		0, 0, 0, 0, 0, 0, 0, 5, // offset
		0xff, 0xff, 0xff, 0xff, // leader epoch
		0, 0, 0, 0, 0, 0, 0, 6, // commit ts
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // expire ts
		0, 0, 0, 1, 'm', // metadata
		3, 0, 1, 'x', // group tombstone
	}
	require.Len(t, got, 8+len(body))
	assert.Equal(t, []byte{0, 0, 0, byte(len(body))}, got[:4])
	assert.Equal(t, body, got[8:])
	entries, err := decodeEntries(nil, got[8:])
	require.NoError(t, err)
	require.Len(t, entries, 2)
	assert.Equal(t, "m", *entries[0].value.metadata)
	assert.Equal(t, entrySize(&entries[0])+entrySize(&entries[1]), len(body))
}

// TestOffsetCommitWriteFailure injects a failing append (the log file
// swapped for a read-only handle for one write): the commit is answered
// NOT_COORDINATOR, is not visible, and later commits land normally.
func TestOffsetCommitWriteFailure(t *testing.T) {
	cfg := testConfig(t.TempDir())
	c := newCoordinator(t, cfg)
	simpleCommit(t, c, "g", "t", map[int32]int64{0: 1})

	var good *os.File
	fail := true
	c.store.beforeWrite = func() {
		if fail {
			ro, err := os.Open(c.store.path)
			if err != nil {
				t.Error(err)
				return
			}
			good, c.store.f = c.store.f, ro
			fail = false
			return
		}
		if good != nil {
			c.store.f.Close()
			c.store.f, good = good, nil
		}
	}
	resp := do[*kmsg.OffsetCommitResponse](t, c, commitReq(8, "g", "", -1, "t", map[int32]int64{0: 2, 1: 2}))
	assert.Equal(t, map[int32]int16{0: kerr.NotCoordinator.Code, 1: kerr.NotCoordinator.Code}, commitCodes(resp))
	assert.Equal(t, map[int32]int64{0: 1, 1: -1}, fetchOffsets(t, c, "g", "t", 0, 1))

	simpleCommit(t, c, "g", "t", map[int32]int64{1: 3})
	c = restart(t, c, cfg)
	assert.Equal(t, map[int32]int64{0: 1, 1: 3}, fetchOffsets(t, c, "g", "t", 0, 1))
}
