package report

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/splitnas/splitnas/partition"
	"github.com/splitnas/splitnas/search"
)

// Chart size and the legend's place to the right of the plot, in points.
const (
	chartWidth  = 8 * vg.Inch
	chartHeight = 4.2 * vg.Inch
	legendGap   = 10 // on each side of the legend
	legendTop   = 28 // from the top: below the title
)

// Colours (the Tableau 10 palette, with greys for invalid split points).
var (
	blue      = color.RGBA{0x1f, 0x77, 0xb4, 0xff}
	lightBlue = color.RGBA{0xae, 0xc7, 0xe8, 0xff}
	orange    = color.RGBA{0xff, 0x7f, 0x0e, 0xff}
	green     = color.RGBA{0x2c, 0xa0, 0x2c, 0xff}
	red       = color.RGBA{0xd6, 0x27, 0x28, 0xff}
	black     = color.RGBA{0x22, 0x22, 0x22, 0xff}
	grey      = color.RGBA{0x99, 0x99, 0x99, 0xff}
	lightGrey = color.RGBA{0xd9, 0xd9, 0xd9, 0xff}
)

// svgOf renders p as an inline <svg> element (no XML prolog), labelled
// for screen readers, with its legend in a column to the right of the
// plot so that it never hides data. gonum/plot panics on some degenerate
// input; that becomes an error.
func svgOf(p *plot.Plot, label string) (_ template.HTML, err error) {
	defer func() {
		if e := recover(); e != nil {
			err = fmt.Errorf("report: drawing %q: %v", label, e)
		}
	}()
	c := vgsvg.New(chartWidth, chartHeight)
	dc := draw.New(c)
	legend := p.Legend
	legend.Top, legend.Left = true, true
	p.Legend = plot.NewLegend() // drawn separately, below
	if r := legend.Rectangle(dc); r.Size().X > 0 {
		w := r.Size().X + 2*legendGap
		p.Draw(draw.Crop(dc, 0, -w, 0, 0))
		legend.Draw(draw.Crop(dc, chartWidth-w+legendGap, 0, 0, -legendTop))
	} else {
		p.Draw(dc)
	}
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", err
	}
	s := b.String()
	i := strings.Index(s, "<svg")
	if i < 0 {
		return "", fmt.Errorf("report: drawing %q: no <svg> element", label)
	}
	s = `<svg role="img" aria-label="` + html.EscapeString(label) + `"` + s[i+len("<svg"):]
	// vgsvg escapes every text it draws; the rest is numbers and styles.
	return template.HTML(s), nil
}

// sans is Liberation Sans, which has the metrics of Arial and Helvetica,
// the fonts a browser without it substitutes (the page's CSS says so).
func sans(size vg.Length) font.Font {
	return font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, size)
}

// newPlot returns a plot with a title, axis labels and a grid.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(13)
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text = x
	p.Y.Label.Text = y
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(11)
		a.Tick.Label.Font = sans(10)
	}
	p.Legend.TextStyle.Font = sans(10)
	p.Legend.Padding = vg.Points(3)
	grid := plotter.NewGrid()
	grid.Vertical.Color = lightGrey
	grid.Horizontal.Color = lightGrey
	p.Add(grid)
	return p
}

// objective is the best model's energy for the scenario.
func objective(b *search.Best, scenario string) float64 {
	if scenario == partition.Total.String() {
		return b.ETotal
	}
	return b.EEdge
}

