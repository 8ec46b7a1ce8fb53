package bench

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// The latency columns and the hook columns describe the latency phase, run
// at "load rec/s"; records/s and MB/s are the saturated peak.
var tableHeader = []string{"#", "linger", "batch.size", "compression", "acks", "records/s", "MB/s",
	"load rec/s", "p50 ms", "p99 ms", "p99.9 ms", "rec/batch", "req/s", "ratio", "status"}

// tableRow is one result's cells, shared by the text and HTML tables.
func tableRow(i int, r Result) []string {
	return []string{
		strconv.Itoa(i + 1),
		FormatDuration(r.Point.Linger),
		FormatSize(r.Point.BatchSize),
		r.Point.Compression.String(),
		r.Point.Acks.String(),
		count(r.RecordsPerSec),
		fixed(r.MBPerSec, 2),
		count(r.LoadRecordsPerSec),
		ms(r.Latency.P50),
		ms(r.Latency.P99),
		ms(r.Latency.P999),
		hooked(r.HasBatchStats, r.RecordsPerBatch, 1),
		hooked(r.HasRequestStats, r.RequestsPerSec, 0),
		hooked(r.HasBatchStats && r.CompressionRatio > 0, r.CompressionRatio, 2),
		status(r),
	}
}

// WriteTable writes results as an aligned table followed by the
// recommendation for maxP99.
func WriteTable(w io.Writer, results []Result, maxP99 time.Duration) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	writeCells(tw, tableHeader)
	for i, r := range results {
		writeCells(tw, tableRow(i, r))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "\n"+tableLegend+"\n\n"+summaryLines(results, maxP99))
	return err
}

// tableLegend explains the columns under the terminal table (the HTML
// report has the same text under its table).
const tableLegend = `records/s, MB/s  peak throughput of a saturated phase (MB/s: key and value bytes before compression, 10^6 B)
load rec/s       rate offered while latency was measured (--load × the peak, or --rate)
p50/p99/p99.9 ms send→ack latency at that load
rec/batch, req/s records per batch and Produce requests per second at that load (producer hooks)
ratio            compression ratio: uncompressed ÷ wire bytes (1.00 without compression)
status           ok, "N runs" for settings measured again to estimate the noise, or why it cannot be recommended`

func writeCells(w io.Writer, cells []string) {
	for _, c := range cells {
		io.WriteString(w, c)
		io.WriteString(w, "\t")
	}
	io.WriteString(w, "\n")
}

// summaryLines is the recommendation and any caveat about missing figures.
func summaryLines(results []Result, maxP99 time.Duration) string {
	rec := Recommend(results, maxP99)
	s := recommendationText(rec)
	if len(results) > 0 && !anyHooked(results) {
		s += "\nnote: the producer reported no batch/request hooks, so rec/batch, req/s and ratio are unavailable"
	}
	return s
}

func recommendationText(rec Recommendation) string {
	if !rec.Found {
		return fmt.Sprintf("recommendation: no setting kept p99 ≤ %s; raise --max-p99 or lower the load (--rate)", FormatDuration(rec.MaxP99))
	}
	r := rec.Result
	s := fmt.Sprintf("recommendation: #%d %s — %s records/s, %s MB/s, p99 %s ms",
		rec.Index+1, r.Point.Label(), count(r.RecordsPerSec), fixed(r.MBPerSec, 2), ms(r.Latency.P99))
	switch {
	case rec.Repeated == 0:
		s += fmt.Sprintf("\n  the highest throughput with p99 ≤ %s (no setting was run twice, so the noise is unknown: --repeat)", FormatDuration(rec.MaxP99))
	case rec.Fastest != rec.Index:
		s += fmt.Sprintf("\n  the lowest p99 (within its noise) among the settings within the measured noise (%s) of the fastest with p99 ≤ %s, #%d at %s records/s",
			percent(rec.Noise), FormatDuration(rec.MaxP99), rec.Fastest+1, count(rec.FastestRecordsPerSec))
	default:
		s += fmt.Sprintf("\n  the highest throughput with p99 ≤ %s; no setting within the measured noise (%s) of it had a p99 lower beyond the p99 noise", FormatDuration(rec.MaxP99), percent(rec.Noise))
	}
	if rec.Repeated > 0 {
		s += fmt.Sprintf("\n  noise: the median run-to-run spread of the %d fastest settings, each run twice: %s in records/s, %s in p99 (p99s within it count as equal, and then the faster setting wins)",
			rec.Repeated, percent(rec.Noise), percent(rec.P99Noise))
	}
	return s
}

func anyHooked(results []Result) bool {
	for _, r := range results {
		if r.HasBatchStats || r.HasRequestStats {
			return true
		}
	}
	return false
}
