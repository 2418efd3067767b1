package calib

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/quant"
	"github.com/splitnas/splitnas/quant/scheme"
)

// hostHarness compiles the generated kernels with testdata/host_main.c
// using the host C compiler, with the extra flags given, or skips the test
// without one.
func hostHarness(t *testing.T, flags ...string) string {
	t.Helper()
	cc := hostCompiler(t)
	dir := t.TempDir()
	writeSources(t, dir, "calib.h", "splitnas_kernels.h", "runtime.c")
	srcs := []string{filepath.Join(dir, "runtime.c"), filepath.Join("testdata", "host_main.c")}
	for _, p := range []Precision{Float32, Int8, Int4} {
		b, err := kernelsC(p)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "kernels_"+p.suffix()+".c")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, path)
	}
	bin := filepath.Join(dir, "host")
	args := append(append([]string{"-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", dir, "-o", bin}, flags...), srcs...)
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, out)
	}
	return bin
}

// hostCompiler returns the host C compiler (gcc, else cc), or skips the
// test without one.
func hostCompiler(t *testing.T) string {
	t.Helper()
	cc, err := exec.LookPath("gcc")
	if err != nil {
		if cc, err = exec.LookPath("cc"); err != nil {
			t.Skip("no host C compiler (gcc or cc) on PATH; install Debian's gcc")
		}
	}
	return cc
}