// accuracyEnergyChart plots validation-A accuracy against the scenario's
// energy for every trained candidate, with the Pareto front, the energy
// limit and the best model. It returns "" when nothing was trained.
func accuracyEnergyChart(r *search.Result) (template.HTML, error) {
	var valid, over plotter.XYs
	xs := []float64{}
	for _, c := range r.Candidates {
		if !c.HasScores() {
			continue
		}
		pt := plotter.XY{X: c.Energy, Y: 100 * c.ValAccuracy}
		if c.Status == search.OverEnergy {
			over = append(over, pt)
		} else {
			valid = append(valid, pt)
		}
		xs = append(xs, c.Energy)
	}
	if len(xs) == 0 {
		return "", nil
	}
	p := newPlot("Validation accuracy vs energy per inference",
		"energy (mJ, "+r.Settings.Scenario+" scenario)", "validation accuracy A (%)")

	add := func(pts plotter.XYs, name string, shape draw.GlyphDrawer, clr color.Color) error {
		if len(pts) == 0 {
			return nil
		}
		s, err := plotter.NewScatter(pts)
		if err != nil {
			return err
		}
		s.GlyphStyle = draw.GlyphStyle{Color: clr, Radius: vg.Points(3), Shape: shape}
		p.Add(s)
		p.Legend.Add(fmt.Sprintf("%s (%d)", name, len(pts)), s)
		return nil
	}
	if err := add(valid, "valid", draw.CircleGlyph{}, blue); err != nil {
		return "", err
	}
	if err := add(over, "over the energy limit", draw.TriangleGlyph{}, orange); err != nil {
		return "", err
	}

	var front plotter.XYs
	for _, c := range search.ParetoFront(r.Candidates) {
		front = append(front, plotter.XY{X: c.Energy, Y: 100 * c.ValAccuracy})
	}
	line, err := plotter.NewLine(front)
	if err != nil {
		return "", err
	}
	line.StepStyle = plotter.PostStep
	line.LineStyle = draw.LineStyle{Color: green, Width: vg.Points(1.5)}
	p.Add(line)
	p.Legend.Add(fmt.Sprintf("Pareto front (%d)", len(front)), line)

	if ps := r.Pareto; ps != nil && len(ps.Members) > 0 {
		// The nsga2 search's finished Pareto set (feasible members only,
		// perhaps thinned by the cap).
		var members plotter.XYs
		for _, m := range ps.Members {
			members = append(members, plotter.XY{X: m.EnergyMJ, Y: 100 * m.ValAccuracy})
			xs = append(xs, m.EnergyMJ)
		}
		if err := add(members, "Pareto set members", draw.BoxGlyph{}, green); err != nil {
			return "", err
		}
	}

	if lim := r.Settings.EnergyLimitMJ; lim > 0 {
		v := vline{X: lim, Style: draw.LineStyle{Color: red, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}}
		p.Add(v)
		p.Legend.Add(fmt.Sprintf("energy limit %s mJ", energy(lim)), v)
		xs = append(xs, lim)
	}

	if b := r.Best; b != nil && !math.IsNaN(objective(b, r.Settings.Scenario)) && !math.IsInf(objective(b, r.Settings.Scenario), 0) {
		e := objective(b, r.Settings.Scenario)
		s, err := plotter.NewScatter(plotter.XYs{{X: e, Y: 100 * b.ValAccuracy}})
		if err != nil {
			return "", err
		}
		s.GlyphStyle = draw.GlyphStyle{Color: red, Radius: vg.Points(6), Shape: thickRing{}}
		p.Add(s)
		p.Legend.Add("best model", s)
		xs = append(xs, e)
	}

	if lo, hi := minMax(xs); lo > 0 && hi/lo > 100 {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	return svgOf(p, "Validation accuracy against energy of every trained candidate")
}

// historyChart plots the best and mean validation-A accuracy of each
// generation's population (the paper's Fig. 8). It returns "" for an
// empty history.
func historyChart(hist []search.Generation) (template.HTML, error) {
	if len(hist) == 0 {
		return "", nil
	}
	var best, mean plotter.XYs
	for _, g := range hist {
		best = append(best, plotter.XY{X: float64(g.Index), Y: 100 * g.BestValAccuracy})
		mean = append(mean, plotter.XY{X: float64(g.Index), Y: 100 * g.MeanValAccuracy})
	}
	p := newPlot("Validation accuracy per generation", "generation", "validation accuracy A (%)")
	for _, s := range []struct {
		name   string
		xys    plotter.XYs
		clr    color.Color
		dashes []vg.Length
		shape  draw.GlyphDrawer
	}{
		{"best", best, blue, nil, draw.CircleGlyph{}},
		{"mean", mean, orange, []vg.Length{vg.Points(4), vg.Points(2)}, draw.SquareGlyph{}},
	} {
		l, pts, err := plotter.NewLinePoints(s.xys)
		if err != nil {
			return "", err
		}
		l.LineStyle = draw.LineStyle{Color: s.clr, Width: vg.Points(1.5), Dashes: s.dashes}
		pts.GlyphStyle = draw.GlyphStyle{Color: s.clr, Radius: vg.Points(2.5), Shape: s.shape}
		p.Add(l, pts)
		p.Legend.Add(s.name, l, pts)
	}
	lo, hi := minMax(append(xValues(best), xValues(mean)...))
	p.X.Min, p.X.Max = lo-0.5, math.Max(hi, lo+1)+0.5
	p.X.Tick.Marker = intTicks{}
	return svgOf(p, "Best and mean validation accuracy per generation")
}

// splitChart plots the best network's edge energy per split point as
// stacked bars (compute, radio), E_total as a line, invalid points in grey
// and the chosen point marked (the paper's Fig. 7). It returns "" when the
// result has no split points.
func splitChart(b *search.Best) (template.HTML, error) {
	if b == nil || len(b.Partitions) == 0 {
		return "", nil
	}
	pts := b.Partitions
	p := newPlot("Energy per inference at each split point P", "split point P (tensor sent)", "energy (mJ)")

	bars := splitBars{Points: pts, Width: 0.6}
	p.Add(bars)

	var total, ok, bad plotter.XYs
	for _, pt := range pts {
		xy := plotter.XY{X: float64(pt.P), Y: pt.ETotal}
		total = append(total, xy)
		if pt.Valid {
			ok = append(ok, xy)
		} else {
			bad = append(bad, xy)
		}
	}
	line, err := plotter.NewLine(total)
	if err != nil {
		return "", err
	}
	line.LineStyle = draw.LineStyle{Color: black, Width: vg.Points(1)}
	p.Add(line)
	dot := draw.GlyphStyle{Color: black, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
	for _, set := range []struct {
		xys   plotter.XYs
		style draw.GlyphStyle
	}{
		{ok, dot},
		{bad, draw.GlyphStyle{Color: grey, Radius: vg.Points(3), Shape: draw.RingGlyph{}}},
	} {
		if len(set.xys) == 0 {
			continue
		}
		s, err := plotter.NewScatter(set.xys)
		if err != nil {
			return "", err
		}
		s.GlyphStyle = set.style
		p.Add(s)
	}

	p.Legend.Add("E_comp_edge", swatch{blue})
	p.Legend.Add("E_comm_edge", swatch{lightBlue})
	p.Legend.Add("E_total", line, &plotter.Scatter{GlyphStyle: dot})
	if len(bad) > 0 {
		p.Legend.Add("invalid (Flash, RAM)", swatch{grey})
	}
	if b.Partition >= 0 && b.Partition < len(pts) {
		v := vline{X: float64(b.Partition), Style: draw.LineStyle{Color: red, Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}}
		p.Add(v)
		p.Legend.Add(fmt.Sprintf("chosen P = %d", b.Partition), v)
	}

	ticks := make(plot.ConstantTicks, len(pts))
	for i, pt := range pts {
		label := fmt.Sprintf("%d\n%s", pt.P, pt.Tensor)
		if pt.P == b.Partition {
			label = fmt.Sprintf("%d*\n%s", pt.P, pt.Tensor)
		}
		ticks[i] = plot.Tick{Value: float64(pt.P), Label: label}
	}
	p.X.Tick.Marker = ticks
	p.X.Min, p.X.Max = -0.5, float64(len(pts)-1)+0.5
	p.Y.Min = 0
	if p.Y.Max <= 0 {
		p.Y.Max = 1
	}
	return svgOf(p, "Energy of the best network at every split point")
}

// minMax returns the smallest and largest of xs (+Inf, −Inf if empty).
func minMax(xs []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

func xValues(xys plotter.XYs) []float64 {
	xs := make([]float64, len(xys))
	for i, xy := range xys {
		xs[i] = xy.X
	}
	return xs
}

// vline is a vertical line across the whole plot at X.
type vline struct {
	X     float64
	Style draw.LineStyle
}

func (v vline) Plot(c draw.Canvas, p *plot.Plot) {
	x, _ := p.Transforms(&c)
	c.StrokeLine2(v.Style, x(v.X), c.Min.Y, x(v.X), c.Max.Y)
}

// DataRange widens only the X axis.
func (v vline) DataRange() (xmin, xmax, ymin, ymax float64) {
	return v.X, v.X, math.Inf(1), math.Inf(-1)
}

func (v vline) Thumbnail(c *draw.Canvas) {
	x := (c.Min.X + c.Max.X) / 2
	c.StrokeLine2(v.Style, x, c.Min.Y, x, c.Max.Y)
}

// swatch is a legend entry showing a filled colour.
type swatch struct{ color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(s.Color, []vg.Point{
		{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y},
		{X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y},
	})
}

// thickRing is a ring glyph with a heavier stroke, to stand out among
// the candidates' markers.
type thickRing struct{}

func (thickRing) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: vg.Points(2)})
	var p vg.Path
	p.Move(vg.Point{X: pt.X + sty.Radius, Y: pt.Y})
	p.Arc(pt, sty.Radius, 0, 2*math.Pi)
	p.Close()
	c.Stroke(p)
}

