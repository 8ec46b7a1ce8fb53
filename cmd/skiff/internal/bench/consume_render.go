package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

var consumeHeader = []string{"#", "fetch.min.bytes", "max.partition.fetch.bytes", "records", "records/s", "MB/s", "polls", "rec/poll", "status"}

// consumeRow is one result's cells, shared by the text and HTML tables.
func consumeRow(i int, r ConsumeResult) []string {
	st := "ok"
	switch {
	case r.Interrupted:
		st = "interrupted"
	case r.Err != "":
		st = r.Err
	}
	return []string{
		strconv.Itoa(i + 1), FormatSize(r.Point.MinBytes), FormatSize(r.Point.MaxPartitionBytes),
		strconv.FormatInt(r.Records, 10), count(r.RecordsPerSec), fixed(r.MBPerSec, 2),
		strconv.FormatInt(r.Polls, 10), fixed(r.RecordsPerPoll, 1), st,
	}
}

// WriteConsumeTable writes consume results as an aligned table.
func WriteConsumeTable(w io.Writer, results []ConsumeResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	writeCells(tw, consumeHeader)
	for i, r := range results {
		writeCells(tw, consumeRow(i, r))
	}
	return tw.Flush()
}

// ConsumeReport is everything WriteConsumeHTML puts on the page.
type ConsumeReport struct {
	Title     string // empty means "skiff bench consume"
	Target    string
	Workload  Workload
	Generated time.Time
	Results   []ConsumeResult
}

// WriteConsumeHTML writes rep as one self-contained HTML page, like WriteHTML.
func WriteConsumeHTML(w io.Writer, rep ConsumeReport) error {
	if rep.Title == "" {
		rep.Title = "skiff bench consume"
	}
	if rep.Generated.IsZero() {
		rep.Generated = time.Now()
	}
	d := struct {
		ConsumeReport
		Workload Workload
		Bars     barChart
		Header   []string
		Rows     []pageRow
		Best     string
	}{ConsumeReport: rep, Workload: rep.Workload.withDefaults(), Bars: newConsumeBars(rep.Results), Header: consumeHeader}
	best := -1
	for i, r := range rep.Results {
		cells := consumeRow(i, r)
		d.Rows = append(d.Rows, pageRow{Cells: cells[:len(cells)-1], Status: cells[len(cells)-1]})
		if r.Err == "" && !r.Interrupted && (best < 0 || r.RecordsPerSec > rep.Results[best].RecordsPerSec) {
			best = i
		}
	}
	if best >= 0 {
		r := rep.Results[best]
		d.Best = fmt.Sprintf("#%d %s — %s records/s, %s MB/s", best+1, r.Point.Label(), count(r.RecordsPerSec), fixed(r.MBPerSec, 2))
	}
	return reportTmpl.ExecuteTemplate(w, "consume", d)
}

type jsonConsumeResult struct {
	FetchMinBytes          int     `json:"fetch_min_bytes"`
	MaxPartitionFetchBytes int     `json:"max_partition_fetch_bytes"`
	Records                int64   `json:"records"`
	Bytes                  int64   `json:"bytes"`
	Polls                  int64   `json:"polls"`
	ElapsedMs              float64 `json:"elapsed_ms"`
	RecordsPerSec          float64 `json:"records_per_sec"`
	MBPerSec               float64 `json:"mb_per_sec"`
	RecordsPerPoll         float64 `json:"records_per_poll"`
	Interrupted            bool    `json:"interrupted,omitempty"`
	Error                  string  `json:"error,omitempty"`
}

// WriteConsumeJSON writes one JSON object per consume result per line.
func WriteConsumeJSON(w io.Writer, results []ConsumeResult) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		if err := enc.Encode(jsonConsumeResult{
			FetchMinBytes: r.Point.MinBytes, MaxPartitionFetchBytes: r.Point.MaxPartitionBytes,
			Records: r.Records, Bytes: r.Bytes, Polls: r.Polls, ElapsedMs: toMs(r.Elapsed),
			RecordsPerSec: r.RecordsPerSec, MBPerSec: r.MBPerSec, RecordsPerPoll: r.RecordsPerPoll,
			Interrupted: r.Interrupted, Error: r.Err,
		}); err != nil {
			return err
		}
	}
	return nil
}
