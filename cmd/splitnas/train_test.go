package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/sample"
	"github.com/splitnas/splitnas/nn"
)

func TestTrainOnEmbeddedSample(t *testing.T) {
	model := filepath.Join(t.TempDir(), "m.snnm")
	out, err := run(t, "train", "--arch", "2048x1-128x2-8x4-64x2-5", "--epochs", "5", "--json", "--out", model)
	if err != nil {
		t.Fatal(err)
	}
	var r trainReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	// 877 params and 6,272 MACs (arch's metrics test has the arithmetic);
	// Flash = 877 × 4 B; RAM = the largest pair of successive buffers, the
	// input and the first hidden tensor: (2048 + 128·2) × 4 B = 9,216 B.
	if r.Params != 877 || r.MACs != 6272 || r.FlashBytes != 3508 || r.RAMBytes != 9216 {
		t.Errorf("params %d, MACs %d, Flash %d, RAM %d; want 877, 6272, 3508, 9216", r.Params, r.MACs, r.FlashBytes, r.RAMBytes)
	}
	if r.Epochs != 5 || len(r.History) != 5 || r.BestEpoch < 1 || r.BestEpoch > 5 {
		t.Errorf("epochs %d, history %d, best %d", r.Epochs, len(r.History), r.BestEpoch)
	}
	// Five balanced classes: chance is 0.2; five epochs on 980 beats reach well above it.
	if r.TestAccuracy < 0.5 || r.ValAccuracy < 0.5 {
		t.Errorf("val %.3f, test %.3f: want ≥ 0.5", r.ValAccuracy, r.TestAccuracy)
	}
	total := 0
	for _, row := range r.TestConfusion {
		for _, n := range row {
			total += n
		}
	}
	if total != 210 {
		t.Errorf("test confusion counts %d beats, want the 210 of the test split", total)
	}
	m, err := nn.LoadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	if m.String() != r.Arch {
		t.Errorf("saved model is %s, want %s", m, r.Arch)
	}
}

func TestTrainRejectsBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--arch", "1024x1-64x2-5"}, "1024x1"},   // input does not match the data
		{[]string{"train", "--arch", "2048x1-128x2-3"}, "classes"}, // 3 classes, data has 5
		{[]string{"train", "--arch", "2048x1-100x2-5"}, "--arch"},  // 100 does not divide 2048
		{[]string{"train", "--arch", "2048x1-128x2-5", "--lr", "-1"}, "learning rate"},
		{[]string{"train", "--arch", "2048x1-128x2-5", "--same-kernel", "2"}, "--same-kernel"},
		{[]string{"train"}, `"arch" not set`},
		{[]string{"bench", "train", "--arch", "2048x1-128x2-5", "--samples", "0"}, "samples 0"},
	} {
		_, err := run(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want it to mention %q", c.args, err, c.want)
		}
	}
}

// TestTrainValidatesBeforeWork checks that train refuses bad flags before
// it reads the dataset (here a missing file, which would be the error
// otherwise), refuses --patience on a dataset without a validation split
// before training, and writes no --out file in any of these cases.
func TestTrainValidatesBeforeWork(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.snnm")
	missing := filepath.Join(dir, "missing.snds")

	// The embedded sample without its validation split.
	d, err := sample.Load()
	if err != nil {
		t.Fatal(err)
	}
	noVal := filepath.Join(dir, "noval.snds")
	if err := dataset.Save(noVal, d.Subset(append(d.Indices(dataset.Train), d.Indices(dataset.Test)...)), dataset.F32); err != nil {
		t.Fatal(err)
	}

	base := []string{"train", "--arch", "2048x1-128x2-8x4-64x2-5", "--epochs", "1"}
	for _, c := range []struct {
		args []string
		want string
		is   error
	}{
		{[]string{"--lr", "-1", "--data", missing, "--out", model}, "--lr -1: want a positive, finite learning rate", nil},
		{[]string{"--epochs", "0", "--data", missing, "--out", model}, "--epochs 0: want at least 1", nil},
		{[]string{"--batch", "0", "--data", missing, "--out", model}, "--batch 0: want at least 1", nil},
		{[]string{"--dropout", "1", "--data", missing, "--out", model}, "--dropout 1: want 0 ≤ rate < 1", nil},
		{[]string{"--patience", "-1", "--data", missing, "--out", model}, "--patience -1", nil},
		{[]string{"--data", missing, "--out", filepath.Join(dir, "no", "such", "m.snnm")}, "--out", nil},
		{[]string{"--data", missing, "--out", dir}, "is a directory", nil},
		{[]string{"--patience", "2", "--data", noVal, "--out", model}, "--patience 2", nn.ErrPatienceWithoutValidation},
	} {
		args := append(slices.Clone(base), c.args...)
		_, err := run(t, args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want it to mention %q", c.args, err, c.want)
		}
		if c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("%v: errors.Is(%v, %v) = false", c.args, err, c.is)
		}
		if _, err := os.Stat(model); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v: --out %s written (stat: %v) though the run was refused", c.args, model, err)
		}
	}
}

func TestBenchTrainJSON(t *testing.T) {
	out, err := run(t, "bench", "train", "--arch", "256x1-16x2-5", "--samples", "200", "--epochs", "3", "--parallel", "2", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		EpochSeconds    float64   `json:"epoch_seconds"`
		EpochSecondsAll []float64 `json:"epoch_seconds_all"`
		ParallelSpeedup float64   `json:"parallel_speedup"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(r.EpochSecondsAll) != 3 || !(r.EpochSeconds > 0) || !(r.ParallelSpeedup > 0) {
		t.Errorf("report %+v: want 3 positive epoch times, a median and a speed-up", r)
	}
}
