package bench

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"time"
)

// Report is everything WriteHTML puts on the page.
type Report struct {
	// Title heads the page. Empty means "skiff bench".
	Title string
	// Target describes what was measured, e.g. "embedded broker" or a broker list.
	Target    string
	Workload  Workload
	MaxP99    time.Duration // zero means DefaultMaxP99
	Generated time.Time
	Results   []Result
}

//go:embed report.html.tmpl consume.html.tmpl style.html.tmpl
var templateFS embed.FS

// The template is parsed once; html/template escapes every value it prints,
// including the SVG text and attributes built in chart.go.
var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"add": arith(func(a, b float64) float64 { return a + b }),
	"sub": arith(func(a, b float64) float64 { return a - b }),
	"mul": arith(func(a, b float64) float64 { return a * b }),
	"div": arith(func(a, b float64) float64 { return a / b }),
	"count": func(v any) (string, error) {
		x, err := num(v)
		return count(x), err
	},
}).ParseFS(templateFS, "*.html.tmpl"))

// arith lets the template's arithmetic mix the chart's float64 coordinates
// with int indexes and literals.
func arith(op func(a, b float64) float64) func(a, b any) (float64, error) {
	return func(a, b any) (float64, error) {
		x, err := num(a)
		if err != nil {
			return 0, err
		}
		y, err := num(b)
		if err != nil {
			return 0, err
		}
		return op(x, y), nil
	}
}

func num(v any) (float64, error) {
	switch v := v.(type) {
	case float64:
		return v, nil
	case int:
		return float64(v), nil
	}
	return 0, fmt.Errorf("bench: template arithmetic on %T", v)
}

// pageData is the template's view of a Report.
type pageData struct {
	Report
	Workload       Workload
	Recommendation Recommendation
	RecText        string
	Scatter        scatterChart
	HeatMaps       []heatMap
	Header         []string
	Rows           []pageRow
	Hooked         bool
	LoadPercent    string
}

type pageRow struct {
	Cells       []string // all but the status
	Status      string
	Recommended bool
	Qualifies   bool
	Color       string
}

// WriteHTML writes rep as one self-contained HTML page: inline CSS and SVG,
// no scripts and no external references, so it opens offline.
func WriteHTML(w io.Writer, rep Report) error {
	if rep.Title == "" {
		rep.Title = "skiff bench"
	}
	if rep.MaxP99 == 0 {
		rep.MaxP99 = DefaultMaxP99
	}
	if rep.Generated.IsZero() {
		rep.Generated = time.Now()
	}
	rec := Recommend(rep.Results, rep.MaxP99)
	d := pageData{
		Report:         rep,
		Workload:       rep.Workload.withDefaults(),
		Recommendation: rec,
		RecText:        recommendationText(rec),
		Scatter:        newScatter(rep.Results, rec),
		HeatMaps:       newHeatMaps(rep.Results, rec),
		Header:         tableHeader,
		Hooked:         anyHooked(rep.Results),
	}
	d.LoadPercent = fixed(d.Workload.Load*100, 0)
	for i, r := range rep.Results {
		cells := tableRow(i, r)
		d.Rows = append(d.Rows, pageRow{
			Cells: cells[:len(cells)-1], Status: cells[len(cells)-1], Recommended: rec.Found && rec.Index == i,
			Qualifies: rec.Qualifies(r), Color: codecColor(r.Point.Compression),
		})
	}
	return reportTmpl.ExecuteTemplate(w, "report", d)
}
