package search

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/partition"
	"github.com/splitnas/splitnas/prune"
)

// waves is a small 3-class task: sinusoids of three frequencies in noise,
// 256 samples long, 60 per class split 36/12/12.
func waves(t testing.TB) *dataset.Dataset {
	t.Helper()
	const length = 256
	d := dataset.New([]string{"slow", "mid", "fast"}, 1, length)
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, length)
	for class, freq := range []float64{2, 5, 11} {
		for i := range 60 {
			phase := rng.Float64() * 2 * math.Pi
			for j := range x {
				x[j] = float32(math.Sin(2*math.Pi*freq*float64(j)/length+phase) + 0.5*rng.NormFloat64())
			}
			if err := d.Add(x, class, "r"); err != nil {
				t.Fatal(err)
			}
			switch {
			case i >= 48:
				d.Splits[len(d.Splits)-1] = dataset.Test
			case i >= 36:
				d.Splits[len(d.Splits)-1] = dataset.Val
			}
		}
	}
	return d
}

// smallConfig is a search that takes a second or two.
func smallConfig(t testing.TB) Config {
	t.Helper()
	prof, err := hw.Load("stm32l476")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig(3)
	cfg.Space = arch.Space{
		InputLength: 256, InputChannels: 1, Classes: 3, Slots: 3,
		Lengths: []int{128, 32, 8, 0}, Channels: []int{4, 2, 1}, Kernel: arch.DefaultKernelRule(),
	}
	cfg.Profile = prof
	cfg.Population, cfg.Generations, cfg.Elite = 6, 3, 1
	cfg.Train.Epochs, cfg.Train.LR = 3, 0.01
	cfg.Seed = 5
	return cfg
}

// timeless drops the fields that measure wall time.
func timeless(r *Result) *Result {
	c := *r
	c.Seconds = 0
	c.History = append([]Generation(nil), r.History...)
	for i := range c.History {
		c.History[i].Seconds = 0
	}
	c.Candidates = append([]Candidate(nil), r.Candidates...)
	for i := range c.Candidates {
		c.Candidates[i].TrainSeconds = 0
	}
	return &c
}

func TestFitness(t *testing.T) {
	const bound, limit = 0.2, 1.0
	pop := []Member{
		{Accuracy: 0.9, Energy: 0.5, Valid: true},
		{Accuracy: 0.6, Energy: 0.8, Valid: true},
		{Accuracy: 0.95, Energy: 1.5, Valid: false}, // just over: just under 0.6
		{Accuracy: 0.99, Energy: 3.0, Valid: false}, // the most wasteful: the bound
		{Accuracy: 0.50, Energy: 2.0, Valid: false},
	}
	fit := Fitness(pop, bound, limit)
	want := []float64{0.9, 0.6, 0.6 - 0.4/2*0.5, 0.2, 0.6 - 0.4/2*1}
	for i := range want {
		if math.Abs(fit[i]-want[i]) > 1e-12 {
			t.Errorf("fitness[%d] = %v, want %v", i, fit[i], want[i])
		}
	}
	for i := 2; i < len(pop); i++ {
		if fit[i] >= 0.6 {
			t.Errorf("invalid member %d has fitness %v ≥ the worst valid one", i, fit[i])
		}
	}

	// No valid member: ranked by energy alone, from just under 1 to the bound.
	fit = Fitness([]Member{{Accuracy: 0.9, Energy: 4}, {Accuracy: 0.1, Energy: 2}}, bound, limit)
	if !(fit[1] > fit[0]) || math.Abs(fit[0]-bound) > 1e-12 || math.Abs(fit[1]-(1-0.8/3)) > 1e-12 {
		t.Errorf("no valid member: fitness %v", fit)
	}
	// A single invalid member scores the bound.
	fit = Fitness([]Member{{Accuracy: 0.7, Valid: true}, {Accuracy: 0.9, Energy: 1.01}}, bound, limit)
	if fit[1] != bound {
		t.Errorf("single invalid member: %v, want %v", fit[1], bound)
	}
	// Valid members worse than chance: invalid ones stay below them.
	fit = Fitness([]Member{{Accuracy: 0.1, Valid: true}, {Accuracy: 0.9, Energy: 1.5}, {Accuracy: 0.9, Energy: 2}}, bound, limit)
	if fit[1] > 0.1 || fit[2] > 0.1 {
		t.Errorf("valid below chance: %v", fit)
	}
}

func TestSearchFindsValidModel(t *testing.T) {
	cfg := smallConfig(t)
	var trained atomic.Int32
	cfg.OnTrained = func(Candidate) { trained.Add(1) }
	r, err := Run(context.Background(), cfg, waves(t))
	if err != nil {
		t.Fatal(err)
	}
	if r.Best == nil || r.Best.TestAccuracy < 0.6 {
		t.Fatalf("best = %+v, want test accuracy ≥ 0.6 on an easy task", r.Best)
	}
	if len(r.History) != cfg.Generations {
		t.Errorf("%d generations in the history, want %d", len(r.History), cfg.Generations)
	}
	// Each architecture is trained once, however often it is proposed.
	seen := map[string]bool{}
	nTrained := 0
	for _, c := range r.Candidates {
		if seen[c.Arch] {
			t.Errorf("architecture %s listed twice", c.Arch)
		}
		seen[c.Arch] = true
		if c.BestEpoch > 0 {
			nTrained++
		}
	}
	if int(trained.Load()) != nTrained {
		t.Errorf("%d trainings for %d trained candidates", trained.Load(), nTrained)
	}
	// The best is the valid candidate with the highest validation-B accuracy.
	for _, c := range r.Candidates {
		if c.Status == Valid && c.ValBAccuracy > r.Best.ValBAccuracy {
			t.Errorf("candidate %s has validation-B accuracy %v > best's %v", c.Arch, c.ValBAccuracy, r.Best.ValBAccuracy)
		}
	}
	// Its partition is its optimal split point.
	p := r.Best.Partitions[r.Best.Partition]
	for _, q := range r.Best.Partitions {
		if q.Valid && q.EEdge < p.EEdge {
			t.Errorf("best split P=%d (%v mJ) is not optimal: P=%d has %v mJ", p.P, p.EEdge, q.P, q.EEdge)
		}
	}
}

