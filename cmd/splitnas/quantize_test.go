package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/sample"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/quant"
)

// trainedModel trains the typical candidate on the embedded sample for a
// few epochs and returns its model file.
func trainedModel(t *testing.T) string {
	t.Helper()
	model := filepath.Join(t.TempDir(), "m.snnm")
	if _, err := run(t, "train", "--arch", "2048x1-128x2-8x4-64x2-5", "--epochs", "5", "--out", model); err != nil {
		t.Fatal(err)
	}
	return model
}

// savedTestScore loads the quantized model file q and scores it on the
// embedded sample's test split.
func savedTestScore(t *testing.T, q string) (*quant.Model, nn.Metrics) {
	t.Helper()
	qm, err := quant.LoadFile(q)
	if err != nil {
		t.Fatal(err)
	}
	d, err := sample.Load()
	if err != nil {
		t.Fatal(err)
	}
	met, err := quant.Evaluate(qm, d.Part(dataset.Test))
	if err != nil {
		t.Fatal(err)
	}
	return qm, met
}

// TestQuantize checks PTQ end to end on the embedded sample: int8 keeps the
// float accuracy within a few points, the Flash and RAM are arch's int8
// numbers, and the written file loads and scores as printed.
func TestQuantize(t *testing.T) {
	model := trainedModel(t)
	q := filepath.Join(t.TempDir(), "m.snqm")
	out, err := run(t, "quantize", "--model", model, "--bits", "8", "--calibration", "200", "--out", q, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r quantizeReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	// 2048x1-128x2-8x4-64x2-5: Flash 3,508 B in float32, 1,056 B in int8
	// (arch's metrics test works both out by hand), of which 4+8·13+8·4 =
	// 140 B are requantization constants; RAM (2048+256)·4 → 2048+256.
	if r.FlashFloat != 3508 || r.FlashQuant != 1056 || r.Requant != 140 || r.RAMFloat != 9216 || r.RAMQuant != 2304 {
		t.Errorf("Flash %d → %d (%d requant), RAM %d → %d; want 3508 → 1056 (140), 9216 → 2304",
			r.FlashFloat, r.FlashQuant, r.Requant, r.RAMFloat, r.RAMQuant)
	}
	if r.Calibration != 200 || r.Method != "minmax" || r.Bits != 8 {
		t.Errorf("calibration %d, method %s, bits %d", r.Calibration, r.Method, r.Bits)
	}
	if d := r.Float.TestAccuracy - r.Quantized.TestAccuracy; d > 0.03 || r.Quantized.TestAccuracy < 0.5 {
		t.Errorf("test accuracy float %.3f, int8 %.3f: want int8 within 3 points", r.Float.TestAccuracy, r.Quantized.TestAccuracy)
	}
	qm, met := savedTestScore(t, q)
	if met.Accuracy != r.Quantized.TestAccuracy {
		t.Errorf("the saved model scores %.4f on test, quantize printed %.4f", met.Accuracy, r.Quantized.TestAccuracy)
	}
	if qm.Calibration != 200 || qm.Method != "minmax" || qm.Network().Flash(4, arch.Int8()) != 1056 {
		t.Errorf("saved model: calibration %d, method %s", qm.Calibration, qm.Method)
	}
	text, err := run(t, "quantize", "--model", model, "--bits", "4", "--method", "mse", "--calibration", "50")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"int4 weights per output channel", "mse ranges on 50 training samples", "test accuracy"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

func TestQuantizeBadInput(t *testing.T) {
	model := trainedModel(t)
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.snnm")
	b, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(corrupt, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// A dataset of another shape: the Bonn-like 1x256 noise of a test file.
	other := filepath.Join(dir, "other.snds")
	d := dataset.New([]string{"N", "S", "V", "F", "Q"}, 1, 256)
	for i := range 10 {
		if err := d.Add(make([]float32, 256), i%5, "r"); err != nil {
			t.Fatal(err)
		}
	}
	if err := dataset.Save(other, d, dataset.F32); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "q.snqm")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--model is required"},
		{[]string{"--model", model, "--bits", "6"}, "--bits 6: want 8 or 4"},
		{[]string{"--model", model, "--calibration", "0"}, "--calibration 0: want at least 1"},
		{[]string{"--model", model, "--method", "kl"}, `--method: quant: unknown calibration method "kl"`},
		{[]string{"--model", corrupt}, "corrupt.snnm"},
		{[]string{"--model", filepath.Join(dir, "missing.snnm")}, "missing.snnm"},
		{[]string{"--model", model, "--data", other}, "samples of 256x1 (length×channels), network input is 2048x1"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, stderr, code := runProcess(t, append(append([]string{"quantize"}, c.args...), "--out", out)...)
			if code == 0 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "panic") {
				t.Errorf("quantize %v: exit %d, stderr %q; want non-zero and %q", c.args, code, stderr, c.want)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("quantize %v failed but wrote %s", c.args, out)
			}
		})
	}
}

// TestTrainQAT checks train --qat: from scratch and fine-tuning (--init),
// the integer network is scored and written, and --init must fit --arch.
func TestTrainQAT(t *testing.T) {
	model := trainedModel(t)
	q := filepath.Join(t.TempDir(), "qat.snqm")
	out, err := run(t, "train", "--arch", "2048x1-128x2-8x4-64x2-5", "--epochs", "2", "--qat", "4", "--init", model, "--out", q, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r trainReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	// int4 Flash of 2048x1-128x2-8x4-64x2-5: 624 B (arch's metrics test).
	if r.Quantized == nil || r.Quantized.Bits != 4 || r.Quantized.FlashBytes != 624 || r.Quantized.RAMBytes != 2304 || r.Init != model {
		t.Fatalf("quantized %+v, init %q", r.Quantized, r.Init)
	}
	if r.Quantized.TestAccuracy < 0.5 {
		t.Errorf("int4 test accuracy %.3f after fine-tuning a trained model, want ≥ 0.5", r.Quantized.TestAccuracy)
	}
	qm, met := savedTestScore(t, q)
	if met.Accuracy != r.Quantized.TestAccuracy || qm.Method != "qat" || qm.Bits != 4 {
		t.Errorf("saved model: test %.4f (printed %.4f), method %s, bits %d", met.Accuracy, r.Quantized.TestAccuracy, qm.Method, qm.Bits)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--qat", "2"}, "--qat 2: want 8 or 4"},
		{[]string{"--qat", "8", "--batch-norm"}, "--qat 8: cannot be combined with batch normalisation"},
		{[]string{"--arch", "2048x1-64x4-5", "--init", model}, "is a model of 2048x1-128x2-8x4-64x2-5, not of --arch 2048x1-64x4-5"},
	} {
		args := append([]string{"train", "--epochs", "1"}, c.args...)
		if !slices.Contains(c.args, "--arch") {
			args = append(args, "--arch", "2048x1-128x2-8x4-64x2-5")
		}
		_, stderr, code := runProcess(t, args...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("train %v: exit %d, stderr %q; want %q", c.args, code, stderr, c.want)
		}
	}
}
