package bench

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/skiffkit/skiff/internal/compress"
)

// The charts are computed here as plain geometry and drawn by the page's
// template, so every label passes through html/template's escaping.

type tick struct {
	Pos   float64
	Label string
}

type legendItem struct {
	Color, Label string
}

type scatterPoint struct {
	X, Y        float64
	Color       string
	Label       string // "#3": the setting's row in the table
	Title       string // tooltip with the full setting and figures
	Recommended bool
	Qualifies   bool
	// LabelX, LabelY and Anchor place the label: beside the marker on
	// whichever side collides least with labels and markers already placed.
	LabelX, LabelY float64
	Anchor         string // "start" or "end"
}

// scatterChart plots throughput (x) against p99 latency (y, log scale).
type scatterChart struct {
	Width, Height            float64
	Left, Top, Right, Bottom float64
	XTicks, YTicks           []tick
	Points                   []scatterPoint
	Legend                   []legendItem
	HasThreshold             bool
	ThresholdY               float64
	ThresholdLabel           string
}

var codecColors = map[compress.Codec]string{
	compress.None:   "#4e79a7",
	compress.Gzip:   "#e15759",
	compress.Snappy: "#76b7b2",
	compress.LZ4:    "#f28e2b",
	compress.Zstd:   "#59a14f",
}

func codecColor(c compress.Codec) string {
	if col, ok := codecColors[c]; ok {
		return col
	}
	return "#888888"
}

func newScatter(results []Result, rec Recommendation) scatterChart {
	c := scatterChart{Width: 900, Height: 460, Left: 70, Top: 20, Right: 880, Bottom: 400}
	var maxX float64
	minY, maxY := math.Inf(1), math.Inf(-1)
	for _, r := range results {
		maxX = max(maxX, r.RecordsPerSec)
		if y := toMs(r.Latency.P99); y > 0 {
			minY, maxY = min(minY, y), max(maxY, y)
		}
	}
	if rec.MaxP99 > 0 {
		t := toMs(rec.MaxP99)
		minY, maxY = min(minY, t), max(maxY, t)
	}
	if math.IsInf(minY, 1) {
		minY, maxY = 0.1, 10
	}
	xMax, xTicks := niceLinear(maxX)
	yLo, yHi, yTicks := niceLog(minY, maxY)
	xPos := func(v float64) float64 { return c.Left + (c.Right-c.Left)*v/xMax }
	yPos := func(v float64) float64 {
		v = max(v, yLo)
		return c.Bottom - (c.Bottom-c.Top)*(math.Log10(v)-math.Log10(yLo))/(math.Log10(yHi)-math.Log10(yLo))
	}
	for _, t := range xTicks {
		c.XTicks = append(c.XTicks, tick{Pos: xPos(t), Label: shortCount(t)})
	}
	for _, t := range yTicks {
		c.YTicks = append(c.YTicks, tick{Pos: yPos(t), Label: trimFloat(t)})
	}
	if rec.MaxP99 > 0 {
		c.HasThreshold = true
		c.ThresholdY = yPos(toMs(rec.MaxP99))
		c.ThresholdLabel = "--max-p99 " + FormatDuration(rec.MaxP99)
	}
	seen := map[compress.Codec]bool{}
	for i, r := range results {
		// Row numbers, as the note under the chart promises: a setting's
		// full name does not fit beside a marker, and "5ms/16KiB" names
		// several settings (one per codec and acks).
		label := fmt.Sprintf("#%d", i+1)
		c.Points = append(c.Points, scatterPoint{
			X: xPos(r.RecordsPerSec), Y: yPos(toMs(r.Latency.P99)),
			Color: codecColor(r.Point.Compression), Label: label,
			Title: fmt.Sprintf("#%d %s: %s records/s, %s MB/s, p99 %s ms",
				i+1, r.Point.Label(), count(r.RecordsPerSec), fixed(r.MBPerSec, 2), ms(r.Latency.P99)),
			Recommended: rec.Found && rec.Index == i,
			Qualifies:   rec.Qualifies(r),
		})
		if !seen[r.Point.Compression] {
			seen[r.Point.Compression] = true
			c.Legend = append(c.Legend, legendItem{Color: codecColor(r.Point.Compression), Label: r.Point.Compression.String()})
		}
	}
	placeLabels(c.Points)
	return c
}

