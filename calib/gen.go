package calib

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"math"
	"strings"
	"text/template"

	"github.com/splitnas/splitnas/arch"
)

// csrc holds the C sources: calib.h, runtime.c, semihost.c, startup.c,
// link.ld, kernels.c.tmpl and plugin/count.c.
//
//go:embed c
var csrc embed.FS

// Precision is the number format of a measured layer's weights and
// activations.
type Precision int

const (
	// Float32 weights, biases and activations; the FPU computes.
	Float32 Precision = iota
	// Int8 weights and activations, int32 biases and accumulators,
	// requantized to int8 after each layer.
	Int8
)

// String returns "float32" or "int8", the names arch.Precision uses, and
// "Precision(N)" for any other value.
func (p Precision) String() string {
	switch p {
	case Float32:
		return "float32"
	case Int8:
		return "int8"
	}
	return fmt.Sprintf("Precision(%d)", int(p))
}

// check refuses a Precision that is neither Float32 nor Int8.
func (p Precision) check() error {
	if p != Float32 && p != Int8 {
		return fmt.Errorf("calib: invalid precision %v (want %v or %v)", p, Float32, Int8)
	}
	return nil
}

// suffix is the kernel name suffix: "f32" or "i8".
func (p Precision) suffix() string {
	if p == Int8 {
		return "i8"
	}
	return "f32"
}

// ParsePrecision accepts f32, float32, int8 or i8.
func ParsePrecision(s string) (Precision, error) {
	switch strings.ToLower(s) {
	case "f32", "float32":
		return Float32, nil
	case "int8", "i8":
		return Int8, nil
	}
	return 0, fmt.Errorf("calib: unknown precision %q (want f32 or int8)", s)
}

// ctypes are the C types of one precision, for the templates.
type ctypes struct {
	Precision string
	Suffix    string
	Int8      bool
	Act, W, B string // activation, weight and bias types
	Acc       string // accumulator type
}

func (p Precision) ctypes() ctypes {
	if p == Int8 {
		return ctypes{Precision: "int8", Suffix: "i8", Int8: true, Act: "int8_t", W: "int8_t", B: "int32_t", Acc: "int32_t"}
	}
	return ctypes{Precision: "float32", Suffix: "f32", Act: "float", W: "float", B: "float", Acc: "float"}
}

// bytes per value of weights, biases and activations.
func (p Precision) sizes() (w, b, act int) {
	if p == Int8 {
		return 1, 4, 1
	}
	return 4, 4, 4
}

var kernelsTmpl = template.Must(template.ParseFS(csrc, "c/kernels.c.tmpl"))

// kernelsC returns the C source of the layer kernels at precision p:
// conv1d_SUF, conv1d_transpose_SUF and dense_SUF with SUF f32 or i8, each
// taking the layer's shape (a layer_t, see c/calib.h), its input, weights,
// biases and output.
func kernelsC(p Precision) ([]byte, error) {
	var b bytes.Buffer
	if err := kernelsTmpl.Execute(&b, p.ctypes()); err != nil {
		return nil, fmt.Errorf("calib: kernels template: %w", err)
	}
	return b.Bytes(), nil
}

// source returns one of the embedded C sources by its name under c/, e.g.
// "calib.h" or "plugin/count.c".
func source(name string) ([]byte, error) { return fs.ReadFile(csrc, "c/"+name) }

// cLayer is a layer_t: a layer's shape as the kernels take it.
type cLayer struct {
	InLen, InCh, OutLen, OutCh int
	Kernel, Stride, PadLeft    int
	ReLU                       int
	Mult, Shift                int32
}

// kernelName is the C function that runs layer l at precision p.
func kernelName(l arch.Layer, p Precision) (string, error) {
	switch l.Kind {
	case arch.Conv, arch.ConvTranspose, arch.Dense:
		return l.Kind.String() + "_" + p.suffix(), nil
	}
	return "", fmt.Errorf("calib: no kernel for %s layers", l.Kind)
}