// The same seed gives the same search whatever the number of workers.
func TestDeterministicAcrossWorkers(t *testing.T) {
	d := waves(t)
	var results []*Result
	for _, w := range []int{1, 3} {
		cfg := smallConfig(t)
		cfg.Workers = w
		r, err := Run(context.Background(), cfg, d)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, timeless(r))
	}
	if !reflect.DeepEqual(results[0], results[1]) {
		t.Errorf("1 worker and 3 workers differ:\n%+v\n%+v", results[0].Best, results[1].Best)
	}
}

// Killing a search after a generation and resuming it gives the same result
// as an uninterrupted run.
func TestResume(t *testing.T) {
	d := waves(t)
	cfg := smallConfig(t)
	cfg.Generations = 4
	cfg.Dir = t.TempDir()
	whole, err := Run(context.Background(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}

	for _, stopAfter := range []int{0, 2} {
		cfg.Dir = t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		cfg.OnGeneration = func(g Generation) {
			if g.Index == stopAfter {
				cancel() // as Ctrl-C would, while the next generation trains
			}
		}
		_, err = Run(ctx, cfg, d)
		cancel()
		var ie *InterruptedError
		if !errors.Is(err, context.Canceled) || !errors.As(err, &ie) || ie.Dir != cfg.Dir || ie.Finished != stopAfter+1 {
			t.Fatalf("interrupted run: error %v (%+v), want context.Canceled in an InterruptedError naming %s and %d finished generations",
				err, ie, cfg.Dir, stopAfter+1)
		}
		if _, err := os.Stat(filepath.Join(cfg.Dir, CheckpointFile)); err != nil {
			t.Fatal(err)
		}
		cfg.OnGeneration = nil
		cfg.Resume = true
		cfg.Workers = 1 // a different worker count must not matter either
		resumed, err := Run(context.Background(), cfg, d)
		cfg.Resume, cfg.Workers = false, 0
		if err != nil {
			t.Fatal(err)
		}
		a, b := timeless(whole), timeless(resumed)
		if !reflect.DeepEqual(a.Best, b.Best) {
			t.Errorf("stopped after generation %d: resumed best %+v, uninterrupted %+v", stopAfter, b.Best, a.Best)
		}
		if !reflect.DeepEqual(a.Candidates, b.Candidates) || !reflect.DeepEqual(a.History, b.History) {
			t.Errorf("stopped after generation %d: resumed candidates or history differ", stopAfter)
		}
	}
}

// A resume is refused, naming the setting, whenever something that alters
// the result changed: a flag, the data's content, the profile's content or
// the patience; not when only the data's name changed.
func TestResumeWithOtherSettings(t *testing.T) {
	d := waves(t)
	cfg := smallConfig(t)
	cfg.Generations = 1
	cfg.Dir = t.TempDir()
	cfg.DataName = "waves.snds"
	if _, err := Run(context.Background(), cfg, d); err != nil {
		t.Fatal(err)
	}
	cfg.Resume = true
	for _, c := range []struct {
		name    string
		setting string
		edit    func(*Config, *dataset.Dataset)
	}{
		{"population", "population", func(c *Config, _ *dataset.Dataset) { c.Population = 8 }},
		{"patience", "patience", func(c *Config, _ *dataset.Dataset) { c.Train.Patience = 2 }},
		{"ties", "ties", func(c *Config, _ *dataset.Dataset) { c.Ties = TiesLoss }},
		{"pick by", "pick_by", func(c *Config, _ *dataset.Dataset) { c.PickBy = PickAB }},
		{"one sample value", "data_sha256", func(_ *Config, d *dataset.Dataset) { d.X[17] += 0.5 }},
		{"one label", "data_sha256", func(_ *Config, d *dataset.Dataset) { d.Labels[3] = (d.Labels[3] + 1) % 3 }},
		{"profile contents under the same name", "profile_sha256", func(c *Config, _ *dataset.Dataset) {
			m := c.Profile.Edge.Latency["conv1d"]
			m.PerMAC *= 1.01
			lat := maps.Clone(c.Profile.Edge.Latency)
			lat["conv1d"] = m
			c.Profile.Edge.Latency = lat
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, d := cfg, waves(t)
			c.edit(&cfg, d)
			_, err := Run(context.Background(), cfg, d)
			var sce *SettingsChangedError
			if !errors.As(err, &sce) || !sce.Changed(c.setting) || len(sce.Changes) != 1 {
				t.Fatalf("error = %v, want a SettingsChangedError naming only %s", err, c.setting)
			}
			if !strings.Contains(err.Error(), c.setting) {
				t.Errorf("error %q does not name %s", err, c.setting)
			}
		})
	}
	t.Run("cross-validation", func(t *testing.T) {
		cfg := cfg
		cfg.CVFolds = 3
		_, err := Run(context.Background(), cfg, waves(t))
		var sce *SettingsChangedError
		if !errors.As(err, &sce) || !sce.Changed("cv_folds") || !sce.Changed("cv_top") || len(sce.Changes) != 2 {
			t.Fatalf("error = %v, want a SettingsChangedError naming cv_folds and cv_top", err)
		}
	})
	t.Run("checkpoint from before --ties and --pick-by", func(t *testing.T) {
		// Written without the settings: the order then was TiesEnergy's,
		// the pick PickB's.
		path := filepath.Join(cfg.Dir, CheckpointFile)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		old := string(b)
		for _, field := range []string{`"ties": "energy",`, `"pick_by": "b",`} {
			if !strings.Contains(old, field) {
				t.Fatalf("the checkpoint holds no %s", field)
			}
			old = strings.Replace(old, field, "", 1)
		}
		if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Run(context.Background(), cfg, waves(t)); err != nil {
			t.Errorf("resume of a checkpoint without ties and pick_by: %v", err)
		}
	})
	t.Run("data renamed", func(t *testing.T) {
		cfg := cfg
		cfg.DataName = "moved/waves.snds"
		if _, err := Run(context.Background(), cfg, waves(t)); err != nil {
			t.Errorf("resume with the same data under another name: %v", err)
		}
	})
	t.Run("empty directory", func(t *testing.T) {
		cfg := cfg
		cfg.Dir = t.TempDir()
		if _, err := Run(context.Background(), cfg, d); err == nil || !strings.Contains(err.Error(), CheckpointFile) {
			t.Errorf("resume from an empty directory: error = %v", err)
		}
	})
}

func TestImpossibleBudgets(t *testing.T) {
	d := waves(t)
	cfg := smallConfig(t)
	cfg.Limits = partition.Limits{RAMBytes: 512} // the input alone is 1024 B
	_, err := Run(context.Background(), cfg, d)
	if !errors.Is(err, ErrImpossibleBudget) || !strings.Contains(err.Error(), "impossible budget: the RAM limit (512 B) is below the input buffer (1024 B") {
		t.Errorf("RAM below the input: %v", err)
	}

	cfg = smallConfig(t)
	cfg.EnergyLimitMJ = 1e-6
	_, err = Run(context.Background(), cfg, d)
	if !errors.Is(err, ErrImpossibleBudget) || !strings.Contains(err.Error(), "impossible budget: the energy limit (1e-06 mJ) is below the radio cost") {
		t.Errorf("tiny energy limit: %v", err)
	}

	// Sequential keeps the whole network on the edge, so a RAM limit just
	// above the input abandons everything but a lone Dense layer; with
	// that excluded too the search must say the budget is impossible.
	cfg = smallConfig(t)
	cfg.Strategy = Sequential
	cfg.Space.Lengths = []int{128, 32, 8}         // no skips: every net has hidden layers
	cfg.Limits = partition.Limits{RAMBytes: 1030} // input 1024 B + the smallest hidden tensor 32 B
	_, err = Run(context.Background(), cfg, d)
	if !errors.Is(err, ErrImpossibleBudget) || !strings.Contains(err.Error(), "RAM") {
		t.Errorf("sequential, tight RAM: %v", err)
	}
}

// An energy limit every candidate exceeds ends with ErrNoValid and the
// partial result, not an empty success.
func TestNoValidCandidate(t *testing.T) {
	cfg := smallConfig(t)
	cfg.Generations = 1
	cfg.Scenario = partition.Total
	cfg.EnergyLimitMJ = 0.0115 // above sending 3 scores (0.0112 mJ), below any network's compute + send
	r, err := Run(context.Background(), cfg, waves(t))
	var nve *NoValidError
	if !errors.Is(err, ErrNoValid) || !errors.As(err, &nve) || nve.LowestArch == "" || !(nve.LowestEnergyMJ > cfg.EnergyLimitMJ) ||
		nve.OverEnergy == 0 || nve.Trained != nve.OverEnergy || !strings.Contains(err.Error(), "lowest total energy found was") {
		t.Fatalf("error = %v (%+v), want ErrNoValid naming the lowest energy", err, nve)
	}
	if r == nil || len(r.Candidates) == 0 || r.Best != nil {
		t.Fatalf("partial result = %+v", r)
	}
	for _, c := range r.Candidates {
		if c.Status != OverEnergy || c.BestEpoch == 0 {
			t.Errorf("candidate %s: status %s, trained %v; want over_energy and trained", c.Arch, c.Status, c.BestEpoch > 0)
		}
	}
}

func TestStrategies(t *testing.T) {
	d := waves(t)
	for _, st := range []Strategy{Random, Sequential} {
		cfg := smallConfig(t)
		cfg.Strategy = st
		r, err := Run(context.Background(), cfg, d)
		if err != nil {
			t.Fatalf("%s: %v", st, err)
		}
		if r.Best == nil || r.Settings.Strategy != string(st) {
			t.Fatalf("%s: best %+v", st, r.Best)
		}
		if st == Sequential {
			// Searched unsplit, every candidate sits at its last point…
			for _, c := range r.Candidates {
				net, err := cfg.Space.Decode(c.Genome)
				if err != nil {
					t.Fatal(err)
				}
				if c.Status != Abandoned && c.Partition != len(net.Layers) {
					t.Errorf("sequential candidate %s at P=%d, want %d", c.Arch, c.Partition, len(net.Layers))
				}
			}
			// …and the winner is split optimally afterwards.
			for _, q := range r.Best.Partitions {
				if q.Valid && q.EEdge < r.Best.EEdge {
					t.Errorf("sequential winner not split optimally: P=%d has %v < %v mJ", q.P, q.EEdge, r.Best.EEdge)
				}
			}
		}
	}
	if _, err := ParseStrategy("greedy"); err == nil || !strings.Contains(err.Error(), `"greedy"`) {
		t.Errorf("ParseStrategy(greedy) = %v", err)
	}
}

// Every impossible configuration is refused by Validate (and so by Run)
// with a ConfigError naming the field, before anything is written.
func TestBadConfig(t *testing.T) {
	for _, c := range []struct {
		field string
		edit  func(*Config, *dataset.Dataset)
		want  string
	}{
		{"Population", func(c *Config, _ *dataset.Dataset) { c.Population = 1 }, "Population 1"},
		{"Generations", func(c *Config, _ *dataset.Dataset) { c.Generations = 0 }, "Generations 0"},
		{"Elite", func(c *Config, _ *dataset.Dataset) { c.Elite = 6 }, "Elite 6"},
		{"Space.Slots", func(c *Config, _ *dataset.Dataset) { c.Space.Slots = 0 }, "Space.Slots 0: want at least 1"},
		{"MutationRate", func(c *Config, _ *dataset.Dataset) { c.MutationRate = math.Inf(1) }, "MutationRate +Inf"},
		{"EnergyLimitMJ", func(c *Config, _ *dataset.Dataset) { c.EnergyLimitMJ = math.Inf(1) }, "EnergyLimitMJ +Inf"},
		{"Space", func(c *Config, _ *dataset.Dataset) { c.Space.InputLength = 512 }, "does not match the data"},
		{"Strategy", func(c *Config, _ *dataset.Dataset) { c.Strategy = "x" }, `unknown strategy "x"`},
		{"Scenario", func(c *Config, _ *dataset.Dataset) { c.Scenario = 7 }, "Scenario"},
		{"Resume", func(c *Config, _ *dataset.Dataset) { c.Resume, c.Dir = true, "" }, "needs Dir"},
		{"Profile", func(c *Config, _ *dataset.Dataset) { c.Profile.Radio.PayloadBytesPerPacket = 0 }, "Profile"},
		{"Profile", func(c *Config, _ *dataset.Dataset) { c.Profile.Fog = hw.Fog{} }, "Profile"},
		{"Train", func(c *Config, _ *dataset.Dataset) { c.Train.Epochs = 0 }, "Train"},
		{"FinalEpochs", func(c *Config, _ *dataset.Dataset) { c.FinalEpochs = -1 }, "FinalEpochs -1"},
		{"FinalSeeds", func(c *Config, _ *dataset.Dataset) { c.FinalSeeds = -2 }, "FinalSeeds -2"},
		{"data", func(_ *Config, d *dataset.Dataset) { d.Records = d.Records[:10] }, "data"},
		{"data", func(_ *Config, d *dataset.Dataset) { d.Splits = d.Splits[:5] }, "data"},
	} {
		t.Run(c.want, func(t *testing.T) {
			d := waves(t)
			cfg := smallConfig(t)
			cfg.Dir = filepath.Join(t.TempDir(), "out")
			c.edit(&cfg, d)
			verr := cfg.Validate(d)
			_, err := Run(context.Background(), cfg, d)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != c.field || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Run: error = %v, want a ConfigError for %s containing %q", err, c.field, c.want)
			}
			if verr == nil || verr.Error() != ce.Error() {
				t.Errorf("Validate: %v, want the error Run gives: %v", verr, ce)
			}
			if _, err := os.Stat(cfg.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused configuration wrote %s (%v)", cfg.Dir, err)
			}
		})
	}
	if err := smallConfig(t).Validate(nil); err == nil {
		t.Error("Validate(nil data) = nil")
	}
}

