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
		fixed(r.RecordsPerSec, 0),
		fixed(r.MBPerSec, 2),
		fixed(r.LoadRecordsPerSec, 0),
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
	_, err := fmt.Fprintln(w, "\n"+summaryLines(results, maxP99))
	return err
}

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
	return fmt.Sprintf("recommendation (highest throughput with p99 ≤ %s): #%d %s — %s records/s, %s MB/s, p99 %s ms",
		FormatDuration(rec.MaxP99), rec.Index+1, r.Point.Label(), fixed(r.RecordsPerSec, 0), fixed(r.MBPerSec, 2), ms(r.Latency.P99))
}

func anyHooked(results []Result) bool {
	for _, r := range results {
		if r.HasBatchStats || r.HasRequestStats {
			return true
		}
	}
	return false
}