// checkLayer rejects layers the kernels cannot run: unknown kinds,
// non-positive shapes, and Conv/ConvTranspose layers whose output length
// does not follow from kernel, stride and padding.
func checkLayer(l arch.Layer) error {
	if _, err := kernelName(l, Float32); err != nil {
		return err
	}
	for _, s := range []arch.Shape{l.In, l.Out} {
		if s.Len < 1 || s.Ch < 1 || s.Len > 1<<20 || s.Ch > 1<<16 || s.Size() > 1<<22 {
			return fmt.Errorf("calib: %s layer %v→%v: shape out of range", l.Kind, l.In, l.Out)
		}
	}
	if l.Kind == arch.Dense {
		return nil
	}
	k, s, pl, pr := l.Kernel, l.Stride, l.PadLeft, l.PadRight
	if k < 1 || s < 1 || pl < 0 || pr < 0 || k > 1<<16 || s > 1<<16 || pl > 1<<16 || pr > 1<<16 {
		return fmt.Errorf("calib: %s layer %v→%v: kernel %d, stride %d, padding %d+%d out of range", l.Kind, l.In, l.Out, k, s, pl, pr)
	}
	want := (l.In.Len+pl+pr-k)/s + 1
	if l.Kind == arch.ConvTranspose {
		want = (l.In.Len-1)*s + k - pl - pr
	}
	if l.Out.Len != want || l.Kind == arch.Conv && l.In.Len+pl+pr < k {
		return fmt.Errorf("calib: %s layer %v→%v: kernel %d, stride %d, padding %d+%d give output length %d", l.Kind, l.In, l.Out, k, s, pl, pr, want)
	}
	return nil
}

// fanIn is the number of products summed into one output of l.
func fanIn(l arch.Layer) int {
	switch l.Kind {
	case arch.Conv:
		return l.Kernel * l.In.Ch
	case arch.ConvTranspose:
		return (l.Kernel + l.Stride - 1) / l.Stride * l.In.Ch
	}
	return l.In.Size()
}

// requantShift is the shift of every int8 layer's requantization.
const requantShift = 31

// requantMult is the multiplier of l's int8 requantization: it maps the
// accumulator of uniform random int8 data, of standard deviation about
// 128²/3·√fanIn, to a standard deviation of about 40 in int8.
func requantMult(l arch.Layer) int32 {
	m := math.Round(math.Ldexp(40/(128*128/3.0*math.Sqrt(float64(fanIn(l)))), requantShift))
	return int32(min(max(m, 1), math.MaxInt32))
}

func toC(l arch.Layer, p Precision) cLayer {
	c := cLayer{InLen: l.In.Len, InCh: l.In.Ch, OutLen: l.Out.Len, OutCh: l.Out.Ch,
		Kernel: l.Kernel, Stride: l.Stride, PadLeft: l.PadLeft}
	if l.ReLU {
		c.ReLU = 1
	}
	if p == Int8 {
		c.Mult, c.Shift = requantMult(l), requantShift
	}
	return c
}

// literal is the C initializer of a layer_t.
func (c cLayer) literal() string {
	return fmt.Sprintf("{%d, %d, %d, %d, %d, %d, %d, %d, %d, %d}",
		c.InLen, c.InCh, c.OutLen, c.OutCh, c.Kernel, c.Stride, c.PadLeft, c.ReLU, c.Mult, c.Shift)
}

// Capacity of the emulated memories (mps2-an386: 4 MB SSRAM1 for code and
// the "flash" data, 4 MB SSRAM2/3 for data and stack), less a margin for
// code, stack and the startup's data.
const (
	flashCapacity = 4<<20 - 256<<10
	ramCapacity   = 4<<20 - 64<<10
)

// fillCall returns the C call that fills n values of the given C type at
// ptr from seed.
func fillCall(ctype, ptr string, n int, seed uint32) string {
	fn := map[string]string{"float": "fill_f32", "int8_t": "fill_i8", "int32_t": "fill_i32"}[ctype]
	return fmt.Sprintf("%s(%s, %d, %du);", fn, ptr, n, seed)
}

// image is the generated main.c of one calibration image.
type image struct {
	prec   Precision
	layers []arch.Layer
	// network: one marker pair around all layers, each layer's output the
	// next one's input; otherwise one pair around each layer, each run on
	// fresh data.
	network bool
	seed    uint32
}

// pairs is the number of marker pairs the image runs after the empty one.
func (im image) pairs() int {
	if im.network {
		return 1
	}
	return len(im.layers)
}

