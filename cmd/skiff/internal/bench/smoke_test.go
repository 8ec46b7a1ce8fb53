package bench

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/compress"
)

// TestSmokeEmbeddedBroker runs the real engine — skiff's producer against the
// bundled broker — on a tiny grid and checks every figure is sane.
func TestSmokeEmbeddedBroker(t *testing.T) {
	ctx := t.Context()
	cl, err := OpenCluster(ctx, ClusterConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, cl.Close(context.WithoutCancel(ctx))) })

	r := Runner{
		Target: cl,
		Grid: Grid{
			Lingers:      []time.Duration{0, 20 * time.Millisecond},
			BatchSizes:   []int{64 << 10},
			Compressions: []compress.Codec{compress.LZ4},
			Acks:         []Acks{AcksAll},
		},
		// One phase of 1000 records at a fixed 5k records/s, far below
		// what the producer manages even under -race on a loaded machine,
		// so linger decides how full batches get: a few records (a 1ms
		// burst of the pacing, or what arrives during one send) at
		// linger 0, around fifty at 20ms. At 80% of a measured peak
		// instead, a stall of a few tens of milliseconds (the machine is
		// shared) piled records into linger 0's batches until they
		// outgrew linger 20ms's.
		Workload: Workload{Records: 1000, Rate: 5_000, Duration: 10 * time.Second, Partitions: 2},
	}
	results, err := r.Run(ctx)
	require.NoError(t, err)
	require.Len(t, results, 2)
	for _, res := range results {
		t.Logf("%s: %.0f rec/s p50=%s p99=%s p999=%s rec/batch=%.1f req/s=%.0f ratio=%.2f",
			res.Point.Label(), res.RecordsPerSec, res.Latency.P50, res.Latency.P99, res.Latency.P999,
			res.RecordsPerBatch, res.RequestsPerSec, res.CompressionRatio)
		assertSane(t, res)
		assert.Positive(t, res.LoadRecordsPerSec)
		assert.Less(t, res.LoadRecordsPerSec, res.RecordsPerSec*1.2, "the latency phase runs below the peak")
		assert.EqualValues(t, 1000, res.Records)
		assert.Zero(t, res.Failed, res.Err)
		assert.True(t, res.HasBatchStats, "producer hooks must report batches")
		assert.True(t, res.HasRequestStats, "producer hooks must report requests")
		assert.Greater(t, res.CompressionRatio, 1.0, "lz4 compresses random letters")
	}
	assert.Greater(t, results[1].RecordsPerBatch, results[0].RecordsPerBatch, "records/batch must grow with linger")

	var page bytes.Buffer
	require.NoError(t, WriteHTML(&page, Report{Target: cl.Describe(), Results: results, Workload: r.Workload}))
	text := checkSelfContained(t, page.Bytes())
	for _, res := range results {
		assert.Contains(t, text, res.Point.Label())
		assert.Contains(t, text, count(res.RecordsPerSec))
	}
}
