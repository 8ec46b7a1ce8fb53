package broker

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/log/vfs"
	"github.com/skiffkit/skiff/internal/log/vfs/errorfs"
	"github.com/skiffkit/skiff/kerr"
)

// tp names a partition.
type tp struct {
	topic string
	p     int32
}

// faultBatch encodes one batch of n records valued "<tag>-<i>".
func faultBatch(tag string, n int) []byte {
	var bb batch.Builder
	now := time.Now().UnixMilli()
	bb.Reset(nil, now)
	for i := range n {
		batch.Append[batch.RecordHeader](&bb, now, nil, fmt.Appendf(nil, "%s-%d", tag, i), nil)
	}
	return append([]byte(nil), bb.Finish(batch.NoProducer)...)
}

// produceEach sends one Produce (acks=all) with a batch of n records for
// each partition and returns each partition's error code.
func produceEach(t *testing.T, rc *rawConn, tag string, n int, parts ...tp) map[tp]int16 {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	for _, x := range parts {
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = x.topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = x.p, faultBatch(tag, n)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	resp := rc.roundTrip(req, 9).(*kmsg.ProduceResponse)
	codes := map[tp]int16{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			codes[tp{rt.Topic, rp.Partition}] = rp.ErrorCode
		}
	}
	require.Len(t, codes, len(parts))
	return codes
}

// fetchValues fetches a partition from offset 0 and returns its error code
// and the values of the records.
func fetchValues(t *testing.T, rc *rawConn, x tp) (int16, []string) {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.MaxBytes, req.MaxWaitMillis = 1<<20, 0
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = x.topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.PartitionMaxBytes = x.p, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := rc.roundTrip(req, 12).(*kmsg.FetchResponse)
	require.Len(t, resp.Topics, 1)
	require.Len(t, resp.Topics[0].Partitions, 1)
	sp := resp.Topics[0].Partitions[0]
	var vals []string
	var d batch.Decoder
	for b := sp.RecordBatches; len(b) > 0; {
		one, rest, _, err := batch.Next(b)
		require.NoError(t, err)
		require.NoError(t, d.Records(one, func(_ *batch.Header, r *batch.Record) error {
			vals = append(vals, string(r.Value))
			return nil
		}))
		b = rest
	}
	return sp.ErrorCode, vals
}

func values(tags ...string) []string {
	var out []string
	for _, tag := range tags {
		for i := range 3 {
			out = append(out, fmt.Sprintf("%s-%d", tag, i))
		}
	}
	return out
}