// mainC generates the image's main.c.
func (im image) mainC() ([]byte, error) {
	t := im.prec.ctypes()
	wb, bb, ab := im.prec.sizes()
	var decl, body strings.Builder
	fmt.Fprintf(&decl, "/* Generated by package calib: %d %s layer(s)", len(im.layers), im.prec)
	if im.network {
		decl.WriteString(", one network")
	}
	decl.WriteString(". */\n#include \"calib.h\"\n\n")
	fmt.Fprintf(&decl, "static const layer_t L[%d] = {\n", len(im.layers))
	for _, l := range im.layers {
		if err := checkLayer(l); err != nil {
			return nil, err
		}
		fmt.Fprintf(&decl, "\t%s, /* %s %v -> %v */\n", toC(l, im.prec).literal(), l.Kind, l.In, l.Out)
	}
	decl.WriteString("};\n\n")
	body.WriteString("int main(void)\n{\n\tmarker_begin();\n\tmarker_end();\n")

	seed := im.seed
	nextSeed := func() uint32 { seed = seed*2654435761 + 0x9e3779b9; return seed | 1 }
	round8 := func(n int) int { return (n + 7) &^ 7 }
	if !im.network {
		var nw, nb, nx, ny int
		for _, l := range im.layers {
			nw, nb = max(nw, l.Weights()), max(nb, l.Biases())
			nx, ny = max(nx, l.In.Size()), max(ny, l.Out.Size())
		}
		if nw*wb+nb*bb > flashCapacity || (nx+ny)*ab > ramCapacity {
			return nil, fmt.Errorf("calib: layers too large for the emulated memories (%d weights, %d activations)", nw, nx+ny)
		}
		fmt.Fprintf(&decl, "static %s W[%d] CALIB_FLASH;\nstatic %s B[%d] CALIB_FLASH;\n", t.W, round8(nw), t.B, round8(nb))
		fmt.Fprintf(&decl, "static %s X[%d] CALIB_RAM;\nstatic %s Y[%d] CALIB_RAM;\n\n", t.Act, round8(nx), t.Act, round8(ny))
		for i, l := range im.layers {
			fn, _ := kernelName(l, im.prec)
			fmt.Fprintf(&body, "\n\t%s\n\t%s\n\t%s\n", fillCall(t.W, "W", l.Weights(), nextSeed()),
				fillCall(t.B, "B", l.Biases(), nextSeed()), fillCall(t.Act, "X", l.In.Size(), nextSeed()))
			fmt.Fprintf(&body, "\tmarker_begin();\n\t%s(&L[%d], X, W, B, Y);\n\tmarker_end();\n", fn, i)
		}
	} else {
		var nw, nb, na int
		woff, boff := make([]int, len(im.layers)), make([]int, len(im.layers))
		for i, l := range im.layers {
			if i > 0 && l.In != im.layers[i-1].Out {
				return nil, fmt.Errorf("calib: layer %d input %v is not layer %d's output %v", i+1, l.In, i, im.layers[i-1].Out)
			}
			woff[i], boff[i] = nw, nb
			nw += round8(l.Weights())
			nb += round8(l.Biases())
			na = max(na, l.In.Size(), l.Out.Size())
		}
		if nw*wb+nb*bb > flashCapacity || 2*na*ab > ramCapacity {
			return nil, fmt.Errorf("calib: network too large for the emulated memories (%d weights, %d activations per buffer)", nw, na)
		}
		fmt.Fprintf(&decl, "static %s W[%d] CALIB_FLASH;\nstatic %s B[%d] CALIB_FLASH;\n", t.W, max(nw, 8), t.B, max(nb, 8))
		fmt.Fprintf(&decl, "static %s A0[%d] CALIB_RAM;\nstatic %s A1[%d] CALIB_RAM;\n\n", t.Act, round8(na), t.Act, round8(na))
		for i, l := range im.layers {
			fmt.Fprintf(&body, "\t%s\n\t%s\n", fillCall(t.W, fmt.Sprintf("W + %d", woff[i]), l.Weights(), nextSeed()),
				fillCall(t.B, fmt.Sprintf("B + %d", boff[i]), l.Biases(), nextSeed()))
		}
		fmt.Fprintf(&body, "\t%s\n\n\tmarker_begin();\n", fillCall(t.Act, "A0", im.layers[0].In.Size(), nextSeed()))
		bufs := [2]string{"A0", "A1"}
		for i, l := range im.layers {
			fn, _ := kernelName(l, im.prec)
			fmt.Fprintf(&body, "\t%s(&L[%d], %s, W + %d, B + %d, %s);\n", fn, i, bufs[i%2], woff[i], boff[i], bufs[(i+1)%2])
		}
		body.WriteString("\tmarker_end();\n")
	}
	body.WriteString("\treturn 0;\n}\n")
	return []byte(decl.String() + body.String()), nil
}
