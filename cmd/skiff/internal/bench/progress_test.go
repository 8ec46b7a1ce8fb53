package bench

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestProgressPlainLines(t *testing.T) {
	var buf bytes.Buffer
	report := NewProgress(&buf, false)
	results := fixedResults()
	for i, r := range results {
		report(Progress{Index: i, Total: len(results), Point: r.Point})
		report(Progress{Index: i, Total: len(results), Point: r.Point, Result: &r})
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	assert.Len(t, lines, len(results), "one line per finished point, none per start")
	assert.Equal(t, "bench: [2/4] linger=5ms batch=16KiB none acks=all: 300,000 records/s, 30.00 MB/s, p99 12.000 ms", lines[1])
	assert.NotContains(t, buf.String(), "\r")
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	report := NewProgress(&buf, true)
	results := fixedResults()
	for i, r := range results {
		report(Progress{Index: i, Total: len(results), Point: r.Point})
		report(Progress{Index: i, Total: len(results), Point: r.Point, Result: &r})
	}
	out := buf.String()
	assert.Contains(t, out, "\r", "a terminal bar redraws in place")
	assert.Contains(t, out, "linger=0 batch=16KiB zstd acks=all")
	assert.Contains(t, out, "(3/4")
}
