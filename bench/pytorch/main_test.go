package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/internal/trainbench"
	"github.com/splitnas/splitnas/nn"
)

// needTorch skips the test unless Debian's python3-torch is installed
// (SPLITNAS_PYTHON overrides /usr/bin/python3).
func needTorch(t *testing.T) string {
	t.Helper()
	py := os.Getenv("SPLITNAS_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if err := exec.Command(py, "-c", "import torch, numpy").Run(); err != nil {
		t.Skipf("%s cannot import torch (apt-get install python3-torch): %v", py, err)
	}
	return py
}

// checkPy runs ref.py with args and fails the test unless it prints one
// JSON line per checked file, each with "ok": true.
func checkPy(t *testing.T, py string, files int, args ...string) {
	t.Helper()
	cmd := exec.Command(py, append([]string{"ref.py"}, args...)...)
	cmd.Env = append(os.Environ(), pyEnv...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if err != nil || len(lines) != files {
		t.Fatalf("ref.py %v: %v, %d results for %d files\n%s%s", args, err, len(lines), files, out, errb.String())
	}
	for _, l := range lines {
		var r struct {
			OK bool `json:"ok"`
		}
		if err := json.Unmarshal(l, &r); err != nil || !r.OK {
			t.Errorf("ref.py %s: %v: %s", args[0], err, l)
		} else {
			t.Logf("%s", l)
		}
	}
}

// The layer kinds and kernel-rule cases the check covers: non-overlapping
// strided Conv and ConvTranspose (kernel = stride), overlap 2 with
// symmetric padding and cropping (even extra), overlap 2 with odd stride
// (asymmetric: one more zero or cropped value on the right), stride-1 Convs
// with "same" padding for kernels 3 and 5, and a deep search winner.
var equivalenceCases = []struct {
	arch          string
	overlap, same int
}{
	{"2048x1-128x2-8x4-64x2-5", 1, 3},
	{"2048x1-256x4-32x4-5", 2, 3},
	{"96x1-32x2-96x3-96x2-4", 2, 3},
	{"96x1-32x2-96x3-96x2-4", 3, 5},
	{"2048x1-32x1-64x3-8x3-64x2-16x2-256x2-2", 1, 3},
}

// TestEquivalence checks that ref.py's PyTorch network is the same function
// as nn's: with a trained model's weights it gives nn's logits within 1e-4
// (relative to max(1, |logit|)), and from nn's initial weights five
// full-batch Adam steps reach nn's weights and losses within 1e-4 — with
// nn.DefaultConfig's recipe, and again with a schedule, weight decay and
// class weights. If nn's default update changes, the second check fails
// until ref.py follows.
func TestEquivalence(t *testing.T) {
	py := needTorch(t)
	dir := t.TempDir()
	ctx := context.Background()
	check, steps := []string{"check"}, []string{"steps"}
	for i, c := range equivalenceCases {
		rule := []string{"--arch", c.arch, "--overlap", itoa(c.overlap), "--same-kernel", itoa(c.same)}
		dump := filepath.Join(dir, fmt.Sprintf("dump%d.json", i))
		if err := run(ctx, append([]string{"dump", "--out", dump}, rule...), io.Discard); err != nil {
			t.Fatal(err)
		}
		st := filepath.Join(dir, fmt.Sprintf("steps%d.json", i))
		if err := run(ctx, append([]string{"steps", "--out", st}, rule...), io.Discard); err != nil {
			t.Fatal(err)
		}
		check, steps = append(check, "--dump", dump), append(steps, "--steps", st)
		// The rest of the recipe ref.py mirrors: warm-up then cosine
		// (stepped per batch: here one step per epoch), AdamW decay of the
		// weights only, class-weighted loss.
		st = filepath.Join(dir, fmt.Sprintf("recipe%d.json", i))
		recipe := []string{"steps", "--out", st, "--steps", "6", "--lr", "0.01", "--schedule", "cosine", "--warmup", "2",
			"--weight-decay", "2", "--class-balance", "weights"}
		if err := run(ctx, append(recipe, rule...), io.Discard); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, "--steps", st)
	}
	checkPy(t, py, len(equivalenceCases), check...)
	checkPy(t, py, 2*len(equivalenceCases), steps...)
}

// TestEquivalenceModelFile does the logits check on a model read back from
// the .model file format (what `splitnas train --out` writes).
func TestEquivalenceModelFile(t *testing.T) {
	py := needTorch(t)
	dir := t.TempDir()
	net, err := arch.Parse("2048x1-256x4-32x4-5", arch.KernelRule{Same: 3, Overlap: 2})
	if err != nil {
		t.Fatal(err)
	}
	cfg := nn.DefaultConfig()
	cfg.Epochs = 2
	res, err := nn.Native().Train(context.Background(), net, trainbench.RandomData(net, 128, 7), nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "m.model")
	if err := nn.SaveFile(model, res.Model); err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(dir, "dump.json")
	if err := run(context.Background(), []string{"dump", "--model", model, "--out", dump}, io.Discard); err != nil {
		t.Fatal(err)
	}
	checkPy(t, py, 1, "check", "--dump", dump)
}

// TestNet checks the description ref.py builds from (no PyTorch needed).
func TestNet(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"net", "--arch", "96x1-32x2-96x3-96x2-4", "--overlap", "2"}, &out); err != nil {
		t.Fatal(err)
	}
	var d netJSON
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	// 96→32: Conv stride 3, kernel 6, 3 extra taps: 1 zero left, 2 right.
	// 32→96: ConvTranspose stride 3, kernel 6, 1 cropped left, 2 right.
	// 96→96: Conv stride 1, kernel 3, same padding. Then Dense 192→4.
	want := []layerJSON{
		{"conv1d", 96, 1, 32, 2, 6, 3, 1, 2, true},
		{"conv1d_transpose", 32, 2, 96, 3, 6, 3, 1, 2, true},
		{"conv1d", 96, 3, 96, 2, 3, 1, 1, 1, true},
		{"dense", 96, 2, 4, 1, 0, 0, 0, 0, false},
	}
	if len(d.Layers) != len(want) {
		t.Fatalf("layers %+v, want %+v", d.Layers, want)
	}
	for i := range want {
		if d.Layers[i] != want[i] {
			t.Errorf("layer %d: %+v, want %+v", i+1, d.Layers[i], want[i])
		}
	}
	// 2·1·6+2 + 3·2·6+3 + 2·3·3+2 + 4·192+4
	if wantP := 14 + 39 + 20 + 772; d.Params != wantP {
		t.Errorf("params %d, want %d", d.Params, wantP)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
