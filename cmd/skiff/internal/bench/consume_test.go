package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSmokeConsumeEmbeddedBroker(t *testing.T) {
	ctx := t.Context()
	cl, err := OpenCluster(ctx, ClusterConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, cl.Close(context.WithoutCancel(ctx))) })

	var produced *Result
	r := ConsumeRunner{
		Target:       cl,
		Grid:         FetchGrid{MinBytes: []int{1, 64 << 10}, MaxPartitionBytes: []int{1 << 20}},
		Workload:     Workload{Records: 5000, Partitions: 2},
		PointTimeout: 30 * time.Second,
		Progress: func(p ConsumeProgress) {
			if p.Produced != nil {
				produced = p.Produced
			}
		},
	}
	results, err := r.Run(ctx)
	require.NoError(t, err)
	require.NotNil(t, produced)
	assert.EqualValues(t, 5000, produced.Records)
	require.Len(t, results, 2)
	for _, res := range results {
		assert.EqualValues(t, 5001, res.Records, "every produced record, warm-up included, is read once")
		assert.EqualValues(t, 5001*100, res.Bytes)
		assert.Positive(t, res.RecordsPerSec)
		assert.Positive(t, res.MBPerSec)
		assert.Positive(t, res.Polls)
		assert.Empty(t, res.Err)
	}

	var table, lines bytes.Buffer
	require.NoError(t, WriteConsumeTable(&table, results))
	assert.Contains(t, table.String(), "fetch.min.bytes")
	assert.Contains(t, table.String(), "64KiB")
	require.NoError(t, WriteConsumeJSON(&lines, results))
	sc := bufio.NewScanner(&lines)
	n := 0
	for sc.Scan() {
		var got jsonConsumeResult
		require.NoError(t, json.Unmarshal(sc.Bytes(), &got))
		assert.Equal(t, results[n].Point.MinBytes, got.FetchMinBytes)
		n++
	}
	assert.Equal(t, 2, n)
	assert.Equal(t, 3, strings.Count(strings.TrimSpace(table.String()), "\n")+1)
}

func TestFetchGrid(t *testing.T) {
	g := DefaultFetchGrid()
	require.NoError(t, g.Validate())
	assert.Len(t, g.Points(), 9)
	assert.Equal(t, "fetch.min=1B max.partition=256KiB", g.Points()[0].Label())
	err := FetchGrid{MinBytes: []int{0}}.Validate()
	assert.ErrorContains(t, err, "no max.partition.fetch.bytes")
	assert.ErrorContains(t, err, "size 0 must be positive")
}

func TestWriteConsumeHTML(t *testing.T) {
	results := []ConsumeResult{
		{Point: FetchPoint{MinBytes: 1, MaxPartitionBytes: 1 << 20}, Records: 1000, RecordsPerSec: 500_000, MBPerSec: 50, Polls: 3, RecordsPerPoll: 333},
		{Point: FetchPoint{MinBytes: 1, MaxPartitionBytes: 4 << 20}, Records: 1000, RecordsPerSec: 900_000, MBPerSec: 90, Polls: 2, RecordsPerPoll: 500},
		{Point: FetchPoint{MinBytes: 1 << 20, MaxPartitionBytes: 1 << 20}, Records: 1000, RecordsPerSec: 2_000_000, Err: `<b>boom</b>`},
		{Point: FetchPoint{MinBytes: 1 << 20, MaxPartitionBytes: 4 << 20}, Records: 1000, RecordsPerSec: 800_000, MBPerSec: 80, Polls: 2},
	}
	var buf bytes.Buffer
	require.NoError(t, WriteConsumeHTML(&buf, ConsumeReport{Target: "brokers x", Workload: Workload{Records: 1000}, Results: results}))
	text := checkSelfContained(t, buf.Bytes())
	assert.Contains(t, text, "fastest: #2 fetch.min=1B max.partition=4MiB — 900,000 records/s", "failed points are never the fastest")
	assert.Contains(t, buf.String(), "&lt;b&gt;boom&lt;/b&gt;")
	assert.Equal(t, len(results), strings.Count(buf.String(), "<g><title>#"), "one bar per setting")
	for _, r := range results {
		assert.Contains(t, text, r.Point.Label())
	}
}
