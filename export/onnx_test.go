package export

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/sample"
	"github.com/splitnas/splitnas/export/internal/onnxpb"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/quant"
	"github.com/splitnas/splitnas/quant/scheme"
)

// python is Debian's interpreter, whose python3-onnx package (onnx 1.12)
// checks the models.
const python = "/usr/bin/python3"

// onnxChecker skips the test unless python3-onnx is installed.
func onnxChecker(t *testing.T) {
	t.Helper()
	if err := exec.Command(python, "-c", "import onnx").Run(); err != nil {
		t.Skipf("%s cannot import onnx (%v): install Debian's python3-onnx (.ci/run does)", python, err)
	}
}

// checkONNX runs the ONNX checker, full_check (strict shape inference, so
// every declared tensor shape — arch's — must be the one ONNX infers), on
// the model file and returns its metadata_props.
func checkONNX(t *testing.T, path string) map[string]string {
	t.Helper()
	const script = `import json, onnx, sys
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
print(json.dumps({p.key: p.value for p in m.metadata_props}))`
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(python, "-c", script, path)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("onnx.checker on %s: %v\n%s", path, err, stderr.String())
	}
	meta := map[string]string{}
	if err := json.Unmarshal(stdout.Bytes(), &meta); err != nil {
		t.Fatalf("checker output %q: %v", stdout.String(), err)
	}
	return meta
}

// ortScript returns the path of testdata/ort/run.mjs, or skips the test
// unless node and onnxruntime-node are installed.
func ortScript(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not on PATH: install Debian's nodejs, then ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix export/testdata/ort (.ci/run does)")
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "ort"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "onnxruntime-node", "package.json")); err != nil {
		t.Skip("ONNX Runtime not installed: run ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix export/testdata/ort (.ci/run does)")
	}
	return filepath.Join(dir, "run.mjs")
}

