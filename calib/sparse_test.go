package calib

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/quant"
)

// sparseTestLayers are the Conv1D and Dense layers the sparse kernels are
// checked on: "same" convolutions with kernels 3 and 5 (edges at both
// ends, interiors that are and are not a multiple of four outputs: the
// stride-1 word loads and the rest, two and one), strided ones with kernel
// = stride (strides 2 and 4, which have their own copies, and 3 and 8, the
// generic one), overlap-2 ones as the search space makes them (kernel
// 2·stride, padding stride/2 on each side, odd strides padded unevenly,
// and two whose four outputs are half edges, rows of 72 and 192 weights:
// edges of long rows), with and without ReLU, one to eight input channels,
// and Dense layers with and without ReLU. With small, it is the subset the
// emulated Cortex-M4 runs.
func sparseTestLayers(t *testing.T, small bool) []arch.Layer {
	t.Helper()
	conv := func(inLen, inCh, outLen, outCh, k, s, pl, pr int, relu bool) arch.Layer {
		return arch.Layer{Kind: arch.Conv, In: arch.Shape{Len: inLen, Ch: inCh}, Out: arch.Shape{Len: outLen, Ch: outCh},
			Kernel: k, Stride: s, PadLeft: pl, PadRight: pr, ReLU: relu}
	}
	overlap2 := func(a string) arch.Layer {
		net, err := arch.Parse(a, arch.KernelRule{Same: 3, Overlap: 2})
		if err != nil {
			t.Fatal(err)
		}
		return net.Layers[0]
	}
	dense := func(inLen, inCh, out int, relu bool) arch.Layer {
		return arch.Layer{Kind: arch.Dense, In: arch.Shape{Len: inLen, Ch: inCh}, Out: arch.Shape{Len: out, Ch: 1}, ReLU: relu}
	}
	if small {
		return []arch.Layer{
			conv(37, 3, 37, 4, 3, 1, 1, 1, true),
			conv(64, 2, 16, 3, 4, 4, 0, 0, false),
			overlap2("34x4-17x4-5"),
			overlap2("64x1-8x2-5"),
			overlap2("128x3-4x2-5"),
			conv(30, 7, 10, 4, 3, 3, 0, 0, true),
			dense(33, 3, 7, false),
			dense(6, 3, 9, true),
		}
	}
	return []arch.Layer{
		conv(37, 3, 37, 4, 3, 1, 1, 1, true),
		conv(64, 1, 64, 2, 3, 1, 1, 1, true),
		conv(16, 8, 16, 3, 3, 1, 1, 1, false),
		conv(20, 5, 20, 2, 5, 1, 2, 2, true),
		conv(48, 1, 24, 2, 2, 2, 0, 0, true),
		conv(64, 2, 16, 3, 4, 4, 0, 0, false),
		conv(96, 3, 12, 2, 8, 8, 0, 0, true),
		conv(30, 7, 10, 4, 3, 3, 0, 0, true),
		overlap2("34x4-17x4-5"),
		overlap2("40x2-10x4-5"),
		overlap2("64x1-8x2-5"),
		overlap2("30x2-10x3-5"),
		overlap2("24x6-4x4-5"),
		overlap2("128x3-4x2-5"),
		dense(6, 3, 9, true),
		dense(33, 3, 7, false),
		dense(64, 4, 5, false),
		dense(1, 1, 3, false),
		dense(17, 1, 6, true),
	}
}

// sparseDensity gives the count of stored weights of row r (of rows, each
// of n weights).
type sparseDensity struct {
	name  string
	count func(r, rows, n int, rng *rand.Rand) int
}