// TestStorageFaultTakesOnePartitionOffline: the disk under one partition
// fails. That partition answers KAFKA_STORAGE_ERROR to Produce and Fetch,
// as Kafka answers for a partition in an offline log directory, and stays
// offline when the disk heals; the other partitions, in the same requests,
// and the group coordinator go on. After a restart on a healthy disk the
// partition holds exactly what was acknowledged.
func TestStorageFaultTakesOnePartitionOffline(t *testing.T) {
	dir := t.TempDir()
	fsys := errorfs.Wrap(vfs.Default)
	cfg := Config{DataDir: dir, GroupInitialRebalanceDelay: -1, Logger: discardLogger()}
	cfg.logFS = fsys
	b := startBroker(t, cfg)
	require.NoError(t, b.CreateTopic("disk", 2, nil))
	require.NoError(t, b.CreateTopic("other", 1, nil))
	sick, sibling, other := tp{"disk", 0}, tp{"disk", 1}, tp{"other", 0}
	all := []tp{sick, sibling, other}
	rc := dialRaw(t, b)

	for x, code := range produceEach(t, rc, "before", 3, all...) {
		require.Zero(t, code, "%v: %v", x, kerr.ForCode(code))
	}

	fsys.Inject(errorfs.Fault{Ops: errorfs.OpWrite | errorfs.OpSync, Path: errorfs.Under(filepath.Join(dir, "disk-0")), Err: errorfs.EIO})
	codes := produceEach(t, rc, "during", 3, all...)
	assert.Equal(t, kerr.KafkaStorageError.Code, codes[sick], "the failed partition: %v", kerr.ForCode(codes[sick]))
	assert.Zero(t, codes[sibling], "the same topic's other partition")
	assert.Zero(t, codes[other], "another topic")
	require.Positive(t, fsys.Injected())

	code, _ := fetchValues(t, rc, sick)
	assert.Equal(t, kerr.KafkaStorageError.Code, code, "fetch from the failed partition: %v", kerr.ForCode(code))
	for _, x := range []tp{sibling, other} {
		code, vals := fetchValues(t, rc, x)
		assert.Zero(t, code, "%v", x)
		assert.Equal(t, values("before", "during"), vals, "%v", x)
	}

	// The group coordinator keeps working: a group consumes "other" and
	// commits its offsets.
	cl := newClient(t, b, kgo.ConsumerGroup("g"), kgo.ConsumeTopics("other"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(100*time.Millisecond))
	seen := 0
	for seen < 6 {
		fs := cl.PollFetches(ctx(t))
		require.NoError(t, ctx(t).Err())
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("%s[%d]: %v", topic, p, err) })
		seen += fs.NumRecords()
	}
	require.NoError(t, cl.CommitUncommittedOffsets(ctx(t)))
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Group = "g"
	ot := kmsg.NewOffsetFetchRequestTopic()
	ot.Topic, ot.Partitions = "other", []int32{0}
	of.Topics = append(of.Topics, ot)
	ofr, err := of.RequestWith(ctx(t), cl)
	require.NoError(t, err)
	require.Zero(t, ofr.ErrorCode)
	require.Len(t, ofr.Topics, 1)
	assert.Equal(t, int64(6), ofr.Topics[0].Partitions[0].Offset)

	// A healed disk does not bring the partition back by itself: what is
	// in its page cache is not known to be on disk.
	fsys.Heal()
	codes = produceEach(t, rc, "healed", 3, sick)
	assert.Equal(t, kerr.KafkaStorageError.Code, codes[sick])

	cl.Close()
	closeBroker(t, b)
	b2 := startBroker(t, Config{DataDir: dir, Logger: discardLogger()})
	rc2 := dialRaw(t, b2)
	code, vals := fetchValues(t, rc2, sick)
	require.Zero(t, code)
	assert.Equal(t, values("before"), vals, "exactly what was acknowledged")
	codes = produceEach(t, rc2, "after", 3, sick)
	require.Zero(t, codes[sick])
	_, vals = fetchValues(t, rc2, sick)
	assert.Equal(t, values("before", "after"), vals)
}

// TestFailedFsyncAnswersStorageError: under FsyncAlways an acks=all
// produce waits for the fsync. When that fsync fails, the partition goes
// offline and the parked produce is answered KAFKA_STORAGE_ERROR at once,
// not REQUEST_TIMED_OUT after the request's timeout (60 s here, longer than
// the 10 s the raw connection waits for an answer); the other partition of
// the same request is answered with success.
func TestFailedFsyncAnswersStorageError(t *testing.T) {
	dir := t.TempDir()
	fsys := errorfs.Wrap(vfs.Default)
	cfg := Config{DataDir: dir, Fsync: FsyncAlways, Logger: discardLogger()}
	cfg.logFS = fsys
	b := startBroker(t, cfg)
	require.NoError(t, b.CreateTopic("disk", 2, nil))
	sick, sibling := tp{"disk", 0}, tp{"disk", 1}
	rc := dialRaw(t, b)
	for x, code := range produceEach(t, rc, "before", 3, sick, sibling) {
		require.Zero(t, code, "%v: %v", x, kerr.ForCode(code))
	}

	fsys.Inject(errorfs.Fault{Ops: errorfs.OpSync, Path: errorfs.Under(filepath.Join(dir, "disk-0"))})
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 60_000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "disk"
	for _, p := range []int32{sick.p, sibling.p} {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = p, faultBatch("unsynced", 3)
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp := rc.roundTrip(req, 9).(*kmsg.ProduceResponse)
	codes := map[int32]int16{}
	for _, rp := range resp.Topics[0].Partitions {
		codes[rp.Partition] = rp.ErrorCode
	}
	assert.Equal(t, kerr.KafkaStorageError.Code, codes[sick.p], "%v", kerr.ForCode(codes[sick.p]))
	assert.Zero(t, codes[sibling.p], "%v", kerr.ForCode(codes[sibling.p]))
	assert.Less(t, b.topics.partition("disk", 0).log.SyncedOffset(), b.topics.partition("disk", 0).log.EndOffset(),
		"the failed fsync covered nothing")
}
