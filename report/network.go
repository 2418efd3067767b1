package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/splitnas/splitnas/search"
)

// Geometry of the network drawing, in CSS pixels.
const (
	netBoxWidth = 76  // a tensor's box
	netGap      = 150 // between boxes: room for the layer's label
	netMargin   = 40  // left and right
	netTop      = 34  // above the tallest box: the "edge" and "fog" labels
	netBottom   = 36  // below it: tensor names
)

// netDrawing is the best network as boxes (tensors) joined by arrows
// (layers), with the split point, ready for the page template.
type netDrawing struct {
	Width, Height int
	Boxes         []netBox
	Arrows        []netArrow
	Split         *netSplit // nil if the partition is out of range
}

type netBox struct {
	X, Y, W, H  int
	CX, TextY   int // centre of the shape text
	NameY       int // baseline of the name below the box
	Shape, Name string
	Edge        bool // computed (or sampled) on the edge
}

type netArrow struct {
	X1, X2, Y    int
	Head         string // the arrowhead polygon's points
	LabelX       int
	KindY, InfoY int
	Kind, Info   string
}

type netSplit struct {
	X, Y1, Y2 int
	LabelY    int
}

// networkDrawing lays out b's layers left to right: one box per tensor,
// its height growing with the logarithm of its size, the layer's kind on
// the arrow between boxes, and a dashed line after tensor P, the one sent.
func networkDrawing(b *search.Best) *netDrawing {
	if b == nil || len(b.Layers) == 0 {
		return nil
	}
	shapes := tensorShapes(b)
	heights := make([]int, len(shapes))
	tallest := 0
	for i, s := range shapes {
		heights[i] = boxHeight(s)
		tallest = max(tallest, heights[i])
	}
	mid := netTop + tallest/2
	d := &netDrawing{
		Width:  2*netMargin + 60 + len(shapes)*netBoxWidth + (len(shapes)-1)*netGap, // 60: room for "fog →" after the last box
		Height: netTop + tallest + netBottom,
	}
	for i, s := range shapes {
		x := netMargin + i*(netBoxWidth+netGap)
		name := fmt.Sprintf("tensor %d", i)
		switch i {
		case 0:
			name = "input"
		case len(shapes) - 1:
			name = "class scores"
		}
		d.Boxes = append(d.Boxes, netBox{
			X: x, Y: mid - heights[i]/2, W: netBoxWidth, H: heights[i],
			CX: x + netBoxWidth/2, TextY: mid + 4, NameY: netTop + tallest + 18,
			Shape: s, Name: name, Edge: i <= b.Partition,
		})
	}
	for i, l := range b.Layers {
		x1 := d.Boxes[i].X + netBoxWidth
		x2 := d.Boxes[i+1].X - 2
		d.Arrows = append(d.Arrows, netArrow{
			X1: x1, X2: x2 - 8, Y: mid,
			Head:   fmt.Sprintf("%d,%d %d,%d %d,%d", x2-8, mid-5, x2, mid, x2-8, mid+5),
			LabelX: (x1 + x2) / 2, KindY: mid - 8, InfoY: mid + 17,
			Kind: l.Kind, Info: fmt.Sprintf("layer %d · %s params", l.Index, count(l.Params)),
		})
	}
	if P := b.Partition; P >= 0 && P < len(d.Boxes) {
		x := d.Boxes[P].X + netBoxWidth + 10
		d.Split = &netSplit{X: x, Y1: 6, Y2: d.Height - 4, LabelY: 18}
	}
	return d
}

// tensorShapes returns the shapes of tensors 0..L, from the layers'
// "IN->OUT" strings (which survive a round trip through result.json).
func tensorShapes(b *search.Best) []string {
	shapes := make([]string, len(b.Layers)+1)
	for i, l := range b.Layers {
		in, out, ok := strings.Cut(l.Shape, "->")
		if !ok {
			in, out = l.In.String(), l.Out.String()
		}
		if i == 0 {
			shapes[0] = in
		}
		shapes[i+1] = out
	}
	return shapes
}

// boxHeight grows with log2 of the tensor's size (from its "LENxCH"
// form), from 28 to 120 pixels.
func boxHeight(shape string) int {
	l, c, ok := strings.Cut(shape, "x")
	n1, err1 := strconv.Atoi(l)
	n2, err2 := strconv.Atoi(c)
	if !ok || err1 != nil || err2 != nil || n1*n2 < 1 {
		return 40
	}
	h := 22 + 7*math.Log2(float64(n1)*float64(n2))
	return int(math.Min(120, math.Max(28, h)))
}
