package broker

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/internal/log"
)

// TestProduceWideKgo has kgo produce to 64 partitions at once, so that its
// Produce requests carry many partitions and the broker writes them
// through one Appender flush (one io_submit on Linux): every record must
// read back once, in the order each key was produced, at contiguous
// offsets, and the writes must have gone through AIO where the build has it.
func TestProduceWideKgo(t *testing.T) {
	b := startBroker(t, Config{})
	const parts, keys, perKey = 64, 640, 20
	cl := newClient(t, b, kgo.DefaultProduceTopic("wide"),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(20*time.Millisecond), kgo.ProducerBatchMaxBytes(16<<10))
	createTopic(t, cl, "wide", parts, nil)

	aioBefore := log.AIOWrites()
	var wg sync.WaitGroup
	for i := 0; i < keys*perKey; i++ {
		r := &kgo.Record{Key: []byte(strconv.Itoa(i % keys)), Value: []byte(strconv.Itoa(i))}
		wg.Add(1)
		cl.Produce(ctx(t), r, func(_ *kgo.Record, err error) {
			defer wg.Done()
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	if log.AIOSupported {
		assert.Greater(t, log.AIOWrites(), aioBefore, "kgo's multi-partition requests went through one io_submit each")
	}

	consumer := newClient(t, b, kgo.ConsumeTopics("wide"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	last := map[string]int{}      // key -> last value read
	next := map[int32]int64{}     // partition -> next offset
	keyPart := map[string]int32{} // key -> its partition
	for read := 0; read < keys*perKey; {
		fs := consumer.PollFetches(ctx(t))
		require.NoError(t, fs.Err())
		fs.EachRecord(func(r *kgo.Record) {
			read++
			k := string(r.Key)
			v, err := strconv.Atoi(string(r.Value))
			require.NoError(t, err)
			require.Equal(t, next[r.Partition], r.Offset, "partition %d offsets contiguous", r.Partition)
			next[r.Partition]++
			if p, ok := keyPart[k]; ok {
				require.Equal(t, p, r.Partition, "key %s stays on one partition", k)
				require.Equal(t, last[k]+keys, v, "key %s in produce order", k)
			} else {
				require.Equal(t, v, mustAtoi(t, k), "key %s starts at its first record", k)
			}
			keyPart[k], last[k] = r.Partition, v
		})
	}
	assert.Len(t, keyPart, keys)
	for k, v := range last {
		assert.Equal(t, mustAtoi(t, k)+keys*(perKey-1), v, fmt.Sprintf("key %s ends at its last record", k))
	}
	assert.Greater(t, len(next), parts/2, "records spread over the partitions")
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}
