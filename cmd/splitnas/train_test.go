package main

import (
	"encoding/json"
	"errors"
	"math"
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

// TestTrainRecipeFlags trains a teacher with --out, then a student with
// every recipe flag and --teacher, and checks the JSON report: the recipe
// as given, balanced accuracy, and per-class scores that add up to the
// test split.
func TestTrainRecipeFlags(t *testing.T) {
	teacher := filepath.Join(t.TempDir(), "teacher.snnm")
	if _, err := run(t, "train", "--arch", "2048x1-128x2-8x4-64x2-5", "--epochs", "2", "--out", teacher); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "train", "--arch", "2048x1-128x2-8x4-64x2-5", "--epochs", "3", "--json",
		"--class-balance", "sampler", "--select", "balanced", "--schedule", "cosine", "--warmup", "1",
		"--weight-decay", "0.01", "--augment-shift", "32", "--augment-scale", "0.1", "--augment-wander", "0.2",
		"--augment-noise", "0.05", "--teacher", teacher, "--temperature", "3", "--alpha", "0.7",
		"--batch-norm", "--samples-per-epoch", "300")
	if err != nil {
		t.Fatal(err)
	}
	var r trainReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	want := trainRecipe{
		ClassBalance: nn.BalanceSampler, Select: nn.SelectBalanced, Schedule: nn.ScheduleCosine, WarmupEpochs: 1,
		WeightDecay: 0.01, AugmentShift: 32, AugmentScale: 0.1, AugmentWander: 0.2, AugmentNoise: 0.05,
		Teacher: teacher, Temperature: 3, Alpha: 0.7, BatchNorm: true, SamplesPerEpoch: 300,
	}
	if r.Recipe != want {
		t.Errorf("recipe %+v, want %+v", r.Recipe, want)
	}
	for _, key := range []string{`"test_balanced_accuracy"`, `"val_balanced_accuracy"`, `"test_per_class"`, `"sensitivity"`, `"positive_predictivity"`, `"class_balance": "sampler"`, `"batch_norm": true`, `"samples_per_epoch": 300`} {
		if !strings.Contains(out, key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
	if len(r.TestPerClass) != 5 {
		t.Fatalf("%d per-class scores, want 5", len(r.TestPerClass))
	}
	support, recall := 0, 0.0
	for i, c := range r.TestPerClass {
		if c.Class != r.Classes[i] {
			t.Errorf("class %d named %q, want %q", i, c.Class, r.Classes[i])
		}
		support += c.Support
		recall += c.Sensitivity
	}
	// The embedded sample's test split: 210 beats, 42 per class, so
	// balanced accuracy equals accuracy.
	if support != 210 || math.Abs(recall/5-r.TestBalancedAccuracy) > 1e-12 || math.Abs(r.TestBalancedAccuracy-r.TestAccuracy) > 1e-12 {
		t.Errorf("support %d, mean Se %g, balanced %g, accuracy %g; want 210 and all three equal",
			support, recall/5, r.TestBalancedAccuracy, r.TestAccuracy)
	}
	if best := r.History[r.BestEpoch-1]; best.ValBalancedAccuracy != r.ValBalancedAccuracy {
		t.Errorf("best epoch's validation balanced accuracy %g, report %g", best.ValBalancedAccuracy, r.ValBalancedAccuracy)
	}

	// The defaults are today's training: no recipe, and the same result
	// as a run that names every default.
	plain, err := run(t, "train", "--arch", "2048x1-128x2-8x4-64x2-5", "--epochs", "2", "--json")
	if err != nil {
		t.Fatal(err)
	}
	named, err := run(t, "train", "--arch", "2048x1-128x2-8x4-64x2-5", "--epochs", "2", "--json",
		"--class-balance", "none", "--select", "accuracy", "--schedule", "constant", "--warmup", "0", "--weight-decay", "0",
		"--augment-shift", "0", "--augment-scale", "0", "--augment-wander", "0", "--augment-noise", "0",
		"--batch-norm=false", "--samples-per-epoch", "0")
	if err != nil {
		t.Fatal(err)
	}
	var a, b trainReport
	if err := json.Unmarshal([]byte(plain), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(named), &b); err != nil {
		t.Fatal(err)
	}
	if a.Recipe != (trainRecipe{}) || a.TestAccuracy != b.TestAccuracy || a.History[1].TrainLoss != b.History[1].TrainLoss {
		t.Errorf("defaults: recipe %+v, test accuracy %g vs %g named, last loss %g vs %g",
			a.Recipe, a.TestAccuracy, b.TestAccuracy, a.History[1].TrainLoss, b.History[1].TrainLoss)
	}
}

// TestTrainRecipeFlagsValidated checks that bad recipe flags are refused
// with the flag's name before the dataset (a missing file) is read.
func TestTrainRecipeFlagsValidated(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.snds")
	base := []string{"train", "--arch", "2048x1-128x2-8x4-64x2-5", "--epochs", "4", "--data", missing}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--class-balance", "oversample"}, `--class-balance "oversample": want "none", "weights" or "sampler"`},
		{[]string{"--select", "f1"}, `--select "f1": want "accuracy" or "balanced"`},
		{[]string{"--schedule", "step"}, `--schedule "step": want "constant" or "cosine"`},
		{[]string{"--warmup", "5"}, "--warmup 5: want 0 ≤ warm-up ≤ the 4 epochs"},
		{[]string{"--warmup", "-1"}, "--warmup -1"},
		{[]string{"--weight-decay", "-0.1"}, "--weight-decay -0.1: want a finite decay ≥ 0"},
		{[]string{"--weight-decay", "2000"}, "--weight-decay 2000: want learning rate × decay < 1"},
		{[]string{"--augment-shift", "-1"}, "--augment-shift -1"},
		{[]string{"--augment-scale", "1"}, "--augment-scale 1: want 0 ≤ scale < 1"},
		{[]string{"--augment-wander", "-2"}, "--augment-wander -2"},
		{[]string{"--augment-noise", "NaN"}, "--augment-noise NaN"},
		{[]string{"--alpha", "0.5"}, "--alpha needs --teacher"},
		{[]string{"--temperature", "2"}, "--temperature needs --teacher"},
		{[]string{"--teacher", missing}, "--teacher " + missing + ": not a model file"},
		{[]string{"--teacher", dir, "--temperature", "0"}, "--temperature 0: want a positive, finite temperature"},
		{[]string{"--teacher", dir, "--alpha", "2"}, "--alpha 2: want 0 ≤ α ≤ 1"},
		{[]string{"--samples-per-epoch", "-1"}, "--samples-per-epoch -1: want ≥ 0 samples"},
		{[]string{"--batch-norm", "--batch", "1"}, "--batch 1: want at least 2 with batch normalisation"},
	} {
		_, err := run(t, append(slices.Clone(base), c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want it to mention %q", c.args, err, c.want)
		}
	}
	// A shift as long as the samples needs the data to be refused.
	if _, err := run(t, "train", "--arch", "2048x1-128x2-8x4-64x2-5", "--epochs", "1", "--augment-shift", "2048"); err == nil ||
		!strings.Contains(err.Error(), "--augment-shift 2048: want a shift below the sample length 2048") {
		t.Errorf("--augment-shift 2048: error %v", err)
	}
}

// TestTrainFlagNames checks that every nn.Config field that can be out of
// range is worded with a flag train has: trainFlag's kebab case and its
// exceptions.
func TestTrainFlagNames(t *testing.T) {
	flags := newTrainCmd().Flags()
	for _, c := range []struct{ field, flag string }{
		{"Epochs", "epochs"}, {"Batch", "batch"}, {"LR", "lr"}, {"Dropout", "dropout"}, {"Patience", "patience"},
		{"ClassBalance", "class-balance"}, {"Select", "select"}, {"Schedule", "schedule"}, {"WarmupEpochs", "warmup"},
		{"WeightDecay", "weight-decay"}, {"AugmentShift", "augment-shift"}, {"AugmentScale", "augment-scale"},
		{"AugmentWander", "augment-wander"}, {"AugmentNoise", "augment-noise"}, {"Alpha", "alpha"},
		{"Teacher", "teacher"}, {"Temperature", "temperature"}, {"BatchNorm", "batch-norm"},
		{"SamplesPerEpoch", "samples-per-epoch"},
	} {
		t.Run(c.field, func(t *testing.T) {
			if got := trainFlag(c.field); got != c.flag {
				t.Errorf("trainFlag(%q) = %q, want %q", c.field, got, c.flag)
			}
			if flags.Lookup(c.flag) == nil {
				t.Errorf("train has no --%s", c.flag)
			}
		})
	}
	for field, want := range map[string]string{"LRSchedule": "lr-schedule", "MaxLR": "max-lr", "X": "x"} {
		if got := trainFlag(field); got != want {
			t.Errorf("trainFlag(%q) = %q, want %q", field, got, want)
		}
	}
}

// TestTrainBatchNorm trains with --batch-norm and --samples-per-epoch and
// --out: the report's params, MACs, Flash and RAM are the plain network's,
// the saved model holds exactly its parameters (batch normalisation
// folded), and scores on the test split what the report says.
func TestTrainBatchNorm(t *testing.T) {
	model := filepath.Join(t.TempDir(), "bn.snnm")
	out, err := run(t, "train", "--arch", "2048x1-128x2-8x4-64x2-5", "--epochs", "3", "--json", "--out", model,
		"--batch-norm", "--samples-per-epoch", "400")
	if err != nil {
		t.Fatal(err)
	}
	var r trainReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if r.Params != 877 || r.MACs != 6272 || r.FlashBytes != 3508 || r.RAMBytes != 9216 {
		t.Errorf("params %d, MACs %d, Flash %d, RAM %d; want 877, 6272, 3508, 9216 as without batch normalisation", r.Params, r.MACs, r.FlashBytes, r.RAMBytes)
	}
	if !r.Recipe.BatchNorm || r.Recipe.SamplesPerEpoch != 400 {
		t.Errorf("recipe %+v, want batch_norm and 400 samples per epoch", r.Recipe)
	}
	m, err := nn.LoadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Params()) != 877 || m.String() != r.Arch {
		t.Errorf("saved model %s with %d parameters, want %s with 877", m, len(m.Params()), r.Arch)
	}
	d, err := sample.Load()
	if err != nil {
		t.Fatal(err)
	}
	met, err := nn.Evaluate(m, d.Part(dataset.Test))
	if err != nil {
		t.Fatal(err)
	}
	if met.Accuracy != r.TestAccuracy {
		t.Errorf("saved model's test accuracy %g, report %g", met.Accuracy, r.TestAccuracy)
	}
	if r.TestAccuracy < 0.3 {
		t.Errorf("test accuracy %.3f after 3 epochs of 400 beats, want ≥ 0.3 (chance 0.2)", r.TestAccuracy)
	}
}