// writeSources writes the embedded C sources of the given names into dir.
func writeSources(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, name := range names {
		b, err := source(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// hostRun runs layer l at precision p, with quantization q if p is Int8
// or Int4,
// through the harness and returns its x, w, b and y lines as float64
// values.
func hostRun(t *testing.T, bin string, l arch.Layer, p Precision, q int8Params, seed uint32) (x, w, b, y []float64) {
	t.Helper()
	c := toC(l, p, q)
	args := []string{p.suffix(), l.Kind.String()}
	for _, v := range []int{c.InLen, c.InCh, c.OutLen, c.OutCh, c.Kernel, c.Stride, c.PadLeft, c.ReLU,
		int(c.InOffset), int(c.OutOffset), int(seed)} {
		args = append(args, strconv.Itoa(v))
	}
	var stdin strings.Builder
	for _, v := range append(append([]int32{}, q.Mult...), q.Shift...) {
		fmt.Fprintf(&stdin, "%d\n", v)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("host %v: %v", args, err)
	}
	vals := namedLines(t, out)
	return vals["x"], vals["w"], vals["b"], vals["y"]
}

// namedLines reads a harness's output: lines of a name and numbers, the
// numbers of each name in order.
func namedLines(t *testing.T, out []byte) map[string][]float64 {
	t.Helper()
	vals := map[string][]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		for _, s := range f[1:] {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("harness output %q: %v", s, err)
			}
			vals[f[0]] = append(vals[f[0]], v)
		}
	}
	return vals
}

// nnForward runs l as a one-layer nn model with weights w, biases b and
// input x, and returns its output (after ReLU if l.ReLU).
func nnForward(t *testing.T, l arch.Layer, x, w, b []float64) []float32 {
	t.Helper()
	m, err := nn.NewModel(arch.Network{Layers: []arch.Layer{l}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	mw, mb := m.Weights(0)
	if len(mw) != len(w) || len(mb) != len(b) {
		t.Fatalf("%v: nn has %d weights and %d biases, the harness %d and %d", l, len(mw), len(mb), len(w), len(b))
	}
	for i := range w {
		mw[i] = float32(w[i])
	}
	for i := range b {
		mb[i] = float32(b[i])
	}
	xs := make([]float32, len(x))
	for i := range x {
		xs[i] = float32(x[i])
	}
	out := make([]float32, l.Out.Size())
	m.Logits(xs, out)
	return out
}

// kernelTestLayers cover every kernel path: "same" convolutions (padding on
// both sides) with kernels 1, 3 and 5, strided convolutions with kernel =
// stride and with overlap (padding, odd total), kernels 2, 3, 4, 8, 12 and
// 16 with one to four input channels and odd and even output channels (the
// int8 kernels' unrolled copies, 2x2 and 1x4 blocks, kernel-2 and
// kernel-3 loops, the generic loop and edges), transposed convolutions with
// and without cropping, with one to four input channels and inputs of 4 to
// 96 positions, and Dense layers with input sizes not a multiple of 8.
func kernelTestLayers(t *testing.T) []arch.Layer {
	t.Helper()
	var ls []arch.Layer
	for _, rule := range []arch.KernelRule{{Same: 3, Overlap: 1}, {Same: 5, Overlap: 2}, {Same: 1, Overlap: 3}} {
		for _, a := range []string{"64x1-32x3-32x2-8x4-24x2-96x3-96x1-5", "48x2-16x4-48x1-48x4-4x2-12x3-7"} {
			net, err := arch.Parse(a, rule)
			if err != nil {
				t.Fatal(err)
			}
			ls = append(ls, net.Layers...)
		}
	}
	for _, a := range []string{"128x1-16x3-8x1-32x3-4x4-64x2-128x1-5", "256x1-16x2-16x4-8x3-5", "40x4-40x3-40x2-10x1-30x3-6"} {
		net, err := arch.Parse(a, arch.DefaultKernelRule())
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, net.Layers...)
	}
	// A hidden Dense layer with ReLU.
	ls = append(ls, arch.Layer{Kind: arch.Dense, In: arch.Shape{Len: 6, Ch: 3}, Out: arch.Shape{Len: 9, Ch: 1}, ReLU: true})
	// The paths of the search space's largest layers, on small inputs:
	// kernel-2 stride-2 convolutions of two and four input channels (pairs
	// of channels interleaved); overlap-2 convolutions with kernel 4
	// stride 2 and kernel 8 stride 4 of two to four input channels (2x2
	// blocks with the weights as lanes, odd and even interior counts) and
	// of one or two (weights in registers), the stride known at compile
	// time; a kernel-64 stride-32 one whose outputs are half edges (two
	// output channels' edges at once); transposed ones with kernel twice
	// the stride (the lanes of each position serve both taps) or equal to
	// it (two phases at a time), channels in pairs. Each at an index whose
	// parameters (intTestParams) keep the clamp at -128 and the input
	// offset within a lane, the fast copies' conditions; a small Dense
	// layer fills the other indices.
	for _, c := range []struct {
		a       string
		overlap int
	}{
		{"16x4-8x4-5", 1}, {"8x4-4x2-5", 1}, {"8x2-4x2-5", 1},
		{"34x4-17x4-5", 2}, {"36x4-18x4-5", 2}, {"40x4-10x4-5", 2},
		{"34x3-17x4-5", 2}, {"40x2-10x4-5", 2}, {"40x3-10x3-5", 2},
		{"36x2-18x4-5", 2}, {"64x1-16x4-5", 2},
		{"10x4-20x4-5", 2}, {"20x4-40x2-5", 2}, {"40x2-80x2-5", 2},
		{"10x4-20x4-5", 1},
		{"128x4-4x4-5", 2},
	} {
		net, err := arch.Parse(c.a, arch.KernelRule{Same: 3, Overlap: c.overlap})
		if err != nil {
			t.Fatal(err)
		}
		for i := len(ls); i%4 == 3 || i%7 == 4; i = len(ls) {
			ls = append(ls, arch.Layer{Kind: arch.Dense, In: arch.Shape{Len: 6, Ch: 3}, Out: arch.Shape{Len: 9, Ch: 1}, ReLU: true})
		}
		ls = append(ls, net.Layers[0])
	}
	return ls
}

// int8TestParams is the quantization TestKernelsMatchQuantInt8 and
// TestKernelsDSPMatchQuant give test layer i: input zero points take turns
// among the network input's, a ReLU output's and 0; some ReLU layers get an
// output zero point other than −128, so that the lower clamp is not the
// int8 minimum (the kernels' clamp at act_min); every fifth layer has
// output channel 0 at shift 0 (multiplier ≥ ½), which the fast
// requantization leaves to the exact code, next to fast channels; every
// seventh has a zero point of 40000, outside a 16-bit lane once offset, so
// that the whole layer takes the plain loops.
func int8TestParams(i int, l arch.Layer) int8Params { return intTestParams(i, l, Int8) }

// intTestParams is int8TestParams for the weights of precision p (Int4:
// multipliers scaled to its smaller weights; with shift 0 on channel 0, a
// left shift of 2 on channel 1, both on the int4 kernels' fast path).
func intTestParams(i int, l arch.Layer, p Precision) int8Params {
	q := intParamsFor(l, []int32{inputZeroPoint, reluZeroPoint, 0}[i%3], p)
	if l.ReLU && i%4 == 3 {
		q.OutZP = -20
	}
	if i%5 == 2 {
		q.Shift[0] = 0
		if p == Int4 && len(q.Shift) > 1 {
			q.Shift[1] = 2 // a left shift, which the int4 kernels take fast
		}
	}
	if i%7 == 4 {
		q.InZP = -40000
	}
	return q
}

func TestKernelsMatchNNFloat32(t *testing.T) {
	bin := hostHarness(t)
	for i, l := range kernelTestLayers(t) {
		t.Run(fmt.Sprintf("%d_%s_%v_%v_k%d_s%d_p%d", i, l.Kind, l.In, l.Out, l.Kernel, l.Stride, l.PadLeft), func(t *testing.T) {
			x, w, b, y := hostRun(t, bin, l, Float32, int8Params{}, uint32(1000+i))
			want := nnForward(t, l, x, w, b)
			if len(y) != len(want) {
				t.Fatalf("C gives %d outputs, nn %d", len(y), len(want))
			}
			// Sums of up to a few hundred products of values in [-1, 1),
			// in different orders: allow float32 rounding of each.
			tol := 1e-5 * float64(fanIn(l)+1)
			for j := range y {
				if math.Abs(y[j]-float64(want[j])) > tol {
					t.Fatalf("output %d: C %v, nn %v (tolerance %g)", j, y[j], want[j], tol)
				}
			}
			if l.ReLU && !slicesHasPositiveAndZero(y) {
				t.Logf("outputs do not exercise both sides of the ReLU: %v", y)
			}
		})
	}
}

func slicesHasPositiveAndZero(y []float64) bool {
	var pos, zero bool
	for _, v := range y {
		pos = pos || v > 0
		zero = zero || v == 0
	}
	return pos && zero
}

// quantLayer is l as a quant.Layer with the harness's int8 weights w and
// biases b and quantization q (weight scales 1 and tensor scales 1: the
// integer path reads only the zero points, multipliers and shifts).
func quantLayer(t *testing.T, l arch.Layer, q int8Params, w, b []float64) quant.Layer {
	t.Helper()
	if len(w) != l.Weights() || len(b) != l.Biases() || len(q.Mult) != l.Biases() || len(q.Shift) != l.Biases() {
		t.Fatalf("%v: %d weights, %d biases, %d multipliers, %d shifts; want %d and %d of the others",
			l, len(w), len(b), len(q.Mult), len(q.Shift), l.Weights(), l.Biases())
	}
	ql := quant.Layer{Layer: l, W: make([]int8, len(w)), B: make([]int32, len(b)), WScale: make([]float32, len(b)),
		Mult: q.Mult, Shift: q.Shift, InQ: quant.QParams{Scale: 1, ZeroPoint: q.InZP}, OutQ: quant.QParams{Scale: 1, ZeroPoint: q.OutZP}}
	for i, v := range w {
		ql.W[i] = int8(v)
	}
	for i, v := range b {
		ql.B[i], ql.WScale[i] = int32(v), 1
	}
	return ql
}

// TestKernelsMatchQuantInt8 checks the int8 kernels bit for bit against
// the integer reference, package quant (TFLite Micro's int8 scheme and
// rounding): the host-compiled kernel and quant.Model.Run of the same
// weights, biases, zero points, multipliers and shifts give the same int8
// outputs. Input zero points take turns among the network input's, a ReLU
// output's and 0; some ReLU layers get an output zero point other than
// −128, so that the lower clamp is not the int8 minimum.
func TestKernelsMatchQuantInt8(t *testing.T) { kernelsMatchQuant(t, hostHarness(t), Int8) }

// TestKernelsMatchQuantInt4 does the same for the int4 kernels, on the
// same layers (odd fan-ins among them: rows that start in a high nibble),
// their weights random nibbles in [−8, 7] packed in an array of exactly the
// packed size; the harness is built with AddressSanitizer when the host
// compiler has it, so that a read beyond the packed weights fails.
func TestKernelsMatchQuantInt4(t *testing.T) {
	var bin string
	if asanWorks(t) {
		t.Setenv("ASAN_OPTIONS", "detect_leaks=0") // the harness does not free
		bin = hostHarness(t, "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer")
	} else {
		t.Log("no AddressSanitizer: reads beyond the packed weights go unnoticed")
		bin = hostHarness(t)
	}
	kernelsMatchQuant(t, bin, Int4)
}

// asanWorks says whether the host C compiler builds and runs a program
// with -fsanitize=address.
func asanWorks(t *testing.T) bool {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		return false
	}
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "a.c"), filepath.Join(dir, "a")
	if err := os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if exec.Command(cc, "-fsanitize=address,undefined", "-o", bin, src).Run() != nil {
		return false
	}
	return exec.Command(bin).Run() == nil
}