// placeLabels gives every marker its label (none is dropped: a reader
// looks a number up in the table), trying the four spots around the marker
// and taking the first that overlaps no label or marker already placed,
// else the one that overlaps least. The recommendation goes first, then
// from the fastest down: the frontier is what readers look for.
func placeLabels(pts []scatterPoint) {
	order := make([]int, len(pts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		pa, pb := pts[a], pts[b]
		switch {
		case pa.Recommended != pb.Recommended:
			if pa.Recommended {
				return -1
			}
			return 1
		case pa.X > pb.X:
			return -1
		case pa.X < pb.X:
			return 1
		}
		return 0
	})
	type box struct{ x0, y0, x1, y1 float64 }
	overlap := func(a, b box) float64 {
		w := min(a.x1, b.x1) - max(a.x0, b.x0)
		h := min(a.y1, b.y1) - max(a.y0, b.y0)
		if w <= 0 || h <= 0 {
			return 0
		}
		return w * h
	}
	var placed []box
	for _, p := range pts { // markers are obstacles too (radius ≤ 8)
		placed = append(placed, box{p.X - 8, p.Y - 8, p.X + 8, p.Y + 8})
	}
	for _, i := range order {
		p := &pts[i]
		// 10px text is about 6px per character, 10px tall.
		w := 6 * float64(len([]rune(p.Label)))
		type spot struct {
			x, y   float64 // text anchor point (baseline)
			anchor string
			b      box
		}
		spots := []spot{
			{p.X + 8, p.Y - 6, "start", box{p.X + 7, p.Y - 16, p.X + 9 + w, p.Y - 4}},
			{p.X + 8, p.Y + 14, "start", box{p.X + 7, p.Y + 4, p.X + 9 + w, p.Y + 16}},
			{p.X - 8, p.Y - 6, "end", box{p.X - 9 - w, p.Y - 16, p.X - 7, p.Y - 4}},
			{p.X - 8, p.Y + 14, "end", box{p.X - 9 - w, p.Y + 4, p.X - 7, p.Y + 16}},
		}
		best, bestCost := 0, -1.0
		for k, sp := range spots {
			cost := 0.0
			for _, q := range placed {
				cost += overlap(sp.b, q)
			}
			if bestCost < 0 || cost < bestCost {
				best, bestCost = k, cost
			}
			if cost == 0 {
				break
			}
		}
		sp := spots[best]
		p.LabelX, p.LabelY, p.Anchor = sp.x, sp.y, sp.anchor
		placed = append(placed, sp.b)
	}
}

// heatCell is one linger × batch.size cell of a heat map.
type heatCell struct {
	X, Y, W, H  float64
	Fill, Ink   string
	Value, Sub  string
	Title       string
	Empty       bool
	Recommended bool
}

// heatMap shows records/s by linger (rows) and batch.size (columns) for one
// compression and acks setting; all maps share one colour scale.
type heatMap struct {
	Title          string
	Width, Height  float64
	Cells          []heatCell
	RowLabels      []tick // linger, y positions
	ColLabels      []tick // batch.size, x positions
	RowAxis, ColAx string
}

