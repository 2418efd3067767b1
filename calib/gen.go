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
	"github.com/splitnas/splitnas/quant/scheme"
)

// csrc holds the C sources: calib.h, splitnas_kernels.h, runtime.c,
// semihost.c, startup.c, link.ld, kernels.c.tmpl, sparse.c.tmpl, the
// helpers both templates expand (shared.c.tmpl) and plugin/count.c.
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
	// requantized to int8 after each layer: TensorFlow Lite Micro's scheme
	// (package quant), per-tensor activation zero points and per-channel
	// multipliers.
	Int8
	// Int4 weights (in [−7, 7], packed two per byte, the first in the low
	// nibble: quant.PackWeights), otherwise Int8's scheme: int8
	// activations, int32 biases, the same requantization. The kernels
	// unpack the weights on the fly.
	Int4
)

// String returns "float32", "int8" or "int4", the names arch.Precision
// uses, and "Precision(N)" for any other value.
func (p Precision) String() string {
	switch p {
	case Float32:
		return "float32"
	case Int8:
		return "int8"
	case Int4:
		return "int4"
	}
	return fmt.Sprintf("Precision(%d)", int(p))
}

// check refuses a Precision that is not Float32, Int8 or Int4.
func (p Precision) check() error {
	if p != Float32 && p != Int8 && p != Int4 {
		return fmt.Errorf("calib: invalid precision %v (want %v, %v or %v)", p, Float32, Int8, Int4)
	}
	return nil
}

// integer says whether p is an integer precision (TFLite Micro's scheme:
// int8 activations, requantized after each layer).
func (p Precision) integer() bool { return p == Int8 || p == Int4 }

// suffix is the kernel name suffix: "f32", "i8" or "i4".
func (p Precision) suffix() string {
	switch p {
	case Int8:
		return "i8"
	case Int4:
		return "i4"
	}
	return "f32"
}

// ParsePrecision accepts f32, float32, int8, i8, int4 or i4.
func ParsePrecision(s string) (Precision, error) {
	switch strings.ToLower(s) {
	case "f32", "float32":
		return Float32, nil
	case "int8", "i8":
		return Int8, nil
	case "int4", "i4":
		return Int4, nil
	}
	return 0, fmt.Errorf("calib: unknown precision %q (want f32, int8 or int4)", s)
}

// ctypes are the C types of one precision, for the templates.
type ctypes struct {
	Precision string
	Suffix    string
	Int       bool   // integer kernels (int8 or int4 weights)
	Int4      bool   // int4 weights, packed
	Act, W, B string // activation, weight (int4: the packed bytes) and bias types
	Acc       string // accumulator type
}

func (p Precision) ctypes() ctypes {
	switch p {
	case Int8:
		return ctypes{Precision: "int8", Suffix: "i8", Int: true, Act: "int8_t", W: "int8_t", B: "int32_t", Acc: "int32_t"}
	case Int4:
		return ctypes{Precision: "int4", Suffix: "i4", Int: true, Int4: true, Act: "int8_t", W: "uint8_t", B: "int32_t", Acc: "int32_t"}
	}
	return ctypes{Precision: "float32", Suffix: "f32", Act: "float", W: "float", B: "float", Acc: "float"}
}

// sizes are the bytes per element of the weight, bias and activation
// arrays (an int4 weight array's elements are bytes of two weights: see
// wElems).
func (p Precision) sizes() (w, b, act int) {
	if p.integer() {
		return 1, 4, 1
	}
	return 4, 4, 4
}

// wElems is the number of weight array elements that hold n weights: n,
// or ⌈n/2⌉ bytes in int4 (quant.PackWeights).
func (p Precision) wElems(n int) int {
	if p == Int4 {
		return (n + 1) / 2
	}
	return n
}

// The templates: kernels.c.tmpl and sparse.c.tmpl each with shared.c.tmpl,
// the helpers both expand ("portability", "lanes", "requant").
var (
	kernelsTmpl = template.Must(template.ParseFS(csrc, "c/kernels.c.tmpl", "c/shared.c.tmpl"))
	sparseTmpl  = template.Must(template.ParseFS(csrc, "c/sparse.c.tmpl", "c/shared.c.tmpl"))
)

