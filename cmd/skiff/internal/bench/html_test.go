package bench

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// checkSelfContained parses page and fails on anything that would need the
// network or a script to show: external src/href, scripts, remote fonts.
// It returns the page's visible text.
func checkSelfContained(t testing.TB, page []byte) string {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	require.NoError(t, err)
	var text strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.ElementNode:
			assert.NotEqual(t, "script", n.Data, "no scripts")
			assert.NotEqual(t, "link", n.Data, "no linked stylesheets or fonts")
			assert.NotEqual(t, "iframe", n.Data)
			for _, a := range n.Attr {
				switch strings.ToLower(a.Key) {
				case "src", "href", "xlink:href", "action", "srcset":
					assert.Fail(t, "external reference", "<%s %s=%q>", n.Data, a.Key, a.Val)
				}
				assert.False(t, strings.HasPrefix(strings.ToLower(a.Key), "on"), "event handler %s", a.Key)
			}
		case html.TextNode:
			if n.Parent != nil && n.Parent.Data == "style" {
				assert.NotContains(t, n.Data, "url(", "no external resources in CSS")
				assert.NotContains(t, n.Data, "@import")
			}
			text.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	// The SVG namespace declaration is an identifier, not a reference; nothing else may name a URL.
	rest := strings.ReplaceAll(string(page), `xmlns="http://www.w3.org/2000/svg"`, "")
	assert.NotContains(t, rest, "http://")
	assert.NotContains(t, rest, "https://")
	assert.NotRegexp(t, `(src|href)\s*=\s*["']?//`, rest)
	return text.String()
}

func TestWriteHTML(t *testing.T) {
	results := fixedResults()
	results[3].Failed, results[3].Err = 2, `<script>alert("x")</script> & NOT_ENOUGH_REPLICAS`
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, Report{
		Title: "bench <of> skiff", Target: "brokers a:9092", Workload: Workload{RecordSize: 100, Duration: time.Second},
		MaxP99: 50 * time.Millisecond, Generated: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC), Results: results,
	}))
	page := buf.Bytes()
	text := checkSelfContained(t, page)

	assert.NotContains(t, string(page), "<script>alert", "values must be escaped")
	assert.Contains(t, string(page), "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; NOT_ENOUGH_REPLICAS")
	assert.Contains(t, text, "bench <of> skiff")
	assert.Contains(t, text, "2026-11-25 09:00:00 UTC")
	assert.Contains(t, text, "recommendation: #2 linger=5ms batch=16KiB none acks=all — 300,000 records/s")
	for i, r := range results {
		assert.Contains(t, text, r.Point.Label(), "tooltip of point %d", i)
		assert.Contains(t, text, count(r.RecordsPerSec), "table row of point %d", i)
	}
	// Circles: a table swatch and a scatter marker per point, a legend entry per codec.
	assert.Equal(t, 2*len(results)+2, strings.Count(string(page), "<circle "))
	// Heat maps: one per codec, one cell per linger × batch.size.
	assert.Equal(t, 2, strings.Count(string(page), `font-weight="600">compression `))
	assert.Equal(t, len(results), strings.Count(string(page), `rx="3"`))
	assert.Equal(t, 1, strings.Count(string(page), `<tr class="best">`))
}

func TestWriteHTMLNoneQualifies(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, Report{MaxP99: time.Millisecond, Results: fixedResults()}))
	text := checkSelfContained(t, buf.Bytes())
	assert.Contains(t, text, "no setting kept p99 ≤ 1ms")
	assert.Contains(t, buf.String(), `class="rec none"`)
}

func TestWriteHTMLEmpty(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, Report{}))
	text := checkSelfContained(t, buf.Bytes())
	assert.Contains(t, text, "no setting kept p99")
	assert.NotContains(t, buf.String(), "NaN")
	assert.NotContains(t, buf.String(), "Inf")
}

// TestScatterLabels: every marker carries its table row number ("#7"), as
// the note under the chart says, even in a dense sweep where labels crowd.
func TestScatterLabels(t *testing.T) {
	var results []Result
	for i := range 40 {
		r := fixedResults()[i%4]
		r.RecordsPerSec = 400_000 + float64(i%5)*1000 // crowded: 5 columns of markers
		r.Latency.P99 = time.Duration(2+i%8) * time.Millisecond
		results = append(results, r)
	}
	var buf bytes.Buffer
	require.NoError(t, WriteHTML(&buf, Report{Results: results, Generated: time.Unix(0, 0)}))
	page := buf.String()
	for i := range results {
		assert.Regexp(t, fmt.Sprintf(`<text x="[\d.]+" y="[\d.]+" text-anchor="(start|end)" font-size="10" fill="#333">#%d</text>`, i+1), page, "label of marker %d", i+1)
	}
	assert.NotContains(t, page, "5ms/16KiB</text>", "labels are row numbers, not settings")

	// Labels overlap only when no spot around a marker is free: in a
	// sparse chart none do.
	c := newScatter(fixedResults(), Recommend(fixedResults(), DefaultMaxP99))
	for i, p := range c.Points {
		assert.Equal(t, fmt.Sprintf("#%d", i+1), p.Label)
		assert.NotEmpty(t, p.Anchor)
	}
}

func TestHTMLThousandsSeparators(t *testing.T) {
	var buf bytes.Buffer
	results := fixedResults()
	require.NoError(t, WriteHTML(&buf, Report{Results: results, Workload: Workload{Records: 1_000_000, KeyCardinality: 25_000}, Generated: time.Unix(0, 0)}))
	text := checkSelfContained(t, buf.Bytes())
	assert.Contains(t, text, "1,000,000 records per phase")
	assert.Contains(t, text, "25,000 distinct keys")
	assert.Contains(t, text, "400,000")
	assert.NotContains(t, text, "400000")
}