// sparseDensities: no weight stored, about 10 %, 50 % and 90 % of each row,
// every weight, and rows that differ (the first empty, the second full,
// the others any count).
func sparseDensities() []sparseDensity {
	frac := func(f float64) func(r, rows, n int, rng *rand.Rand) int {
		return func(_, _, n int, _ *rand.Rand) int { return int(math.Round(f * float64(n))) }
	}
	return []sparseDensity{
		{"0", frac(0)}, {"0.1", frac(0.1)}, {"0.5", frac(0.5)}, {"0.9", frac(0.9)}, {"1", frac(1)},
		{"mixed", func(r, _, n int, rng *rand.Rand) int {
			switch r {
			case 0:
				return 0
			case 1:
				return n
			}
			return rng.IntN(n + 1)
		}},
	}
}

// sparseCase is one layer's data for a dense and a sparse kernel: dense
// weights w with zeros where the sparse form stores nothing, and that
// form.
type sparseCase struct {
	l       arch.Layer
	p       Precision
	density string     // sparseDensity.name
	q       int8Params // Int8, Int4
	x, w, b []float64  // input, dense weights (row after row), biases
	// The sparse form (c/splitnas_kernels.h; arch.EncodeSparse, as package
	// export stores it).
	sparse arch.SparseWeights[float64]
}

// newSparseCase draws layer l's input, biases and weights at precision p
// (int8 in [−128, 127], int4 in [−8, 7], float32 multiples of 2⁻²³ in
// [−1, 1)), with d's count of non-zero weights in each row at random
// positions and zeros elsewhere, and stores them sparse.
func newSparseCase(l arch.Layer, p Precision, q int8Params, d sparseDensity, rng *rand.Rand) sparseCase {
	c := sparseCase{l: l, p: p, density: d.name, q: q}
	val := func(nonZero bool) float64 {
		for {
			var v float64
			switch p {
			case Int8:
				v = float64(rng.IntN(256) - 128)
			case Int4:
				v = float64(rng.IntN(16) - 8)
			default:
				v = float64(rng.Int32N(1<<24)-(1<<23)) / (1 << 23)
			}
			if v != 0 || !nonZero {
				return v
			}
		}
	}
	c.x = make([]float64, l.In.Size())
	for i := range c.x {
		if p.integer() {
			c.x[i] = float64(rng.IntN(256) - 128)
		} else {
			c.x[i] = val(false)
		}
	}
	c.b = make([]float64, l.Biases())
	for i := range c.b {
		switch p {
		case Int8:
			c.b[i] = float64(rng.IntN(8192) - 4096)
		case Int4:
			c.b[i] = float64(rng.IntN(512) - 256)
		default:
			c.b[i] = val(true)
		}
	}
	rows, n := l.Rows(), rowLen(l)
	c.w = make([]float64, rows*n)
	for r := range rows {
		for _, j := range rng.Perm(n)[:d.count(r, rows, n, rng)] {
			c.w[r*n+j] = val(true)
		}
	}
	c.sparse = arch.EncodeSparse(l, c.w)
	return c
}

// int8s converts values to int8.
func int8s(v []float64) []int8 {
	r := make([]int8, len(v))
	for i, x := range v {
		r[i] = int8(x)
	}
	return r
}

// denseW is the dense weight array's elements: the values, or in int4 the
// packed bytes of the whole tensor (quant.PackWeights).
func (c sparseCase) denseW() []float64 {
	if c.p != Int4 {
		return c.w
	}
	return bytesF(quant.PackWeights(int8s(c.w), 4))
}

// sparseW is the stored weights' array elements: the values row after row,
// or in int4 each row packed from a byte boundary (quant.PackWeights per
// row: an odd row's last high nibble 0).
func (c sparseCase) sparseW() []float64 {
	var r []float64
	for _, row := range c.sparse.Rows() {
		if c.p == Int4 {
			r = append(r, bytesF(quant.PackWeights(int8s(row), 4))...)
		} else {
			r = append(r, row...)
		}
	}
	return r
}

func bytesF(b []byte) []float64 {
	r := make([]float64, len(b))
	for i, v := range b {
		r[i] = float64(v)
	}
	return r
}

