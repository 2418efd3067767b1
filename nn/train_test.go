package nn

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/sample"
)

// toyNet is 256x1-64x4-16x4-3 for the sinusoid task.
func toyNet(t testing.TB) arch.Network {
	l1 := conv(arch.Shape{Len: 256, Ch: 1}, 4, 8, 4, 2, 2)
	l2 := conv(l1.Out, 4, 4, 4, 0, 0)
	return mustNet(t, l1, l2, dense(l2.Out, arch.Shape{Len: 3, Ch: 1}))
}

// TestToyTask learns three sinusoid frequencies in noise (chance 1/3).
func TestToyTask(t *testing.T) {
	train, val, test := sinusoids(3000, 256, 1), sinusoids(300, 256, 2), sinusoids(600, 256, 3)
	cfg := DefaultConfig()
	cfg.Epochs = 5
	res, err := Native().Train(context.Background(), toyNet(t), train, val, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range res.History {
		t.Logf("epoch %d: train loss %.3f acc %.3f, val loss %.3f acc %.3f, %.3fs", i+1, e.TrainLoss, e.TrainAcc, e.ValLoss, e.ValAcc, e.Seconds)
	}
	met, err := Evaluate(res.Model, test)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("test: accuracy %.3f, macro-F1 %.3f, loss %.3f (best epoch %d)", met.Accuracy, met.MacroF1, met.Loss, res.Best+1)
	if met.Accuracy < 0.95 {
		t.Errorf("test accuracy %.3f after %d epochs, want ≥ 0.95", met.Accuracy, cfg.Epochs)
	}
	if first, last := res.History[0].TrainLoss, res.History[len(res.History)-1].TrainLoss; !(last < first/2) {
		t.Errorf("training loss went from %.3f to %.3f, want it at least halved", first, last)
	}
}

func trainToy(t *testing.T, seed uint64) *Result {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Epochs, cfg.Dropout, cfg.Seed, cfg.Batch = 3, 0.2, seed, 16
	res, err := Native().Train(context.Background(), toyNet(t), sinusoids(200, 256, 1), sinusoids(60, 256, 2), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func sameRun(a, b *Result) bool {
	if !equalBits(a.Model.Params(), b.Model.Params()) || a.Best != b.Best || len(a.History) != len(b.History) {
		return false
	}
	for i := range a.History {
		x, y := a.History[i], b.History[i]
		x.Seconds, y.Seconds = 0, 0
		if x != y {
			return false
		}
	}
	return true
}

// TestDeterministic trains twice with the same seed (with dropout, so the
// shuffling, initialisation and dropout streams all matter): the weights
// must be bit-identical; another seed must change them.
func TestDeterministic(t *testing.T) {
	a, b, c := trainToy(t, 5), trainToy(t, 5), trainToy(t, 6)
	if !sameRun(a, b) {
		t.Error("two trainings with the same seed differ")
	}
	if equalBits(a.Model.Params(), c.Model.Params()) {
		t.Error("trainings with different seeds gave the same weights")
	}
}

// TestConcurrentTraining trains two models at once: each must match its
// sequential run, so they share no state (run under -race too).
func TestConcurrentTraining(t *testing.T) {
	want := []*Result{trainToy(t, 5), trainToy(t, 6)}
	got := make([]*Result, 2)
	var wg sync.WaitGroup
	for i, seed := range []uint64{5, 6} {
		wg.Go(func() { got[i] = trainToy(t, seed) })
	}
	wg.Wait()
	for i := range got {
		if !sameRun(got[i], want[i]) {
			t.Errorf("model %d trained concurrently differs from its sequential run", i)
		}
	}
}

// TestBestEpochAndPatience trains on random labels, where validation
// accuracy soon stops improving: training must stop Patience epochs after
// the best one and return that epoch's weights.
func TestBestEpochAndPatience(t *testing.T) {
	net := toyNet(t)
	train, val := randomData(200, net.Input(), 3, 1), randomData(100, net.Input(), 3, 2)
	cfg := DefaultConfig()
	cfg.Epochs, cfg.Patience = 40, 3
	res, err := Native().Train(context.Background(), net, train, val, cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := len(res.History)
	if n >= cfg.Epochs || n-1-res.Best != cfg.Patience {
		t.Fatalf("trained %d of %d epochs with best %d, want a stop %d epochs after the best", n, cfg.Epochs, res.Best+1, cfg.Patience)
	}
	best := res.History[res.Best]
	for i, e := range res.History {
		if e.ValAcc > best.ValAcc || e.ValAcc == best.ValAcc && e.ValLoss < best.ValLoss {
			t.Errorf("epoch %d (acc %g, loss %g) beats the chosen epoch %d (acc %g, loss %g)", i+1, e.ValAcc, e.ValLoss, res.Best+1, best.ValAcc, best.ValLoss)
		}
	}
	met, err := Evaluate(res.Model, val)
	if err != nil {
		t.Fatal(err)
	}
	if met.Accuracy != best.ValAcc || met.Loss != best.ValLoss {
		t.Errorf("returned model scores acc %g loss %g on val, best epoch had %g and %g", met.Accuracy, met.Loss, best.ValAcc, best.ValLoss)
	}

	// Without validation data: every epoch, the last one's weights.
	cfg.Epochs, cfg.Patience = 4, 0
	res, err = Native().Train(context.Background(), net, train, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.History) != 4 || res.Best != 3 || res.History[3].ValAcc != 0 {
		t.Errorf("without validation: %d epochs, best %d, last val acc %g; want 4, 3, 0", len(res.History), res.Best, res.History[3].ValAcc)
	}
}

// TestBatches checks that the last, partial batch is a step of its own:
// 10 samples in batches of 4 make 3 Adam steps per epoch.
func TestBatches(t *testing.T) {
	net := toyNet(t)
	d := randomData(10, net.Input(), 3, 1)
	m, _ := NewModel(net, 1)
	cfg := DefaultConfig()
	cfg.Batch = 4
	tr := newTrainer(m, d, cfg)
	for range 2 {
		if _, _, err := tr.epoch(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	if tr.opt.t != 6 {
		t.Errorf("%d Adam steps in 2 epochs of 10 samples in batches of 4, want 6", tr.opt.t)
	}
	seen := make([]bool, d.Len())
	for _, i := range tr.perm {
		seen[i] = true
	}
	for i, ok := range seen {
		if !ok {
			t.Fatalf("sample %d missing from the shuffled order %v", i, tr.perm)
		}
	}
}

// TestNoAllocations checks that a training epoch and a validation pass
// allocate nothing, with dropout and with every part of the recipe on
// (augmentation, class weights or sampler, schedule, weight decay, a
// teacher, samples per epoch, batch normalisation and its folding).
func TestNoAllocations(t *testing.T) {
	net := toyNet(t)
	d := randomData(100, net.Input(), 3, 1)
	teacher, _ := NewModel(net, 7)
	soft, err := TeacherTargets(teacher, d, 3)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  func(*Config)
	}{
		{"dropout", func(c *Config) { c.Dropout = 0.3 }},
		{"recipe with weights", func(c *Config) { *c = fullRecipe(*c) }},
		{"recipe with sampler and teacher", func(c *Config) {
			*c = fullRecipe(*c)
			c.ClassBalance, c.Teacher, c.Dropout = BalanceSampler, soft, 0.1
		}},
		{"samples per epoch", func(c *Config) { c.SamplesPerEpoch = 40 }},
		{"sampler with samples per epoch", func(c *Config) { c.ClassBalance, c.SamplesPerEpoch = BalanceSampler, 150 }},
		{"batch norm", func(c *Config) { c.BatchNorm = true }},
		{"batch norm with the recipe, dropout and samples per epoch", func(c *Config) {
			*c = fullRecipe(*c)
			c.BatchNorm, c.Dropout, c.SamplesPerEpoch, c.Teacher = true, 0.2, 70, soft
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := NewModel(net, 1)
			cfg := DefaultConfig()
			tt.cfg(&cfg)
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			tr := newTrainer(m, d, cfg)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			allocs := testing.AllocsPerRun(3, func() {
				if _, _, err := tr.epoch(ctx, d); err != nil {
					t.Fatal(err)
				}
				score(m.plan, tr.inference(), tr.ws, d, tr.conf)
				balancedAccuracy(tr.conf)
			})
			if allocs != 0 {
				t.Errorf("%g allocations per epoch, want 0", allocs)
			}
		})
	}
}

func TestTrainCancelled(t *testing.T) {
	net := toyNet(t)
	d := randomData(50, net.Input(), 3, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Native().Train(ctx, net, d, nil, DefaultConfig())
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "epoch 1 of 20") {
		t.Errorf("cancelled: error %v, want context.Canceled in epoch 1 of 20", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if _, err := Native().Train(ctx, net, d, nil, DefaultConfig()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: error %v, want context.DeadlineExceeded", err)
	}
}

func TestTrainErrors(t *testing.T) {
	net := toyNet(t)
	good := func() *dataset.Dataset { return randomData(20, net.Input(), 3, 1) }
	cfgWith := func(f func(*Config)) Config { c := DefaultConfig(); f(&c); return c }
	tests := []struct {
		name       string
		train, val *dataset.Dataset
		cfg        Config
		want       string
	}{
		{"nil train", nil, nil, DefaultConfig(), "no training data"},
		{"empty train", randomData(0, net.Input(), 3, 1), nil, DefaultConfig(), "training data is empty"},
		{"train shape", randomData(5, arch.Shape{Len: 128, Ch: 2}, 3, 1), nil, DefaultConfig(),
			"training data has samples of 128x2 (length×channels), network input is 256x1"},
		{"train classes", randomData(5, net.Input(), 4, 1), nil, DefaultConfig(), "training data has 4 classes [A B C D], network has 3 outputs"},
		{"val shape", good(), randomData(5, arch.Shape{Len: 255, Ch: 1}, 3, 1), DefaultConfig(), "validation data has samples of 255x1"},
		{"val names", good(), func() *dataset.Dataset { d := good(); d.Classes = []string{"x", "y", "z"}; return d }(), DefaultConfig(), "validation classes [x y z] differ"},
		{"label", func() *dataset.Dataset { d := good(); d.Labels[3] = 3; return d }(), nil, DefaultConfig(), "training data: "},
		{"val records", good(), func() *dataset.Dataset { d := good(); d.Records = d.Records[:5]; return d }(), DefaultConfig(), "validation data: "},
		{"Epochs", good(), nil, cfgWith(func(c *Config) { c.Epochs = 0 }), "Epochs 0"},
		{"Batch", good(), nil, cfgWith(func(c *Config) { c.Batch = -1 }), "Batch -1"},
		{"LR", good(), nil, cfgWith(func(c *Config) { c.LR = math.NaN() }), "LR NaN"},
		{"LR", good(), nil, cfgWith(func(c *Config) { c.LR = math.Inf(1) }), "LR +Inf"},
		{"Dropout", good(), nil, cfgWith(func(c *Config) { c.Dropout = 1 }), "Dropout 1"},
		{"Patience", good(), nil, cfgWith(func(c *Config) { c.Patience = -2 }), "Patience -2"},
		{"ClassBalance", good(), nil, cfgWith(func(c *Config) { c.ClassBalance = 3 }), "ClassBalance ClassBalance(3): want none, weights or sampler"},
		{"Select", good(), nil, cfgWith(func(c *Config) { c.Select = 2 }), "Select SelectBy(2)"},
		{"Schedule", good(), nil, cfgWith(func(c *Config) { c.Schedule = 9 }), "Schedule Schedule(9)"},
		{"WarmupEpochs", good(), nil, cfgWith(func(c *Config) { c.WarmupEpochs = -1 }), "WarmupEpochs -1"},
		{"WarmupEpochs", good(), nil, cfgWith(func(c *Config) { c.WarmupEpochs = 21 }), "WarmupEpochs 21: want 0 ≤ warm-up ≤ the 20 epochs"},
		{"WeightDecay", good(), nil, cfgWith(func(c *Config) { c.WeightDecay = -0.1 }), "WeightDecay -0.1"},
		{"WeightDecay", good(), nil, cfgWith(func(c *Config) { c.WeightDecay = math.NaN() }), "WeightDecay NaN"},
		{"WeightDecay", good(), nil, cfgWith(func(c *Config) { c.WeightDecay = 1000 }), "learning rate × decay < 1"},
		{"AugmentShift", good(), nil, cfgWith(func(c *Config) { c.AugmentShift = -3 }), "AugmentShift -3"},
		{"AugmentScale", good(), nil, cfgWith(func(c *Config) { c.AugmentScale = 1 }), "AugmentScale 1: want 0 ≤ scale < 1"},
		{"AugmentWander", good(), nil, cfgWith(func(c *Config) { c.AugmentWander = math.Inf(1) }), "AugmentWander +Inf"},
		{"AugmentNoise", good(), nil, cfgWith(func(c *Config) { c.AugmentNoise = -1 }), "AugmentNoise -1"},
		{"Alpha", good(), nil, cfgWith(func(c *Config) { c.Alpha = 1.5 }), "Alpha 1.5: want 0 ≤ α ≤ 1"},
		{"Teacher", good(), nil, cfgWith(func(c *Config) { c.Teacher = &SoftTargets{} }), "Teacher"},
		{"Batch", good(), nil, cfgWith(func(c *Config) { c.BatchNorm, c.Batch = true, 1 }), "Batch 1: want at least 2 with batch normalisation"},
		{"SamplesPerEpoch", good(), nil, cfgWith(func(c *Config) { c.SamplesPerEpoch = -5 }), "SamplesPerEpoch -5: want ≥ 0"},
	}
	for _, tt := range tests {
		_, err := Native().Train(context.Background(), net, tt.train, tt.val, tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
		// An invalid dataset is refused with Dataset.Validate's own error.
		for _, d := range []*dataset.Dataset{tt.train, tt.val} {
			if d == nil {
				continue
			}
			if verr := d.Validate(); verr != nil && (err == nil || !strings.Contains(err.Error(), verr.Error())) {
				t.Errorf("%s: error %v, want it to include Validate's %q", tt.name, err, verr)
			}
		}
		// Train refuses a configuration exactly when Validate does, with a
		// ConfigError naming the field.
		if verr := tt.cfg.Validate(); verr != nil {
			var ce *ConfigError
			if err == nil || err.Error() != verr.Error() || !errors.As(err, &ce) || ce.Field != tt.name {
				t.Errorf("%s: Train error %v, Config.Validate %v; want a ConfigError for %s", tt.name, err, verr, tt.name)
			}
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v", err)
	}
	if _, err := Native().Train(context.Background(), arch.Network{}, good(), nil, DefaultConfig()); err == nil {
		t.Error("empty network trained without error")
	}
}

// TestPatienceWithoutValidation checks that a positive Patience without
// validation data, nil or empty, is refused before training, not ignored,
// and that Patience 0 trains without it.
func TestPatienceWithoutValidation(t *testing.T) {
	net := toyNet(t)
	train := randomData(20, net.Input(), 3, 1)
	cfg := DefaultConfig()
	cfg.Epochs, cfg.Patience = 2, 1
	for _, val := range []*dataset.Dataset{nil, randomData(0, net.Input(), 3, 2)} {
		res, err := Native().Train(context.Background(), net, train, val, cfg)
		if !errors.Is(err, ErrPatienceWithoutValidation) || res != nil {
			t.Errorf("val %v: result %v, error %v; want ErrPatienceWithoutValidation", val, res, err)
		}
		if err != nil && !strings.Contains(err.Error(), "patience 1") {
			t.Errorf("error %q does not name the patience", err)
		}
	}
	cfg.Patience = 0
	if _, err := Native().Train(context.Background(), net, train, nil, cfg); err != nil {
		t.Errorf("patience 0 without validation data: %v", err)
	}
}

// TestTrainHugeEpochs checks that a huge epoch count, which Patience may
// cut short, is not allocated for up front: here the run is cancelled in
// its first epoch.
func TestTrainHugeEpochs(t *testing.T) {
	net := toyNet(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cfg := DefaultConfig()
	cfg.Epochs = math.MaxInt
	_, err := Native().Train(ctx, net, randomData(20, net.Input(), 3, 1), nil, cfg)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// TestRealData trains the typical network on the embedded MIT-BIH sample
// (5 balanced classes, chance 0.2) with the default configuration.
func TestRealData(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for 20 epochs")
	}
	d, err := sample.Load()
	if err != nil {
		t.Fatal(err)
	}
	train, val, test := d.Part(dataset.Train), d.Part(dataset.Val), d.Part(dataset.Test)
	start := time.Now()
	res, err := Native().Train(context.Background(), typicalNet(t), train, val, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	met, err := Evaluate(res.Model, test)
	if err != nil {
		t.Fatal(err)
	}
	last := res.History[len(res.History)-1]
	t.Logf("%d train, %d val, %d test samples; 20 epochs in %.2fs", train.Len(), val.Len(), test.Len(), elapsed.Seconds())
	t.Logf("last epoch: train acc %.3f loss %.3f, val acc %.3f; best epoch %d: val acc %.3f loss %.3f",
		last.TrainAcc, last.TrainLoss, last.ValAcc, res.Best+1, res.History[res.Best].ValAcc, res.History[res.Best].ValLoss)
	t.Logf("test: accuracy %.3f, macro-F1 %.3f, loss %.3f; confusion %v", met.Accuracy, met.MacroF1, met.Loss, met.Confusion)
	if met.Accuracy < 0.6 {
		t.Errorf("test accuracy %.3f, want ≥ 0.6", met.Accuracy)
	}
}

// TestTrainMemory checks that training reads the dataset in place: all it
// allocates must be a small fraction of the training data.
func TestTrainMemory(t *testing.T) {
	net := typicalNet(t)
	train, val := randomData(2000, net.Input(), 5, 1), randomData(200, net.Input(), 5, 2)
	cfg := DefaultConfig()
	cfg.Epochs = 2
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := Native().Train(context.Background(), net, train, val, cfg); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	data := 4 * len(train.X)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("training on %d bytes of data allocated %d bytes", data, alloc)
	if alloc > uint64(data)/100 {
		t.Errorf("training allocated %d bytes, want ≤ 1%% of the %d bytes of training data", alloc, data)
	}
}
