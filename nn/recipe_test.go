package nn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
)

// labelled returns randomData whose labels are counts[c] samples of class
// c, in class order, all in the training split.
func labelled(t testing.TB, shape arch.Shape, counts []int, seed uint64) *dataset.Dataset {
	t.Helper()
	n := 0
	for _, c := range counts {
		n += c
	}
	d := randomData(n, shape, len(counts), seed)
	i := 0
	for c, k := range counts {
		for range k {
			d.Labels[i] = uint8(c)
			i++
		}
	}
	return d
}

func TestClassWeights(t *testing.T) {
	shape := arch.Shape{Len: 4, Ch: 1}
	tests := []struct {
		counts []int
		want   []float64
	}{
		// n = 10, K = 3: w_c = 10/(3·n_c).
		{[]int{6, 3, 1}, []float64{10.0 / 18, 10.0 / 9, 10.0 / 3}},
		// Balanced: every weight 1.
		{[]int{4, 4, 4, 4}, []float64{1, 1, 1, 1}},
		// A class without samples gets 0 and does not count in K = 2:
		// n = 8, w = 8/(2·6), 8/(2·2).
		{[]int{6, 0, 2}, []float64{8.0 / 12, 0, 8.0 / 4}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.counts), func(t *testing.T) {
			d := labelled(t, shape, tt.counts, 1)
			got := ClassWeights(d)
			var mean float64
			for i := range tt.want {
				if math.Abs(got[i]-tt.want[i]) > 1e-12 {
					t.Errorf("weight %d = %.12g, want %.12g", i, got[i], tt.want[i])
				}
				mean += float64(tt.counts[i]) * got[i]
			}
			if mean /= float64(d.Len()); math.Abs(mean-1) > 1e-12 {
				t.Errorf("mean weight over the samples %.15g, want 1", mean)
			}
		})
	}
}

