package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/sample"
	"github.com/splitnas/splitnas/nn"
)

// searchJSON mirrors the documented fields of result.json.
type searchJSON struct {
	Best *struct {
		Arch         string  `json:"arch"`
		Partition    *int    `json:"partition"`
		ValAccuracy  float64 `json:"val_accuracy"`
		TestAccuracy float64 `json:"test_accuracy"`
		Params       int     `json:"params"`
		MACs         int     `json:"macs"`
		FlashBytes   int     `json:"flash_bytes"`
		RAMBytes     int     `json:"ram_bytes"`
		EEdge        float64 `json:"e_edge_mj"`
		ETotal       float64 `json:"e_total_mj"`
		Model        string  `json:"model"`
	} `json:"best"`
	History    []map[string]any `json:"history"`
	Candidates []map[string]any `json:"candidates"`
}

func readResult(t *testing.T, dir string) searchJSON {
	t.Helper()
	var r searchJSON
	readJSON(t, filepath.Join(dir, "result.json"), &r)
	return r
}

// readJSON decodes the JSON file at path into v, failing the test if it
// cannot.
func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

var tinySearch = []string{"search", "--population", "4", "--generations", "2", "--epochs", "1", "--slots", "4"}

func TestSearchCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	out, err := run(t, append(tinySearch, "--out", dir, "--energy-limit", "0.1mJ")...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"best:", "report:  " + filepath.Join(dir, "report.html")} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	r := readResult(t, dir)
	if r.Best == nil || r.Best.Arch == "" || r.Best.Partition == nil || r.Best.Params == 0 || r.Best.EEdge <= 0 || r.Best.EEdge > 0.1 {
		t.Fatalf("best = %+v", r.Best)
	}
	if len(r.History) != 2 || len(r.Candidates) == 0 {
		t.Errorf("%d generations, %d candidates", len(r.History), len(r.Candidates))
	}
	m, err := nn.LoadFile(filepath.Join(dir, r.Best.Model))
	if err != nil {
		t.Fatal(err)
	}
	if m.String() != r.Best.Arch {
		t.Errorf("model file holds %s, best is %s", m.String(), r.Best.Arch)
	}
	if fi, err := os.Stat(filepath.Join(dir, "report.html")); err != nil || fi.Size() == 0 {
		t.Errorf("report.html: %v", err)
	}

	// The directory holds a search: a new one there is refused…
	if _, err := run(t, append(tinySearch, "--out", dir)...); err == nil || !strings.Contains(err.Error(), "--resume "+dir) {
		t.Errorf("second search into %s: %v", dir, err)
	}
	// …resuming it with its own flags ends with the same best…
	before := readResult(t, dir).Best
	if _, err := run(t, "search", "--resume", dir, "--workers", "1"); err != nil {
		t.Fatal(err)
	}
	if after := readResult(t, dir).Best; !reflect.DeepEqual(before, after) {
		t.Errorf("resumed best %+v, was %+v", after, before)
	}
	// …and with a flag that changes the result, it is refused.
	if _, err := run(t, "search", "--resume", dir, "--population", "6"); err == nil || !strings.Contains(err.Error(), "population 4, now 6") {
		t.Errorf("resume with another population: %v", err)
	}
}