// kernelsMatchQuant runs every test layer at integer precision p through
// the harness bin and compares with quant.Model.Run bit for bit.
func kernelsMatchQuant(t *testing.T, bin string, p Precision) {
	bits := map[Precision]int{Int8: 8, Int4: 4}[p]
	outputs := 0
	ls := testLayersFor(t, p)
	for i, l := range ls {
		t.Run(fmt.Sprintf("%d_%s_%v_%v_k%d_s%d_p%d", i, l.Kind, l.In, l.Out, l.Kernel, l.Stride, l.PadLeft), func(t *testing.T) {
			q := intTestParams(i, l, p)
			x, w, b, y := hostRun(t, bin, l, p, q, uint32(2000+i))
			xq := make([]int8, len(x))
			for j, v := range x {
				xq[j] = int8(v)
			}
			m := quant.Model{Bits: bits, Layers: []quant.Layer{quantLayer(t, l, q, w, b)}}
			want := m.Run(xq, 0, 1)
			if len(y) != len(want) {
				t.Fatalf("C gives %d outputs, quant %d", len(y), len(want))
			}
			outputs += len(y)
			clipped, atMin := 0, 0
			for j := range y {
				if int8(y[j]) != want[j] || y[j] != float64(int8(y[j])) {
					t.Fatalf("output %d: C %v, quant %d (zero points %d → %d, channel multipliers %v, shifts %v)",
						j, y[j], want[j], q.InZP, q.OutZP, q.Mult, q.Shift)
				}
				// Saturation: the top of the range, or the bottom when it
				// is not the ReLU's zero.
				if want[j] == 127 || want[j] == -128 && !l.ReLU {
					clipped++
				}
				if int32(want[j]) == q.actMin(l.ReLU) {
					atMin++
				}
			}
			if clipped > len(y)/4 && q.InZP > -1000 && i%5 != 2 {
				t.Errorf("%d of %d outputs saturate: the requantization scale is off", clipped, len(y))
			}
			if l.ReLU && (atMin == 0 || atMin == len(y)) {
				t.Logf("outputs do not exercise both sides of the ReLU: %d of %d at the zero point", atMin, len(y))
			}
		})
	}
	t.Logf("%s: %d outputs of %d layers equal quant's", p, outputs, len(ls))
}