// fmtValue is v as the harness reads it: C's hexadecimal notation in
// float32, an integer otherwise.
func (c sparseCase) fmtValue(v float64) string {
	if c.p == Float32 {
		return strconv.FormatFloat(v, 'x', -1, 64)
	}
	return strconv.Itoa(int(v))
}

// stdin is the harness's input (testdata/sparse_main.c).
func (c sparseCase) stdin() string {
	var s strings.Builder
	lc := toC(c.l, c.p, c.q)
	fmt.Fprintf(&s, "%s %s %d %d %d %d %d %d %d %d %d %d\n", c.p.suffix(), c.l.Kind, lc.InLen, lc.InCh, lc.OutLen, lc.OutCh,
		lc.Kernel, lc.Stride, lc.PadLeft, lc.ReLU, lc.InOffset, lc.OutOffset)
	list := func(v []float64, f func(float64) string) {
		fmt.Fprintf(&s, "%d", len(v))
		for _, x := range v {
			s.WriteString(" " + f(x))
		}
		s.WriteString("\n")
	}
	itoa := func(v float64) string { return strconv.Itoa(int(v)) }
	list(c.x, c.fmtValue)
	list(c.denseW(), c.fmtValue)
	list(c.b, c.fmtValue)
	if c.p.integer() {
		m, sh := make([]float64, len(c.q.Mult)), make([]float64, len(c.q.Shift))
		for i := range m {
			m[i], sh[i] = float64(c.q.Mult[i]), float64(c.q.Shift[i])
		}
		list(m, itoa)
		list(sh, itoa)
	}
	u16 := func(v []uint16) []float64 {
		r := make([]float64, len(v))
		for i, x := range v {
			r[i] = float64(x)
		}
		return r
	}
	list(u16(c.sparse.Count), itoa)
	list(u16(c.sparse.Index), itoa)
	list(c.sparseW(), c.fmtValue)
	return s.String()
}

// sparseHarness compiles testdata/sparse_main.c with the dense and the
// sparse kernels of every precision, using the host C compiler, or skips
// the test without one. The extra flags (sanitizers) apply to the sparse
// kernels and the harness; the dense kernels, the reference here, are
// compiled without them (their own tests sanitize them), each file by its
// own compiler at once.
func sparseHarness(t *testing.T, flags ...string) string {
	t.Helper()
	cc := hostCompiler(t)
	dir := t.TempDir()
	writeSources(t, dir, "splitnas_kernels.h")
	type unit struct {
		src   string
		flags []string
	}
	units := []unit{{filepath.Join("testdata", "sparse_main.c"), flags}}
	for _, p := range []Precision{Float32, Int8, Int4} {
		for _, g := range []struct {
			name  string
			gen   func(Precision) ([]byte, error)
			flags []string
		}{{"kernels_", kernelsC, nil}, {"sparse_", sparseC, flags}} {
			b, err := g.gen(p)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, g.name+p.suffix()+".c")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			units = append(units, unit{path, g.flags})
		}
	}
	common := []string{"-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", dir}
	errs := make([]error, len(units))
	objs := make([]string, len(units))
	var wg sync.WaitGroup
	for i, u := range units {
		objs[i] = filepath.Join(dir, fmt.Sprintf("%d.o", i))
		args := append(append(append([]string{}, common...), u.flags...), "-c", "-o", objs[i], u.src)
		wg.Go(func() {
			if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, out)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "sparse")
	args := append(append([]string{"-o", bin}, flags...), objs...)
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, out)
	}
	return bin
}

// run runs the case through the harness and returns the dense and the
// sparse kernel's outputs.
func (c sparseCase) run(t *testing.T, bin string) (dense, sparse []float64) {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Stdin = strings.NewReader(c.stdin())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("harness: %v\n%s", err, stderr.String())
	}
	vals := namedLines(t, out)
	return vals["dense"], vals["sparse"]
}

