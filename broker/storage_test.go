package broker

import (
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/kerr"
)

func initProducerID(t *testing.T, rc *rawConn, id int64, epoch int16) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.ProducerID, req.ProducerEpoch = id, epoch
	resp := rc.roundTrip(req, 4).(*kmsg.InitProducerIDResponse)
	require.Zero(t, resp.ErrorCode, "%v", kerr.ForCode(resp.ErrorCode))
	return resp.ProducerID, resp.ProducerEpoch
}

func listOffset(t *testing.T, rc *rawConn, topic string, p int32, ts int64) (int64, int64) {
	t.Helper()
	return listOffsetV(t, rc, topic, p, ts, 4)
}

func listOffsetV(t *testing.T, rc *rawConn, topic string, p int32, ts int64, version int16) (int64, int64) {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = p, ts
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := rc.roundTrip(req, version).(*kmsg.ListOffsetsResponse)
	sp := resp.Topics[0].Partitions[0]
	require.Zero(t, sp.ErrorCode, "%v", kerr.ForCode(sp.ErrorCode))
	return sp.Offset, sp.Timestamp
}

// TestRestartKeepsEverything: data, topic ids, offsets, producer ids and
// idempotent dedupe all survive a restart on the same directory.
func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, Config{DataDir: dir})
	cl := newClient(t, b, kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("r"))
	for i := range 50 {
		require.NoError(t, cl.ProduceSync(ctx(t), kgo.StringRecord("kgo-"+string(rune('a'+i%26)))).FirstErr())
	}
	topicID := b.topics.byName("r").id

	rc := dialRaw(t, b)
	pid, epoch := initProducerID(t, rc, -1, -1)
	idem := makeBatch(3, 10, batch.Params{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: 0, PartitionLeaderEpoch: -1})
	code, off := produceCode(t, rc, produceReq("r", 0, append([]byte(nil), idem...)), 9)
	require.Zero(t, code)
	require.EqualValues(t, 50, off)
	code, again := produceCode(t, rc, produceReq("r", 0, append([]byte(nil), idem...)), 9)
	require.Zero(t, code)
	require.Equal(t, off, again, "a retried batch is deduplicated")
	cl.Close()
	closeBroker(t, b)

	b2 := startBroker(t, Config{DataDir: dir})
	rc2 := dialRaw(t, b2)
	require.NotNil(t, b2.topics.byName("r"))
	assert.Equal(t, topicID, b2.topics.byName("r").id, "topic id survives")
	end, _ := listOffset(t, rc2, "r", 0, -1)
	assert.EqualValues(t, 53, end)

	code, again = produceCode(t, rc2, produceReq("r", 0, append([]byte(nil), idem...)), 9)
	require.Zero(t, code)
	assert.Equal(t, off, again, "dedupe survives the restart")
	next := makeBatch(1, 10, batch.Params{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: 3, PartitionLeaderEpoch: -1})
	code, nextOff := produceCode(t, rc2, produceReq("r", 0, next), 9)
	require.Zero(t, code)
	assert.EqualValues(t, 53, nextOff, "offsets continue")

	pid2, epoch2 := initProducerID(t, rc2, -1, -1)
	assert.Greater(t, pid2, pid, "producer ids are never reused")
	assert.Zero(t, epoch2)
	bumped, bumpedEpoch := initProducerID(t, rc2, pid, epoch)
	assert.Equal(t, pid, bumped, "KIP-360: same id")
	assert.Equal(t, epoch+1, bumpedEpoch, "KIP-360: bumped epoch")

	recs := consumeN(t, b2, "r", 54)
	assert.Len(t, recs, 54)
	for i, r := range recs {
		assert.EqualValues(t, i, r.Offset)
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		return err
	}))
}

