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
				again := ""
				if p.Repeat {
					again = "again (for the noise estimate): "
				}
				fmt.Fprintf(w, "bench: [%d/%d] %s%s\n", p.Index+1, p.Total, again, progressLine(*p.Result))
			}
		}
	}
	var bar *progressbar.ProgressBar
	return func(p Progress) {
		if bar == nil || (p.Repeat && bar.IsFinished()) {
			// A new bar for the repeats after the sweep, which finished
			// (and cleared) the first one.
			bar = progressbar.NewOptions(p.Total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetWidth(30),
				progressbar.OptionShowCount(),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionClearOnFinish(),
				progressbar.OptionSetRenderBlankState(true),
			)
			_ = bar.Set(p.Index)
		}
		if bar.GetMax() != p.Total {
			bar.ChangeMax(p.Total) // the repeats after the sweep
		}
		if p.Result == nil {
			if p.Repeat {
				bar.Describe("again: " + p.Point.Label())
			} else {
				bar.Describe(p.Point.Label())
			}
			return
		}
		_ = bar.Add(1) // writes to w; a failing terminal is not worth stopping the run
		if p.Index+1 == p.Total {
			_ = bar.Finish()
		}
	}
}

func progressLine(r Result) string {
	s := fmt.Sprintf("%s: %s records/s, %s MB/s, p99 %s ms", r.Point.Label(), count(r.RecordsPerSec), fixed(r.MBPerSec, 2), ms(r.Latency.P99))
	if st := status(r); st != "ok" {
		s += " (" + st + ")"
	}
	return s
}
