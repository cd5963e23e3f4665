package main

import (
	"fmt"
	"image/color"
	"io"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// palette is Tableau 10: distinct hues for up to ten targets.
var palette = []color.RGBA{
	{0x4e, 0x79, 0xa7, 0xff}, {0xf2, 0x8e, 0x2b, 0xff}, {0xe1, 0x57, 0x59, 0xff},
	{0x76, 0xb7, 0xb2, 0xff}, {0x59, 0xa1, 0x4f, 0xff}, {0xed, 0xc9, 0x48, 0xff},
	{0xb0, 0x7a, 0xa1, 0xff}, {0xff, 0x9d, 0xa7, 0xff}, {0x9c, 0x75, 0x5f, 0xff},
	{0xba, 0xb0, 0xac, 0xff},
}

// barGroup is one chart: bars grouped by scenario, one bar per target.
type barGroup struct {
	title  string
	groups []string    // scenarios, along X
	series []string    // targets, one colour each
	values [][]float64 // values[series][group]; 0 where missing
	refOne bool        // draw a line at 1 (ratio charts)
}

const (
	chartWidth  = 11 * vg.Inch
	chartRowH   = 3.6 * vg.Inch
	legendWidth = 1.9 * vg.Inch
)

// buildCharts turns the summaries into up to three charts: CPU efficiency
// relative to the baseline, req/s, and memory per idle connection.
func buildCharts(rep *report) []barGroup {
	var targetsRun []string
	seen := map[string]bool{}
	for _, s := range rep.Summaries {
		if !seen[s.Target] {
			seen[s.Target] = true
			targetsRun = append(targetsRun, s.Target)
		}
	}
	var load, idle []string
	for _, sc := range scenarios {
		for _, s := range rep.Summaries {
			if s.Scenario == sc.Name {
				if sc.Idle {
					idle = append(idle, sc.Name)
				} else {
					load = append(load, sc.Name)
				}
				break
			}
		}
	}
	pick := func(groups []string, f func(summary) float64) [][]float64 {
		v := make([][]float64, len(targetsRun))
		for i, t := range targetsRun {
			v[i] = make([]float64, len(groups))
			for j, g := range groups {
				for _, s := range rep.Summaries {
					if s.Target == t && s.Scenario == g {
						v[i][j] = f(s)
					}
				}
			}
		}
		return v
	}
	// The ratio chart shows the scenarios that have a baseline.
	var rated []string
	bases := map[string]string{}
	for _, g := range load {
		if b := rep.Options.Baselines[g]; b != "" {
			rated = append(rated, g)
			bases[g] = b
		}
	}
	var charts []barGroup
	if len(rated) > 0 {
		charts = append(charts, barGroup{
			title:  fmt.Sprintf("Requests per server CPU-second relative to %s (median of per-round ratios; higher is better)", baselineText(bases)),
			groups: rated, series: targetsRun, refOne: true,
			values: pick(rated, func(s summary) float64 { return s.CPUEffRatio.Median }),
		})
	}
	if len(load) > 0 {
		charts = append(charts, barGroup{
			title:  "Requests per second, thousands (median)",
			groups: load, series: targetsRun,
			values: pick(load, func(s summary) float64 { return s.ReqPerSec.Median / 1e3 }),
		})
	}
	if len(idle) > 0 {
		charts = append(charts, barGroup{
			title:  "KiB of server RSS per idle keep-alive connection (median; lower is better)",
			groups: idle, series: targetsRun,
			values: pick(idle, func(s summary) float64 { return max(0, s.KiBPerConn.Median) }),
		})
	}
	return charts
}

// writeCharts draws the charts one above the other into stamp.svg and
// stamp.png.
func writeCharts(stamp string, rep *report) ([]string, error) {
	charts := buildCharts(rep)
	if len(charts) == 0 {
		return nil, nil
	}
	h := chartRowH * vg.Length(len(charts))
	svg := vgsvg.New(chartWidth, h)
	png := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(chartWidth, h), vgimg.UseDPI(96), vgimg.UseBackgroundColor(color.White))}
	var paths []string
	for _, out := range []struct {
		path string
		c    vg.CanvasWriterTo
	}{{stamp + ".svg", svg}, {stamp + ".png", png}} {
		if err := drawCharts(draw.New(out.c), charts); err != nil {
			return paths, err
		}
		if err := writeTo(out.path, out.c); err != nil {
			return paths, err
		}
		paths = append(paths, out.path)
	}
	return paths, nil
}

func drawCharts(dc draw.Canvas, charts []barGroup) error {
	rows := draw.Tiles{Rows: len(charts), Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6), PadY: vg.Points(12)}
	for i, ch := range charts {
		row := rows.At(dc, 0, i)
		rowW := row.Max.X - row.Min.X
		p, legend, err := ch.plot(rowW - legendWidth)
		if err != nil {
			return err
		}
		p.Draw(draw.Crop(row, 0, -legendWidth, 0, 0))
		legend.Draw(draw.Crop(row, rowW-legendWidth+vg.Points(8), 0, 0, -vg.Points(24)))
	}
	return nil
}

// plot builds the grouped bar chart and its legend for a plot width.
func (ch barGroup) plot(width vg.Length) (*plot.Plot, plot.Legend, error) {
	p := plot.New()
	p.Title.Text = ch.title
	p.Y.Min = 0
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil // horizontal lines only
	p.Add(grid)
	p.NominalX(ch.groups...)
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	legend.Padding = vg.Points(3)
	n := len(ch.series)
	// One group is one X unit; its bars fill 80% of it. The Y axis and
	// margins take about 0.8 inch.
	unit := (width - 0.8*vg.Inch) / vg.Length(len(ch.groups))
	barW := unit * 0.8 / vg.Length(max(n, 1))
	for i, name := range ch.series {
		bars, err := plotter.NewBarChart(plotter.Values(ch.values[i]), barW)
		if err != nil {
			return nil, legend, fmt.Errorf("chart %q: %w", ch.title, err)
		}
		bars.LineStyle.Width = 0
		bars.Color = palette[i%len(palette)]
		bars.Offset = (vg.Length(i) - vg.Length(n-1)/2) * barW
		p.Add(bars)
		legend.Add(name, bars)
	}
	if ch.refOne {
		one := plotter.NewFunction(func(float64) float64 { return 1 })
		one.Color = color.Gray{Y: 0x40}
		one.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(one)
		p.Y.Max = max(p.Y.Max, 1)
	}
	p.X.Min, p.X.Max = -0.5, float64(len(ch.groups))-0.5
	p.Y.Max *= 1.08 // headroom above the tallest bar
	return p, legend, nil
}

func writeTo(path string, c io.WriterTo) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
