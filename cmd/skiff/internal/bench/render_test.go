package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteTable(&buf, fixedResults(), 50*time.Millisecond))
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	require.GreaterOrEqual(t, len(lines), 6)
	assert.Contains(t, lines[0], "records/s")
	assert.Contains(t, lines[0], "p99.9 ms")
	// Right-aligned columns: every row is as wide as the header.
	for _, l := range lines[1:5] {
		assert.Equal(t, len(strings.TrimRight(lines[0], " ")), len(strings.TrimRight(l, " ")), l)
	}
	assert.Contains(t, lines[2], "300,000")
	assert.Contains(t, lines[2], "12.000")
	assert.Contains(t, lines[4], "zstd")
	assert.Contains(t, buf.String(), "recommendation: #2 linger=5ms batch=16KiB none acks=all — 300,000 records/s")
	assert.NotContains(t, buf.String(), "note:")
}

func TestWriteTableWithoutHooks(t *testing.T) {
	results := fixedResults()
	for i := range results {
		results[i].HasBatchStats, results[i].HasRequestStats = false, false
	}
	var buf bytes.Buffer
	require.NoError(t, WriteTable(&buf, results, time.Millisecond))
	out := buf.String()
	assert.Contains(t, out, "no setting kept p99 ≤ 1ms")
	assert.Contains(t, out, "note: the producer reported no batch/request hooks")
	assert.NotContains(t, out, " 1.60 ", "compression ratio must not be shown without hooks")
}

func TestWriteJSON(t *testing.T) {
	results := fixedResults()
	results[2].HasBatchStats = false
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, results))
	sc := bufio.NewScanner(&buf)
	var n int
	for sc.Scan() {
		var got map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &got), sc.Text())
		r := results[n]
		assert.Equal(t, float64(r.Point.Linger)/1e6, got["linger_ms"])
		assert.EqualValues(t, r.Point.BatchSize, got["batch_size"])
		assert.Equal(t, r.Point.Compression.String(), got["compression"])
		assert.Equal(t, "all", got["acks"])
		assert.Equal(t, r.RecordsPerSec, got["records_per_sec"])
		assert.Equal(t, float64(r.Latency.P99)/1e6, got["p99_ms"])
		if n == 2 {
			assert.Nil(t, got["records_per_batch"], "missing hooks are null, not 0")
			assert.Nil(t, got["compression_ratio"])
		} else {
			assert.Equal(t, r.RecordsPerBatch, got["records_per_batch"])
		}
		n++
	}
	assert.Equal(t, len(results), n)
}

func TestNiceAxes(t *testing.T) {
	top, ticks := niceLinear(437_000)
	assert.Equal(t, 500_000.0, top)
	assert.Equal(t, []float64{0, 100_000, 200_000, 300_000, 400_000, 500_000}, ticks)
	top, ticks = niceLinear(0)
	assert.Positive(t, top)
	assert.NotEmpty(t, ticks)

	lo, hi, lticks := niceLog(0.35, 80)
	assert.Equal(t, 0.1, lo)
	assert.Equal(t, 100.0, hi)
	assert.Equal(t, []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100}, lticks)
	lo, hi, _ = niceLog(10, 10)
	assert.Less(t, lo, hi)
}

func TestShortCount(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1234: "1.23k", 51200: "51.2k", 121_920: "122k", 1_234_567: "1.23M"} {
		assert.Equal(t, want, shortCount(in), in)
	}
}

func TestHeatColor(t *testing.T) {
	fill, ink := heatColor(0)
	assert.Equal(t, "#eff3ff", fill)
	assert.Equal(t, "#111111", ink)
	fill, ink = heatColor(1)
	assert.Equal(t, "#08306b", fill)
	assert.Equal(t, "#ffffff", ink)
	fill, _ = heatColor(7) // clamped
	assert.Equal(t, "#08306b", fill)
}
