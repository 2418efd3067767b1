package calib

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/quant"
)

// TestKernelsDSPMatchQuant runs the int8 kernels as compiled for the
// Cortex-M4 — the DSP-extension code, not the plain-C model the host tests
// run — on the emulated board, on the test layers of
// TestKernelsMatchQuantInt8 (every kernel path, their edges and remainders,
// the fast and the exact requantization) with random data, each tensor at
// an address 0 to 3 bytes past a word boundary, and checks every output
// against package quant bit for bit.
func TestKernelsDSPMatchQuant(t *testing.T) { kernelsDSPMatchQuant(t, Int8) }

// TestKernelsDSPMatchQuantInt4 does the same for the int4 kernels: the
// packed weights (quant.PackWeights) of each layer 0 to 3 bytes past a word
// boundary, rows of odd fan-ins starting in a high nibble.
func TestKernelsDSPMatchQuantInt4(t *testing.T) { kernelsDSPMatchQuant(t, Int4) }

func kernelsDSPMatchQuant(t *testing.T, p Precision) {
	e := emulator(t)
	dir := t.TempDir()
	src, err := kernelsC(p)
	if err != nil {
		t.Fatal(err)
	}
	kernels := filepath.Join(dir, "kernels_"+p.suffix()+".c")
	if err := os.WriteFile(kernels, src, 0o644); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(14, 4))
	ls := testLayersFor(t, p)
	want := make([][]int8, len(ls))
	var decl, body strings.Builder
	decl.WriteString("#include \"calib.h\"\n\n")
	decl.WriteString(semihostPut)
	body.WriteString("int main(void)\n{\n\tmarker_begin();\n\tmarker_end();\n")
	bits := map[Precision]int{Int8: 8, Int4: 4}[p]
	for i, l := range ls {
		q := intTestParams(i, l, p)
		w := make([]int8, l.Weights())
		x := make([]int8, l.In.Size())
		b := make([]int32, l.Biases())
		for j := range w {
			w[j] = int8(rng.IntN(256) - 128)
			if p == Int4 {
				w[j] = int8(rng.IntN(16) - 8)
			}
		}
		for j := range x {
			x[j] = int8(rng.IntN(256) - 128)
		}
		for j := range b {
			b[j] = int32(rng.IntN(8192) - 4096)
			if p == Int4 { // int4 accumulators are about 16 times smaller
				b[j] /= 16
			}
		}
		wf, bf := make([]float64, len(w)), make([]float64, len(b))
		for j, v := range w {
			wf[j] = float64(v)
		}
		for j, v := range b {
			bf[j] = float64(v)
		}
		m := quant.Model{Bits: bits, Layers: []quant.Layer{quantLayer(t, l, q, wf, bf)}}
		want[i] = m.Run(x, 0, 1)
		// Each tensor starts i mod 4 bytes into its array.
		o := i % 4
		fmt.Fprintf(&decl, "/* %s %v -> %v, k %d, s %d, pad %d */\n", l.Kind, l.In, l.Out, l.Kernel, l.Stride, l.PadLeft)
		if p == Int4 {
			pw := quant.PackWeights(w, 4)
			ws := make([]int8, len(pw))
			for j, v := range pw {
				ws[j] = int8(v)
			}
			fmt.Fprintf(&decl, "static const int8_t W%d[%d] __attribute__((aligned(4))) = {%s};\n", i, o+len(ws), int8List(o, ws))
		} else {
			fmt.Fprintf(&decl, "static const int8_t W%d[%d] __attribute__((aligned(4))) = {%s};\n", i, o+len(w), int8List(o, w))
		}
		fmt.Fprintf(&decl, "static int8_t X%d[%d] __attribute__((aligned(4))) = {%s};\n", i, o+len(x), int8List(o, x))
		fmt.Fprintf(&decl, "static int8_t Y%d[%d] __attribute__((aligned(4)));\n", i, o+l.Out.Size())
		decl.WriteString(int32Array(fmt.Sprintf("B%d", i), b))
		decl.WriteString(int32Array(fmt.Sprintf("M%d", i), q.Mult))
		decl.WriteString(int32Array(fmt.Sprintf("S%d", i), q.Shift))
		fmt.Fprintf(&decl, "static const splitnas_layer_t L%d = %s;\n\n", i, toC(l, p, q).literal())
		fn, _ := kernelName(l, p)
		wcast := ""
		if p == Int4 {
			wcast = "(const uint8_t *)"
		}
		fmt.Fprintf(&body, "\t%s(&L%d, X%d + %d, %s(W%d + %d), B%d, M%d, S%d, Y%d + %d);\n\tput(%d, Y%d + %d, %d);\n",
			fn, i, i, o, wcast, i, o, i, i, i, i, o, i, i, o, l.Out.Size())
	}
	body.WriteString("\treturn 0;\n}\n")
	mainC := filepath.Join(dir, "main.c")
	if err := os.WriteFile(mainC, []byte(decl.String()+body.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, out, err := e.RunFirmware(context.Background(), Config{Precision: p}, []string{kernels, mainC}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make([][]int8, len(ls))
	for _, line := range strings.Split(out, "\n") {
		id, h, ok := strings.Cut(strings.TrimSpace(line), ":")
		i, err := strconv.Atoi(id)
		if !ok || err != nil || i < 0 || i >= len(ls) {
			continue
		}
		bs, err := hex.DecodeString(h)
		if err != nil {
			t.Fatalf("firmware output %q: %v", line, err)
		}
		for _, v := range bs {
			got[i] = append(got[i], int8(v))
		}
	}
	for i, l := range ls {
		if len(got[i]) != len(want[i]) {
			t.Errorf("layer %d (%s %v→%v): %d outputs from the board, want %d", i, l.Kind, l.In, l.Out, len(got[i]), len(want[i]))
			continue
		}
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Errorf("layer %d (%s %v→%v k%d s%d p%d): output %d is %d on the board, %d in quant",
					i, l.Kind, l.In, l.Out, l.Kernel, l.Stride, l.PadLeft, j, got[i][j], want[i][j])
				break
			}
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("%s: %d layers, %d outputs, equal on the emulated Cortex-M4 and in quant", p, len(ls), func() int {
		n := 0
		for _, w := range want {
			n += len(w)
		}
		return n
	}())
}

// int8List is the C initializer list of o zeros then v.
func int8List(o int, v []int8) string {
	var b strings.Builder
	for i := 0; i < o+len(v); i++ {
		if i > 0 {
			b.WriteString(",")
		}
		if i%32 == 0 {
			b.WriteString("\n\t")
		}
		if i < o {
			b.WriteString("0")
		} else {
			b.WriteString(strconv.Itoa(int(v[i-o])))
		}
	}
	return b.String()
}

// semihostPut is the C function the emulated test images print their
// outputs with: "i:hex" lines of the n bytes at y over semihosting.
const semihostPut = `/* Writes "i:hex" lines of the n bytes at y over semihosting. */
static void put(int i, const void *y, int n)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *u = y;
	char buf[16 + 2 * 64];
	for (int j = 0; j < n; j += 64) {
		int p = 0, m = n - j < 64 ? n - j : 64;
		for (int v = i; ; v /= 10) {
			buf[p++] = (char)('0' + v % 10);
			if (v < 10)
				break;
		}
		for (int a = 0, b = p - 1; a < b; a++, b--) {
			char c = buf[a];
			buf[a] = buf[b];
			buf[b] = c;
		}
		buf[p++] = ':';
		for (int k = 0; k < m; k++) {
			buf[p++] = digits[u[j + k] >> 4];
			buf[p++] = digits[u[j + k] & 15];
		}
		buf[p++] = '\n';
		buf[p] = 0;
		semihost_write0(buf);
	}
}

`