// sparseCases returns every test case of the layers at precision p: each
// layer at each density, the integer layers with intTestParams' zero
// points, multipliers and shifts (fast and exact requantization, input
// offsets within and outside a lane, left shifts in int4).
func sparseCases(t *testing.T, p Precision, layers []arch.Layer, densities []sparseDensity, seed uint64) []sparseCase {
	rng := rand.New(rand.NewPCG(seed, uint64(p)))
	var cs []sparseCase
	for i, l := range layers {
		var q int8Params
		if p.integer() {
			q = intTestParams(i, l, p)
		}
		for _, d := range densities {
			cs = append(cs, newSparseCase(l, p, q, d, rng))
		}
	}
	return cs
}

// name is the subtest's name: precision, layer, density and the stored
// weights.
func (c sparseCase) name() string {
	l := c.l
	s := fmt.Sprintf("%s_%s_%dx%d_%dx%d", c.p, l.Kind, l.In.Len, l.In.Ch, l.Out.Len, l.Out.Ch)
	if l.Kind == arch.Conv {
		s += fmt.Sprintf("_k%d_s%d_p%d", l.Kernel, l.Stride, l.PadLeft)
	}
	if l.ReLU {
		s += "_relu"
	}
	return fmt.Sprintf("%s_d%s_nnz%d", s, c.density, len(c.sparse.Index))
}

// sameOutputs reports the first output where the sparse kernel's differs
// from the dense one's: integers exactly, floats by == (+0 equals −0).
func sameOutputs(dense, sparse []float64) (int, bool) {
	if len(dense) != len(sparse) {
		return -1, false
	}
	for i := range dense {
		if dense[i] != sparse[i] {
			return i, false
		}
	}
	return 0, true
}

// TestSparseKernelsMatchDense checks the sparse kernels, compiled for the
// host, against the dense kernels of the same precision on the same
// inputs, the weights not stored set to 0: byte for byte in int8 and int4,
// equal values in float32. Every layer of sparseTestLayers at densities 0,
// 0.1, 0.5, 0.9, 1 and with rows of differing counts (an empty one, a full
// one). With AddressSanitizer when the host compiler has it: every array
// is exactly its size (reads beyond one fail), and the layers without a
// stored weight pass null pointers.
func TestSparseKernelsMatchDense(t *testing.T) {
	var bin string
	if asanWorks(t) {
		t.Setenv("ASAN_OPTIONS", "detect_leaks=0")
		bin = sparseHarness(t, "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer")
	} else {
		t.Log("no AddressSanitizer: reads beyond the arrays go unnoticed")
		bin = sparseHarness(t)
	}
	for _, p := range []Precision{Float32, Int8, Int4} {
		cases := sparseCases(t, p, sparseTestLayers(t, false), sparseDensities(), 31)
		outputs := 0
		for _, c := range cases {
			t.Run(c.name(), func(t *testing.T) {
				dense, sparse := c.run(t, bin)
				if len(dense) != c.l.Out.Size() {
					t.Fatalf("%d dense outputs, want %d", len(dense), c.l.Out.Size())
				}
				if i, ok := sameOutputs(dense, sparse); !ok {
					t.Fatalf("output %d: sparse %v, dense %v (of %d; zero points %d → %d)", i, at(sparse, i), at(dense, i), len(dense), c.q.InZP, c.q.OutZP)
				}
				outputs += len(dense)
			})
		}
		t.Logf("%s: %d cases, %d outputs equal", p, len(cases), outputs)
	}
}

func at(v []float64, i int) any {
	if i < 0 || i >= len(v) {
		return "none"
	}
	return v[i]
}

