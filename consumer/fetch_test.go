package consumer

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestControlBatchesSkipped produces committed and aborted transactions:
// read_uncommitted returns every data record and no transaction marker,
// read_committed drops the aborted ones, and both end at the high
// watermark, past the last marker.
func TestControlBatchesSkipped(t *testing.T) {
	c := newCluster(t, 1, 1, "t")
	tx := newProducer(t, c, kgo.TransactionalID("tx"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	txn := func(prefix string, n int, commit bool) {
		require.NoError(t, tx.BeginTransaction())
		for i := 0; i < n; i++ {
			tx.Produce(ctx, &kgo.Record{Topic: "t", Value: []byte(fmt.Sprintf("%s%d", prefix, i))}, nil)
		}
		require.NoError(t, tx.Flush(ctx))
		require.NoError(t, tx.EndTransaction(ctx, kgo.TransactionEndTry(commit)))
	}
	txn("c", 10, true)
	txn("a", 5, false)
	txn("d", 5, true)
	// 20 data records and 3 markers: the log ends at 23.

	for _, tc := range []struct {
		name  string
		level IsolationLevel
		want  int
	}{{"read_uncommitted", ReadUncommitted, 20}, {"read_committed", ReadCommitted, 15}} {
		t.Run(tc.name, func(t *testing.T) {
			cons := newTestConsumer(t, Config{Brokers: c.ListenAddrs(), IsolationLevel: tc.level, Assign: allPartitions("t", 1, OffsetEarliest)})
			got := pollN(t, cons, tc.want, 10*time.Second)
			for _, r := range got {
				require.NotEmpty(t, r.Value, "a control record leaked at offset %d", r.Offset)
				if tc.level == ReadCommitted {
					assert.NotEqual(t, byte('a'), r.Value[0], "aborted record at %d", r.Offset)
				}
			}
			require.Eventually(t, func() bool {
				pctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				recs, _ := cons.Poll(pctx)
				require.Empty(t, recs)
				pos, err := cons.Position("t", 0)
				return err == nil && pos == 23
			}, 5*time.Second, 10*time.Millisecond, "position did not move past the last marker")
		})
	}
}

func TestOffsetOutOfRangeReset(t *testing.T) {
	c := newCluster(t, 1, 1, "t")
	pr := newProducer(t, c)
	produceN(t, pr, "t", 3, "x")
	for _, tc := range []struct {
		reset string
		check func(t *testing.T, cons *Consumer)
	}{
		{"earliest", func(t *testing.T, cons *Consumer) {
			got := pollN(t, cons, 3, 10*time.Second)
			assert.Equal(t, int64(0), got[0].Offset)
		}},
		{"latest", func(t *testing.T, cons *Consumer) {
			require.Eventually(t, func() bool {
				pos, _ := cons.Position("t", 0)
				return pos == 3
			}, 10*time.Second, 10*time.Millisecond)
		}},
		{"none", func(t *testing.T, cons *Consumer) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := cons.Poll(ctx)
			require.ErrorIs(t, err, ErrOffsetOutOfRange)
			// Seek repairs it.
			require.NoError(t, cons.Seek("t", 0, 1))
			got := pollN(t, cons, 2, 10*time.Second)
			assert.Equal(t, int64(1), got[0].Offset)
		}},
	} {
		t.Run(tc.reset, func(t *testing.T) {
			cons := newTestConsumer(t, Config{Brokers: c.ListenAddrs(), AutoOffsetReset: tc.reset, Assign: allPartitions("t", 1, 1000)})
			tc.check(t, cons)
		})
	}
}

func TestSeekPauseResume(t *testing.T) {
	c := newCluster(t, 1, 2, "t")
	pr := newProducer(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < 2; p++ {
		for i := 0; i < 10; i++ {
			produce(t, pr, &kgo.Record{Topic: "t", Partition: p, Value: []byte(fmt.Sprintf("p%d-%d", p, i))})
		}
	}
	cons := newTestConsumer(t, Config{Brokers: c.ListenAddrs(), Assign: allPartitions("t", 2, OffsetEarliest)})
	require.NoError(t, cons.Pause(TopicPartition{"t", 1}))
	assert.Equal(t, []TopicPartition{{"t", 1}}, cons.Paused())
	got := pollN(t, cons, 10, 10*time.Second)
	for _, r := range got {
		assert.Equal(t, int32(0), r.Partition)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	recs, err := cons.Poll(ctx)
	cancel()
	assert.Empty(t, recs, "a paused partition returned records")
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	require.NoError(t, cons.Resume(TopicPartition{"t", 1}))
	got = pollN(t, cons, 10, 10*time.Second)
	for _, r := range got {
		assert.Equal(t, int32(1), r.Partition)
	}

	require.NoError(t, cons.Seek("t", 0, 7))
	got = pollN(t, cons, 3, 10*time.Second)
	assert.Equal(t, []int64{7, 8, 9}, []int64{got[0].Offset, got[1].Offset, got[2].Offset})

	assert.ErrorIs(t, cons.Seek("t", 5, 0), ErrNotAssigned)
	assert.ErrorIs(t, cons.Pause(TopicPartition{"nope", 0}), ErrNotAssigned)

	// Assign replaces the assignment; a dropped partition stops.
	require.NoError(t, cons.Assign(map[string][]TopicPartitionOffset{"t": {{Partition: 1, Offset: 5}}}))
	assert.Equal(t, []TopicPartition{{"t", 1}}, cons.Assignment())
	got = pollN(t, cons, 5, 10*time.Second)
	assert.Equal(t, int64(5), got[0].Offset)
	assert.Equal(t, int32(1), got[0].Partition)
}

func TestAssignModeCommits(t *testing.T) {
	c := newCluster(t, 1, 1, "t")
	pr := newProducer(t, c)
	produceN(t, pr, "t", 10, "x")
	cfg := Config{Brokers: c.ListenAddrs(), GroupID: "assigner", DisableAutoCommit: true, Assign: allPartitions("t", 1, OffsetCommitted), AutoOffsetReset: "earliest"}
	cons := newTestConsumer(t, cfg)
	pollN(t, cons, 10, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, cons.CommitOffsets(ctx, map[TopicPartition]TopicPartitionOffset{{"t", 0}: {Partition: 0, Offset: 4, LeaderEpoch: -1, Metadata: "m"}}))
	got, err := cons.Committed(ctx, []TopicPartition{{"t", 0}})
	require.NoError(t, err)
	assert.Equal(t, int64(4), got[TopicPartition{"t", 0}].Offset)
	assert.Equal(t, "m", got[TopicPartition{"t", 0}].Metadata)
	require.NoError(t, cons.Close(ctx))

	// A new consumer starting at the committed offset resumes at 4.
	cons2 := newTestConsumer(t, cfg)
	recs := pollN(t, cons2, 6, 10*time.Second)
	assert.Equal(t, int64(4), recs[0].Offset)

	done := make(chan error, 1)
	cons2.CommitAsync(func(_ map[TopicPartition]TopicPartitionOffset, err error) { done <- err })
	require.NoError(t, <-done)
	got, err = cons2.Committed(ctx, []TopicPartition{{"t", 0}})
	require.NoError(t, err)
	assert.Equal(t, int64(10), got[TopicPartition{"t", 0}].Offset)
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no brokers", Config{Topics: []string{"t"}, GroupID: "g"}, "Brokers"},
		{"both modes", Config{Brokers: []string{"a:1"}, GroupID: "g", Topics: []string{"t"}, Assign: allPartitions("t", 1, 0)}, "exclusive"},
		{"topics without group", Config{Brokers: []string{"a:1"}, Topics: []string{"t"}}, "GroupID"},
		{"bad reset", Config{Brokers: []string{"a:1"}, AutoOffsetReset: "smallest"}, "auto.offset.reset"},
		{"bad assignor", Config{Brokers: []string{"a:1"}, Assignors: []string{"sticky"}}, "unknown assignor"},
		{"heartbeat above session", Config{Brokers: []string{"a:1"}, HeartbeatInterval: time.Minute}, "HeartbeatInterval"},
		{"committed without group", Config{Brokers: []string{"a:1"}, Assign: allPartitions("t", 1, OffsetCommitted)}, "OffsetCommitted"},
		{"negative", Config{Brokers: []string{"a:1"}, MaxPollRecords: -1}, "MaxPollRecords"},
		{"not host port", Config{Brokers: []string{"localhost"}}, "host:port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestClosedConsumer(t *testing.T) {
	c := newCluster(t, 1, 1, "t")
	cons, err := New(Config{Brokers: c.ListenAddrs(), Assign: allPartitions("t", 1, 0), Logger: testLogger()})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, cons.Close(ctx))
	_, err = cons.Poll(ctx)
	assert.ErrorIs(t, err, ErrClosed)
	assert.NoError(t, cons.Close(ctx), "a second Close is a no-op")
	assert.ErrorIs(t, cons.CommitSync(ctx), ErrNoGroup)
	assert.True(t, errors.Is(cons.Seek("t", 0, 0), ErrClosed))
}