// Bad flags are refused with the flag's name, a non-zero exit and no
// panic, and before anything is written to --out.
func TestSearchBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--ram-limit", "4KiB"}, "impossible budget: the RAM limit (4096 B) is below the input buffer (8192 B"},
		{[]string{"--energy-limit", "1uJ"}, "impossible budget: the energy limit"},
		{[]string{"--energy-limit", "cheap"}, `--energy-limit "cheap": not an energy`},
		{[]string{"--strategy", "greedy"}, `--strategy: unknown strategy "greedy"`},
		{[]string{"--pick-by", "a"}, `--pick-by: unknown final pick "a" (want b or ab)`},
		{[]string{"--final-ema", "0.99"}, "--final-ema 0.99 goes with --final-epochs"},
		{[]string{"--cv-top", "3"}, "--cv-top 3 goes with --cv-folds"},
		{[]string{"--cv-folds", "1"}, "--cv-folds 1: want 0 (off) or at least 2 folds"},
		{[]string{"--final-ema", "1", "--final-epochs", "5"}, "--final-ema 1: want a decay 0 ≤ d < 1"},
		{[]string{"--ema", "-0.5"}, "--ema -0.5: want a decay 0 ≤ d < 1"},
		{[]string{"--ties", "size"}, `--ties: unknown tie-break "size" (want loss or energy)`},
		{[]string{"--population", "1"}, "--population 1: want at least 2"},
		{[]string{"--slots", "0"}, "--slots 0: want at least 1"},
		{[]string{"--mutation", "2"}, "--mutation 2: want 0…1"},
		{[]string{"--elite", "4"}, "--elite 4: want 0 ≤ elite < population 4"},
		{[]string{"--workers", "-1"}, "--workers -1"},
		{[]string{"--epochs", "0"}, "--epochs 0: want at least 1"},
		{[]string{"--lr", "NaN"}, "--lr NaN"},
		{[]string{"--channels", "4,4"}, "--channels: arch: space: Channels lists 4 twice"},
		{[]string{"--channels", "4,x"}, `--channels "4,x": "x" is not a number`},
		{[]string{"--lengths", "100,0"}, "--lengths: arch: space: Lengths[0] = 100 and InputLength 2048 do not divide"},
		{[]string{"--overlap", "0"}, "--overlap: arch: space: Kernel: Overlap 0 must be positive"},
		{[]string{"--same-kernel", "2"}, "--same-kernel: arch: space: Kernel: Same 2 must be odd"},
		{[]string{"--data", "/nonexistent.snds"}, "/nonexistent.snds"},
		{[]string{"--resume", "/nonexistent-dir"}, "--resume /nonexistent-dir"},
		{[]string{"--prune-sparsity", "0.3"}, "--prune-sparsity, --prune-epochs, --prune-stages and --prune-scope go with --prune"},
		{[]string{"--prune", "cut"}, `--prune: unknown pruning method "cut"`},
		{[]string{"--prune", "magnitude", "--prune-stages", "0"}, "--prune-stages 0: want at least 1"},
		{[]string{"--prune", "channel", "--prune-sparsity", "1"}, "--prune-sparsity 1: want a fraction"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			args := append([]string{}, tinySearch...)
			out := filepath.Join(t.TempDir(), "s")
			if c.args[0] != "--resume" {
				args = append(args, "--out", out)
			}
			_, stderr, code := runProcess(t, append(args, c.args...)...)
			if code == 0 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "panic") {
				t.Errorf("search %v: exit %d, stderr %q; want non-zero and %q", c.args, code, stderr, c.want)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("search %v was refused but created %s (%v)", c.args, out, err)
			}
		})
	}
}

// A resume on data whose content changed (same file name) is refused,
// naming the data hash, with what to do.
func TestSearchResumeChangedData(t *testing.T) {
	tmp := t.TempDir()
	data, dir := filepath.Join(tmp, "d.snds"), filepath.Join(tmp, "s")
	d, err := sample.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := dataset.Save(data, d, dataset.F32); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "search", "--population", "4", "--generations", "1", "--epochs", "1", "--slots", "4",
		"--data", data, "--out", dir); err != nil {
		t.Fatal(err)
	}
	d.X[0] += 1
	if err := dataset.Save(data, d, dataset.F32); err != nil {
		t.Fatal(err)
	}
	_, err = run(t, "search", "--resume", dir)
	if err == nil || !strings.Contains(err.Error(), "data_sha256") || !strings.Contains(err.Error(), "resume with the original flags") {
		t.Errorf("resume on changed data: %v", err)
	}
}