// TestSparseKernelsDSPMatchDense runs the sparse and the dense kernels as
// compiled for the Cortex-M4 (the DSP-extension code in int8 and int4, the
// FPU's fused multiply-adds in float32) on the emulated board, on a subset
// of the layers and densities of TestSparseKernelsMatchDense, each integer
// tensor 0 to 3 bytes past a word boundary, and checks that they agree.
func TestSparseKernelsDSPMatchDense(t *testing.T) {
	e := emulator(t)
	densities := sparseDensities()
	densities = []sparseDensity{densities[0], densities[1], densities[2], densities[4], densities[5]}
	for _, p := range []Precision{Float32, Int8, Int4} {
		t.Run(p.String(), func(t *testing.T) {
			cases := sparseCases(t, p, sparseTestLayers(t, true), densities, 32)
			dense, sparse := runSparseFirmware(t, e, p, cases)
			for i, c := range cases {
				if len(dense[i]) != c.l.Out.Size() || len(sparse[i]) != c.l.Out.Size() {
					t.Errorf("%s: %d dense and %d sparse outputs from the board, want %d", c.name(), len(dense[i]), len(sparse[i]), c.l.Out.Size())
					continue
				}
				if j, ok := sameOutputs(dense[i], sparse[i]); !ok {
					t.Errorf("%s: output %d is %v sparse, %v dense on the board", c.name(), j, sparse[i][j], dense[i][j])
				}
			}
			t.Logf("%s: %d cases equal on the emulated Cortex-M4", p, len(cases))
		})
	}
}