// ortRun runs model on a batch (dims, batch first) of dtype values held in
// raw with ONNX Runtime and returns the output's raw bytes and its dims.
func ortRun(t *testing.T, script, model, dtype string, dims []int, raw []byte, floatQDQ bool) ([]byte, []int) {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.bin"), filepath.Join(dir, "out.bin")
	if err := os.WriteFile(in, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{script, model, in, out, dtype}
	if floatQDQ {
		args = slices.Insert(args, 1, "--float-qdq")
	}
	for _, d := range dims {
		args = append(args, strconv.Itoa(d))
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("node", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("onnxruntime on %s: %v\n%s", model, err, stderr.String())
	}
	var res struct {
		Type string `json:"type"`
		Dims []int  `json:"dims"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("run.mjs printed %q: %v", stdout.String(), err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b, res.Dims
}

func floatBytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func bytesFloat(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func int8Bytes(v []int8) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

// batchDims is an exported tensor's ONNX shape for a batch of n.
func batchDims(n int, tt ONNXTensor) []int { return append([]int{n}, tt.Shape...) }

// checkSummary checks a part's names, types and shapes against the
// architecture.
func checkSummary(t *testing.T, s *ONNXSummary, net arch.Network, integer bool) {
	t.Helper()
	L := len(net.Layers)
	shape := func(i int) []int {
		if i == L {
			return []int{net.Classes()}
		}
		sh := net.Tensor(i)
		return []int{sh.Ch, sh.Len}
	}
	dtype := "float32"
	if integer {
		dtype = "int8"
	}
	for _, c := range []struct {
		m                 ONNXModelInfo
		file, in, out     string
		from, to          int
		inType, outType   string
		inShape, outShape []int
	}{
		{s.Whole, WholeONNXFile, "input", "scores", 0, L, "float32", dtype, shape(0), shape(L)},
		{s.Edge, EdgeONNXFile, "input", "split", 0, s.Split, "float32", dtype, shape(0), shape(s.Split)},
		{s.Fog, FogONNXFile, "split", "scores", s.Split, L, dtype, dtype, shape(s.Split), shape(L)},
	} {
		m := c.m
		if m.File != c.file || m.From != c.from || m.To != c.to || m.Input.Name != c.in || m.Output.Name != c.out ||
			m.Input.DType != c.inType || m.Output.DType != c.outType || !slices.Equal(m.Input.Shape, c.inShape) ||
			!slices.Equal(m.Output.Shape, c.outShape) || m.Input.Tensor != c.from || m.Output.Tensor != c.to {
			t.Errorf("%s: %+v; want %s %s %v → %s %s %v, tensors %d → %d", c.file, m, c.in, c.inType, c.inShape, c.out, c.outType, c.outShape, c.from, c.to)
		}
		if integer != (m.Output.Quant != nil) {
			t.Errorf("%s: output quantization %v for an integer network: %v", c.file, m.Output.Quant, integer)
		}
	}
	if !slices.Equal(s.Files, []string{WholeONNXFile, EdgeONNXFile, FogONNXFile}) || s.Opset != 13 || s.Arch != net.String() {
		t.Errorf("summary %+v", s)
	}
}

// checkFiles runs the checker on the three files and checks their
// metadata.
func checkFiles(t *testing.T, dir string, s *ONNXSummary) {
	t.Helper()
	for _, c := range []struct{ file, part, layers string }{
		{WholeONNXFile, "whole", fmt.Sprintf("1..%d", s.Layers)},
		{EdgeONNXFile, "edge", fmt.Sprintf("1..%d", s.Split)},
		{FogONNXFile, "fog", fmt.Sprintf("%d..%d", s.Split+1, s.Layers)},
	} {
		meta := checkONNX(t, filepath.Join(dir, c.file))
		want := map[string]string{
			"splitnas.part": c.part, "splitnas.arch": s.Arch, "splitnas.split": strconv.Itoa(s.Split),
			"splitnas.layers": c.layers, "splitnas.precision": s.Precision,
		}
		for k, v := range want {
			if meta[k] != v {
				t.Errorf("%s: metadata %s = %q, want %q", c.file, k, meta[k], v)
			}
		}
		if _, ok := meta["splitnas.rounding"]; meta["splitnas.rounding"] != s.Rounding || ok != (s.Rounding != "") {
			t.Errorf("%s: metadata rounding %q, want %q", c.file, meta["splitnas.rounding"], s.Rounding)
		}
		if s.Classes != nil {
			cl, _ := json.Marshal(s.Classes)
			if meta["splitnas.classes"] != string(cl) {
				t.Errorf("%s: metadata classes %q, want %s", c.file, meta["splitnas.classes"], cl)
			}
		}
	}
}

// relDiff is the largest difference between got and want relative to
// want's largest magnitude (as Verify measures float tensors).
func relDiff(want, got []float32) float64 {
	top, worst := 1e-30, 0.0
	for _, v := range want {
		top = max(top, math.Abs(float64(v)))
	}
	for i := range want {
		worst = max(worst, math.Abs(float64(want[i])-float64(got[i]))/top)
	}
	return worst
}

// TestONNXFloat exports float models of networks with every layer kind and
// kernel the search space has — strided convolutions, transposed
// (upsampling) layers, "same" layers, /o2 overlap and /k5 kernels — at
// every split point, checks the files with onnx.checker and runs them with
// ONNX Runtime: the whole, edge and fog models give package nn's tensors
// within 1e-5 of each tensor's largest magnitude.
func TestONNXFloat(t *testing.T) {
	onnxChecker(t)
	script := ortScript(t)
	const windows = 16
	worstAll := 0.0
	archs := []string{
		"256x1-64x4-128x2-5",
		"256x1-64x4-16x4-5/o2",
		"256x1-256x2-128x3-512x2-5/o2",
		"128x2-128x3-32x2-64x4-3/k5",
		"256x1-32x2-5",
		"64x1-3",
	}
	if testing.Short() {
		archs = archs[:3]
	}
	for k, a := range archs {
		t.Run(a, func(t *testing.T) {
			net, err := arch.Parse(a, arch.DefaultKernelRule())
			if err != nil {
				t.Fatal(err)
			}
			m, err := nn.NewModel(net, uint64(k+1))
			if err != nil {
				t.Fatal(err)
			}
			m.Classes = []string{"a", "b", "c", "d", "e"}[:net.Classes()]
			// Non-zero biases, so that they are checked too.
			rng := rand.New(rand.NewPCG(uint64(k), 2))
			for i := range net.Layers {
				_, b := m.Weights(i)
				for j := range b {
					b[j] = float32(rng.NormFloat64() * 0.1)
				}
			}
			L := len(net.Layers)
			d := noise(windows, net.Input(), uint64(k)+10)
			var x []float32
			for i := range windows {
				x = append(x, d.Sample(i)...)
			}
			// run runs tensors from..to of every window in Go.
			run := func(in []float32, from, to int) []float32 {
				n := len(in) / windows
				var out []float32
				for i := range windows {
					out = append(out, m.Run(in[i*n:(i+1)*n], from, to)...)
				}
				return out
			}
			// compare checks ORT's output of a part against Go's, window
			// by window.
			compare := func(what string, want []float32, m ONNXModelInfo, dir string, in []float32) {
				t.Helper()
				got, dims, wantDims := ortRunFile(t, script, dir, m, windows, floatBytes(in), false)
				if !slices.Equal(dims, wantDims) || len(got) != 4*len(want) {
					t.Fatalf("%s: onnxruntime gave %v (%d bytes), want %v", what, dims, len(got), wantDims)
				}
				g, n, worst := bytesFloat(got), len(want)/windows, 0.0
				for i := range windows {
					worst = max(worst, relDiff(want[i*n:(i+1)*n], g[i*n:(i+1)*n]))
				}
				if worst > 1e-5 {
					t.Errorf("%s: onnxruntime differs from Go by %.3g of the tensor's magnitude (max 1e-5)", what, worst)
				}
				worstAll = max(worstAll, worst)
				t.Logf("%s: max relative difference %.3g", what, worst)
			}
			for P := 0; P <= L; P++ {
				dir := t.TempDir()
				s, err := WriteONNX(dir, Network{Float: m}, P)
				if err != nil {
					t.Fatal(err)
				}
				checkSummary(t, s, net, false)
				checkFiles(t, dir, s)
				if P == 0 {
					compare("whole", run(x, 0, L), s.Whole, dir, x)
				}
				split := run(x, 0, P)
				compare(fmt.Sprintf("edge P=%d", P), split, s.Edge, dir, x)
				compare(fmt.Sprintf("fog P=%d", P), run(split, P, L), s.Fog, dir, split)
			}
		})
	}
	t.Logf("float32: largest relative difference over all models %.3g", worstAll)
}

// ortRunFile runs one exported part on a batch of n and returns its output
// bytes, dims and the dims the summary promises; floatQDQ runs a QDQ model
// as its graph says, without ONNX Runtime's fused integer kernels (see
// testdata/ort/run.mjs).
func ortRunFile(t *testing.T, script, dir string, m ONNXModelInfo, n int, raw []byte, floatQDQ bool) ([]byte, []int, []int) {
	t.Helper()
	out, dims := ortRun(t, script, filepath.Join(dir, m.File), m.Input.DType, batchDims(n, m.Input), raw, floatQDQ)
	return out, dims, batchDims(n, m.Output)
}

// trainedSample trains a float model of net on the embedded MIT-BIH sample
// for a few epochs (a deployed network is a trained one: its class scores
// have margins, where random weights give near-ties).
func trainedSample(t *testing.T, d *dataset.Dataset, a string) *nn.Model {
	t.Helper()
	net, err := arch.Parse(a, arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	cfg := nn.DefaultConfig()
	cfg.Epochs, cfg.LR = 3, 0.003
	res, err := nn.Native().Train(context.Background(), net, d.Part(dataset.Train), nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res.Model
}

// lsb returns the largest difference between two int8 tensors and how
// many values differ.
func lsb(want []int8, got []byte) (worst, differ int) {
	for i, w := range want {
		d := int(w) - int(int8(got[i]))
		if d != 0 {
			differ++
		}
		worst = max(worst, d, -d)
	}
	return worst, differ
}

func argmax8(z []int8) int {
	best := 0
	for i, v := range z {
		if v > z[best] {
			best = i
		}
	}
	return best
}

// TestONNXQuantized exports int8 and int4 post-training quantizations of
// networks trained on the embedded MIT-BIH sample (strided and transposed
// layers, a "same" layer, /o2), at several split points, checks the files
// with onnx.checker and runs every window of the sample (1,400) through
// ONNX Runtime, the QDQ graph as it is written (DequantizeLinear, float
// operator, QuantizeLinear: run.mjs --float-qdq), against package quant:
//
//   - a part of one layer — the edge at P = 1 (input quantization and layer
//     1), the fog at P = L−1 (the last layer, fed Go's split tensor) — and
//     the edge at P = 0 (the input quantization alone) give every int8
//     value within one step of quant's. ONNX Runtime rounds the exact
//     rescaled value, half to even; quant, like TFLite Micro, rounds twice
//     (SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT by the
//     multiplier's shift), so values within 2^−(shift+1) below a half round
//     up in quant and down in ONNX Runtime: up to a few per cent of the
//     values of a layer with a small multiplier differ by one step;
//   - over longer chains those steps compound (logged: the largest
//     difference and how many values differ), and the predictions (argmax
//     of the int8 scores, the first on a tie, as quant decides) of every
//     part that ends in the scores agree on at least 99 % of the windows.
//
// That the differences are this rounding alone, and the exported graph
// otherwise quant's network, shows a Go reference that rounds each layer's
// exact rescaled accumulator once, half to even (roundOnce): ONNX Runtime
// equals it on all but at most 0.01 % of the values (float32 near-ties),
// never by more than one step. It also logs the whole model under ONNX
// Runtime's default, fused integer kernels, whose x86 AVX2 code saturates
// for int8 weights (see run.mjs).
func TestONNXQuantized(t *testing.T) {
	onnxChecker(t)
	script := ortScript(t)
	d, err := sample.Load()
	if err != nil {
		t.Fatal(err)
	}
	n := d.Len()
	var x []float32
	for i := range n {
		x = append(x, d.Sample(i)...)
	}
	models := []struct {
		arch string
		bits int
	}{
		{"2048x1-128x2-8x4-64x2-5", 8},
		{"2048x1-128x2-8x4-64x2-5", 4},
		{"2048x1-256x4-256x8-64x4-128x4-5/o2", 8},
		{"2048x1-256x4-256x8-64x4-128x4-5/o2", 4},
	}
	if testing.Short() {
		models = models[:2]
	}
	for _, c := range models {
		t.Run(fmt.Sprintf("%s/int%d", c.arch, c.bits), func(t *testing.T) {
			fm := trainedSample(t, d, c.arch)
			qm, err := quant.PostTraining(fm, quant.CalibrationSamples(d, 200, 1), quant.MinMax, c.bits)
			if err != nil {
				t.Fatal(err)
			}
			net := qm.Network()
			L := len(net.Layers)
			// Go's tensors: the quantized input, then each layer's output.
			tensors := goTensors(qm, d, n)
			chain := func(from, to int) []int8 { return roundOnceChain(qm, tensors, n, from, to) }
			// once compares an int8 output of ORT with the round-once
			// reference: equal but for float32 rounding near a half.
			onceDiffer, onceValues := 0, 0
			once := func(what string, want []int8, got []byte) {
				t.Helper()
				worst, differ := lsb(want, got)
				onceDiffer, onceValues = onceDiffer+differ, onceValues+len(want)
				if worst > 1 {
					t.Errorf("%s: %d of %d values differ from the round-once reference, by up to %d steps (want 1)", what, differ, len(want), worst)
				}
			}
			single, chained := 0, 0 // largest differences, in steps
			// check compares an int8 output of ORT with Go's tensor; the
			// part ran the given number of layers.
			check := func(what string, layers int, want []int8, got []byte, dims, wantDims []int) {
				t.Helper()
				if !slices.Equal(dims, wantDims) || len(got) != len(want) {
					t.Fatalf("%s: onnxruntime gave %v (%d bytes), want %v", what, dims, len(got), wantDims)
				}
				worst, differ := lsb(want, got)
				t.Logf("%s (%d layers): %d of %d int8 values differ from Go, by at most %d step(s)", what, layers, differ, len(want), worst)
				if layers <= 1 {
					single = max(single, worst)
					if worst > 1 {
						t.Errorf("%s: onnxruntime differs from Go by %d steps (max 1 for one layer)", what, worst)
					}
				} else {
					chained = max(chained, worst)
				}
			}
			// predictions counts the windows whose argmax agrees.
			predictions := func(what string, want []int8, got []byte, min float64) int {
				t.Helper()
				k, agree := net.Classes(), 0
				for i := range n {
					g := make([]int8, k)
					for j := range g {
						g[j] = int8(got[i*k+j])
					}
					if argmax8(want[i*k:(i+1)*k]) == argmax8(g) {
						agree++
					}
				}
				t.Logf("%s: predictions equal on %d of %d windows (%.2f %%)", what, agree, n, 100*float64(agree)/float64(n))
				if float64(agree) < min*float64(n) {
					t.Errorf("%s: predictions equal on only %d of %d windows (want ≥ %g %%)", what, agree, n, 100*min)
				}
				return agree
			}
			whole, fused := 0, 0
			for _, P := range []int{0, 1, L / 2, L - 1, L} {
				if P == L/2 && (P == 1 || P == L-1) {
					continue
				}
				dir := t.TempDir()
				s, err := WriteONNX(dir, Network{Int: qm}, P)
				if err != nil {
					t.Fatal(err)
				}
				checkSummary(t, s, net, true)
				checkFiles(t, dir, s)
				if got := *s.InputQuant; got != qm.Tensor(0) {
					t.Errorf("input quantization %+v, want %+v", got, qm.Tensor(0))
				}
				if got := *s.Edge.Output.Quant; got != qm.Tensor(P) {
					t.Errorf("split tensor quantization %+v, want %+v", got, qm.Tensor(P))
				}
				if P == 0 {
					out, dims, want := ortRunFile(t, script, dir, s.Whole, n, floatBytes(x), true)
					check("whole scores", L, tensors[L], out, dims, want)
					once("whole scores", chain(0, L), out)
					whole = predictions("whole", tensors[L], out, 0.99)
					out, _, _ = ortRunFile(t, script, dir, s.Whole, n, floatBytes(x), false)
					worst, differ := lsb(tensors[L], out)
					t.Logf("whole, fused integer kernels: %d of %d scores differ, by at most %d steps", differ, len(out), worst)
					fused = predictions("whole, fused integer kernels", tensors[L], out, 0)
				}
				out, dims, want := ortRunFile(t, script, dir, s.Edge, n, floatBytes(x), true)
				check(fmt.Sprintf("edge P=%d split", P), P, tensors[P], out, dims, want)
				once(fmt.Sprintf("edge P=%d split", P), chain(0, P), out)
				out, dims, want = ortRunFile(t, script, dir, s.Fog, n, int8Bytes(tensors[P]), true)
				check(fmt.Sprintf("fog P=%d scores", P), L-P, tensors[L], out, dims, want)
				once(fmt.Sprintf("fog P=%d scores", P), chain(P, L), out)
				predictions(fmt.Sprintf("fog P=%d", P), tensors[L], out, 0.99)
			}
			t.Logf("SUMMARY %s int%d: %d windows; whole-model predictions equal %d (%.2f %%; fused integer kernels %d, %.2f %%); "+
				"largest difference %d step(s) for one layer, %d over chains of layers; "+
				"against the round-once reference %d of %d values differ",
				c.arch, c.bits, n, whole, 100*float64(whole)/float64(n), fused, 100*float64(fused)/float64(n), single, chained,
				onceDiffer, onceValues)
			if onceDiffer*10000 > onceValues {
				t.Errorf("%d of %d values differ from the round-once reference (want at most 0.01 %%)", onceDiffer, onceValues)
			}
		})
	}
}

// goTensors runs the first n windows of d through qm layer by layer and
// returns Go's tensors, windows concatenated: [0] the quantized inputs,
// [i] layer i's outputs.
func goTensors(qm *quant.Model, d *dataset.Dataset, n int) [][]int8 {
	L := len(qm.Layers)
	tensors := make([][]int8, L+1)
	q := make([]int8, d.SampleSize())
	for i := range n {
		qm.QuantizeInput(d.Sample(i), q)
		v := q
		tensors[0] = append(tensors[0], q...)
		for li := range L {
			v = qm.Run(v, li, li+1)
			tensors[li+1] = append(tensors[li+1], v...)
		}
	}
	return tensors
}

// roundOnceChain runs layers from+1..to of each of n windows of Go's
// tensor from (tensors as goTensors returns them) with roundOnce, and
// returns tensor to, windows concatenated.
func roundOnceChain(qm *quant.Model, tensors [][]int8, n, from, to int) []int8 {
	size := qm.Network().Tensor(from).Size()
	var out []int8
	for i := range n {
		v := tensors[from][i*size : (i+1)*size]
		for li := from; li < to; li++ {
			v = roundOnce(&qm.Layers[li], v)
		}
		out = append(out, v...)
	}
	return out
}

// roundOnce is layer l of an integer network with its output rounded once,
// half to even, from the exact rescaled accumulator, as an ONNX runtime
// computes a QDQ layer (up to float32 rounding): where package quant
// requantizes with TFLite Micro's fixed-point multiplier and double
// rounding. The test uses it to show that the exported graph is quant's
// network and that the differences from quant are the rounding alone.
func roundOnce(l *quant.Layer, in []int8) []int8 {
	out := make([]int8, l.Out.Size())
	if l.Kind == arch.MaxPool {
		for c := range l.Out.Ch {
			for t := range l.Out.Len {
				m := in[c*l.In.Len+t*l.Stride]
				for j := range l.Kernel {
					m = max(m, in[c*l.In.Len+t*l.Stride+j])
				}
				out[c*l.Out.Len+t] = m
			}
		}
		return out
	}
	x := make([]int64, len(in))
	for i, v := range in {
		x[i] = int64(v) - int64(l.InQ.ZeroPoint)
	}
	acc := make([]int64, len(out))
	ch := func(o int) int { return o / l.Out.Len }
	switch l.Kind {
	case arch.Dense:
		ch = func(o int) int { return o }
		for o := range acc {
			acc[o] = int64(l.B[o])
			for i, xv := range x {
				acc[o] += int64(l.W[o*len(x)+i]) * xv
			}
		}
	case arch.Conv:
		for co := range l.Out.Ch {
			for t := range l.Out.Len {
				s := int64(l.B[co])
				for ci := range l.In.Ch {
					for j := range l.Kernel {
						if p := t*l.Stride - l.PadLeft + j; p >= 0 && p < l.In.Len {
							s += int64(l.W[(co*l.In.Ch+ci)*l.Kernel+j]) * x[ci*l.In.Len+p]
						}
					}
				}
				acc[co*l.Out.Len+t] = s
			}
		}
	case arch.ConvTranspose:
		for co := range l.Out.Ch {
			for u := range l.Out.Len {
				acc[co*l.Out.Len+u] = int64(l.B[co])
			}
			for ci := range l.In.Ch {
				for t := range l.In.Len {
					for j := range l.Kernel {
						if u := t*l.Stride + j - l.PadLeft; u >= 0 && u < l.Out.Len {
							acc[co*l.Out.Len+u] += int64(l.W[(co*l.In.Ch+ci)*l.Kernel+j]) * x[ci*l.In.Len+t]
						}
					}
				}
			}
		}
	}
	lo := int64(math.MinInt8)
	if l.ReLU {
		lo = max(int64(l.OutQ.ZeroPoint), lo)
	}
	for o, a := range acc {
		c := ch(o)
		v := float64(a) * float64(l.InQ.Scale) * float64(l.WScale[c]) / float64(l.OutQ.Scale)
		out[o] = int8(min(max(int64(math.RoundToEven(v))+int64(l.OutQ.ZeroPoint), lo), math.MaxInt8))
	}
	return out
}

// TestONNXMaxPool exports a hand-built integer network with a max pooling
// layer and a hidden Dense layer (a reference-network shape the search
// space does not make) and runs it with ONNX Runtime, with both roundings:
// within one step of Go with RoundQDQ, equal but for float32 near-ties
// with RoundTFLite (whose correction, on the Gemm's [batch, K] output, is
// shaped [K]).
func TestONNXMaxPool(t *testing.T) {
	onnxChecker(t)
	script := ortScript(t)
	rng := rand.New(rand.NewPCG(3, 3))
	net := arch.Network{Layers: []arch.Layer{
		{Kind: arch.Conv, In: arch.Shape{Len: 64, Ch: 1}, Out: arch.Shape{Len: 32, Ch: 4}, Kernel: 4, Stride: 2, PadLeft: 1, PadRight: 1, ReLU: true},
		{Kind: arch.MaxPool, In: arch.Shape{Len: 32, Ch: 4}, Out: arch.Shape{Len: 16, Ch: 4}, Kernel: 2, Stride: 2},
		{Kind: arch.Dense, In: arch.Shape{Len: 16, Ch: 4}, Out: arch.Shape{Len: 8, Ch: 1}, ReLU: true},
		{Kind: arch.Conv, In: arch.Shape{Len: 8, Ch: 1}, Out: arch.Shape{Len: 8, Ch: 2}, Kernel: 3, Stride: 1, PadLeft: 1, PadRight: 1, ReLU: true},
		{Kind: arch.Dense, In: arch.Shape{Len: 8, Ch: 2}, Out: arch.Shape{Len: 3, Ch: 1}},
	}}
	if err := net.Validate(); err != nil {
		t.Fatal(err)
	}
	qm := &quant.Model{Bits: 8, Layers: make([]quant.Layer, len(net.Layers))}
	in := quant.QParams{Scale: 0.02, ZeroPoint: 3}
	for i, al := range net.Layers {
		l := &qm.Layers[i]
		l.Layer, l.InQ = al, in
		if al.Kind == arch.MaxPool {
			l.OutQ = in
			continue
		}
		l.OutQ = quant.QParams{Scale: 0.05, ZeroPoint: -128}
		if i == len(net.Layers)-1 {
			l.OutQ = quant.QParams{Scale: 0.1, ZeroPoint: -5}
		}
		nw, nb := al.Weights(), al.Biases()
		l.W, l.B = make([]int8, nw), make([]int32, nb)
		l.WScale, l.Mult, l.Shift = make([]float32, nb), make([]int32, nb), make([]int32, nb)
		for j := range l.W {
			l.W[j] = int8(rng.IntN(255) - 127)
		}
		for c := range nb {
			l.WScale[c] = float32(0.002 + 0.004*rng.Float64())
			l.B[c] = int32(rng.IntN(2001) - 1000)
			mult, shift := scheme.QuantizeMultiplier(float64(in.Scale) * float64(l.WScale[c]) / float64(l.OutQ.Scale))
			l.Mult[c], l.Shift[c] = mult, int32(shift)
		}
		in = l.OutQ
	}
	const windows = 200
	d := noise(windows, net.Input(), 4)
	L := len(net.Layers)
	var x []float32
	var want [][]int8 // per split point
	want = make([][]int8, L+1)
	q := make([]int8, d.SampleSize())
	for i := range windows {
		x = append(x, d.Sample(i)...)
		qm.QuantizeInput(d.Sample(i), q)
		for P := range L + 1 {
			want[P] = append(want[P], qm.Run(q, 0, P)...)
		}
	}
	for _, c := range []struct {
		P        int
		rounding ONNXRounding
	}{{1, RoundQDQ}, {2, RoundQDQ}, {3, RoundQDQ}, {2, RoundTFLite}, {3, RoundTFLite}} {
		P := c.P
		t.Run(fmt.Sprintf("P=%d/%v", P, c.rounding), func(t *testing.T) {
			dir := t.TempDir()
			s, err := WriteONNXWith(dir, Network{Int: qm}, P, ONNXOptions{Rounding: c.rounding})
			if err != nil {
				t.Fatal(err)
			}
			if s.Rounding != c.rounding.String() {
				t.Errorf("summary rounding %q, want %v", s.Rounding, c.rounding)
			}
			checkSummary(t, s, net, true)
			checkFiles(t, dir, s)
			for _, part := range []struct {
				m    ONNXModelInfo
				raw  []byte
				want []int8
			}{
				{s.Whole, floatBytes(x), want[L]},
				{s.Edge, floatBytes(x), want[P]},
				{s.Fog, int8Bytes(want[P]), want[L]},
			} {
				out, dims, wantDims := ortRunFile(t, script, dir, part.m, windows, part.raw, true)
				if !slices.Equal(dims, wantDims) {
					t.Fatalf("%s: onnxruntime gave %v, want %v", part.m.File, dims, wantDims)
				}
				worst, differ := lsb(part.want, out)
				t.Logf("%s: %d of %d values differ, by at most %d", part.m.File, differ, len(part.want), worst)
				if worst > 1 {
					t.Errorf("%s: differs from Go by %d steps", part.m.File, worst)
				}
				// Rounding as quant does, only float32 near-ties may differ.
				if c.rounding == RoundTFLite && differ*1000 > len(part.want) {
					t.Errorf("%s: %d of %d values differ from Go (want at most 0.1 %% with rounding tflite)", part.m.File, differ, len(part.want))
				}
			}
		})
	}
}

// TestONNXStructure decodes the written files (no Python or ONNX Runtime
// needed): opset 13, the documented graph inputs and outputs with a
// symbolic batch dimension, QDQ nodes in an integer model, weights
// transposed for a ConvTranspose, the empty parts at P = 0 and P = L, and
// RoundTFLite's correction nodes and constants.
func TestONNXStructure(t *testing.T) {
	net, err := arch.Parse("256x1-64x4-128x2-5", arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	fm, err := nn.NewModel(net, 1)
	if err != nil {
		t.Fatal(err)
	}
	ranges := make([]quant.Range, len(net.Layers)+1)
	for i := range ranges {
		ranges[i] = quant.Range{Min: -1, Max: 1}
	}
	q4, err := quant.FromFloat(fm, ranges, 4)
	if err != nil {
		t.Fatal(err)
	}
	load := func(t *testing.T, path string) *onnxpb.ModelProto {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m := &onnxpb.ModelProto{}
		if err := proto.Unmarshal(b, m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	shapeOf := func(v *onnxpb.ValueInfoProto) (int32, string) {
		tt := v.GetType().GetTensorType()
		var dims []string
		for _, d := range tt.GetShape().GetDim() {
			if p := d.GetDimParam(); p != "" {
				dims = append(dims, p)
			} else {
				dims = append(dims, strconv.FormatInt(d.GetDimValue(), 10))
			}
		}
		return tt.GetElemType(), strings.Join(dims, ",")
	}
	ops := func(m *onnxpb.ModelProto) string {
		var s []string
		for _, n := range m.GetGraph().GetNode() {
			s = append(s, n.GetOpType())
		}
		return strings.Join(s, " ")
	}
	const f32, i8 = int32(onnxpb.TensorProto_FLOAT), int32(onnxpb.TensorProto_INT8)
	for _, c := range []struct {
		name         string
		n            Network
		P            int
		file         string
		inType       int32
		in           string
		outType      int32
		out, opsWant string
	}{
		{"float whole", Network{Float: fm}, 1, WholeONNXFile, f32, "batch,1,256", f32, "batch,5",
			"Conv Relu ConvTranspose Relu Flatten Gemm"},
		{"float edge", Network{Float: fm}, 1, EdgeONNXFile, f32, "batch,1,256", f32, "batch,4,64", "Conv Relu"},
		{"float fog", Network{Float: fm}, 1, FogONNXFile, f32, "batch,4,64", f32, "batch,5", "ConvTranspose Relu Flatten Gemm"},
		{"float edge P=0", Network{Float: fm}, 0, EdgeONNXFile, f32, "batch,1,256", f32, "batch,1,256", "Identity"},
		{"float fog P=L", Network{Float: fm}, 3, FogONNXFile, f32, "batch,5", f32, "batch,5", "Identity"},
		{"int4 edge", Network{Int: q4}, 2, EdgeONNXFile, f32, "batch,1,256", i8, "batch,2,128",
			"QuantizeLinear DequantizeLinear DequantizeLinear DequantizeLinear Conv Relu QuantizeLinear " +
				"DequantizeLinear DequantizeLinear DequantizeLinear ConvTranspose Relu QuantizeLinear"},
		{"int4 fog", Network{Int: q4}, 2, FogONNXFile, i8, "batch,2,128", i8, "batch,5",
			"Flatten DequantizeLinear DequantizeLinear DequantizeLinear Gemm QuantizeLinear"},
		{"int4 edge P=0", Network{Int: q4}, 0, EdgeONNXFile, f32, "batch,1,256", i8, "batch,1,256", "QuantizeLinear"},
		{"int4 fog P=0", Network{Int: q4}, 0, FogONNXFile, i8, "batch,1,256", i8, "batch,5",
			"DequantizeLinear DequantizeLinear DequantizeLinear Conv Relu QuantizeLinear " +
				"DequantizeLinear DequantizeLinear DequantizeLinear ConvTranspose Relu QuantizeLinear " +
				"Flatten DequantizeLinear DequantizeLinear DequantizeLinear Gemm QuantizeLinear"},
		{"int4 fog P=L", Network{Int: q4}, 3, FogONNXFile, i8, "batch,5", i8, "batch,5", "Identity"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := WriteONNX(dir, c.n, c.P); err != nil {
				t.Fatal(err)
			}
			m := load(t, filepath.Join(dir, c.file))
			if m.GetIrVersion() != 7 || len(m.GetOpsetImport()) != 1 || m.GetOpsetImport()[0].GetVersion() != 13 {
				t.Errorf("IR %d, opsets %v", m.GetIrVersion(), m.GetOpsetImport())
			}
			g := m.GetGraph()
			if len(g.GetInput()) != 1 || len(g.GetOutput()) != 1 {
				t.Fatalf("%d inputs, %d outputs", len(g.GetInput()), len(g.GetOutput()))
			}
			wantIn, wantOut := "input", "scores"
			if c.file == FogONNXFile {
				wantIn = "split"
			}
			if c.file == EdgeONNXFile {
				wantOut = "split"
			}
			if g.GetInput()[0].GetName() != wantIn || g.GetOutput()[0].GetName() != wantOut {
				t.Errorf("graph %s → %s, want %s → %s", g.GetInput()[0].GetName(), g.GetOutput()[0].GetName(), wantIn, wantOut)
			}
			if ty, sh := shapeOf(g.GetInput()[0]); ty != c.inType || sh != c.in {
				t.Errorf("input type %d shape %s, want %d %s", ty, sh, c.inType, c.in)
			}
			if ty, sh := shapeOf(g.GetOutput()[0]); ty != c.outType || sh != c.out {
				t.Errorf("output type %d shape %s, want %d %s", ty, sh, c.outType, c.out)
			}
			if got := ops(m); got != c.opsWant {
				t.Errorf("nodes %s\nwant  %s", got, c.opsWant)
			}
			meta := map[string]string{}
			for _, p := range m.GetMetadataProps() {
				meta[p.GetKey()] = p.GetValue()
			}
			if meta["splitnas.arch"] != "256x1-64x4-128x2-5" || meta["splitnas.split"] != strconv.Itoa(c.P) || m.GetDocString() == "" {
				t.Errorf("metadata %v, doc %q", meta, m.GetDocString())
			}
			if c.n.Int != nil && !strings.Contains(meta["splitnas.weights"], "int4") {
				t.Errorf("int4 weights not stated: %v", meta)
			}
		})
	}
	// The ConvTranspose weight, [in ch][out ch][tap] in ONNX from nn's
	// [out ch][in ch][tap]; int4 values stored as int8 within ±7.
	dir := t.TempDir()
	if _, err := WriteONNX(dir, Network{Int: q4}, 3); err != nil {
		t.Fatal(err)
	}
	m := load(t, filepath.Join(dir, WholeONNXFile))
	inits := map[string]*onnxpb.TensorProto{}
	for _, in := range m.GetGraph().GetInitializer() {
		inits[in.GetName()] = in
	}
	w := inits["layer2.weight_quantized"]
	l := q4.Layers[1] // 64x4 → 128x2, kernel 2
	if w == nil || !slices.Equal(w.GetDims(), []int64{4, 2, 2}) || w.GetDataType() != i8 {
		t.Fatalf("layer2.weight_quantized: %v", w)
	}
	for o := range 2 {
		for c := range 4 {
			for j := range 2 {
				got, want := int8(w.GetRawData()[(c*2+o)*2+j]), l.W[(o*4+c)*2+j]
				if got != want || got < -7 || got > 7 {
					t.Errorf("weight [in %d][out %d][%d] = %d, want %d", c, o, j, got, want)
				}
			}
		}
	}
	b := inits["layer2.bias_scale"]
	if b == nil || len(b.GetRawData()) != 8 {
		t.Fatalf("layer2.bias_scale: %v", b)
	}
	for c := range 2 {
		if got, want := math.Float32frombits(binary.LittleEndian.Uint32(b.GetRawData()[4*c:])), l.InQ.Scale*l.WScale[c]; got != want {
			t.Errorf("bias scale %d: %g, want %g", c, got, want)
		}
	}
	if meta := m.GetMetadataProps(); !slices.ContainsFunc(meta, func(p *onnxpb.StringStringEntryProto) bool {
		return p.GetKey() == "splitnas.rounding" && p.GetValue() == "qdq"
	}) || !strings.Contains(m.GetDocString(), "Rounding qdq") {
		t.Errorf("default rounding not stated: %v", meta)
	}

	// RoundTFLite: Sign, Mul, Add between the operator and the Relu of each
	// layer with a right shift somewhere, δ_c = 2^(Shift_c − 1)·S_out ([C, 1]
	// for a conv, [K] for the Gemm), 0 for a channel without right shift;
	// none in a layer without one (layer 1 here: every Shift 0).
	tq := *q4
	tq.Layers = slices.Clone(q4.Layers)
	tq.Layers[0].Shift = make([]int32, len(q4.Layers[0].Shift))
	tq.Layers[1].Shift = []int32{1, -3}
	tq.Layers[2].Shift = []int32{-1, -2, 0, -31, -5}
	if _, err := WriteONNXWith(dir, Network{Int: &tq}, 3, ONNXOptions{Rounding: RoundTFLite}); err != nil {
		t.Fatal(err)
	}
	m = load(t, filepath.Join(dir, WholeONNXFile))
	want := "QuantizeLinear DequantizeLinear DequantizeLinear DequantizeLinear Conv Relu QuantizeLinear " +
		"DequantizeLinear DequantizeLinear DequantizeLinear ConvTranspose Sign Mul Add Relu QuantizeLinear " +
		"Flatten DequantizeLinear DequantizeLinear DequantizeLinear Gemm Sign Mul Add QuantizeLinear"
	if got := ops(m); got != want {
		t.Errorf("rounding tflite: nodes %s\nwant  %s", got, want)
	}
	inits = map[string]*onnxpb.TensorProto{}
	for _, in := range m.GetGraph().GetInitializer() {
		inits[in.GetName()] = in
	}
	if _, ok := inits["layer1.rounding_delta"]; ok {
		t.Error("layer 1 has a rounding correction, but no right shift")
	}
	for _, c := range []struct {
		layer int
		dims  []int64
	}{{2, []int64{2, 1}}, {3, []int64{5}}} {
		l := tq.Layers[c.layer-1]
		d := inits[fmt.Sprintf("layer%d.rounding_delta", c.layer)]
		if d == nil || !slices.Equal(d.GetDims(), c.dims) || len(d.GetRawData()) != 4*len(l.Shift) {
			t.Fatalf("layer%d.rounding_delta: %v, want dims %v", c.layer, d, c.dims)
		}
		for ch, sh := range l.Shift {
			want := float32(0)
			if sh < 0 {
				want = float32(math.Ldexp(float64(l.OutQ.Scale), int(sh)-1))
			}
			if got := math.Float32frombits(binary.LittleEndian.Uint32(d.GetRawData()[4*ch:])); got != want {
				t.Errorf("layer %d channel %d (shift %d): δ %g, want %g", c.layer, ch, sh, got, want)
			}
		}
	}
	if meta := m.GetMetadataProps(); !slices.ContainsFunc(meta, func(p *onnxpb.StringStringEntryProto) bool {
		return p.GetKey() == "splitnas.rounding" && p.GetValue() == "tflite"
	}) || !strings.Contains(m.GetDocString(), "Rounding tflite") {
		t.Errorf("rounding tflite not stated: %v", meta)
	}
}

// TestONNXErrors checks WriteONNX's refusals: a split point out of range,
// a network with neither or both models, a directory it cannot write, and
// a rounding other than RoundQDQ for a float network, an unknown one, or
// RoundTFLite for a model without multiplier shifts; and ParseONNXRounding.
func TestONNXErrors(t *testing.T) {
	net, err := arch.Parse("64x1-16x4-3", arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	fm, err := nn.NewModel(net, 1)
	if err != nil {
		t.Fatal(err)
	}
	ranges := []quant.Range{{Min: -1, Max: 1}, {Min: 0, Max: 1}, {Min: -1, Max: 1}}
	qm, err := quant.FromFloat(fm, ranges, 8)
	if err != nil {
		t.Fatal(err)
	}
	bad := *qm
	bad.Layers = slices.Clone(qm.Layers)
	bad.Layers[0].W = bad.Layers[0].W[1:]
	noShift := *qm
	noShift.Layers = slices.Clone(qm.Layers)
	noShift.Layers[0].Shift = nil
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		dir      string
		n        Network
		P        int
		rounding ONNXRounding
		is       func(error) bool
		want     string
	}{
		{"P below 0", t.TempDir(), Network{Float: fm}, -1, RoundQDQ, func(e error) bool { var s *SplitError; return errors.As(e, &s) && s.P == -1 }, "split point -1: the network has layers 1..2"},
		{"P above L", t.TempDir(), Network{Int: qm}, 3, RoundQDQ, func(e error) bool { var s *SplitError; return errors.As(e, &s) && s.Layers == 2 }, "split point 3"},
		{"no model", t.TempDir(), Network{}, 1, RoundQDQ, func(e error) bool { return errors.Is(e, ErrModel) }, "exactly one of a float and an integer model"},
		{"both models", t.TempDir(), Network{Float: fm, Int: qm}, 1, RoundQDQ, func(e error) bool { return errors.Is(e, ErrModel) }, "exactly one"},
		{"damaged model", t.TempDir(), Network{Int: &bad}, 1, RoundQDQ, func(e error) bool { return errors.Is(e, ErrModel) }, "layer 1 (conv1d): 15 weights"},
		{"unwritable dir", filepath.Join(file, "sub"), Network{Float: fm}, 1, RoundQDQ, func(e error) bool { var p *fs.PathError; return errors.As(e, &p) }, "file/sub"},
		{"float tflite", t.TempDir(), Network{Float: fm}, 1, RoundTFLite, func(e error) bool { return errors.Is(e, ErrRounding) }, "a float network has no integer rounding"},
		{"unknown rounding", t.TempDir(), Network{Int: qm}, 1, ONNXRounding(7), func(e error) bool { return errors.Is(e, ErrRounding) }, "ONNXRounding(7)"},
		{"no shifts", t.TempDir(), Network{Int: &noShift}, 1, RoundTFLite, func(e error) bool { return errors.Is(e, ErrModel) }, "layer 1 (conv1d): 0 multiplier shifts, want 4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := WriteONNXWith(c.dir, c.n, c.P, ONNXOptions{Rounding: c.rounding})
			if err == nil || !c.is(err) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v (%T); want one containing %q", err, err, c.want)
			}
		})
	}
	for _, c := range []struct {
		s    string
		want ONNXRounding
		ok   bool
	}{{"qdq", RoundQDQ, true}, {"tflite", RoundTFLite, true}, {"TFLite", 0, false}, {"", 0, false}} {
		r, err := ParseONNXRounding(c.s)
		if (err == nil) != c.ok || r != c.want || (err != nil && !errors.Is(err, ErrRounding)) {
			t.Errorf("ParseONNXRounding(%q) = %v, %v", c.s, r, err)
		}
		if c.ok && r.String() != c.s {
			t.Errorf("%v.String() = %q, want %q", r, r.String(), c.s)
		}
	}
}

// TestONNXRandomSpace is the ONNX export's acceptance test: 10 random
// networks of the default search space (arch.DefaultSpace for the embedded
// MIT-BIH sample, 2048×1 windows and 5 classes), each trained for a few
// epochs on the sample and exported at a random split point in float32 and
// int8 (post-training quantization calibrated on the sample), run with ONNX
// Runtime on every window of the sample (1,400) against Go:
//
//   - float32: the whole, edge and fog models give package nn's tensors
//     within 1e-5 of each tensor's largest magnitude over the batch (a
//     window whose tensor is near zero carries the float32 rounding of the
//     larger values it was computed from, in Go as in ONNX Runtime: up to
//     3e-5 of that window's own magnitude, logged);
//   - int8, RoundTFLite, the graph run as written (run.mjs --float-qdq):
//     the predictions of the whole model and of the fog (fed Go's split
//     tensor) equal package quant's on at least 99.9 % of the windows, and
//     every int8 value of the split tensor and the scores is within one
//     step of quant.Model.Run's;
//   - int8, RoundQDQ: the looser checks of TestONNXQuantized — every layer,
//     rounded once half to even from quant's input (roundOnce), within one
//     step of quant's, and ONNX Runtime within one step of that round-once
//     reference on all but 0.01 % of the values (the graph is quant's
//     network, rounded once) — and predictions equal on at least 95 %:
//     the one-step differences compound over up to 9 layers of these
//     briefly trained networks (measured: 96.9 % on the worst of the 10,
//     where TestONNXQuantized's 4- and 5-layer networks stay above 99 %).
//
// It also logs the whole int8 model under ONNX Runtime's default session
// (fused integer kernels where it finds a plain QDQ node unit). Each
// network's numbers are logged, and a SUMMARY line per mode. -short runs 3
// networks.
func TestONNXRandomSpace(t *testing.T) {
	onnxChecker(t)
	script := ortScript(t)
	d, err := sample.Load()
	if err != nil {
		t.Fatal(err)
	}
	space := arch.DefaultSpace(len(d.Classes))
	space.InputLength, space.InputChannels = d.Length, d.Channels
	count := 10
	if testing.Short() {
		count = 3
	}
	n := d.Len()
	var x []float32
	for i := range n {
		x = append(x, d.Sample(i)...)
	}
	rng := rand.New(rand.NewPCG(2026, 12))
	// stats sums one int8 mode's numbers over the networks.
	type stats struct {
		windows, whole, fog int // windows, and how many predictions agree
		worst               int // largest difference from quant, in steps
		differ, values      int // int8 values (split and scores) that differ from quant
		fused               int // whole-model predictions agreeing under the default session
	}
	modes := []ONNXRounding{RoundQDQ, RoundTFLite}
	sum := map[ONNXRounding]*stats{RoundQDQ: {}, RoundTFLite: {}}
	floatWorst, floatWindow := 0.0, 0.0
	for k := range count {
		net, err := space.Decode(space.Random(rng))
		if err != nil {
			t.Fatal(err)
		}
		L := len(net.Layers)
		P := rng.IntN(L + 1)
		seed := rng.Uint64()
		t.Run(fmt.Sprintf("%d_%s_P%d", k, net, P), func(t *testing.T) {
			cfg := nn.DefaultConfig()
			cfg.Epochs, cfg.LR, cfg.Seed = 3, 0.003, seed
			res, err := nn.Native().Train(context.Background(), net, d.Part(dataset.Train), nil, cfg)
			if err != nil {
				t.Fatal(err)
			}
			fm := res.Model

			// float32: whole, edge, fog against nn.
			dir := t.TempDir()
			s, err := WriteONNX(dir, Network{Float: fm}, P)
			if err != nil {
				t.Fatal(err)
			}
			checkSummary(t, s, net, false)
			checkFiles(t, dir, s)
			runF := func(in []float32, from, to int) []float32 {
				size := len(in) / n
				var out []float32
				for i := range n {
					out = append(out, fm.Run(in[i*size:(i+1)*size], from, to)...)
				}
				return out
			}
			fworst, fwindow := 0.0, 0.0 // relative to the batch's, and to each window's magnitude
			compareF := func(what string, want []float32, m ONNXModelInfo, in []float32) {
				t.Helper()
				got, dims, wantDims := ortRunFile(t, script, dir, m, n, floatBytes(in), false)
				if !slices.Equal(dims, wantDims) || len(got) != 4*len(want) {
					t.Fatalf("float32 %s: onnxruntime gave %v (%d bytes), want %v", what, dims, len(got), wantDims)
				}
				// The difference relative to the tensor's largest magnitude
				// over the batch: a window whose tensor is near zero (ReLUs
				// that leave little, cancellation) carries float32 rounding
				// of the values it was computed from, which are of the
				// batch's magnitude — in Go as in ONNX Runtime.
				g, size := bytesFloat(got), len(want)/n
				fworst = max(fworst, relDiff(want, g))
				for i := range n {
					fwindow = max(fwindow, relDiff(want[i*size:(i+1)*size], g[i*size:(i+1)*size]))
				}
			}
			split := runF(x, 0, P)
			compareF("whole", runF(x, 0, L), s.Whole, x)
			compareF("edge", split, s.Edge, x)
			compareF("fog", runF(split, P, L), s.Fog, split)
			if fworst > 1e-5 {
				t.Errorf("float32: onnxruntime differs from Go by %.3g of a tensor's magnitude (max 1e-5)", fworst)
			}
			floatWorst, floatWindow = max(floatWorst, fworst), max(floatWindow, fwindow)
			t.Logf("float32 %s P=%d: %d windows, largest difference %.3g of the tensor's magnitude (%.3g of a window's) (whole, edge, fog)",
				net, P, n, fworst, fwindow)

			// int8: Go's tensors, layer by layer.
			qm, err := quant.PostTraining(fm, quant.CalibrationSamples(d, 200, 1), quant.MinMax, 8)
			if err != nil {
				t.Fatal(err)
			}
			tensors := goTensors(qm, d, n)
			// Each layer rounded once, half to even, from quant's input:
			// within one step of quant's output.
			single := 0
			for li := range L {
				size := net.Tensor(li).Size()
				for i := range n {
					w, _ := lsb(tensors[li+1][i*net.Tensor(li+1).Size():][:net.Tensor(li+1).Size()],
						int8Bytes(roundOnce(&qm.Layers[li], tensors[li][i*size:(i+1)*size])))
					single = max(single, w)
				}
			}
			if single > 1 {
				t.Errorf("a layer rounded once differs from quant by %d steps", single)
			}
			chain := func(from, to int) []int8 { return roundOnceChain(qm, tensors, n, from, to) }
			agree := func(want []int8, got []byte) int {
				K, same := net.Classes(), 0
				for i := range n {
					g := make([]int8, K)
					for j := range g {
						g[j] = int8(got[i*K+j])
					}
					if argmax8(want[i*K:(i+1)*K]) == argmax8(g) {
						same++
					}
				}
				return same
			}
			for _, mode := range modes {
				dir := t.TempDir()
				s, err := WriteONNXWith(dir, Network{Int: qm}, P, ONNXOptions{Rounding: mode})
				if err != nil {
					t.Fatal(err)
				}
				checkSummary(t, s, net, true)
				checkFiles(t, dir, s)
				st := sum[mode]
				worst, differ, values, onceWorst, onceDiffer := 0, 0, 0, 0, 0
				run := func(m ONNXModelInfo, raw []byte, want []int8, from int) []byte {
					t.Helper()
					got, dims, wantDims := ortRunFile(t, script, dir, m, n, raw, true)
					if !slices.Equal(dims, wantDims) || len(got) != len(want) {
						t.Fatalf("%v %s: onnxruntime gave %v (%d bytes), want %v", mode, m.File, dims, len(got), wantDims)
					}
					w, df := lsb(want, got)
					worst, differ, values = max(worst, w), differ+df, values+len(want)
					w, df = lsb(chain(from, m.To), got)
					onceWorst, onceDiffer = max(onceWorst, w), onceDiffer+df
					return got
				}
				whole := agree(tensors[L], run(s.Whole, floatBytes(x), tensors[L], 0))
				run(s.Edge, floatBytes(x), tensors[P], 0)
				fog := agree(tensors[L], run(s.Fog, int8Bytes(tensors[P]), tensors[L], P))
				got, _, _ := ortRunFile(t, script, dir, s.Whole, n, floatBytes(x), false)
				fused := agree(tensors[L], got)
				st.windows, st.whole, st.fog, st.fused = st.windows+n, st.whole+whole, st.fog+fog, st.fused+fused
				st.worst, st.differ, st.values = max(st.worst, worst), st.differ+differ, st.values+values
				t.Logf("int8 %v %s P=%d: %d windows, predictions equal %d whole (%.2f %%), %d fog (%.2f %%); "+
					"split and scores: %d of %d values differ from quant, max %d LSB (round-once reference: %d differ, max %d); "+
					"whole under the default session (fused kernels): %d (%.2f %%)",
					mode, net, P, n, whole, 100*float64(whole)/float64(n), fog, 100*float64(fog)/float64(n),
					differ, values, worst, onceDiffer, onceWorst, fused, 100*float64(fused)/float64(n))
				minAgree := 0.95
				if mode == RoundTFLite {
					minAgree = 0.999
					if worst > 1 {
						t.Errorf("%v: an int8 value differs from quant by %d steps (max 1)", mode, worst)
					}
				} else if onceWorst > 1 || onceDiffer*10000 > values {
					t.Errorf("%v: %d of %d values differ from the round-once reference, by up to %d steps (want at most 0.01 %%, 1 step)",
						mode, onceDiffer, values, onceWorst)
				}
				for _, c := range []struct {
					what string
					same int
				}{{"whole", whole}, {"fog", fog}} {
					if float64(c.same) < minAgree*float64(n) {
						t.Errorf("%v %s: predictions equal on %d of %d windows (want ≥ %g %%)", mode, c.what, c.same, n, 100*minAgree)
					}
				}
			}
		})
	}
	t.Logf("SUMMARY float32: %d networks, %d windows each, largest difference %.3g of a tensor's magnitude (%.3g of a window's)", count, n, floatWorst, floatWindow)
	for _, mode := range modes {
		st := sum[mode]
		t.Logf("SUMMARY int8 %v: %d networks, %d windows; predictions equal %d whole (%.3f %%), %d fog (%.3f %%); "+
			"%d of %d split and score values differ from quant, max %d LSB; default session (fused kernels) whole %d (%.3f %%)",
			mode, count, st.windows, st.whole, 100*float64(st.whole)/float64(max(st.windows, 1)), st.fog, 100*float64(st.fog)/float64(max(st.windows, 1)),
			st.differ, st.values, st.worst, st.fused, 100*float64(st.fused)/float64(max(st.windows, 1)))
	}
}
