package bench

import (
	"strconv"
	"strings"
	"time"
)

// The renderers share these spellings so the table, the JSON and the page agree.

// ms prints a latency in milliseconds with microsecond precision.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
}

func fixed(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }

// count prints a rate or count rounded to a whole number with thousands
// separators (4,349,120): seven-digit figures are unreadable without them.
func count(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// percent prints a fraction as a percentage with one decimal (0.042 → 4.2%).
func percent(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }

// hooked prints a hook-derived figure, or "-" when the producer reported none.
func hooked(ok bool, v float64, prec int) string {
	if !ok {
		return "-"
	}
	return fixed(v, prec)
}

// status is the last table column: what went wrong with a point, if anything.
func status(r Result) string {
	switch {
	case r.Interrupted:
		return "interrupted"
	case r.Failed > 0:
		return strconv.FormatInt(r.Failed, 10) + " failed: " + r.Err
	case len(r.Runs) > 1:
		runs := make([]string, len(r.Runs))
		for i, v := range r.Runs {
			runs[i] = count(v)
		}
		return "ok, " + strconv.Itoa(len(r.Runs)) + " runs: " + strings.Join(runs, " / ")
	}
	return "ok"
}