// runSparseFirmware runs every case's dense and sparse kernel in one
// firmware on the emulated board and returns their outputs.
func runSparseFirmware(t *testing.T, e *Emulator, p Precision, cases []sparseCase) (dense, sparse [][]float64) {
	t.Helper()
	dir := t.TempDir()
	var srcs []string
	for name, gen := range map[string]func(Precision) ([]byte, error){"kernels_": kernelsC, "sparse_": sparseC} {
		b, err := gen(p)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name+p.suffix()+".c")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, path)
	}
	ct := p.ctypes()
	var decl, body strings.Builder
	decl.WriteString("#include \"calib.h\"\n\n")
	decl.WriteString(semihostPut)
	body.WriteString("int main(void)\n{\n\tmarker_begin();\n\tmarker_end();\n")
	list := func(o int, v []float64, f func(float64) string) string {
		var b strings.Builder
		for i := 0; i < o+len(v); i++ {
			if i > 0 {
				b.WriteString(",")
			}
			if i%16 == 0 {
				b.WriteString("\n\t")
			}
			if i < o {
				b.WriteString("0")
			} else {
				b.WriteString(f(v[i-o]))
			}
		}
		return b.String()
	}
	itoa := func(v float64) string { return strconv.Itoa(int(v)) }
	for i, c := range cases {
		o := 0
		if p.integer() {
			o = i % 4 // each integer tensor i mod 4 bytes into its array
		}
		act, wt := ct.Act, ct.W
		fmt.Fprintf(&decl, "/* %s */\n", c.name())
		fmt.Fprintf(&decl, "static const %s X%d[%d] __attribute__((aligned(4))) = {%s};\n", act, i, o+len(c.x), list(o, c.x, c.fmtValue))
		fmt.Fprintf(&decl, "static const %s W%d[%d] __attribute__((aligned(4))) = {%s};\n", wt, i, o+len(c.denseW()), list(o, c.denseW(), c.fmtValue))
		fmt.Fprintf(&decl, "static const %s B%d[%d] = {%s};\n", ct.B, i, len(c.b), list(0, c.b, c.fmtValue))
		fmt.Fprintf(&decl, "static const uint16_t C%d[%d] = {%s};\n", i, len(c.sparse.Count), list(0, u16F(c.sparse.Count), itoa))
		ws, ix := "0", "0"
		if sw := c.sparseW(); len(sw) > 0 {
			fmt.Fprintf(&decl, "static const %s WS%d[%d] __attribute__((aligned(4))) = {%s};\n", wt, i, o+len(sw), list(o, sw, c.fmtValue))
			fmt.Fprintf(&decl, "static const uint16_t I%d[%d] = {%s};\n", i, len(c.sparse.Index), list(0, u16F(c.sparse.Index), itoa))
			ws, ix = fmt.Sprintf("WS%d + %d", i, o), fmt.Sprintf("I%d", i)
		}
		fmt.Fprintf(&decl, "static %s YD%d[%d] __attribute__((aligned(4)));\n", act, i, o+c.l.Out.Size())
		fmt.Fprintf(&decl, "static %s YS%d[%d] __attribute__((aligned(4)));\n", act, i, o+c.l.Out.Size())
		rq := ""
		if p.integer() {
			decl.WriteString(int32Array(fmt.Sprintf("M%d", i), c.q.Mult))
			decl.WriteString(int32Array(fmt.Sprintf("S%d", i), c.q.Shift))
			rq = fmt.Sprintf("M%d, S%d, ", i, i)
		}
		fmt.Fprintf(&decl, "static const splitnas_layer_t L%d = %s;\n\n", i, toC(c.l, p, c.q).literal())
		fn, _ := kernelName(c.l, p)
		fmt.Fprintf(&body, "\t%s(&L%d, X%d + %d, W%d + %d, B%d, %sYD%d + %d);\n", fn, i, i, o, i, o, i, rq, i, o)
		fmt.Fprintf(&body, "\tsplitnas_%s_sparse_%s(&L%d, X%d + %d, %s, %s, C%d, B%d, %sYS%d + %d);\n",
			c.l.Kind, p.suffix(), i, i, o, ws, ix, i, i, rq, i, o)
		size := c.l.Out.Size()
		if !p.integer() {
			size *= 4
		}
		fmt.Fprintf(&body, "\tput(%d, YD%d + %d, %d);\n\tput(%d, YS%d + %d, %d);\n", 2*i, i, o, size, 2*i+1, i, o, size)
	}
	body.WriteString("\treturn 0;\n}\n")
	mainC := filepath.Join(dir, "main.c")
	if err := os.WriteFile(mainC, []byte(decl.String()+body.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, out, err := e.RunFirmware(context.Background(), Config{Precision: p}, append(srcs, mainC), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := make([][]byte, 2*len(cases))
	for _, line := range strings.Split(out, "\n") {
		id, h, ok := strings.Cut(strings.TrimSpace(line), ":")
		i, err := strconv.Atoi(id)
		if !ok || err != nil || i < 0 || i >= len(raw) {
			continue
		}
		bs, err := hex.DecodeString(h)
		if err != nil {
			t.Fatalf("firmware output %q: %v", line, err)
		}
		raw[i] = append(raw[i], bs...)
	}
	decode := func(b []byte) []float64 {
		var v []float64
		if p.integer() {
			for _, x := range b {
				v = append(v, float64(int8(x)))
			}
			return v
		}
		for j := 0; j+4 <= len(b); j += 4 {
			v = append(v, float64(math.Float32frombits(binary.LittleEndian.Uint32(b[j:]))))
		}
		return v
	}
	for i := range cases {
		dense = append(dense, decode(raw[2*i]))
		sparse = append(sparse, decode(raw[2*i+1]))
	}
	return dense, sparse
}

func u16F(v []uint16) []float64 {
	r := make([]float64, len(v))
	for i, x := range v {
		r[i] = float64(x)
	}
	return r
}

// TestFillSparse checks the images' offsets and counts (runtime.c's
// fill_sparse, compiled for the host with CALIB_SPARSE): each row holds
// exactly the requested count of offsets, ascending, each one of the row's
// positions (ci·in_len + tap, tap < kernel), and different seeds choose
// different positions.
func TestFillSparse(t *testing.T) {
	cc := hostCompiler(t)
	dir := t.TempDir()
	writeSources(t, dir, "calib.h", "splitnas_kernels.h", "runtime.c")
	mainC := `#include <stdio.h>
#include <stdlib.h>
#include "calib.h"
int main(int argc, char **argv)
{
	int rows = atoi(argv[1]), row_len = atoi(argv[2]), k = atoi(argv[3]), in_len = atoi(argv[4]), nnz = atoi(argv[5]);
	uint16_t *idx = malloc(sizeof *idx * (rows * nnz + 1)), *cnt = malloc(sizeof *cnt * rows);
	fill_sparse(idx, cnt, rows, row_len, k, in_len, nnz, (uint32_t)atoi(argv[6]));
	for (int r = 0, p = 0; r < rows; r++) {
		printf("%d", cnt[r]);
		for (int i = 0; i < cnt[r]; i++)
			printf(" %d", idx[p++]);
		printf("\n");
	}
	return 0;
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.c"), []byte(mainC), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "fill")
	if out, err := exec.Command(cc, "-std=c99", "-O2", "-Wall", "-Werror", "-DCALIB_SPARSE", "-I", dir, "-o", bin,
		filepath.Join(dir, "main.c"), filepath.Join(dir, "runtime.c")).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, c := range []struct{ rows, rowLen, k, inLen, nnz int }{
		{4, 12, 3, 256, 1}, {4, 12, 3, 256, 6}, {4, 12, 3, 256, 12}, {4, 12, 3, 256, 0},
		{3, 4096, 4096, 4096, 410}, {8, 64, 16, 40, 33},
	} {
		var first string
		for _, seed := range []int{7, 8} {
			out, err := exec.Command(bin, strconv.Itoa(c.rows), strconv.Itoa(c.rowLen), strconv.Itoa(c.k), strconv.Itoa(c.inLen),
				strconv.Itoa(c.nnz), strconv.Itoa(seed)).Output()
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != c.rows {
				t.Fatalf("%+v: %d rows, want %d", c, len(lines), c.rows)
			}
			for r, line := range lines {
				f := strings.Fields(line)
				if n, _ := strconv.Atoi(f[0]); n != c.nnz || len(f) != c.nnz+1 {
					t.Fatalf("%+v row %d: count %s and %d offsets, want %d", c, r, f[0], len(f)-1, c.nnz)
				}
				prev := -1
				for _, s := range f[1:] {
					v, _ := strconv.Atoi(s)
					if v <= prev || v%c.inLen >= c.k || v/c.inLen >= c.rowLen/c.k {
						t.Fatalf("%+v row %d: offsets %v not ascending positions of the row", c, r, f[1:])
					}
					prev = v
				}
			}
			if seed == 7 {
				first = string(out)
			} else if c.nnz > 0 && c.nnz < c.rowLen && string(out) == first {
				t.Errorf("%+v: seeds 7 and 8 choose the same positions", c)
			}
		}
	}
}

// TestMeasureSparse measures a "same" Conv1D 256×4 → 256×4 stored sparse
// with 1, 6 and 11 of the 12 weights of each row (densities 0.1, 0.5,
// 0.9): its cycles rise with the count in every precision, and with one
// weight a row the sparse kernel takes fewer cycles than the dense one in
// int8 and int4.
func TestMeasureSparse(t *testing.T) {
	e := emulator(t)
	net, err := arch.Parse("256x4-256x4-5", arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	l := net.Layers[0]
	for _, p := range []Precision{Float32, Int8, Int4} {
		cfg := Config{Precision: p, Seed: 3}
		dense, err := e.Measure(context.Background(), cfg, []arch.Layer{l})
		if err != nil {
			t.Fatal(err)
		}
		nnz := []int{1, 6, 11}
		var sls []SparseLayer
		for _, n := range nnz {
			sls = append(sls, SparseLayer{Layer: l, RowNonZero: n})
		}
		rs, err := e.MeasureSparse(context.Background(), cfg, sls)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != len(nnz) {
			t.Fatalf("%d results, want %d", len(rs), len(nnz))
		}
		var msg []string
		for i, r := range rs {
			if r.Layer != l || r.Precision != p {
				t.Errorf("result %d: layer %v at %s, want %v at %s", i, r.Layer, r.Precision, l, p)
			}
			if i > 0 && r.Cycles <= rs[i-1].Cycles {
				t.Errorf("%s: %d weights a row take %.0f cycles, %d take %.0f: want more cycles for more weights",
					p, nnz[i], r.Cycles, nnz[i-1], rs[i-1].Cycles)
			}
			msg = append(msg, fmt.Sprintf("%d/row %.0f", nnz[i], r.Cycles))
		}
		t.Logf("%s %v: dense %.0f cycles; sparse %s", p, l, dense[0].Cycles, strings.Join(msg, ", "))
		if p.integer() && rs[0].Cycles >= dense[0].Cycles {
			t.Errorf("%s: 1 of 12 weights a row takes %.0f cycles sparse, %.0f dense: want fewer", p, rs[0].Cycles, dense[0].Cycles)
		}
	}
}

// TestMeasureSparseRejects: layers the sparse kernels cannot run are
// refused, naming the problem, before anything is built.
func TestMeasureSparseRejects(t *testing.T) {
	var e Emulator // no tools: nothing may run
	conv := arch.Layer{Kind: arch.Conv, In: arch.Shape{Len: 64, Ch: 2}, Out: arch.Shape{Len: 16, Ch: 3}, Kernel: 4, Stride: 4, ReLU: true}
	for _, c := range []struct {
		l    arch.Layer
		nnz  int
		want string
	}{
		{arch.Layer{Kind: arch.ConvTranspose, In: arch.Shape{Len: 8, Ch: 2}, Out: arch.Shape{Len: 16, Ch: 2}, Kernel: 2, Stride: 2}, 1, "only Conv and Dense"},
		{conv, 9, "outside [0, 8]"},
		{conv, -1, "outside [0, 8]"},
		{arch.Layer{Kind: arch.Conv, In: arch.Shape{Len: 64, Ch: 2}, Out: arch.Shape{Len: 15, Ch: 3}, Kernel: 4, Stride: 4}, 1, "output length"},
		{arch.Layer{Kind: arch.Dense, In: arch.Shape{Len: 16384, Ch: 5}, Out: arch.Shape{Len: 2, Ch: 1}}, 1, "more than a sparse layer's 65535"},
		{arch.Layer{Kind: arch.Conv, In: arch.Shape{Len: 2, Ch: 1}, Out: arch.Shape{Len: 2, Ch: 1}, Kernel: 3, Stride: 1, PadLeft: 1, PadRight: 1}, 1, "kernel 3 longer than the input"},
	} {
		_, err := e.MeasureSparse(context.Background(), Config{Precision: Int8}, []SparseLayer{{Layer: conv, RowNonZero: 2}, {Layer: c.l, RowNonZero: c.nnz}})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "layer 2") {
			t.Errorf("%v with %d a row: got %v, want an error on layer 2 saying %q", c.l, c.nnz, err, c.want)
		}
	}
	if _, err := e.MeasureSparse(context.Background(), Config{Precision: Precision(7)}, nil); err == nil {
		t.Error("invalid precision accepted")
	}
}

// TestSparseKernelsCSyntax: each precision's sparse source defines its two
// kernels, leaves no template action, and the dense kernels' source holds
// no sparse kernel (it stays the code the latency tables were measured
// on).
func TestSparseKernelsCSyntax(t *testing.T) {
	for _, p := range []Precision{Float32, Int8, Int4} {
		src, err := SparseKernels(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, fn := range []string{"conv1d_sparse_", "dense_sparse_"} {
			if !bytes.Contains(src, []byte("void splitnas_"+fn+p.suffix()+"(")) {
				t.Errorf("%s sparse kernels lack %s%s", p, fn, p.suffix())
			}
		}
		if bytes.Contains(src, []byte("{{")) {
			t.Errorf("%s sparse kernels: unexpanded template action", p)
		}
		_, dense, err := Kernels(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(dense, []byte("_sparse_")) {
			t.Errorf("%s dense kernels hold a sparse kernel", p)
		}
	}
	if _, err := SparseKernels(Precision(7)); err == nil {
		t.Error("invalid precision accepted")
	}
}