// TestClassWeightsFromTrainingSplitOnly builds a dataset whose validation
// and test splits have other class frequencies than its training split,
// trains with BalanceWeights, then relabels every validation and test
// sample and trains again: the class weights and every training figure
// must stay bit-identical.
func TestClassWeightsFromTrainingSplitOnly(t *testing.T) {
	net := toyNet(t)
	d := labelled(t, net.Input(), []int{60, 30, 10}, 3) // training: 60/30/10
	other := randomData(60, net.Input(), 3, 4)
	for i := range other.Labels {
		other.Labels[i] = 2 // validation and test: all class 2
		other.Splits[i] = dataset.Val
		if i%2 == 1 {
			other.Splits[i] = dataset.Test
		}
	}
	if err := d.Append(other); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Epochs, cfg.ClassBalance = 3, BalanceWeights

	train1 := d.Part(dataset.Train)
	want := ClassWeights(train1) // 100/(3·60), 100/(3·30), 100/(3·10)
	if math.Abs(want[2]-100.0/30) > 1e-12 {
		t.Fatalf("weights %v, want class 2 at 100/30", want)
	}
	m, _ := NewModel(net, 1)
	tr := newTrainer(m, train1, cfg)
	for c, w := range want {
		if tr.classW[c] != float32(w) {
			t.Errorf("trainer's weight of class %d is %g, want %g", c, tr.classW[c], w)
		}
	}
	if all := ClassWeights(d); slices.Equal(all, want) {
		t.Fatalf("weights of the whole dataset %v equal the training split's: the test cannot tell them apart", all)
	}
	res1, err := Native().Train(context.Background(), net, train1, d.Part(dataset.Val), cfg)
	if err != nil {
		t.Fatal(err)
	}

	for i, s := range d.Splits {
		if s != dataset.Train {
			d.Labels[i] = uint8(i % 3)
		}
	}
	train2 := d.Part(dataset.Train)
	if w := ClassWeights(train2); !slices.Equal(w, want) {
		t.Errorf("after relabelling validation and test: weights %v, want %v", w, want)
	}
	res2, err := Native().Train(context.Background(), net, train2, d.Part(dataset.Val), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for e := range res1.History {
		a, b := res1.History[e], res2.History[e]
		if a.TrainLoss != b.TrainLoss || a.TrainAcc != b.TrainAcc {
			t.Errorf("epoch %d: training loss/acc %v/%v, after relabelling validation and test %v/%v", e+1, a.TrainLoss, a.TrainAcc, b.TrainLoss, b.TrainAcc)
		}
	}

	// The weights change training: without them the losses differ.
	cfg.ClassBalance = BalanceNone
	res3, err := Native().Train(context.Background(), net, train1, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res3.History[0].TrainLoss == res1.History[0].TrainLoss {
		t.Error("class weights change nothing in training")
	}
}

// TestSampler draws 100 epochs from a training set with classes of 800,
// 150, 50 and 0 samples: each present class must make a third of the
// draws, within 0.01 (binomial standard deviation 0.0015), the absent one
// none, and every draw must be a sample of the class drawn.
func TestSampler(t *testing.T) {
	net := toyNet(t)
	d := labelled(t, net.Input(), []int{800, 150, 50, 0}, 1)
	cfg := DefaultConfig()
	cfg.ClassBalance = BalanceSampler
	small := mustNet(t, conv(net.Input(), 1, 256, 256, 0, 0), dense(arch.Shape{Len: 1, Ch: 1}, arch.Shape{Len: 4, Ch: 1}))
	newT := func() *trainer {
		m, _ := NewModel(small, 1)
		return newTrainer(m, d, cfg)
	}
	a, b := newT(), newT()
	counts := make([]int, 4)
	distinct := map[int]bool{}
	const epochs = 100
	for range epochs {
		a.order()
		b.order()
		if !slices.Equal(a.perm, b.perm) {
			t.Fatal("two samplers with the same seed draw differently")
		}
		for _, i := range a.perm {
			counts[d.Labels[i]]++
			distinct[i] = true
		}
	}
	total := epochs * d.Len()
	for c, n := range counts {
		want := 1.0 / 3
		if c == 3 {
			want = 0
		}
		if f := float64(n) / float64(total); math.Abs(f-want) > 0.01 {
			t.Errorf("class %d: %.4f of the draws, want %.3f ± 0.01", c, f, want)
		}
	}
	// 100 epochs of 1,000 draws, a third from the 800 class-0 samples:
	// each is missed with probability (1 − 1/2400)^33333 ≈ 1e-6.
	if len(distinct) != d.Len() {
		t.Errorf("%d distinct samples drawn, want all %d", len(distinct), d.Len())
	}
	cfg.Seed = 2
	c := newT()
	c.order()
	a.order()
	if slices.Equal(a.perm, c.perm) {
		t.Error("another seed draws the same samples")
	}
}

func TestBalancedAccuracyAndClassScores(t *testing.T) {
	tests := []struct {
		name      string
		confusion [][]int
		balanced  float64
		se, pp    []float64
		support   []int
		predicted []int
	}{
		{
			// Class 0: TP 5 of 6, predicted 7. Class 1: TP 3 of 5,
			// predicted 4. Class 2 has no support: left out of the mean.
			name:      "absent class",
			confusion: [][]int{{5, 1, 0}, {2, 3, 0}, {0, 0, 0}},
			balanced:  (5.0/6 + 3.0/5) / 2,
			se:        []float64{5.0 / 6, 3.0 / 5, 0}, pp: []float64{5.0 / 7, 3.0 / 4, 0},
			support: []int{6, 5, 0}, predicted: []int{7, 4, 0},
		},
		{
			// Imbalanced: 90 N of which 88 right, 10 V of which 4 right.
			// Accuracy 0.92, balanced accuracy (88/90 + 4/10)/2.
			name:      "imbalanced",
			confusion: [][]int{{88, 2}, {6, 4}},
			balanced:  (88.0/90 + 0.4) / 2,
			se:        []float64{88.0 / 90, 0.4}, pp: []float64{88.0 / 94, 4.0 / 6},
			support: []int{90, 10}, predicted: []int{94, 6},
		},
		{
			// Predicted but absent: class 1 has +P 0 from 2 predictions.
			name:      "predicted but absent",
			confusion: [][]int{{3, 2}, {0, 0}},
			balanced:  0.6,
			se:        []float64{0.6, 0}, pp: []float64{1, 0},
			support: []int{5, 0}, predicted: []int{3, 2},
		},
		{"empty", [][]int{{0, 0}, {0, 0}}, 0, []float64{0, 0}, []float64{0, 0}, []int{0, 0}, []int{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := balancedAccuracy(tt.confusion); math.Abs(got-tt.balanced) > 1e-12 {
				t.Errorf("balanced accuracy %.12g, want %.12g", got, tt.balanced)
			}
			names := []string{"N", "V", "F"}[:len(tt.confusion)]
			for c, s := range classScores(tt.confusion, names) {
				if s.Class != names[c] || s.Support != tt.support[c] || s.Predicted != tt.predicted[c] ||
					math.Abs(s.Sensitivity-tt.se[c]) > 1e-12 || math.Abs(s.PositivePredictivity-tt.pp[c]) > 1e-12 {
					t.Errorf("class %d: %+v, want %s support %d predicted %d Se %.6g +P %.6g",
						c, s, names[c], tt.support[c], tt.predicted[c], tt.se[c], tt.pp[c])
				}
			}
		})
	}
}

// TestSelectBalanced trains on imbalanced random labels and checks that
// the chosen epoch has the best validation balanced accuracy, that
// patience counts in it, and that the returned model scores that epoch's
// figures on a fresh Evaluate.
func TestSelectBalanced(t *testing.T) {
	net := toyNet(t)
	train, val := labelled(t, net.Input(), []int{150, 40, 10}, 1), labelled(t, net.Input(), []int{70, 20, 10}, 2)
	cfg := DefaultConfig()
	cfg.Epochs, cfg.Patience, cfg.Select, cfg.ClassBalance = 30, 3, SelectBalanced, BalanceWeights
	res, err := Native().Train(context.Background(), net, train, val, cfg)
	if err != nil {
		t.Fatal(err)
	}
	best := res.History[res.Best]
	for i, e := range res.History {
		if e.ValBalancedAccuracy > best.ValBalancedAccuracy || e.ValBalancedAccuracy == best.ValBalancedAccuracy && e.ValLoss < best.ValLoss {
			t.Errorf("epoch %d (balanced %g, loss %g) beats the chosen epoch %d (balanced %g, loss %g)",
				i+1, e.ValBalancedAccuracy, e.ValLoss, res.Best+1, best.ValBalancedAccuracy, best.ValLoss)
		}
	}
	if n := len(res.History); n < cfg.Epochs && n-1-res.Best != cfg.Patience {
		t.Errorf("stopped after %d epochs, best %d: want patience %d", n, res.Best+1, cfg.Patience)
	}
	met, err := Evaluate(res.Model, val)
	if err != nil {
		t.Fatal(err)
	}
	if met.BalancedAccuracy != best.ValBalancedAccuracy || met.Accuracy != best.ValAcc || met.Loss != best.ValLoss {
		t.Errorf("Evaluate: balanced %g acc %g loss %g; best epoch recorded %g %g %g",
			met.BalancedAccuracy, met.Accuracy, met.Loss, best.ValBalancedAccuracy, best.ValAcc, best.ValLoss)
	}
}

func TestLearningRate(t *testing.T) {
	const lr = 0.01
	cosine := Config{LR: lr, Epochs: 10, WarmupEpochs: 2, Schedule: ScheduleCosine}
	constant := Config{LR: lr, Epochs: 10, WarmupEpochs: 2, Schedule: ScheduleConstant}
	plain := Config{LR: lr, Epochs: 10}
	cosNoWarm := Config{LR: lr, Epochs: 4, Schedule: ScheduleCosine}
	// 5 steps per epoch: W = 10 warm-up steps, S = 50 in all.
	tests := []struct {
		name string
		cfg  Config
		step int
		want float64
	}{
		{"warm-up first step", cosine, 0, lr * 1 / 10},
		{"warm-up middle", cosine, 4, lr * 5 / 10},
		{"warm-up last step", cosine, 9, lr},
		{"cosine start", cosine, 10, lr},
		{"cosine half way", cosine, 30, lr / 2},
		{"cosine quarter", cosine, 20, lr * 0.5 * (1 + math.Cos(math.Pi/4))},
		{"cosine last step", cosine, 49, lr * 0.5 * (1 + math.Cos(math.Pi*39/40))},
		{"cosine past the end", cosine, 60, 0},
		{"constant warm-up", constant, 2, lr * 3 / 10},
		{"constant after warm-up", constant, 30, lr},
		{"no schedule", plain, 0, lr},
		{"no schedule late", plain, 49, lr},
		{"cosine without warm-up", cosNoWarm, 0, lr},
		{"cosine without warm-up, step 5 of 20", cosNoWarm, 5, lr * 0.5 * (1 + math.Cos(math.Pi*5/20))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.LearningRate(tt.step, 5); math.Abs(got-tt.want) > 1e-15 {
				t.Errorf("step %d: %.17g, want %.17g", tt.step, got, tt.want)
			}
		})
	}
	if got := plain.LearningRate(123, 7); got != lr {
		t.Errorf("constant schedule: %.17g, want exactly %g", got, lr)
	}

	// The engine steps the schedule per batch: 10 samples in batches of 4
	// are 3 steps per epoch, and each epoch records the rate of its last.
	net := toyNet(t)
	cfg := DefaultConfig()
	cfg.Epochs, cfg.Batch, cfg.WarmupEpochs, cfg.Schedule, cfg.LR = 5, 4, 1, ScheduleCosine, 0.01
	res, err := Native().Train(context.Background(), net, randomData(10, net.Input(), 3, 1), nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for e, ep := range res.History {
		if want := cfg.LearningRate(3*e+2, 3); ep.LR != want {
			t.Errorf("epoch %d: last rate %g, want %g", e+1, ep.LR, want)
		}
	}
}

// TestWeightDecay checks one AdamW step on a 3→2 Dense layer against the
// formula: each weight becomes w·(1 − lr·λ) − Δ, each bias b − Δ, Δ being
// Adam's step (zero for a zero gradient).
func TestWeightDecay(t *testing.T) {
	p, err := newPlan(mustNet(t, dense(arch.Shape{Len: 3, Ch: 1}, arch.Shape{Len: 2, Ch: 1})))
	if err != nil {
		t.Fatal(err)
	}
	const lr, decay = 0.01, 0.5
	params := []float32{1, -2, 0.5, 3, 0, -1, 0.25, -0.75} // six weights, two biases
	grads := []float32{0, 0.5, 0, -0.1, 0, 0, 0, 2}
	before := slices.Clone(params)
	a := newAdam(lr, len(params))
	a.decay, a.decayRanges = decay, weightRanges(p)
	a.step(params, grads)
	for i := range params {
		// Adam's first step: m = 0.1·g, √v = √0.001·|g|, αₜ = lr·√0.001/0.1.
		var delta float64
		if g := float64(grads[i]); g != 0 {
			delta = lr * math.Sqrt(0.001) / 0.1 * 0.1 * g / (math.Sqrt(0.001)*math.Abs(g) + 1e-7)
		}
		keep := 1.0
		if i < 6 {
			keep = 1 - lr*decay
		}
		want := float64(before[i])*keep - delta
		if math.Abs(float64(params[i])-want) > 1e-6 {
			t.Errorf("param %d: %.9f, want %.9f", i, params[i], want)
		}
	}
	// Without decay the zero-gradient weights do not move.
	params = slices.Clone(before)
	newAdam(lr, len(params)).step(params, grads)
	if params[0] != before[0] || params[2] != before[2] {
		t.Errorf("without decay: zero-gradient weights moved to %g, %g", params[0], params[2])
	}
}

func TestRecipeEnums(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) (fmt.Stringer, error)
		names []string
		field string
	}{
		{"ClassBalance", func(s string) (fmt.Stringer, error) { return ParseClassBalance(s) }, []string{"none", "weights", "sampler"}, "ClassBalance"},
		{"SelectBy", func(s string) (fmt.Stringer, error) { return ParseSelectBy(s) }, []string{"accuracy", "balanced"}, "Select"},
		{"Schedule", func(s string) (fmt.Stringer, error) { return ParseSchedule(s) }, []string{"constant", "cosine"}, "Schedule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, n := range tt.names {
				v, err := tt.parse(n)
				if err != nil || v.String() != n {
					t.Errorf("parse %q: %v, %v", n, v, err)
				}
			}
			_, err := tt.parse("bogus")
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field || !strings.Contains(err.Error(), `"`+tt.names[len(tt.names)-1]+`"`) {
				t.Errorf("parse bogus: %v, want a ConfigError for %s listing the names", err, tt.field)
			}
		})
	}
	// JSON: strings both ways; the zero Config is the old behaviour.
	var c struct {
		B ClassBalance
		S SelectBy
		K Schedule
	}
	if err := json.Unmarshal([]byte(`{"B":"sampler","S":"balanced","K":"cosine"}`), &c); err != nil || c.B != BalanceSampler || c.S != SelectBalanced || c.K != ScheduleCosine {
		t.Errorf("unmarshal: %+v, %v", c, err)
	}
	if b, _ := json.Marshal(c); string(b) != `{"B":"sampler","S":"balanced","K":"cosine"}` {
		t.Errorf("marshal: %s", b)
	}
	if ClassBalance(9).String() != "ClassBalance(9)" || ClassBalance(9).Valid() {
		t.Error("invalid ClassBalance prints or validates wrongly")
	}
	d := DefaultConfig()
	if d.ClassBalance != BalanceNone || d.Select != SelectAccuracy || d.Schedule != ScheduleConstant || d.WarmupEpochs != 0 ||
		d.WeightDecay != 0 || d.augments() || d.Teacher != nil {
		t.Errorf("DefaultConfig %+v turns on part of the recipe", d)
	}
}