// splitBars draws, for each split point, E_comp_edge with E_comm_edge
// stacked on it, in blues for valid points and greys for invalid ones.
type splitBars struct {
	Points []partition.Point
	Width  float64 // in units of P
}

func (s splitBars) Plot(c draw.Canvas, p *plot.Plot) {
	x, y := p.Transforms(&c)
	for _, pt := range s.Points {
		comp, comm := blue, lightBlue
		if !pt.Valid {
			comp, comm = grey, lightGrey
		}
		l, r := x(float64(pt.P)-s.Width/2), x(float64(pt.P)+s.Width/2)
		fillRect(&c, comp, l, y(0), r, y(pt.ECompEdge))
		fillRect(&c, comm, l, y(pt.ECompEdge), r, y(pt.ECompEdge+pt.ECommEdge))
	}
}

func (s splitBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax, ymin, ymax = math.Inf(1), math.Inf(-1), 0, 0
	for _, pt := range s.Points {
		xmin = math.Min(xmin, float64(pt.P)-s.Width/2)
		xmax = math.Max(xmax, float64(pt.P)+s.Width/2)
		ymax = math.Max(ymax, pt.ECompEdge+pt.ECommEdge)
	}
	return xmin, xmax, ymin, ymax
}

func fillRect(c *draw.Canvas, clr color.Color, x0, y0, x1, y1 vg.Length) {
	if y1 <= y0 {
		return
	}
	c.FillPolygon(clr, c.ClipPolygonXY([]vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}))
}

// intTicks labels whole numbers only, at a step of 1, 2 or 5 × 10^k that
// gives at most about ten labels.
type intTicks struct{}

func (intTicks) Ticks(min, max float64) []plot.Tick {
	lo, hi := math.Ceil(min), math.Floor(max)
	step := 1.0
	for (hi-lo)/step > 10 {
		switch d := step / math.Pow10(int(math.Floor(math.Log10(step)))); d {
		case 1:
			step *= 2
		case 2:
			step = step / 2 * 5
		default:
			step *= 2
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.Itoa(int(v))})
	}
	return ticks
}
