package broker

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestZeroAheadKgoRoundTrip: kgo's 16 KiB batches are written over zeros
// laid ahead of them (internal/log's zeroAhead), yet a kgo consumer reads
// back exactly what was produced, before and after a restart; the closed
// log's segment ends at its last batch.
func TestZeroAheadKgoRoundTrip(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, Config{DataDir: dir})
	require.NoError(t, b.CreateTopic("big", 1, nil))
	const n = 2000
	cl := newClient(t, b, kgo.DefaultProduceTopic("big"), kgo.ProducerBatchMaxBytes(16<<10),
		kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RequiredAcks(kgo.AllISRAcks()))
	value := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 100+i%50) }
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: value(i)}
	}
	require.NoError(t, cl.ProduceSync(ctx(t), recs...).FirstErr())

	p := b.topics.partition("big", 0)
	segment := filepath.Join(p.log.Dir(), "00000000000000000000.log")
	st, err := os.Stat(segment)
	require.NoError(t, err)
	require.Greater(t, st.Size(), p.log.Size(), "the batches were written over zeros laid ahead")

	check := func(b *Broker) {
		t.Helper()
		got := consumeN(t, b, "big", n)
		for i, r := range got {
			require.Equal(t, fmt.Sprint(i), string(r.Key))
			require.Equal(t, value(i), r.Value, "record %d", i)
		}
	}
	check(b)
	size := p.log.Size()
	closeBroker(t, b)
	st, err = os.Stat(segment)
	require.NoError(t, err)
	assert.Equal(t, size, st.Size(), "a closed log's segment ends at its last batch")

	b = startBroker(t, Config{DataDir: dir})
	check(b)
}