// testLayersFor is kernelTestLayers, and for Int4 more layers of odd
// fan-in (rows that start in a high nibble) on the paths the others reach
// only with even ones: Dense rows of odd length (SIMD blocks of eight and a
// remainder), a Conv1D with an odd kernel and stride 2 (the generic loop),
// and a transposed Conv1D with an odd kernel over three channels.
func testLayersFor(t *testing.T, p Precision) []arch.Layer {
	ls := kernelTestLayers(t)
	if p != Int4 {
		return ls
	}
	return append(ls,
		arch.Layer{Kind: arch.Dense, In: arch.Shape{Len: 33, Ch: 3}, Out: arch.Shape{Len: 7, Ch: 1}},
		arch.Layer{Kind: arch.Dense, In: arch.Shape{Len: 15, Ch: 1}, Out: arch.Shape{Len: 4, Ch: 1}, ReLU: true},
		arch.Layer{Kind: arch.Dense, In: arch.Shape{Len: 1, Ch: 1}, Out: arch.Shape{Len: 3, Ch: 1}},
		arch.Layer{Kind: arch.Conv, In: arch.Shape{Len: 30, Ch: 1}, Out: arch.Shape{Len: 8, Ch: 3}, Kernel: 7, Stride: 3, ReLU: true},
		arch.Layer{Kind: arch.Conv, In: arch.Shape{Len: 37, Ch: 3}, Out: arch.Shape{Len: 37, Ch: 3}, Kernel: 5, Stride: 1, PadLeft: 2, PadRight: 2, ReLU: true},
		arch.Layer{Kind: arch.ConvTranspose, In: arch.Shape{Len: 9, Ch: 3}, Out: arch.Shape{Len: 21, Ch: 3}, Kernel: 5, Stride: 2, ReLU: true},
	)
}

