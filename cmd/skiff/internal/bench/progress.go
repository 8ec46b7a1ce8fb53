package bench

import (
	"fmt"
	"io"

	"github.com/schollz/progressbar/v3"
)

// NewProgress returns a Runner.Progress callback that reports to w: a
// progress bar when w is a terminal, otherwise one plain line per finished
// point (logs and CI output do not render carriage returns).
func NewProgress(w io.Writer, terminal bool) func(Progress) {
	if !terminal {
		return func(p Progress) {
			if p.Result != nil {
				fmt.Fprintf(w, "bench: [%d/%d] %s\n", p.Index+1, p.Total, progressLine(*p.Result))
			}
		}
	}
	var bar *progressbar.ProgressBar
	return func(p Progress) {
		if bar == nil {
			bar = progressbar.NewOptions(p.Total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetWidth(30),
				progressbar.OptionShowCount(),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionClearOnFinish(),
				progressbar.OptionSetRenderBlankState(true),
			)
		}
		if p.Result == nil {
			bar.Describe(p.Point.Label())
			return
		}
		_ = bar.Add(1) // writes to w; a failing terminal is not worth stopping the run
		if p.Index+1 == p.Total {
			_ = bar.Finish()
		}
	}
}

func progressLine(r Result) string {
	s := fmt.Sprintf("%s: %s records/s, %s MB/s, p99 %s ms", r.Point.Label(), fixed(r.RecordsPerSec, 0), fixed(r.MBPerSec, 2), ms(r.Latency.P99))
	if st := status(r); st != "ok" {
		s += " (" + st + ")"
	}
	return s
}