// A final training retrains the chosen architecture FinalSeeds times for
// FinalEpochs epochs, keeps the run with the best validation-B accuracy,
// scores that model on the test split and saves it, for any worker count.
func TestFinalTraining(t *testing.T) {
	d := waves(t)
	cfg := smallConfig(t)
	cfg.FinalEpochs, cfg.FinalSeeds = 6, 3
	var results []*Result
	for _, workers := range []int{1, 3} {
		cfg.Workers, cfg.Dir = workers, t.TempDir()
		r, err := Run(context.Background(), cfg, d)
		if err != nil {
			t.Fatal(err)
		}
		f := r.Best.Final
		if f == nil || f.Epochs != 6 || len(f.Runs) != 3 {
			t.Fatalf("final = %+v, want 3 runs of 6 epochs", f)
		}
		seeds := map[uint64]bool{}
		for k, run := range f.Runs {
			ch := f.Runs[f.Chosen]
			if run.ValBAccuracy > ch.ValBAccuracy || (run.ValBAccuracy == ch.ValBAccuracy && run.ValBLoss < ch.ValBLoss) {
				t.Errorf("run %d (B %.4f, loss %.4f) beats the chosen run %d (B %.4f, loss %.4f)",
					k, run.ValBAccuracy, run.ValBLoss, f.Chosen, ch.ValBAccuracy, ch.ValBLoss)
			}
			if !(run.ValLoss > 0 && run.ValBLoss > 0) {
				t.Errorf("run %d: validation losses %v and %v, want both recorded", k, run.ValLoss, run.ValBLoss)
			}
			if run.BestEpoch < 1 || run.BestEpoch > 6 {
				t.Errorf("run %d: best epoch %d, want 1…6", k, run.BestEpoch)
			}
			seeds[run.Seed] = true
		}
		if len(seeds) != 3 {
			t.Errorf("final runs share seeds: %+v", f.Runs)
		}
		// The saved model is the chosen run's, and the test score is its.
		m, err := nn.LoadFile(filepath.Join(cfg.Dir, ModelFile))
		if err != nil {
			t.Fatal(err)
		}
		met, err := nn.Evaluate(m, d.Part(dataset.Test))
		if err != nil {
			t.Fatal(err)
		}
		if met.Accuracy != r.Best.TestAccuracy {
			t.Errorf("saved model scores %.4f on test, result says %.4f", met.Accuracy, r.Best.TestAccuracy)
		}
		// The search-time scores stay those of the candidate.
		for _, c := range r.Candidates {
			if c.Status != Abandoned && !(c.ValLoss > 0 && c.ValBLoss > 0) {
				t.Errorf("candidate %s: validation losses %v and %v, want both recorded", c.Arch, c.ValLoss, c.ValBLoss)
			}
			if c.Arch == r.Best.Arch && (c.ValAccuracy != r.Best.ValAccuracy || c.ValBAccuracy != r.Best.ValBAccuracy) {
				t.Errorf("best's search-time scores %.4f/%.4f differ from its candidate's %.4f/%.4f",
					r.Best.ValAccuracy, r.Best.ValBAccuracy, c.ValAccuracy, c.ValBAccuracy)
			}
		}
		results = append(results, timeless(r))
	}
	for i := range results[0].Best.Final.Runs {
		results[0].Best.Final.Runs[i].Seconds, results[1].Best.Final.Runs[i].Seconds = 0, 0
	}
	if !reflect.DeepEqual(results[0].Best, results[1].Best) {
		t.Errorf("final training depends on the worker count:\n%+v\n%+v", results[0].Best.Final, results[1].Best.Final)
	}
	t.Run("weight average", func(t *testing.T) {
		// FinalEMA averages the final runs' weights and nothing else:
		// the search is the same, the final runs (same seeds) are not.
		cfg := cfg
		cfg.Workers, cfg.Dir, cfg.FinalEMA = 2, t.TempDir(), 0.9
		r, err := Run(context.Background(), cfg, d)
		if err != nil {
			t.Fatal(err)
		}
		if r.Settings.FinalEMA != 0.9 || r.Settings.Recipe.EMA != 0 {
			t.Errorf("settings: final_ema %v, ema %v; want 0.9 and 0", r.Settings.FinalEMA, r.Settings.Recipe.EMA)
		}
		if !reflect.DeepEqual(timeless(r).Candidates, results[0].Candidates) {
			t.Error("the search's candidates changed with FinalEMA")
		}
		plain := results[0].Best.Final.Runs
		same := 0
		for k, run := range r.Best.Final.Runs {
			if run.Seed != plain[k].Seed {
				t.Errorf("run %d: seed %d, want %d as without the average", k, run.Seed, plain[k].Seed)
			}
			if run.ValLoss == plain[k].ValLoss {
				same++
			}
		}
		if same == len(plain) {
			t.Error("every final run scores the same validation loss with and without the weight average")
		}
	})
}