func newHeatMaps(results []Result, rec Recommendation) []heatMap {
	type key struct {
		c compress.Codec
		a Acks
	}
	var keys []key
	var lingers []time.Duration
	var sizes []int
	best := 0.0
	for _, r := range results {
		k := key{r.Point.Compression, r.Point.Acks}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
		if !slices.Contains(lingers, r.Point.Linger) {
			lingers = append(lingers, r.Point.Linger)
		}
		if !slices.Contains(sizes, r.Point.BatchSize) {
			sizes = append(sizes, r.Point.BatchSize)
		}
		best = max(best, r.RecordsPerSec)
	}
	slices.Sort(lingers)
	slices.Sort(sizes)
	const left, top, cw, ch = 60.0, 52.0, 80.0, 44.0
	var maps []heatMap
	for _, k := range keys {
		hm := heatMap{
			Title: fmt.Sprintf("compression %s, acks=%s", k.c, k.a),
			Width: left + cw*float64(len(sizes)) + 10, Height: top + ch*float64(len(lingers)) + 10,
			RowAxis: "linger", ColAx: "batch.size",
		}
		for j, s := range sizes {
			hm.ColLabels = append(hm.ColLabels, tick{Pos: left + cw*(float64(j)+0.5), Label: FormatSize(s)})
		}
		for i, l := range lingers {
			hm.RowLabels = append(hm.RowLabels, tick{Pos: top + ch*(float64(i)+0.5), Label: FormatDuration(l)})
			for j, s := range sizes {
				cell := heatCell{X: left + cw*float64(j), Y: top + ch*float64(i), W: cw - 2, H: ch - 2, Empty: true, Fill: "#eeeeee", Ink: "#999999", Value: "–"}
				for ri, r := range results {
					p := r.Point
					if p.Compression != k.c || p.Acks != k.a || p.Linger != l || p.BatchSize != s {
						continue
					}
					frac := 0.0
					if best > 0 {
						frac = r.RecordsPerSec / best
					}
					cell.Empty = false
					cell.Fill, cell.Ink = heatColor(frac)
					cell.Value = shortCount(r.RecordsPerSec)
					cell.Sub = "p99 " + msShort(r.Latency.P99) + " ms"
					cell.Title = fmt.Sprintf("#%d %s: %s records/s, p99 %s ms", ri+1, p.Label(), count(r.RecordsPerSec), ms(r.Latency.P99))
					cell.Recommended = rec.Found && rec.Index == ri
				}
				hm.Cells = append(hm.Cells, cell)
			}
		}
		maps = append(maps, hm)
	}
	return maps
}

// heatColor maps 0..1 onto a light-to-dark blue ramp and picks a readable ink.
func heatColor(frac float64) (fill, ink string) {
	frac = min(max(frac, 0), 1)
	lo, hi := [3]float64{0xef, 0xf3, 0xff}, [3]float64{0x08, 0x30, 0x6b}
	var rgb [3]int
	for i := range rgb {
		rgb[i] = int(math.Round(lo[i] + (hi[i]-lo[i])*frac))
	}
	ink = "#111111"
	if frac > 0.55 {
		ink = "#ffffff"
	}
	return fmt.Sprintf("#%02x%02x%02x", rgb[0], rgb[1], rgb[2]), ink
}

// niceLinear returns an axis maximum ≥ v on a 1-2-5 step and its ticks from 0.
func niceLinear(v float64) (float64, []float64) {
	if v <= 0 {
		v = 1
	}
	step := math.Pow(10, math.Floor(math.Log10(v/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v/(step*m) <= 6 {
			step *= m
			break
		}
	}
	top := math.Ceil(v/step) * step
	var ticks []float64
	for i := 0; float64(i)*step <= top+step/2; i++ {
		ticks = append(ticks, float64(i)*step)
	}
	return top, ticks
}

// niceLog returns log-axis bounds around [lo, hi] on 1-2-5 decades and ticks at 1, 2, 5 × 10^k.
func niceLog(lo, hi float64) (float64, float64, []float64) {
	lo, hi = max(lo, 0.001), max(hi, 0.001)
	kLo, kHi := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	if kHi <= kLo {
		kHi = kLo + 1
	}
	var ticks []float64
	for k := kLo; k <= kHi; k++ {
		for _, m := range []float64{1, 2, 5} {
			if k < kHi || m == 1 {
				// Parsing the decimal spelling avoids 0.30000000000000004-style labels.
				t, _ := strconv.ParseFloat(fmt.Sprintf("%ge%d", m, k), 64)
				ticks = append(ticks, t)
			}
		}
	}
	return ticks[0], ticks[len(ticks)-1], ticks
}

// shortCount prints a count with three significant digits: 1234567 as
// "1.23M", 51234 as "51.2k", 121920 as "122k".
func shortCount(v float64) string {
	unit := ""
	switch {
	case v >= 1e6:
		v, unit = v/1e6, "M"
	case v >= 1e3:
		v, unit = v/1e3, "k"
	default:
		return trimFloat(math.Round(v*100) / 100)
	}
	prec := 2
	switch {
	case v >= 100:
		prec = 0
	case v >= 10:
		prec = 1
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + unit
}

// msShort prints a latency in milliseconds with three significant digits at most.
func msShort(d time.Duration) string {
	v := toMs(d)
	prec := 2
	switch {
	case v >= 100:
		prec = 0
	case v >= 10:
		prec = 1
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func trimFloat(v float64) string { return fmt.Sprintf("%g", v) }