// TestKernelRequantMatchesScheme checks the int8 kernels' output stage
// alone against package scheme (TFLite's MultiplyByQuantizedMultiplier with
// double rounding, the zero point and the clamp), through dense_i8 on zero
// weights so that each output's accumulator is its bias: accumulators that
// land near the int8 range for random multipliers and shifts (right shifts
// 0..31 and left shifts), exact ties of both roundings (multiplier 2³⁰),
// and the one saturating product, MinInt32·MinInt32. Random layers rarely
// produce ties among the outputs they do not clamp, so this is where the
// rounding of ties is checked.
func TestKernelRequantMatchesScheme(t *testing.T) {
	bin := hostHarness(t)
	rng := rand.New(rand.NewPCG(13, 13))
	type rq struct{ acc, mult, shift int32 }
	var cases []rq
	for range 4000 {
		mult := int32(1<<30 + rng.Int64N(1<<30))
		shift := int32(-rng.IntN(32))
		if rng.IntN(8) == 0 {
			shift = int32(1 + rng.IntN(8))
		}
		// An accumulator whose rescaled value is about r in [−200, 200].
		m := math.Ldexp(float64(mult), int(shift)-31)
		a := math.Round(float64(rng.IntN(401)-200)/m) + float64(rng.IntN(5)-2)
		if lim := math.Ldexp(1, 31-int(max(shift, 0))) - 1; math.Abs(a) > lim {
			a = math.Copysign(lim, a)
		}
		cases = append(cases, rq{int32(a), mult, shift})
	}
	for e := int32(0); e <= 8; e++ {
		for v := int32(-300); v <= 300; v++ {
			cases = append(cases, rq{v, 1 << 30, -e}) // ties of the doubling high multiply (odd v)
			if e > 0 {
				// Ties of the rounding division: the high multiply by 2³⁰
				// halves 2·v exactly.
				cases = append(cases, rq{2 * (v<<e + v%2*(1<<(e-1))), 1 << 30, -e})
			}
		}
	}
	// (MinInt32·MinInt32 with shift 0 gives MaxInt32, to which C adds the
	// zero point in int32 as TFLite does, wrapping, while scheme saturates:
	// unreachable, multipliers are positive.)
	cases = append(cases, rq{math.MinInt32, math.MinInt32, -1}, rq{math.MinInt32, math.MinInt32, -5},
		rq{math.MaxInt32, math.MaxInt32, -31}, rq{math.MinInt32, 1 << 30, -31}, rq{0, 1 << 30, 0})
	var in strings.Builder
	for _, c := range cases {
		fmt.Fprintf(&in, "%d %d %d\n", c.acc, c.mult, c.shift)
	}
	for _, zp := range []struct {
		zp   int32
		relu bool
	}{{3, false}, {-128, true}, {-20, true}, {0, false}, {-7, false}} {
		q := int8Params{OutZP: zp.zp}
		lo := q.actMin(zp.relu)
		relu := "0"
		if zp.relu {
			relu = "1"
		}
		cmd := exec.Command(bin, "rq", strconv.Itoa(len(cases)), strconv.Itoa(int(zp.zp)), relu)
		cmd.Stdin = strings.NewReader(in.String())
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("host rq: %v", err)
		}
		f := strings.Fields(string(out))
		if len(f) != len(cases)+1 || f[0] != "y" {
			t.Fatalf("host rq: %d fields, want \"y\" and %d outputs", len(f), len(cases))
		}
		unclamped := 0
		for i, c := range cases {
			got, err := strconv.Atoi(f[i+1])
			if err != nil {
				t.Fatal(err)
			}
			want := scheme.Requantize(c.acc, c.mult, int(c.shift), zp.zp, lo)
			if got != int(want) {
				t.Fatalf("acc %d, multiplier %d, shift %d, zero point %d, min %d: C %d, scheme %d",
					c.acc, c.mult, c.shift, zp.zp, lo, got, want)
			}
			if int32(want) > lo && want < 127 {
				unclamped++
			}
		}
		t.Logf("zero point %d, min %d: %d cases, %d not clamped", zp.zp, lo, len(cases), unclamped)
	}
}

func TestKernelsCSyntax(t *testing.T) {
	for _, p := range []Precision{Float32, Int8, Int4} {
		src, err := kernelsC(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, fn := range []string{"conv1d_", "conv1d_transpose_", "dense_"} {
			if !bytes.Contains(src, []byte("void splitnas_"+fn+p.suffix()+"(")) {
				t.Errorf("%s kernels lack %s%s", p, fn, p.suffix())
			}
		}
		if bytes.Contains(src, []byte("{{")) {
			t.Errorf("%s kernels: unexpanded template action", p)
		}
	}
}