// With the overlap and the learning rate searched, each candidate records
// its choices — the overlap in its genome and its text form, the learning
// rate in LR — its costs follow its actual kernels, its training uses its
// learning rate, and the result is the same for any worker count.
func TestSearchedOverlapAndLR(t *testing.T) {
	d := waves(t)
	cfg := smallConfig(t)
	cfg.Space.Overlaps = []int{1, 2}
	cfg.LearningRates = []float64{0.003, 0.01}
	cfg.Generations = 3
	var results []*Result
	for _, workers := range []int{1, 2} {
		cfg.Workers, cfg.Dir = workers, t.TempDir()
		r, err := Run(context.Background(), cfg, d)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, timeless(r))
		seen := map[int]bool{}
		lrs := map[float64]bool{}
		keys := map[string]bool{}
		for _, c := range r.Candidates {
			if !slices.Contains(cfg.LearningRates, c.LR) || !slices.Contains(cfg.Space.Overlaps, c.Genome.Overlap) {
				t.Fatalf("candidate %s: lr %v, overlap %d; want them from the searched values", c.Arch, c.LR, c.Genome.Overlap)
			}
			seen[c.Genome.Overlap], lrs[c.LR] = true, true
			if keys[c.Key()] {
				t.Errorf("two candidates with key %s", c.Key())
			}
			keys[c.Key()] = true
			net, err := cfg.Space.Decode(c.Genome)
			if err != nil {
				t.Fatal(err)
			}
			if net.String() != c.Arch || net.MACs() != c.MACs || net.Params() != c.Params {
				t.Errorf("candidate %s (%d MACs, %d params) decodes to %s (%d MACs, %d params)", c.Arch, c.MACs, c.Params, net, net.MACs(), net.Params())
			}
			strided := slices.ContainsFunc(net.Layers, func(l arch.Layer) bool { return l.Stride > 1 })
			if want := c.Genome.Overlap == 2 && strided; strings.HasSuffix(c.Arch, "/o2") != want {
				t.Errorf("candidate %s with overlap %d: text suffix /o2 = %v, want %v", c.Arch, c.Genome.Overlap, !want, want)
			}
		}
		if len(seen) != 2 || len(lrs) != 2 {
			t.Errorf("overlaps drawn %v, learning rates %v: want both values of each", seen, lrs)
		}
		m, err := nn.LoadFile(filepath.Join(cfg.Dir, ModelFile))
		if err != nil {
			t.Fatal(err)
		}
		if m.String() != r.Best.Arch {
			t.Errorf("best model %s, best arch %s", m.String(), r.Best.Arch)
		}
		if !slices.Equal(r.Settings.LearningRates, cfg.LearningRates) || !strings.Contains(r.Settings.Space, "overlaps searched [1 2]") {
			t.Errorf("settings do not record the searched genes: %+v", r.Settings)
		}
	}
	if !reflect.DeepEqual(results[0], results[1]) {
		t.Error("the search with searched overlap and learning rate depends on the worker count")
	}
}