// TestEMA checks Config.EMA against the recursion written out: with one
// Adam step per epoch (a batch of the whole split) and no validation, the
// model after T epochs with EMA d is the average a_T of the parameters
// p_1…p_T that T plain trainings of 1…T epochs end with, a_0 being the
// initial weights and a_t = a_{t−1} + (1−d_t)·(p_t − a_{t−1}),
// d_t = min(d, (1+t)/(10+t)). With validation the best epoch is chosen on
// the averaged network; with batch normalisation γ and β are averaged.
func TestEMA(t *testing.T) {
	train := sinusoids(64, 256, 1)
	net := toyNet(t)
	const T = 12
	cfg := DefaultConfig()
	cfg.Batch, cfg.LR = 64, 0.01
	plain := func(epochs int) []float32 {
		c := cfg
		c.Epochs = epochs
		res, err := Native().Train(context.Background(), net, train, nil, c)
		if err != nil {
			t.Fatal(err)
		}
		return res.Model.Params()
	}
	// (1+t)/(10+t) stays below 0.7 up to t = 12: only the warm-up
	// applies; it passes 0.2 at t = 2: the cap applies from then on.
	for _, decay := range []float64{0.7, 0.2} {
		t.Run(fmt.Sprint(decay), func(t *testing.T) {
			m, err := NewModel(net, cfg.Seed)
			if err != nil {
				t.Fatal(err)
			}
			avg := make([]float64, len(m.Params()))
			for i, v := range m.Params() {
				avg[i] = float64(v)
			}
			for step := 1; step <= T; step++ {
				p := plain(step)
				dt := min(decay, float64(1+step)/float64(10+step))
				for i := range avg {
					avg[i] += (1 - dt) * (float64(p[i]) - avg[i])
				}
			}
			c := cfg
			c.Epochs, c.EMA = T, decay
			res, err := Native().Train(context.Background(), net, train, nil, c)
			if err != nil {
				t.Fatal(err)
			}
			last := plain(T)
			var moved, worst float64
			for i, v := range res.Model.Params() {
				worst = max(worst, math.Abs(float64(v)-avg[i]))
				moved = max(moved, math.Abs(float64(last[i])-avg[i]))
			}
			if worst > 1e-5 {
				t.Errorf("averaged parameters differ from the recursion by up to %.3g", worst)
			}
			if moved < 1e-3 {
				t.Errorf("the average is within %.3g of the last parameters: the test cannot tell them apart", moved)
			}
		})
	}
	t.Run("validation scores the average", func(t *testing.T) {
		val := sinusoids(60, 256, 2)
		c := cfg
		c.Epochs, c.Batch, c.EMA = 4, 16, 0.9
		for _, bn := range []bool{false, true} {
			c.BatchNorm = bn
			res, err := Native().Train(context.Background(), net, train, val, c)
			if err != nil {
				t.Fatal(err)
			}
			met, err := Evaluate(res.Model, val)
			if err != nil {
				t.Fatal(err)
			}
			if e := res.History[res.Best]; math.Abs(met.Accuracy-e.ValAcc) > 1e-12 || math.Abs(met.Loss-e.ValLoss) > 1e-5 {
				t.Errorf("batch norm %v: the model scores %.4f (loss %.5f) on validation, its best epoch %.4f (%.5f)", bn, met.Accuracy, met.Loss, e.ValAcc, e.ValLoss)
			}
			c0 := c
			c0.EMA = 0
			res0, err := Native().Train(context.Background(), net, train, val, c0)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Equal(res0.Model.Params(), res.Model.Params()) {
				t.Errorf("batch norm %v: the same model with and without EMA", bn)
			}
		}
	})
	c := cfg
	c.EMA = 1
	if _, err := Native().Train(context.Background(), net, train, nil, c); err == nil || !strings.Contains(err.Error(), "EMA") {
		t.Errorf("EMA 1: error %v, want one naming EMA", err)
	}
}
