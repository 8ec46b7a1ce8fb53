package bench

import (
	"strconv"
	"time"
)

// The renderers share these spellings so the table, the JSON and the page agree.

// ms prints a latency in milliseconds with microsecond precision.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
}

func fixed(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }

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
	}
	return "ok"
}