// The learning rate a candidate was given is the one it trained with.
func TestCandidateLRUsed(t *testing.T) {
	d := waves(t)
	cfg := smallConfig(t)
	cfg.Generations, cfg.Population, cfg.Elite = 1, 4, 0
	cfg.LearningRates = []float64{1e-9, 2e-9} // too small to learn anything
	r, err := Run(context.Background(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Candidates {
		if c.Status != Abandoned && c.ValAccuracy > 0.6 {
			t.Errorf("candidate %s learnt (%.3f) at learning rate %g", c.Arch, c.ValAccuracy, c.LR)
		}
	}
	cfg.LearningRates = []float64{0.01, 0.01}
	var ce *ConfigError
	if _, err := Run(context.Background(), cfg, d); !errors.As(err, &ce) || ce.Field != "LearningRates" {
		t.Errorf("repeated learning rate: %v", err)
	}
}

// On data split by record (no validation record is a training record), the
// validation halves hold whole records, with similar class counts; on data
// split by sample, they are stratified sample by sample, as before.
func TestHalvesByRecord(t *testing.T) {
	d := waves(t) // 60 per class: 36 train, 12 val, 12 test, all of record "r"
	for i := range d.Records {
		switch d.Splits[i] {
		case dataset.Val:
			d.Records[i] = fmt.Sprintf("v%d", i%7) // 7 validation patients
		case dataset.Test:
			d.Records[i] = "test"
		}
	}
	train, val := d.Part(dataset.Train), d.Part(dataset.Val)
	if !recordDisjoint(train, val) {
		t.Fatal("recordDisjoint = false on disjoint records")
	}
	a, b, by := halvesByRecord(val, 5)
	if by != "records" || a == nil || b == nil || a.Len()+b.Len() != val.Len() {
		t.Fatalf("halves by record: %v, %d + %d of %d", by, a.Len(), b.Len(), val.Len())
	}
	for _, r := range a.RecordIDs() {
		if slices.Contains(b.RecordIDs(), r) {
			t.Errorf("record %s in both halves", r)
		}
	}
	ca, cb := a.ClassCounts(), b.ClassCounts()
	for j := range ca {
		if diff := ca[j] - cb[j]; diff > 6 || diff < -6 {
			t.Errorf("class %d: %d in A, %d in B", j, ca[j], cb[j])
		}
	}
	a2, _, _ := halvesByRecord(val, 5)
	if !slices.Equal(a2.Records, a.Records) {
		t.Error("halves by record differ for the same seed")
	}
	var same []int // the samples of one patient
	for i, r := range val.Records {
		if r == val.Records[0] {
			same = append(same, i)
		}
	}
	if a, _, _ := halvesByRecord(val.Subset(same), 1); a != nil || len(same) < 2 {
		t.Errorf("one record (%d samples) split into halves", len(same))
	}

	// A class that only one patient has cannot be shared by two halves of
	// whole records: the halves are then drawn sample by sample.
	rare := val.Subset(nil)
	*rare = *val
	rare.Records = slices.Clone(val.Records)
	for i, l := range rare.Labels {
		if l == 2 {
			rare.Records[i] = "only-one-with-class-2"
		}
	}
	if a, _, _ := halvesByRecord(rare, 5); a != nil {
		t.Error("a class held by one record was split into halves of whole records")
	}

	cfg := smallConfig(t)
	cfg.Generations = 1
	r, err := Run(context.Background(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	if r.Settings.ValHalves != "records" {
		t.Errorf("settings val_halves = %q, want records", r.Settings.ValHalves)
	}
	if r, err = Run(context.Background(), cfg, waves(t)); err != nil || r.Settings.ValHalves != "samples" {
		t.Errorf("data split by sample: val_halves %q, %v", r.Settings.ValHalves, err)
	}
}

// SelectFor picks balanced accuracy exactly when a split is imbalanced.
func TestSelectFor(t *testing.T) {
	d := waves(t)
	if got := SelectFor(d); got != nn.SelectAccuracy {
		t.Errorf("balanced data: %v", got)
	}
	var keep []int // drop two thirds of class 2's training samples
	for i := range d.Len() {
		if d.Labels[i] != 2 || d.Splits[i] != dataset.Train || i%3 == 0 {
			keep = append(keep, i)
		}
	}
	if got := SelectFor(d.Subset(keep)); got != nn.SelectBalanced {
		t.Errorf("imbalanced training split: %v", got)
	}
}

// With a teacher and balanced accuracy as the metric, the search distils
// every candidate from targets computed once, scores candidates and the
// winner by balanced accuracy, reports per-class test scores, and records
// the teacher so that a resume with another one is refused.
func TestSearchTeacherAndBalancedMetric(t *testing.T) {
	d := waves(t)
	teacherNet, err := arch.Parse("256x1-64x4-16x4-3", arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	tcfg := nn.DefaultConfig()
	tcfg.Epochs, tcfg.LR = 5, 0.01
	tres, err := nn.Native().Train(context.Background(), teacherNet, d.Part(dataset.Train), d.Part(dataset.Val), tcfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := smallConfig(t)
	cfg.Generations = 2
	cfg.Dir = t.TempDir()
	cfg.Teacher, cfg.Temperature, cfg.Train.Alpha = tres.Model, 2, 0.7
	cfg.Train.Select = nn.SelectBalanced
	r, err := Run(context.Background(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	rec := r.Settings.Recipe
	if rec.Teacher != "256x1-64x4-16x4-3" || len(rec.TeacherSHA256) != 64 || rec.Temperature != 2 || rec.Alpha != 0.7 || r.Settings.Metric != "balanced" {
		t.Errorf("settings %+v, metric %q", rec, r.Settings.Metric)
	}
	m, err := nn.LoadFile(filepath.Join(cfg.Dir, ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		split dataset.Split
		want  float64
	}{{dataset.Test, r.Best.TestBalancedAccuracy}} {
		met, err := nn.Evaluate(m, d.Part(c.split))
		if err != nil {
			t.Fatal(err)
		}
		if met.BalancedAccuracy != c.want || len(r.Best.TestPerClass) != 3 || r.Best.TestPerClass[1].Support != 12 {
			t.Errorf("test balanced accuracy %v, result %v; per class %+v", met.BalancedAccuracy, c.want, r.Best.TestPerClass)
		}
	}
	// Another teacher (same architecture, other weights) is another recipe.
	tcfg.Seed = 9
	other, err := nn.Native().Train(context.Background(), teacherNet, d.Part(dataset.Train), d.Part(dataset.Val), tcfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Resume, cfg.Teacher = true, other.Model
	var sce *SettingsChangedError
	if _, err := Run(context.Background(), cfg, d); !errors.As(err, &sce) || !sce.Changed("recipe") {
		t.Errorf("resume with another teacher: %v", err)
	}
	cfg.Resume, cfg.Teacher, cfg.Temperature = false, tres.Model, 0
	var ce *ConfigError
	if _, err := Run(context.Background(), cfg, d); !errors.As(err, &ce) || ce.Field != "Temperature" {
		t.Errorf("temperature 0: %v", err)
	}
}

// Successive halving trains every new candidate for a fraction of the
// epochs and only the best 1/Eta of each rung further; the schedule is in
// the result, the winner comes from the full-fidelity rung, and the result
// does not depend on the number of workers.
func TestSuccessiveHalving(t *testing.T) {
	d := waves(t)
	cfg := smallConfig(t)
	cfg.Population, cfg.Elite, cfg.Generations = 8, 1, 3
	cfg.Train.Epochs = 4
	cfg.Halving = Halving{Rungs: 3, Eta: 2}
	var results []*Result
	for _, workers := range []int{1, 2} {
		cfg.Workers = workers
		r, err := Run(context.Background(), cfg, d)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, timeless(r))
		if !slices.Equal(r.Settings.RungEpochs, []int{1, 2, 4}) || r.Settings.Eta != 2 {
			t.Fatalf("schedule %v eta %d, want [1 2 4] and 2", r.Settings.RungEpochs, r.Settings.Eta)
		}
		full := 0
		for _, g := range r.History {
			n := g.TrainedPerRung
			if len(n) != 3 || n[0] != g.Trained || n[1] != (n[0]+1)/2 || n[2] != (n[1]+1)/2 {
				t.Errorf("generation %d: trained per rung %v (trained %d)", g.Index, n, g.Trained)
			}
			full += n[2]
		}
		got := 0
		for _, c := range r.Candidates {
			if c.Status == Abandoned {
				continue
			}
			if !slices.Contains([]int{1, 2, 4}, c.Epochs) || c.BestEpoch > c.Epochs {
				t.Errorf("candidate %s: epochs %d, best epoch %d", c.Arch, c.Epochs, c.BestEpoch)
			}
			if c.Epochs == 4 {
				got++
			}
		}
		if got != full {
			t.Errorf("%d candidates at the full 4 epochs, the history says %d", got, full)
		}
		for _, c := range r.Candidates {
			if c.Arch == r.Best.Arch && c.Epochs != 4 {
				t.Errorf("best %s was trained for %d epochs, not the full 4", c.Arch, c.Epochs)
			}
		}
	}
	if !reflect.DeepEqual(results[0], results[1]) {
		t.Error("successive halving depends on the worker count")
	}
	for _, c := range []struct {
		h     Halving
		field string
	}{
		{Halving{Rungs: 3, Eta: 1}, "Halving.Eta"},
		{Halving{Rungs: 4, Eta: 2}, "Halving.Rungs"}, // 4 epochs: rungs 1 1 2 4
		{Halving{Rungs: -1}, "Halving.Rungs"},
	} {
		cfg.Halving = c.h
		var ce *ConfigError
		if err := cfg.Validate(d); !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("%+v: %v, want a ConfigError for %s", c.h, err, c.field)
		}
	}
}

// TestPruneWinner: with Prune the winner is pruned after the search, both
// networks reported; the channel-pruned one is smaller, the
// magnitude-pruned one as sparse as asked, and bad settings are refused.
func TestPruneWinner(t *testing.T) {
	d := waves(t)
	for _, p := range []Pruning{
		{Method: prune.ByChannel, Sparsity: 0.5, Epochs: 2},
		{Method: prune.ByMagnitude, Sparsity: 0.5, Epochs: 2, Stages: 2, Scope: prune.Global},
	} {
		t.Run(string(p.Method), func(t *testing.T) {
			cfg := smallConfig(t)
			cfg.Prune, cfg.Dir = &p, t.TempDir()
			r, err := Run(context.Background(), cfg, d)
			if err != nil {
				t.Fatal(err)
			}
			b, pr := r.Best, r.Best.Pruned
			if pr == nil || r.Settings.Prune == nil || *r.Settings.Prune != p {
				t.Fatalf("best %+v, settings %+v: no pruned network recorded", b, r.Settings.Prune)
			}
			switch p.Method {
			case prune.ByChannel:
				if pr.Params >= b.Params || pr.MACs >= b.MACs || pr.EEdge > b.EEdge {
					t.Errorf("channel-pruned %+v is not smaller than %+v", pr, b)
				}
			case prune.ByMagnitude:
				// Sparse layers only where they run faster: never more energy.
				if pr.Arch != b.Arch || pr.NonZero > pr.Weights/2+len(b.Layers) || len(pr.Stages) != 2 || pr.EEdge > b.EEdge ||
					(len(pr.Sparse) == 0) != (pr.Flash == pr.FlashDense) {
					t.Errorf("magnitude-pruned %+v of %+v", pr, b)
				}
			}
			m, err := nn.LoadFile(filepath.Join(cfg.Dir, pr.Model))
			if err != nil || m.String() != pr.Arch {
				t.Fatalf("pruned model file: %v, %v", m, err)
			}
			if met, _ := nn.Evaluate(m, d.Part(dataset.Test)); met.Accuracy != pr.TestAccuracy {
				t.Errorf("the saved pruned model scores %g on the test split, the result says %g", met.Accuracy, pr.TestAccuracy)
			}
		})
	}
	for _, tt := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"sparsity", func(c *Config) { c.Prune = &Pruning{Method: prune.ByChannel, Sparsity: 1} }, "Prune.Sparsity"},
		{"method", func(c *Config) { c.Prune = &Pruning{Method: "random"} }, "Prune.Method"},
		{"stages", func(c *Config) { c.Prune = &Pruning{Method: prune.ByMagnitude, Sparsity: 0.5} }, "Prune.Stages"},
		{"scope", func(c *Config) { c.Prune = &Pruning{Method: prune.ByMagnitude, Sparsity: 0.5, Stages: 1} }, "Prune.Scope"},
		{"nsga2", func(c *Config) { c.Prune, c.Strategy = &Pruning{Method: prune.ByChannel}, NSGA2 }, "a single winner"},
		{"integer profile", func(c *Config) {
			c.Prune = &Pruning{Method: prune.ByChannel}
			c.Profile, _ = hw.Load("stm32l476-int8")
		}, "integer one"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := smallConfig(t)
			tt.edit(&cfg)
			var ce *ConfigError
			if err := cfg.Validate(d); !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%v, want a ConfigError saying %q", err, tt.want)
			}
		})
	}
}

// Candidates of equal validation score are ordered by Config.Ties: the
// lower validation loss first (then energy), or the lower energy first —
// in the population's ranking, the final pick and the final runs.
func TestTies(t *testing.T) {
	// Candidates 0 and 1 tie on accuracy (A and B); 1 has the lower loss,
	// 0 the lower energy. 2 is less accurate than both.
	cands := []Candidate{
		{ID: 0, Status: Valid, ValAccuracy: 1, ValBAccuracy: 0.98, ValLoss: 0.30, ValBLoss: 0.40, Energy: 0.01, BestEpoch: 3, Epochs: 5},
		{ID: 1, Status: Valid, ValAccuracy: 1, ValBAccuracy: 0.98, ValLoss: 0.05, ValBLoss: 0.10, Energy: 0.04, BestEpoch: 3, Epochs: 5},
		{ID: 2, Status: Valid, ValAccuracy: 0.9, ValBAccuracy: 0.9, ValLoss: 0.01, ValBLoss: 0.01, Energy: 0.001, BestEpoch: 3, Epochs: 5},
	}
	runs := []FinalRun{
		{ValBAccuracy: 0.95, ValBLoss: 0.2},
		{ValBAccuracy: 0.97, ValBLoss: 0.3},
		{ValBAccuracy: 0.97, ValBLoss: 0.1},
		{ValBAccuracy: 0.97, ValBLoss: 0.1},
	}
	for _, tt := range []struct {
		ties           Ties
		ranked         []int // candidate IDs, best first
		pick, finalRun int
	}{
		{TiesLoss, []int{1, 0, 2}, 1, 2},
		{TiesEnergy, []int{0, 1, 2}, 0, 1},
	} {
		t.Run(string(tt.ties), func(t *testing.T) {
			s := &searcher{cfg: Config{Ties: tt.ties, Space: arch.DefaultSpace(3)}, cands: cands}
			s.cfg.Train.Epochs = 5
			ids := []int{2, 0, 1}
			fit := s.fitness(ids)
			var got []int
			for _, i := range s.ranked(ids, fit) {
				got = append(got, ids[i])
			}
			if !slices.Equal(got, tt.ranked) {
				t.Errorf("ranked %v, want %v", got, tt.ranked)
			}
			if got := s.pickOrder(); got[0] != tt.pick {
				t.Errorf("pick %d, want %d", got, tt.pick)
			}
			if got := chooseRun(runs, tt.ties); got != tt.finalRun {
				t.Errorf("final run %d, want %d", got, tt.finalRun)
			}
		})
	}
	if _, err := ParseTies("accuracy"); err == nil || !strings.Contains(err.Error(), `"accuracy" (want loss or energy)`) {
		t.Errorf("ParseTies(accuracy): %v", err)
	}
}

func TestPickBy(t *testing.T) {
	// 0 is the best on half B alone; 1 on the mean of both halves. 2 ties
	// with 1 on the mean and has the lower mean loss, but the higher
	// half-B loss; 3 is invalid.
	cands := []Candidate{
		{ID: 0, Status: Valid, ValAccuracy: 0.88, ValBAccuracy: 0.94, ValLoss: 0.4, ValBLoss: 0.2, Energy: 0.01, BestEpoch: 3, Epochs: 5},
		{ID: 1, Status: Valid, ValAccuracy: 0.94, ValBAccuracy: 0.92, ValLoss: 0.3, ValBLoss: 0.2, Energy: 0.02, BestEpoch: 3, Epochs: 5},
		{ID: 2, Status: Valid, ValAccuracy: 0.94, ValBAccuracy: 0.92, ValLoss: 0.1, ValBLoss: 0.3, Energy: 0.03, BestEpoch: 3, Epochs: 5},
		{ID: 3, Status: OverEnergy, ValAccuracy: 1, ValBAccuracy: 1, Energy: 0.09, BestEpoch: 3, Epochs: 5},
	}
	for _, tt := range []struct {
		by   PickBy
		ties Ties
		want []int // the pick order, without the invalid candidate
	}{
		{PickB, TiesEnergy, []int{0, 1, 2}},  // 1 and 2 tie on B and A: lower energy
		{PickB, TiesLoss, []int{0, 1, 2}},    // 1 has the lower half-B loss
		{PickAB, TiesEnergy, []int{1, 2, 0}}, // 1 and 2 tie on both halves: lower energy
		{PickAB, TiesLoss, []int{2, 1, 0}},   // 2 has the lower mean loss, though its half-B loss is higher
	} {
		t.Run(string(tt.by)+"/"+string(tt.ties), func(t *testing.T) {
			s := &searcher{cfg: Config{PickBy: tt.by, Ties: tt.ties, Space: arch.DefaultSpace(3)}, cands: cands}
			s.cfg.Train.Epochs = 5
			if got := s.pickOrder(); !slices.Equal(got, tt.want) {
				t.Errorf("pick order %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := ParsePickBy("a"); err == nil || !strings.Contains(err.Error(), `"a" (want b or ab)`) {
		t.Errorf("ParsePickBy(a): %v", err)
	}
}