// kernelsC returns the C source of the layer kernels at precision p:
// conv1d_SUF, conv1d_transpose_SUF and dense_SUF with SUF f32, i8 or i4
// (int4: the int8 kernels' template with packed weights unpacked on the
// fly), each
// taking the layer's shape (a layer_t, see c/splitnas_kernels.h), its input,
// weights, biases and output.
func kernelsC(p Precision) ([]byte, error) {
	var b bytes.Buffer
	if err := kernelsTmpl.Execute(&b, p.ctypes()); err != nil {
		return nil, fmt.Errorf("calib: kernels template: %w", err)
	}
	return b.Bytes(), nil
}

// Kernels returns the layer kernels at precision p as package export ships
// them: the header splitnas_kernels.h (layer_t and the kernels'
// declarations) and the C source (splitnas_kernels.c) — the very code the
// latency profiles are measured on.
func Kernels(p Precision) (header, source []byte, err error) {
	if err := p.check(); err != nil {
		return nil, nil, err
	}
	if header, err = fs.ReadFile(csrc, "c/splitnas_kernels.h"); err != nil {
		return nil, nil, err
	}
	source, err = kernelsC(p)
	return header, source, err
}

// sparseC returns the C source of the sparse kernels at precision p:
// conv1d_sparse_SUF and dense_sparse_SUF (SUF f32, i8 or i4), each taking
// the layer's shape, its input, its stored weights, their input offsets and
// the rows' counts (the format: c/splitnas_kernels.h), biases (and
// multipliers and shifts) and output.
func sparseC(p Precision) ([]byte, error) {
	var b bytes.Buffer
	if err := sparseTmpl.Execute(&b, p.ctypes()); err != nil {
		return nil, fmt.Errorf("calib: sparse kernels template: %w", err)
	}
	return b.Bytes(), nil
}

// SparseKernels returns the C source of the sparse layer kernels at
// precision p (declared in Kernels' header): the source package export
// ships as splitnas_sparse.c when an exported layer is stored sparse, and
// the code MeasureSparse measures. It is a file of its own so that
// splitnas_kernels.c, and the dense kernels' measured layout, stay as they
// are.
func SparseKernels(p Precision) ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	return sparseC(p)
}

// FirmwareSources returns what a bare-metal program for the emulated board
// needs besides its own code, by file name: the startup code (vector
// table, reset handler, memcpy and friends), semihosting, the measurement
// markers (runtime.c), their header calib.h (which includes
// splitnas_kernels.h) and the linker script. Package export ships them with
// its example firmware.
func FirmwareSources() (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, name := range []string{"startup.c", "semihost.c", "runtime.c", "calib.h", "link.ld"} {
		b, err := source(name)
		if err != nil {
			return nil, err
		}
		files[name] = b
	}
	return files, nil
}

// source returns one of the embedded C sources by its name under c/, e.g.
// "calib.h" or "plugin/count.c".
func source(name string) ([]byte, error) { return fs.ReadFile(csrc, "c/"+name) }

// cLayer is a layer_t: a layer's shape as the kernels take it, and for
// int8 its zero points (the int8 kernels take the per-channel multipliers
// and shifts as arrays).
type cLayer struct {
	InLen, InCh, OutLen, OutCh int
	Kernel, Stride, PadLeft    int
	ReLU                       int
	InOffset, OutOffset        int32 // −(input zero point), output zero point; 0 in float32
}

