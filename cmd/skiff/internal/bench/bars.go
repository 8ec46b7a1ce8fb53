package bench

import (
	"fmt"
	"slices"
)

// barChart is a grouped bar chart: one group per fetch.min.bytes, one bar
// per max.partition.fetch.bytes, height records/s.
type barChart struct {
	Width, Height            float64
	Left, Top, Right, Bottom float64
	YTicks                   []tick
	Groups                   []tick // group labels, x positions
	Bars                     []bar
	Legend                   []legendItem
}

type bar struct {
	X, Y, W, H float64
	Color      string
	Value      string
	Title      string
}

// seriesColors colour the bars of a group; they repeat beyond six series.
var seriesColors = []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1"}

func newConsumeBars(results []ConsumeResult) barChart {
	c := barChart{Width: 900, Height: 380, Left: 70, Top: 20, Right: 880, Bottom: 320}
	var groups, series []int
	var top float64
	for _, r := range results {
		if !slices.Contains(groups, r.Point.MinBytes) {
			groups = append(groups, r.Point.MinBytes)
		}
		if !slices.Contains(series, r.Point.MaxPartitionBytes) {
			series = append(series, r.Point.MaxPartitionBytes)
		}
		top = max(top, r.RecordsPerSec)
	}
	yMax, yTicks := niceLinear(top)
	yPos := func(v float64) float64 { return c.Bottom - (c.Bottom-c.Top)*v/yMax }
	for _, t := range yTicks {
		c.YTicks = append(c.YTicks, tick{Pos: yPos(t), Label: shortCount(t)})
	}
	if len(groups) == 0 {
		return c
	}
	groupW := (c.Right - c.Left) / float64(len(groups))
	barW := groupW * 0.8 / float64(len(series))
	for gi, g := range groups {
		x0 := c.Left + groupW*float64(gi) + groupW*0.1
		c.Groups = append(c.Groups, tick{Pos: c.Left + groupW*(float64(gi)+0.5), Label: "fetch.min.bytes " + FormatSize(g)})
		for si, sv := range series {
			for i, r := range results {
				if r.Point.MinBytes != g || r.Point.MaxPartitionBytes != sv {
					continue
				}
				y := yPos(r.RecordsPerSec)
				c.Bars = append(c.Bars, bar{
					X: x0 + barW*float64(si), Y: y, W: barW - 2, H: c.Bottom - y,
					Color: seriesColors[si%len(seriesColors)], Value: shortCount(r.RecordsPerSec),
					Title: fmt.Sprintf("#%d %s: %s records/s, %s MB/s", i+1, r.Point.Label(), count(r.RecordsPerSec), fixed(r.MBPerSec, 2)),
				})
			}
		}
	}
	for si, sv := range series {
		c.Legend = append(c.Legend, legendItem{Color: seriesColors[si%len(seriesColors)], Label: "max.partition.fetch.bytes " + FormatSize(sv)})
	}
	return c
}