// --final-epochs retrains the winner; result.json keeps the runs and the
// search-time scores, and the summary says which run was kept.
func TestSearchFinalTraining(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	out, err := run(t, append(tinySearch, "--out", dir, "--final-epochs", "2", "--final-seeds", "2")...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "final training (2 runs of 2 epochs, run ") {
		t.Errorf("output does not report the final training:\n%s", out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Best struct {
			ValAccuracy float64 `json:"val_accuracy"`
			Final       *struct {
				Epochs int `json:"epochs"`
				Runs   []struct {
					ValBAccuracy float64 `json:"val_b_accuracy"`
				} `json:"runs"`
				Chosen int `json:"chosen"`
			} `json:"final"`
		} `json:"best"`
		Settings map[string]any `json:"settings"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if f := r.Best.Final; f == nil || f.Epochs != 2 || len(f.Runs) != 2 || f.Chosen < 0 || f.Chosen > 1 {
		t.Fatalf("best.final = %+v", f)
	}
	if r.Settings["final_epochs"] != 2.0 || r.Settings["final_seeds"] != 2.0 {
		t.Errorf("settings final_epochs %v, final_seeds %v", r.Settings["final_epochs"], r.Settings["final_seeds"])
	}
	if _, err := run(t, append(tinySearch, "--out", filepath.Join(t.TempDir(), "x"), "--final-epochs", "-1")...); err == nil ||
		!strings.Contains(err.Error(), "--final-epochs -1") {
		t.Errorf("--final-epochs -1: %v", err)
	}
}

// --overlap and --lr take one value (fixed) or a list (searched); the
// result says what each candidate got.
func TestSearchOverlapAndLRLists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	if _, err := run(t, append(tinySearch, "--out", dir, "--overlap", "1,2", "--lr", "0.001,0.003")...); err != nil {
		t.Fatal(err)
	}
	var r struct {
		Candidates []struct {
			Arch   string  `json:"arch"`
			LR     float64 `json:"lr"`
			Genome struct {
				Overlap int
			} `json:"genome"`
		} `json:"candidates"`
		Settings struct {
			LearningRates []float64 `json:"learning_rates"`
			Space         string    `json:"space"`
		} `json:"settings"`
	}
	readJSON(t, filepath.Join(dir, "result.json"), &r)
	for _, c := range r.Candidates {
		if (c.LR != 0.001 && c.LR != 0.003) || (c.Genome.Overlap != 1 && c.Genome.Overlap != 2) {
			t.Errorf("candidate %s: lr %v, overlap %d", c.Arch, c.LR, c.Genome.Overlap)
		}
	}
	if len(r.Settings.LearningRates) != 2 || !strings.Contains(r.Settings.Space, "overlaps searched [1 2]") {
		t.Errorf("settings %+v", r.Settings)
	}
	// …and the resume restores both lists from flags.json.
	if _, err := run(t, "search", "--resume", dir); err != nil {
		t.Errorf("resume of a search with lists: %v", err)
	}
	for _, c := range []struct{ args []string }{
		{[]string{"--overlap", "1,x"}}, {[]string{"--lr", "0.001,"}},
	} {
		if _, err := run(t, append(append(tinySearch, "--out", filepath.Join(t.TempDir(), "x")), c.args...)...); err == nil ||
			!strings.Contains(err.Error(), c.args[0]) {
			t.Errorf("%v: %v, want an error naming %s", c.args, err, c.args[0])
		}
	}
}

// search takes train's recipe flags: a teacher written by train --out, the
// metric (auto: accuracy on the balanced sample), and the rest, recorded
// in result.json.
func TestSearchRecipeFlags(t *testing.T) {
	tmp := t.TempDir()
	teacher := filepath.Join(tmp, "teacher.model")
	if _, err := run(t, "train", "--arch", "2048x1-128x4-32x4-5", "--epochs", "2", "--out", teacher); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "s")
	out, err := run(t, append(tinySearch, "--out", dir, "--teacher", teacher, "--temperature", "3", "--alpha", "0.6",
		"--schedule", "cosine", "--warmup", "1", "--augment-scale", "0.1", "--class-balance", "weights",
		"--batch-norm", "--samples-per-epoch", "200")...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "test balanced accuracy") {
		t.Errorf("output lacks the balanced accuracy:\n%s", out)
	}
	var r struct {
		Settings struct {
			Metric string         `json:"metric"`
			Recipe map[string]any `json:"recipe"`
		} `json:"settings"`
	}
	readJSON(t, filepath.Join(dir, "result.json"), &r)
	rec := r.Settings.Recipe
	if r.Settings.Metric != "accuracy" || rec["teacher"] != "2048x1-128x4-32x4-5" || rec["temperature"] != 3.0 || rec["alpha"] != 0.6 ||
		rec["schedule"] != "cosine" || rec["class_balance"] != "weights" || rec["augment_scale"] != 0.1 ||
		rec["batch_norm"] != true || rec["samples_per_epoch"] != 200.0 {
		t.Errorf("settings: metric %q, recipe %v", r.Settings.Metric, rec)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--select", "median"}, "--select"},
		{[]string{"--alpha", "0.5"}, "--alpha needs --teacher"},
		{[]string{"--teacher", filepath.Join(tmp, "none.model")}, "--teacher"},
		{[]string{"--teacher", teacher, "--temperature", "0"}, "--temperature"},
	} {
		if _, err := run(t, append(append(tinySearch, "--out", filepath.Join(tmp, "x")), c.args...)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error naming %s", c.args, err, c.want)
		}
		if _, err := os.Stat(filepath.Join(tmp, "x")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%v: refused, but --out was created", c.args)
		}
	}
}

// --halving-rungs and --halving-eta set successive halving; result.json
// holds the schedule, and impossible schedules name the flag.
func TestSearchHalvingFlags(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	if _, err := run(t, "search", "--population", "6", "--generations", "1", "--epochs", "4", "--slots", "4",
		"--halving-rungs", "3", "--halving-eta", "2", "--out", dir); err != nil {
		t.Fatal(err)
	}
	var r struct {
		Settings struct {
			RungEpochs []int `json:"rung_epochs"`
			Eta        int   `json:"eta"`
		} `json:"settings"`
		History []struct {
			TrainedPerRung []int `json:"trained_per_rung"`
		} `json:"history"`
	}
	readJSON(t, filepath.Join(dir, "result.json"), &r)
	if fmt.Sprint(r.Settings.RungEpochs) != "[1 2 4]" || r.Settings.Eta != 2 || len(r.History) != 1 || len(r.History[0].TrainedPerRung) != 3 {
		t.Errorf("settings %+v, history %+v", r.Settings, r.History)
	}
	for _, c := range []struct{ args []string }{
		{[]string{"--halving-rungs", "3", "--halving-eta", "1"}},
		{[]string{"--halving-rungs", "5", "--halving-eta", "2"}},
	} {
		_, err := run(t, append(append(tinySearch, "--out", filepath.Join(t.TempDir(), "x")), c.args...)...)
		if err == nil || !strings.Contains(err.Error(), "--halving-") {
			t.Errorf("%v: %v", c.args, err)
		}
	}
}