// kernelName is the C function that runs layer l at precision p.
func kernelName(l arch.Layer, p Precision) (string, error) {
	switch l.Kind {
	case arch.Conv, arch.ConvTranspose, arch.Dense:
		return "splitnas_" + l.Kind.String() + "_" + p.suffix(), nil
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

// Zero points of the int8 images' tensors, as a converter would choose them
// for the data the images run on.
const (
	// inputZeroPoint is the network input's: signed samples, nearly centred
	// on 0.
	inputZeroPoint int32 = -5
	// reluZeroPoint is a ReLU output's: real 0 at the bottom of the range.
	reluZeroPoint int32 = -128
	// linearZeroPoint is the output of a layer without ReLU (class scores).
	linearZeroPoint int32 = 3
)

// int8Params is an int8 layer's quantization as the kernels take it.
type int8Params struct {
	InZP, OutZP int32
	// Mult and Shift are the Q0.31 multiplier and exponent of each output
	// channel (of each output for a Dense layer; scheme.QuantizeMultiplier).
	Mult, Shift []int32
}

// actMin is the lower clamp of the outputs: the output zero point (real 0)
// with a fused ReLU, −128 otherwise, as in package quant.
func (q int8Params) actMin(relu bool) int32 {
	if relu {
		return q.OutZP
	}
	return math.MinInt8
}

// int8ParamsFor returns the quantization of int8 layer l, whose input has
// zero point inZP, in the images: the output zero point is reluZeroPoint
// with ReLU and linearZeroPoint without, and output channel c's real
// multiplier maps the accumulator of the images' uniform random int8 data
// (fill_i8: E[w²] ≈ 128²/3, E[(x − inZP)²] = 128²/3 + (inZP + ½)², summed
// over fanIn products) to a standard deviation of 64 steps with ReLU (the
// positive half spans 0..255 above the zero point) and 40 without, times
// 2^((c mod 5 − 2)/8), so that channels differ. Few outputs saturate.
func int8ParamsFor(l arch.Layer, inZP int32) int8Params { return intParamsFor(l, inZP, Int8) }

// intParamsFor is int8ParamsFor for the weights of precision p: int8, or
// int4, whose images' weights are uniform random nibbles (E[w²] ≈ 16²/12).
func intParamsFor(l arch.Layer, inZP int32, p Precision) int8Params {
	ew2 := (256*256-1)/12.0 + 0.25 // E[w²] of uniform int8
	if p == Int4 {
		ew2 = (16*16-1)/12.0 + 0.25 // of uniform int4 in [−8, 7]
	}
	mx := -0.5 - float64(inZP) // E[x − inZP]
	sd := math.Sqrt(float64(fanIn(l)) * ew2 * ((256*256-1)/12.0 + mx*mx))
	q := int8Params{InZP: inZP, OutZP: linearZeroPoint}
	target := 40.0
	if l.ReLU {
		q.OutZP, target = reluZeroPoint, 64
	}
	n := l.Biases()
	q.Mult, q.Shift = make([]int32, n), make([]int32, n)
	for c := range n {
		m, sh := scheme.QuantizeMultiplier(target / sd * math.Exp2(float64(c%5-2)/8))
		q.Mult[c], q.Shift[c] = m, int32(sh)
	}
	return q
}

// toC returns l as a layer_t at precision p; q is its quantization (int8
// only).
func toC(l arch.Layer, p Precision, q int8Params) cLayer {
	c := cLayer{InLen: l.In.Len, InCh: l.In.Ch, OutLen: l.Out.Len, OutCh: l.Out.Ch,
		Kernel: l.Kernel, Stride: l.Stride, PadLeft: l.PadLeft}
	if l.ReLU {
		c.ReLU = 1
	}
	if p.integer() {
		c.InOffset, c.OutOffset = -q.InZP, q.OutZP
	}
	return c
}

// LayerC is the C initializer of l's splitnas_layer_t, its zero-point
// offsets 0 (a float32 layer's, or an int8 one's before they are set): what
// package export writes for each exported layer.
func LayerC(l arch.Layer) string { return toC(l, Float32, int8Params{}).literal() }

// literal is the C initializer of a layer_t.
func (c cLayer) literal() string {
	return fmt.Sprintf("{%d, %d, %d, %d, %d, %d, %d, %d, %d, %d}",
		c.InLen, c.InCh, c.OutLen, c.OutCh, c.Kernel, c.Stride, c.PadLeft, c.ReLU, c.InOffset, c.OutOffset)
}

// int32Array is the C definition of a constant int32_t array, in flash.
func int32Array(name string, v []int32) string {
	var b strings.Builder
	fmt.Fprintf(&b, "static const int32_t %s[%d] = {", name, len(v))
	for i, x := range v {
		if i > 0 {
			b.WriteString(", ")
		}
		if i%16 == 0 && len(v) > 16 {
			b.WriteString("\n\t")
		}
		fmt.Fprintf(&b, "%d", x)
	}
	b.WriteString("};\n")
	return b.String()
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
	fn := map[string]string{"float": "fill_f32", "int8_t": "fill_i8", "uint8_t": "fill_i8", "int32_t": "fill_i32"}[ctype]
	if ctype == "uint8_t" { // int4 weights: random bytes, two nibbles each
		ptr = "(int8_t *)(" + ptr + ")"
	}
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
	// sparse, if not nil, stores every layer sparse (a Conv or Dense
	// layer, not a network image): layer i with sparse[i] weights in each
	// row, run by its sparse kernel.
	sparse []int
	seed   uint32
}

// quantization returns the int8 quantization of each layer: in a network
// image each layer's input zero point is the previous layer's output zero
// point (inputZeroPoint for the first); in the other images each layer runs
// on its own data and reads, as every layer but a network's first does, a
// ReLU output (reluZeroPoint).
func (im image) quantization() []int8Params {
	qs := make([]int8Params, len(im.layers))
	inZP := reluZeroPoint
	if im.network {
		inZP = inputZeroPoint
	}
	for i, l := range im.layers {
		qs[i] = intParamsFor(l, inZP, im.prec)
		if im.network {
			inZP = qs[i].OutZP
		}
	}
	return qs
}

// requantArgs is what an int8 kernel call of layer i passes before its
// output: its multiplier and shift arrays, "Mi, Si, "; nothing in float32.
func (im image) requantArgs(i int) string {
	if !im.prec.integer() {
		return ""
	}
	return fmt.Sprintf("M%d, S%d, ", i, i)
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
	if im.sparse != nil {
		decl.WriteString(", stored sparse")
	}
	decl.WriteString(". */\n#include \"calib.h\"\n\n")
	for _, l := range im.layers {
		if err := checkLayer(l); err != nil {
			return nil, err
		}
	}
	var qs []int8Params
	if im.prec.integer() {
		qs = im.quantization()
		decl.WriteString("/* Per-channel requantization constants (flash). */\n")
		for i, q := range qs {
			decl.WriteString(int32Array(fmt.Sprintf("M%d", i), q.Mult))
			decl.WriteString(int32Array(fmt.Sprintf("S%d", i), q.Shift))
		}
		decl.WriteString("\n")
	}
	fmt.Fprintf(&decl, "static const splitnas_layer_t L[%d] = {\n", len(im.layers))
	for i, l := range im.layers {
		var q int8Params
		if qs != nil {
			q = qs[i]
		}
		fmt.Fprintf(&decl, "\t%s, /* %s %v -> %v */\n", toC(l, im.prec, q).literal(), l.Kind, l.In, l.Out)
	}
	decl.WriteString("};\n\n")
	body.WriteString("int main(void)\n{\n\tmarker_begin();\n\tmarker_end();\n")

	seed := im.seed
	nextSeed := func() uint32 { seed = seed*2654435761 + 0x9e3779b9; return seed | 1 }
	round8 := func(n int) int { return (n + 7) &^ 7 }
	if im.sparse != nil {
		if err := im.sparseCalls(&decl, &body, nextSeed); err != nil {
			return nil, err
		}
	} else if !im.network {
		var nw, nb, nx, ny int
		for _, l := range im.layers {
			nw, nb = max(nw, im.prec.wElems(l.Weights())), max(nb, l.Biases())
			nx, ny = max(nx, l.In.Size()), max(ny, l.Out.Size())
		}
		if nw*wb+nb*bb > flashCapacity || (nx+ny)*ab > ramCapacity {
			return nil, fmt.Errorf("calib: layers too large for the emulated memories (%d weights, %d activations)", nw, nx+ny)
		}
		fmt.Fprintf(&decl, "static %s W[%d] CALIB_FLASH;\nstatic %s B[%d] CALIB_FLASH;\n", t.W, round8(nw), t.B, round8(nb))
		fmt.Fprintf(&decl, "static %s X[%d] CALIB_RAM;\nstatic %s Y[%d] CALIB_RAM;\n\n", t.Act, round8(nx), t.Act, round8(ny))
		for i, l := range im.layers {
			fn, _ := kernelName(l, im.prec)
			fmt.Fprintf(&body, "\n\t%s\n\t%s\n\t%s\n", fillCall(t.W, "W", im.prec.wElems(l.Weights()), nextSeed()),
				fillCall(t.B, "B", l.Biases(), nextSeed()), fillCall(t.Act, "X", l.In.Size(), nextSeed()))
			fmt.Fprintf(&body, "\tmarker_begin();\n\t%s(&L[%d], X, W, B, %sY);\n\tmarker_end();\n", fn, i, im.requantArgs(i))
		}
	} else {
		var nw, nb, na int
		woff, boff := make([]int, len(im.layers)), make([]int, len(im.layers))
		for i, l := range im.layers {
			if i > 0 && l.In != im.layers[i-1].Out {
				return nil, fmt.Errorf("calib: layer %d input %v is not layer %d's output %v", i+1, l.In, i, im.layers[i-1].Out)
			}
			woff[i], boff[i] = nw, nb
			nw += round8(im.prec.wElems(l.Weights()))
			nb += round8(l.Biases())
			na = max(na, l.In.Size(), l.Out.Size())
		}
		if nw*wb+nb*bb > flashCapacity || 2*na*ab > ramCapacity {
			return nil, fmt.Errorf("calib: network too large for the emulated memories (%d weights, %d activations per buffer)", nw, na)
		}
		fmt.Fprintf(&decl, "static %s W[%d] CALIB_FLASH;\nstatic %s B[%d] CALIB_FLASH;\n", t.W, max(nw, 8), t.B, max(nb, 8))
		fmt.Fprintf(&decl, "static %s A0[%d] CALIB_RAM;\nstatic %s A1[%d] CALIB_RAM;\n\n", t.Act, round8(na), t.Act, round8(na))
		for i, l := range im.layers {
			fmt.Fprintf(&body, "\t%s\n\t%s\n", fillCall(t.W, fmt.Sprintf("W + %d", woff[i]), im.prec.wElems(l.Weights()), nextSeed()),
				fillCall(t.B, fmt.Sprintf("B + %d", boff[i]), l.Biases(), nextSeed()))
		}
		fmt.Fprintf(&body, "\t%s\n\n\tmarker_begin();\n", fillCall(t.Act, "A0", im.layers[0].In.Size(), nextSeed()))
		bufs := [2]string{"A0", "A1"}
		for i, l := range im.layers {
			fn, _ := kernelName(l, im.prec)
			fmt.Fprintf(&body, "\t%s(&L[%d], %s, W + %d, B + %d, %s%s);\n", fn, i, bufs[i%2], woff[i], boff[i], im.requantArgs(i), bufs[(i+1)%2])
		}
		body.WriteString("\tmarker_end();\n")
	}
	body.WriteString("\treturn 0;\n}\n")
	return []byte(decl.String() + body.String()), nil
}

// rowLen is the number of weights of one row of a Conv or Dense layer (see
// SparseLayer): In.Ch·Kernel for a Conv, In.Size() for Dense.
func rowLen(l arch.Layer) int {
	if l.Kind == arch.Dense {
		return l.In.Size()
	}
	return l.In.Ch * l.Kernel
}

// sparseWElems is the number of weight array elements of rows rows of nnz
// stored weights each: rows·nnz, or rows·⌈nnz/2⌉ bytes in int4 (each row
// packed from a byte boundary).
func (p Precision) sparseWElems(rows, nnz int) int { return rows * p.wElems(nnz) }

// checkSparse rejects a layer that cannot be stored sparse with nnz
// weights in each row: a kind other than Conv and Dense, a shape the
// kernels cannot run (checkLayer), an input of more than
// arch.MaxSparseInput values (the offsets are uint16), a Conv kernel longer
// than its input (the offsets ci·in_len + tap would not ascend along a
// row), and nnz outside [0, row length] or above 65,535 (the counts are
// uint16).
func checkSparse(l arch.Layer, nnz int) error {
	if l.Kind != arch.Conv && l.Kind != arch.Dense {
		return fmt.Errorf("calib: %s layer %v→%v cannot be stored sparse (only Conv and Dense layers)", l.Kind, l.In, l.Out)
	}
	if err := checkLayer(l); err != nil {
		return err
	}
	if l.In.Size() > arch.MaxSparseInput {
		return fmt.Errorf("calib: %s layer %v→%v: input of %d values, more than a sparse layer's %d", l.Kind, l.In, l.Out, l.In.Size(), arch.MaxSparseInput)
	}
	if l.Kind == arch.Conv && l.Kernel > l.In.Len {
		return fmt.Errorf("calib: conv1d layer %v→%v: kernel %d longer than the input, cannot be stored sparse", l.In, l.Out, l.Kernel)
	}
	if n := rowLen(l); nnz < 0 || nnz > n || nnz > math.MaxUint16 {
		return fmt.Errorf("calib: %s layer %v→%v: %d non-zero weights per row outside [0, %d]", l.Kind, l.In, l.Out, nnz, min(n, math.MaxUint16))
	}
	return nil
}

// sparseCalls writes the arrays and the calls of an image of layers stored
// sparse: as for dense layers, each layer runs on fresh data between its
// own marker pair, its stored weights, their offsets (IDX) and the rows'
// counts (CNT) in flash, filled before the markers (fill_sparse: nnz
// pseudo-random positions in each row).
func (im image) sparseCalls(decl, body *strings.Builder, nextSeed func() uint32) error {
	if len(im.sparse) != len(im.layers) || im.network {
		return fmt.Errorf("calib: sparse image of %d layers with %d counts", len(im.layers), len(im.sparse))
	}
	t := im.prec.ctypes()
	wb, bb, ab := im.prec.sizes()
	var nw, ni, nc, nb, nx, ny int
	for i, l := range im.layers {
		if err := checkSparse(l, im.sparse[i]); err != nil {
			return err
		}
		rows := l.Rows()
		nw, ni, nc = max(nw, im.prec.sparseWElems(rows, im.sparse[i])), max(ni, rows*im.sparse[i]), max(nc, rows)
		nb, nx, ny = max(nb, l.Biases()), max(nx, l.In.Size()), max(ny, l.Out.Size())
	}
	if nw*wb+2*(ni+nc)+nb*bb > flashCapacity || (nx+ny)*ab > ramCapacity {
		return fmt.Errorf("calib: layers too large for the emulated memories (%d stored weights, %d activations)", ni, nx+ny)
	}
	size := func(n int) int { return max((n+7)&^7, 8) }
	fmt.Fprintf(decl, "static %s W[%d] CALIB_FLASH;\nstatic uint16_t IDX[%d] CALIB_FLASH;\nstatic uint16_t CNT[%d] CALIB_FLASH;\n",
		t.W, size(nw), size(ni), size(nc))
	fmt.Fprintf(decl, "static %s B[%d] CALIB_FLASH;\n", t.B, size(nb))
	fmt.Fprintf(decl, "static %s X[%d] CALIB_RAM;\nstatic %s Y[%d] CALIB_RAM;\n\n", t.Act, size(nx), t.Act, size(ny))
	for i, l := range im.layers {
		rows, n, nnz := l.Rows(), rowLen(l), im.sparse[i]
		k, inLen := l.Kernel, l.In.Len
		if l.Kind == arch.Dense {
			k, inLen = n, n
		}
		fmt.Fprintf(body, "\n\t%s\n\t%s\n\t%s\n", fillCall(t.W, "W", im.prec.sparseWElems(rows, nnz), nextSeed()),
			fillCall(t.B, "B", l.Biases(), nextSeed()), fillCall(t.Act, "X", l.In.Size(), nextSeed()))
		fmt.Fprintf(body, "\tfill_sparse(IDX, CNT, %d, %d, %d, %d, %d, %du);\n", rows, n, k, inLen, nnz, nextSeed())
		fmt.Fprintf(body, "\tmarker_begin();\n\tsplitnas_%s_sparse_%s(&L[%d], X, W, IDX, CNT, B, %sY);\n\tmarker_end();\n",
			l.Kind, im.prec.suffix(), i, im.requantArgs(i))
	}
	return nil
}
