package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/export"
	"github.com/splitnas/splitnas/quant"
)

// TestExportCommand exports a trained float model and its int8 form: the
// default split is the profile's choice, the files are written, and the
// summary's Flash and RAM are arch's at that precision.
func TestExportCommand(t *testing.T) {
	model := trainedModel(t)
	dir := t.TempDir()
	out, err := run(t, "export", "--model", model, "--out", filepath.Join(dir, "f32"), "--split", "2", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var s export.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	// 2048x1-128x2-8x4-64x2-5 at P = 2 in float32: Flash (34+132)·4 = 664 B,
	// RAM (2048+256)·4 = 9,216 B (arch's metrics test).
	if s.Split != 2 || s.FlashBytes != 664 || s.RAMBytes != 9216 || s.Precision != "float32" {
		t.Errorf("summary %+v", s)
	}
	for _, f := range s.Files {
		if _, err := os.Stat(filepath.Join(dir, "f32", f)); err != nil {
			t.Error(err)
		}
	}
	q := filepath.Join(dir, "m.snqm")
	if _, err := run(t, "quantize", "--model", model, "--out", q); err != nil {
		t.Fatal(err)
	}
	text, err := run(t, "export", "--model", q, "--out", filepath.Join(dir, "i8"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(int8)", "cost (stm32l476-int8)"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--out", dir}, "--model is required"},
		{[]string{"--model", model, "--out", dir, "--format", "xyz"}, `--format "xyz": want c or onnx`},
		{[]string{"--model", model, "--out", dir, "--format", "onnx", "--verify"}, "--verify checks the C library: it does not apply to --format onnx"},
		{[]string{"--model", q, "--out", dir, "--format", "onnx", "--onnx-rounding", "even"}, `--onnx-rounding "even": want qdq or tflite`},
		{[]string{"--model", q, "--out", dir, "--onnx-rounding", "tflite"}, "--onnx-rounding applies to --format onnx only"},
		{[]string{"--model", model, "--out", dir, "--format", "onnx", "--onnx-rounding", "qdq"}, "--onnx-rounding applies to integer models only"},
		{[]string{"--model", model, "--out", dir, "--split", "9"}, "--split 9: 2048x1-128x2-8x4-64x2-5 has layers 1..4"},
		{[]string{"--model", model, "--out", dir, "--profile", "stm32l476-int8"}, "profile stm32l476-int8 is int8, the model float32"},
		{[]string{"--model", filepath.Join(dir, "none.snnm"), "--out", dir}, "none.snnm"},
		{[]string{"--model", model, "--out", model}, "is a file, want a directory"},
	} {
		_, stderr, code := runProcess(t, append([]string{"export"}, c.args...)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("export %v: exit %d, stderr %q; want %q", c.args, code, stderr, c.want)
		}
	}
}

