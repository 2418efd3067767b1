package calib

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/nn"
)

// hostHarness compiles the generated kernels with testdata/host_main.c
// using the host C compiler, or skips the test without one.
func hostHarness(t *testing.T) string {
	t.Helper()
	cc, err := exec.LookPath("gcc")
	if err != nil {
		if cc, err = exec.LookPath("cc"); err != nil {
			t.Skip("no host C compiler (gcc or cc) on PATH; install Debian's gcc")
		}
	}
	dir := t.TempDir()
	for _, name := range []string{"calib.h", "runtime.c"} {
		b, err := source(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srcs := []string{filepath.Join(dir, "runtime.c"), filepath.Join("testdata", "host_main.c")}
	for _, p := range []Precision{Float32, Int8} {
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
	args := append([]string{"-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", dir, "-o", bin}, srcs...)
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, out)
	}
	return bin
}

// hostRun runs layer l at precision p through the harness and returns its
// x, w, b and y lines as float64 values.
func hostRun(t *testing.T, bin string, l arch.Layer, p Precision, seed uint32) (x, w, b, y []float64) {
	t.Helper()
	c := toC(l, p)
	args := []string{p.suffix(), l.Kind.String()}
	for _, v := range []int{c.InLen, c.InCh, c.OutLen, c.OutCh, c.Kernel, c.Stride, c.PadLeft, c.ReLU, int(c.Mult), int(c.Shift), int(seed)} {
		args = append(args, strconv.Itoa(v))
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("host %v: %v", args, err)
	}
	vals := map[string][]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		for _, s := range f[1:] {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("host output %q: %v", s, err)
			}
			vals[f[0]] = append(vals[f[0]], v)
		}
	}
	return vals["x"], vals["w"], vals["b"], vals["y"]
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
// both sides), strided convolutions with kernel = stride and with overlap
// (padding, odd total), 1-channel and multi-channel, transposed
// convolutions with and without cropping, and Dense layers.
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
	// A hidden Dense layer with ReLU.
	ls = append(ls, arch.Layer{Kind: arch.Dense, In: arch.Shape{Len: 6, Ch: 3}, Out: arch.Shape{Len: 9, Ch: 1}, ReLU: true})
	return ls
}

func TestKernelsMatchNNFloat32(t *testing.T) {
	bin := hostHarness(t)
	for i, l := range kernelTestLayers(t) {
		t.Run(fmt.Sprintf("%d_%s_%v_%v_k%d_s%d_p%d", i, l.Kind, l.In, l.Out, l.Kernel, l.Stride, l.PadLeft), func(t *testing.T) {
			x, w, b, y := hostRun(t, bin, l, Float32, uint32(1000+i))
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

// requantGo is the int8 kernels' requantization, in Go.
func requantGo(acc int64, mult, shift int32, relu bool) int64 {
	v := (acc*int64(mult) + int64(1)<<(shift-1)) >> shift
	lo := int64(-128)
	if relu {
		lo = 0
	}
	return min(max(v, lo), 127)
}

// TestKernelsMatchNNInt8 checks the int8 kernels exactly: nn computes the
// int32 accumulator exactly in float32 on integer-valued weights and inputs
// (all sums stay below 2^24), and the test requantizes it in Go. ReLU
// commutes with the requantization, which is monotone and maps 0 to 0.
func TestKernelsMatchNNInt8(t *testing.T) {
	bin := hostHarness(t)
	for i, l := range kernelTestLayers(t) {
		t.Run(fmt.Sprintf("%d_%s_%v_%v_k%d_s%d_p%d", i, l.Kind, l.In, l.Out, l.Kernel, l.Stride, l.PadLeft), func(t *testing.T) {
			if 128*128*fanIn(l)+4096 >= 1<<24 {
				t.Fatalf("fan-in %d too large for an exact float32 reference", fanIn(l))
			}
			x, w, b, y := hostRun(t, bin, l, Int8, uint32(2000+i))
			acc := nnForward(t, l, x, w, b)
			c := toC(l, Int8)
			clipped := 0
			for j := range y {
				want := requantGo(int64(acc[j]), c.Mult, c.Shift, l.ReLU)
				if int64(y[j]) != want {
					t.Fatalf("output %d: C %v, want %d (accumulator %v, mult %d, shift %d)", j, y[j], want, acc[j], c.Mult, c.Shift)
				}
				if want == 127 || want == -128 {
					clipped++
				}
			}
			if clipped > len(y)/4 {
				t.Errorf("%d of %d outputs saturate: the requantization scale is off", clipped, len(y))
			}
		})
	}
}

func TestKernelsCSyntax(t *testing.T) {
	for _, p := range []Precision{Float32, Int8} {
		src, err := kernelsC(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, fn := range []string{"conv1d_", "conv1d_transpose_", "dense_"} {
			if !bytes.Contains(src, []byte("void "+fn+p.suffix()+"(")) {
				t.Errorf("%s kernels lack %s%s", p, fn, p.suffix())
			}
		}
		if bytes.Contains(src, []byte("{{")) {
			t.Errorf("%s kernels: unexpanded template action", p)
		}
	}
}