// TestCrashRecovery takes the data directory of a running broker (no clean
// shutdown), cuts its active segment at random positions, and checks that
// a broker started on each copy serves exactly the complete batches.
func TestCrashRecovery(t *testing.T) {
	b := startBroker(t, Config{Fsync: FsyncAlways})
	require.NoError(t, b.CreateTopic("c", 1, nil))
	rc := dialRaw(t, b)
	var ends []int64 // file position after each batch
	pos := int64(0)
	for i := range 40 {
		raw := makeBatch(1, 20+i*7, batch.NoProducer)
		code, _ := produceCode(t, rc, produceReq("c", 0, raw), 7)
		require.Zero(t, code)
		pos += int64(len(raw))
		ends = append(ends, pos)
	}
	image := t.TempDir()
	copyDir(t, b.cfg.DataDir, image)

	logs, err := filepath.Glob(filepath.Join(image, "c-0", "*.log"))
	require.NoError(t, err)
	require.NotEmpty(t, logs)
	sort.Strings(logs)
	active := logs[len(logs)-1]
	st, err := os.Stat(active)
	require.NoError(t, err)
	require.Equal(t, pos, st.Size())

	rng := rand.New(rand.NewPCG(1, 2))
	cuts := []int64{0, 1, ends[0] - 1, ends[0], pos - 1, pos}
	for range 6 {
		cuts = append(cuts, rng.Int64N(pos))
	}
	for _, cut := range cuts {
		dir := t.TempDir()
		copyDir(t, image, dir)
		rel, _ := filepath.Rel(image, active)
		require.NoError(t, os.Truncate(filepath.Join(dir, rel), cut))
		complete := int64(sort.Search(len(ends), func(i int) bool { return ends[i] > cut }))

		b2 := startBroker(t, Config{DataDir: dir})
		rc2 := dialRaw(t, b2)
		end, _ := listOffset(t, rc2, "c", 0, -1)
		assert.Equal(t, complete, end, "cut at %d", cut)
		if complete > 0 {
			resp := rc2.roundTrip(fetchReq("c", 0, 0, 0), 12).(*kmsg.FetchResponse)
			p := resp.Topics[0].Partitions[0]
			require.Zero(t, p.ErrorCode)
			n := int64(0)
			for rest := p.RecordBatches; len(rest) > 0; n++ {
				var h batch.Header
				_, rest, h, err = batch.Next(rest)
				require.NoError(t, err)
				assert.Equal(t, n, h.BaseOffset)
			}
			assert.Equal(t, complete, n, "every complete batch is served (cut at %d)", cut)
		}
		// The log takes new appends after the torn tail.
		code, off := produceCode(t, rc2, produceReq("c", 0, makeBatch(1, 5, batch.NoProducer)), 7)
		require.Zero(t, code)
		assert.Equal(t, complete, off)
		closeBroker(t, b2)
	}
}