// TestExportVerify runs export --verify on a trained model: the host build
// matches Go, the emulated one the host, and the summary says so.
func TestExportVerify(t *testing.T) {
	for _, tool := range []string{"gcc", "arm-none-eabi-gcc", "qemu-system-arm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH; .ci/run installs it", tool)
		}
	}
	model := trainedModel(t)
	q := filepath.Join(t.TempDir(), "m.snqm")
	if _, err := run(t, "quantize", "--model", model, "--out", q); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{model, q} {
		dir := filepath.Join(t.TempDir(), "lib")
		out, err := run(t, "export", "--model", m, "--out", dir, "--split", "3", "--verify", "--windows", "3", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Verification *export.Verification `json:"verification"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		v := r.Verification
		if v == nil || v.Windows != 3 || v.HostMismatches != 0 || v.EmuMismatches != 0 || v.EmulatedCycles <= 0 {
			t.Errorf("%s: verification %+v", m, v)
		}
		if _, err := os.Stat(filepath.Join(dir, export.FirmwareDir, "main.c")); err != nil {
			t.Error(err)
		}
	}
}

// TestExportONNX exports a trained float model and its int8 form with
// --format onnx: the three files are written, the printed summary names
// the tensors with their shapes (and the int8 ones' scale and zero point),
// and --json gives the same as export.WriteONNX's summary; an integer model
// is written with --onnx-rounding qdq by default, and with tflite on
// request, its rounding correction in the graph. Python's
// onnx.checker, when installed, accepts every file (ONNX Runtime runs them
// in go test ./export).
func TestExportONNX(t *testing.T) {
	model := trainedModel(t)
	dir := t.TempDir()
	f32 := filepath.Join(dir, "f32")
	text, err := run(t, "export", "--model", model, "--format", "onnx", "--split", "2", "--out", f32)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"2048x1-128x2-8x4-64x2-5 (float32), split point 2 of 4, as ONNX opset 13 models to " + f32,
		"whole.onnx layers 1..4",
		"edge.onnx  layers 1..2",
		"fog.onnx   layers 3..4",
		"input float32 [batch, 1, 2048] → split float32 [batch, 4, 8]",
		"split float32 [batch, 4, 8] → scores float32 [batch, 5]",
		"classes:   N, S, V, F, Q",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	files := []string{export.WholeONNXFile, export.EdgeONNXFile, export.FogONNXFile}
	for _, f := range files {
		if fi, err := os.Stat(filepath.Join(f32, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}

	q := filepath.Join(dir, "m.snqm")
	if _, err := run(t, "quantize", "--model", model, "--out", q); err != nil {
		t.Fatal(err)
	}
	i8 := filepath.Join(dir, "i8")
	out, err := run(t, "export", "--model", q, "--format", "onnx", "--split", "1", "--out", i8, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var s export.ONNXSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	qm, err := quant.LoadFile(q)
	if err != nil {
		t.Fatal(err)
	}
	if s.Precision != "int8" || s.Split != 1 || !slices.Equal(s.Files, files) ||
		s.Edge.Output.Name != "split" || s.Edge.Output.DType != "int8" || !slices.Equal(s.Edge.Output.Shape, []int{2, 128}) ||
		s.Edge.Output.Quant == nil || *s.Edge.Output.Quant != qm.Tensor(1) ||
		s.Fog.Output.Name != "scores" || s.Fog.Output.DType != "int8" || *s.Fog.Output.Quant != qm.Tensor(4) ||
		s.InputQuant == nil || *s.InputQuant != qm.Tensor(0) {
		t.Errorf("summary %+v", s)
	}
	if s.Rounding != "qdq" {
		t.Errorf("default rounding %q, want qdq", s.Rounding)
	}
	text, err = run(t, "export", "--model", q, "--format", "onnx", "--split", "1", "--out", i8)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("split int8 [batch, 2, 128] (scale %g, zero point %d)", qm.Tensor(1).Scale, qm.Tensor(1).ZeroPoint),
		fmt.Sprintf("input:     quantized to int8 by the edge with scale %g, zero point %d", qm.Tensor(0).Scale, qm.Tensor(0).ZeroPoint),
		"rounding:  qdq: plain QDQ graph",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	tfl := filepath.Join(dir, "i8-tflite")
	text, err = run(t, "export", "--model", q, "--format", "onnx", "--split", "1", "--onnx-rounding", "tflite", "--out", tfl)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "rounding:  tflite") {
		t.Errorf("output lacks the tflite rounding:\n%s", text)
	}
	whole, err := os.ReadFile(filepath.Join(tfl, export.WholeONNXFile))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := os.ReadFile(filepath.Join(i8, export.WholeONNXFile))
	if err != nil {
		t.Fatal(err)
	}
	// The metadata names the rounding; the correction's nodes are there.
	for _, c := range []struct {
		b          []byte
		want, lack string
	}{{whole, "tflite", ""}, {plain, "qdq", "rounding_sign"}} {
		if !bytes.Contains(c.b, []byte("splitnas.rounding")) || !bytes.Contains(c.b, []byte(c.want)) ||
			(c.lack != "" && bytes.Contains(c.b, []byte(c.lack))) {
			t.Errorf("%s model: metadata or nodes do not say so", c.want)
		}
	}
	if !bytes.Contains(whole, []byte("rounding_sign")) {
		t.Error("tflite model has no rounding correction")
	}
	if exec.Command("/usr/bin/python3", "-c", "import onnx").Run() != nil {
		t.Log("python3-onnx not installed: the files are not checked with onnx.checker")
		return
	}
	for _, d := range []string{f32, i8, tfl} {
		for _, f := range files {
			path := filepath.Join(d, f)
			msg, err := exec.Command("/usr/bin/python3", "-c", "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)", path).CombinedOutput()
			if err != nil {
				t.Errorf("onnx.checker on %s: %v\n%s", path, err, msg)
			}
		}
	}
}

// TestExportAdaptive writes the adaptive C library: layers 1..Pmax of the
// profile's link policy, with splitnas_run_to and splitnas_policy_split in
// its header, and refuses the flags that fix one split point.
func TestExportAdaptive(t *testing.T) {
	model := trainedModel(t)
	dir := filepath.Join(t.TempDir(), "lib")
	out, err := run(t, "export", "--model", model, "--adaptive", "--out", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"adaptive:", "splitnas_run_to(window, P)", "120 link conditions", "splitnas_policy_split"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	h, err := os.ReadFile(filepath.Join(dir, "splitnas_model.h"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"splitnas_run_to(const float *input, int split)", "int splitnas_policy_split(int phy, double tx_dbm, double retransmission_rate)"} {
		if !strings.Contains(string(h), want) {
			t.Errorf("splitnas_model.h lacks %q", want)
		}
	}
	for _, args := range [][]string{
		{"--split", "1"}, {"--verify"}, {"--format", "onnx"},
	} {
		a := append([]string{"export", "--model", model, "--adaptive", "--out", t.TempDir()}, args...)
		if _, err := run(t, a...); err == nil || !strings.Contains(err.Error(), "--adaptive") {
			t.Errorf("export %v: %v, want an error naming --adaptive", args, err)
		}
	}
}