func TestRollAndRetention(t *testing.T) {
	b := startBroker(t, Config{RetentionCheckInterval: 20 * time.Millisecond})
	require.NoError(t, b.CreateTopic("bytes", 1, map[string]string{"segment.bytes": "1024", "retention.bytes": "2048"}))
	rc := dialRaw(t, b)
	for range 30 {
		code, _ := produceCode(t, rc, produceReq("bytes", 0, makeBatch(1, 200, batch.NoProducer)), 7)
		require.Zero(t, code)
	}
	l := b.topics.partition("bytes", 0).log
	require.Eventually(t, func() bool { return l.LogStartOffset() > 0 }, 5*time.Second, 5*time.Millisecond, "retention.bytes deletes old segments")
	assert.Greater(t, l.NumSegments(), 1, "segment.bytes rolls")
	logBytes := func() int64 {
		logs, err := filepath.Glob(filepath.Join(l.Dir(), "*.log"))
		require.NoError(t, err)
		var n int64
		for _, f := range logs {
			if st, err := os.Stat(f); err == nil {
				n += st.Size()
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return logBytes() <= 2048+1024 }, 5*time.Second, 5*time.Millisecond,
		"at most retention.bytes plus one segment is kept")
	start, _ := listOffset(t, rc, "bytes", 0, -2)
	assert.Equal(t, l.LogStartOffset(), start)
	resp := rc.roundTrip(fetchReq("bytes", 0, 0, 0), 12).(*kmsg.FetchResponse)
	assert.Equal(t, kerr.OffsetOutOfRange.Code, resp.Topics[0].Partitions[0].ErrorCode)
	assert.Equal(t, start, resp.Topics[0].Partitions[0].LogStartOffset)

	// retention.ms by record time: batches an hour old go at once.
	require.NoError(t, b.CreateTopic("time", 1, map[string]string{"segment.bytes": "1024", "retention.ms": "60000"}))
	for range 20 {
		var bb batch.Builder
		old := time.Now().Add(-time.Hour).UnixMilli()
		bb.Reset(nil, old)
		batch.Append[batch.RecordHeader](&bb, old, nil, []byte(strings.Repeat("x", 200)), nil)
		code, _ := produceCode(t, rc, produceReq("time", 0, append([]byte(nil), bb.Finish(batch.NoProducer)...)), 7)
		require.Zero(t, code)
	}
	lt := b.topics.partition("time", 0).log
	require.Eventually(t, func() bool { return lt.NumSegments() == 1 && lt.LogStartOffset() > 0 }, 5*time.Second, 5*time.Millisecond)
}

func TestListOffsetsByTimestamp(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("ts", 1, nil))
	rc := dialRaw(t, b)
	base := time.Now().Add(-time.Minute).UnixMilli()
	for i := range 10 {
		var bb batch.Builder
		bb.Reset(nil, base+int64(i)*1000)
		batch.Append[batch.RecordHeader](&bb, base+int64(i)*1000, nil, []byte("v"), nil)
		code, _ := produceCode(t, rc, produceReq("ts", 0, append([]byte(nil), bb.Finish(batch.NoProducer)...)), 7)
		require.Zero(t, code)
	}
	off, ts := listOffset(t, rc, "ts", 0, base+4500)
	assert.EqualValues(t, 5, off)
	assert.Equal(t, base+5000, ts)
	off, _ = listOffset(t, rc, "ts", 0, base+60_000)
	assert.EqualValues(t, -1, off, "no record that recent")
	off, _ = listOffset(t, rc, "ts", 0, -2)
	assert.Zero(t, off)
	off, _ = listOffset(t, rc, "ts", 0, -1)
	assert.EqualValues(t, 10, off)
}

// TestListOffsetsMaxTimestamp: KIP-734's -3 finds the record with the
// largest timestamp even when timestamps go back and forth.
func TestListOffsetsMaxTimestamp(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("mx", 1, map[string]string{"segment.bytes": "200"}))
	rc := dialRaw(t, b)
	off, ts := listOffsetV(t, rc, "mx", 0, -3, 7)
	assert.EqualValues(t, -1, off, "empty log")
	assert.EqualValues(t, -1, ts)

	base := time.Now().Add(-time.Hour).UnixMilli()
	deltas := []int64{5, 1, 9000, 3, 8999, 9000, 2} // max first at offset 2
	for _, d := range deltas {
		var bb batch.Builder
		bb.Reset(nil, base+d)
		batch.Append[batch.RecordHeader](&bb, base+d, nil, []byte("v"), nil)
		code, _ := produceCode(t, rc, produceReq("mx", 0, append([]byte(nil), bb.Finish(batch.NoProducer)...)), 7)
		require.Zero(t, code)
	}
	require.Greater(t, b.topics.partition("mx", 0).log.NumSegments(), 1, "spread over segments")
	off, ts = listOffsetV(t, rc, "mx", 0, -3, 7)
	assert.EqualValues(t, 2, off)
	assert.Equal(t, base+9000, ts)

	off, _ = listOffsetV(t, rc, "mx", 0, -4, 8)
	assert.Equal(t, b.topics.partition("mx", 0).log.LogStartOffset(), off, "earliest local is the log start")
}
