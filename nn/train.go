package nn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
)

// Config sets up a training run. Its zero values beyond Epochs, Batch and
// LR turn every option off: the defaults train as the engine always has
// (constant learning rate, no weight decay, no augmentation, no class
// balancing, the best epoch chosen by validation accuracy).
type Config struct {
	Epochs  int     // passes over the training data, ≥ 1
	Batch   int     // samples per Adam step, ≥ 1; the last batch of an epoch may be smaller
	LR      float64 // Adam learning rate α (the peak of a schedule), positive and finite
	Dropout float64 // rate in [0, 1) of inverted dropout after every hidden layer; 0 = off
	Seed    uint64  // drives initialisation, shuffling, dropout, sampling and augmentation
	// Patience stops training after that many epochs without a better
	// validation score; 0 trains all Epochs. It needs validation data:
	// Train refuses a positive Patience without it (ErrPatienceWithoutValidation).
	Patience int

	// ClassBalance compensates for unequal classes in the training data:
	// class-weighted loss or a class-balanced sampler (see ClassBalance).
	// Only the training data is looked at.
	ClassBalance ClassBalance
	// Select is the validation score that picks the best epoch and that
	// Patience waits to improve: accuracy or balanced accuracy.
	Select SelectBy

	// Schedule shapes the learning rate over the run, stepped per batch
	// after a linear warm-up of WarmupEpochs (0 ≤ WarmupEpochs ≤ Epochs);
	// see LearningRate.
	Schedule     Schedule
	WarmupEpochs int
	// WeightDecay λ ≥ 0 is AdamW's decoupled weight decay: every step
	// multiplies each weight (not the biases) by 1 − lr·λ, lr being the
	// step's scheduled learning rate; LR·λ must stay below 1. 0 = off.
	WeightDecay float64

	// Augmentation of the training samples (never of validation or test
	// data), drawn afresh for every sample of every epoch from Seed; 0
	// turns a part off. See the augmenter for the exact formula.
	AugmentShift  int     // largest circular time shift, in samples, ≥ 0 and below the sample length
	AugmentScale  float64 // amplitude factor drawn from [1−s, 1+s], 0 ≤ s < 1
	AugmentWander float64 // largest amplitude of a low-frequency sinusoid added per channel, ≥ 0
	AugmentNoise  float64 // standard deviation of added white Gaussian noise, ≥ 0

	// Teacher, if not nil, holds a teacher's soft targets on the training
	// data (TeacherTargets): training then minimises
	// (1−Alpha)·CE(hard labels) + Alpha·T²·KL(teacher ‖ student at T),
	// T being the targets' temperature; Alpha in [0, 1] weights the soft
	// (teacher) term. Alpha is ignored without a Teacher, and Alpha 0
	// trains on the hard labels alone.
	Teacher *SoftTargets
	Alpha   float64
}

// DefaultConfig is 20 epochs of batches of 32 at learning rate 1e-3,
// no dropout, seed 1, no early stopping, and every option of the recipe
// off: constant learning rate, no weight decay, no augmentation, no class
// balancing, selection by validation accuracy, no teacher (Alpha 0.5,
// the weight of a teacher's term should one be given).
func DefaultConfig() Config {
	return Config{Epochs: 20, Batch: 32, LR: 1e-3, Seed: 1, Alpha: 0.5}
}

// ErrPatienceWithoutValidation is wrapped by the error of a training run
// given a positive Config.Patience but no validation data (nil or empty),
// so that early stopping could never happen.
var ErrPatienceWithoutValidation = errors.New("nn: patience needs validation data")

// ConfigError names the Config field out of its documented range (or
// "Temperature", the argument of TeacherTargets and CheckTemperature).
type ConfigError struct {
	Field   string // the Go name of the field, e.g. "Epochs", "LR", "ClassBalance", "WarmupEpochs"
	Value   any
	Problem string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("nn: %s %v: %s", e.Field, e.Value, e.Problem)
}

// Validate reports the first field of c out of its documented range, as a
// *ConfigError. Train calls it; a caller can call it first to refuse a
// configuration before doing anything else. (What depends on the data —
// Patience without validation data, an AugmentShift as long as the
// samples, a Teacher computed on other data — only Train can refuse.)
func (c Config) Validate() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case c.Epochs < 1:
		return &ConfigError{"Epochs", c.Epochs, "want at least 1"}
	case c.Batch < 1:
		return &ConfigError{"Batch", c.Batch, "want at least 1"}
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return &ConfigError{"LR", c.LR, "want a positive, finite learning rate"}
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return &ConfigError{"Dropout", c.Dropout, "want 0 ≤ rate < 1"}
	case c.Patience < 0:
		return &ConfigError{"Patience", c.Patience, "want ≥ 0 (0: no early stopping)"}
	case !c.ClassBalance.Valid():
		return &ConfigError{"ClassBalance", c.ClassBalance, "want none, weights or sampler"}
	case !c.Select.Valid():
		return &ConfigError{"Select", c.Select, "want accuracy or balanced"}
	case !c.Schedule.Valid():
		return &ConfigError{"Schedule", c.Schedule, "want constant or cosine"}
	case c.WarmupEpochs < 0 || c.WarmupEpochs > c.Epochs:
		return &ConfigError{"WarmupEpochs", c.WarmupEpochs, fmt.Sprintf("want 0 ≤ warm-up ≤ the %d epochs", c.Epochs)}
	case !(c.WeightDecay >= 0) || !finite(c.WeightDecay):
		return &ConfigError{"WeightDecay", c.WeightDecay, "want a finite decay ≥ 0"}
	case c.LR*c.WeightDecay >= 1:
		return &ConfigError{"WeightDecay", c.WeightDecay, fmt.Sprintf("want learning rate × decay < 1 (learning rate %g)", c.LR)}
	case c.AugmentShift < 0:
		return &ConfigError{"AugmentShift", c.AugmentShift, "want a shift ≥ 0 samples"}
	case !(c.AugmentScale >= 0 && c.AugmentScale < 1):
		return &ConfigError{"AugmentScale", c.AugmentScale, "want 0 ≤ scale < 1"}
	case !(c.AugmentWander >= 0) || !finite(c.AugmentWander):
		return &ConfigError{"AugmentWander", c.AugmentWander, "want a finite amplitude ≥ 0"}
	case !(c.AugmentNoise >= 0) || !finite(c.AugmentNoise):
		return &ConfigError{"AugmentNoise", c.AugmentNoise, "want a finite standard deviation ≥ 0"}
	case !(c.Alpha >= 0 && c.Alpha <= 1):
		return &ConfigError{"Alpha", c.Alpha, "want 0 ≤ α ≤ 1"}
	case c.Teacher != nil && (c.Teacher.Len() == 0 || CheckTemperature(c.Teacher.temperature) != nil):
		return &ConfigError{"Teacher", "(empty soft targets)", "want soft targets from TeacherTargets"}
	}
	return nil
}

// Epoch is the record of one epoch. The training figures are those of the
// training passes themselves (with dropout and augmentation, while the
// weights change; the loss is the objective minimised: class-weighted
// and mixed with the teacher's term when those are on); the validation
// figures are zero without validation data.
type Epoch struct {
	TrainLoss           float64 `json:"train_loss"`
	TrainAcc            float64 `json:"train_acc"`
	ValLoss             float64 `json:"val_loss"` // mean cross-entropy, unweighted, as Evaluate's Loss
	ValAcc              float64 `json:"val_acc"`
	ValBalancedAccuracy float64 `json:"val_balanced_accuracy"` // as Evaluate's BalancedAccuracy
	LR                  float64 `json:"lr"`                    // learning rate of the epoch's last step
	Seconds             float64 `json:"seconds"`               // wall time, validation included
}

// Result is the outcome of a training run.
type Result struct {
	// Model holds the weights after epoch Best: the epoch with the highest
	// validation score of Config.Select (the lower validation loss breaks
	// ties, the earlier epoch after that), or the last epoch without
	// validation data.
	Model   *Model
	History []Epoch
	Best    int // index into History
}

// Engine trains a network on a dataset.
type Engine interface {
	Name() string
	// Train trains net on train, choosing the epoch by val (which may be
	// nil or empty). It checks the configuration, the network and both
	// datasets (Dataset.Validate, and that they fit the network) before it
	// starts. It checks ctx between batches and returns its error, wrapped,
	// when it is done.
	Train(ctx context.Context, net arch.Network, train, val *dataset.Dataset, cfg Config) (*Result, error)
}

// Native returns the hand-written engine: float32, one goroutine per
// training run, no allocation in the training loop. Runs on different
// goroutines share nothing and can go in parallel.
func Native() Engine { return native{} }

type native struct{}

func (native) Name() string { return "native" }

func (native) Train(ctx context.Context, net arch.Network, train, val *dataset.Dataset, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := NewModel(net, cfg.Seed)
	if err != nil {
		return nil, err
	}
	if err := checkData(m.plan, train, "training"); err != nil {
		return nil, err
	}
	if train.Len() == 0 {
		return nil, fmt.Errorf("nn: training data is empty")
	}
	if val != nil && val.Len() == 0 {
		val = nil // nothing to choose by
	}
	if val != nil {
		if err := checkData(m.plan, val, "validation"); err != nil {
			return nil, err
		}
		if !slices.Equal(val.Classes, train.Classes) {
			return nil, fmt.Errorf("nn: validation classes %v differ from training classes %v", val.Classes, train.Classes)
		}
	}
	if cfg.Patience > 0 && val == nil {
		return nil, fmt.Errorf("%w: patience %d, but the validation data is missing or empty", ErrPatienceWithoutValidation, cfg.Patience)
	}
	if cfg.AugmentShift >= train.Length {
		return nil, &ConfigError{"AugmentShift", cfg.AugmentShift, fmt.Sprintf("want a shift below the sample length %d", train.Length)}
	}
	if cfg.Teacher != nil {
		if err := cfg.Teacher.fits(train); err != nil {
			return nil, err
		}
	}
	m.Classes = slices.Clone(train.Classes)
	t := newTrainer(m, train, cfg)
	return t.run(ctx, train, val)
}

// trainer holds everything one training run needs, allocated up front.
type trainer struct {
	m       *Model
	cfg     Config
	grads   []float32
	best    []float32 // parameters of the best epoch so far
	opt     *adam
	ws      *workspace[float32]
	drop    *dropper // nil without dropout
	shuffle *rand.Rand
	perm    []int // the epoch's order of training samples

	steps   int // Adam steps taken
	perStep int // Adam steps per epoch

	classW  []float32 // per-class loss weights, or nil
	byClass [][]int   // BalanceSampler: the training samples of each class present
	aug     *augmenter
	soft    *SoftTargets
	conf    [][]int // validation confusion matrix
}

// newTrainer prepares a run on train (only its labels and shape are read
// here). train must hold at least one sample.
func newTrainer(m *Model, train *dataset.Dataset, cfg Config) *trainer {
	n := train.Len()
	t := &trainer{
		m:       m,
		cfg:     cfg,
		grads:   make([]float32, len(m.params)),
		best:    make([]float32, len(m.params)),
		opt:     newAdam(cfg.LR, len(m.params)),
		ws:      newWorkspace[float32](m.plan, cfg.Dropout > 0, false),
		shuffle: rand.New(rand.NewPCG(cfg.Seed, streamShuffle)),
		perm:    make([]int, n),
		perStep: (n + cfg.Batch - 1) / cfg.Batch,
		soft:    cfg.Teacher,
	}
	if cfg.WeightDecay > 0 {
		t.opt.decay, t.opt.decayRanges = cfg.WeightDecay, weightRanges(m.plan)
	}
	if cfg.Dropout > 0 {
		t.drop = newDropper(cfg.Dropout, cfg.Seed)
	}
	for i := range t.perm {
		t.perm[i] = i
	}
	switch cfg.ClassBalance {
	case BalanceWeights:
		w := ClassWeights(train)
		t.classW = make([]float32, len(w))
		for c, v := range w {
			t.classW[c] = float32(v)
		}
	case BalanceSampler:
		all := make([][]int, len(train.Classes))
		for i, l := range train.Labels {
			all[l] = append(all[l], i)
		}
		for _, idx := range all {
			if len(idx) > 0 {
				t.byClass = append(t.byClass, idx)
			}
		}
	}
	if cfg.augments() {
		t.aug = newAugmenter(cfg, train.Length, train.Channels)
	}
	k := m.plan.classes()
	t.conf = make([][]int, k)
	for i := range t.conf {
		t.conf[i] = make([]int, k)
	}
	return t
}

func (t *trainer) run(ctx context.Context, train, val *dataset.Dataset) (*Result, error) {
	// Epochs may be huge when Patience ends the run: grow History as needed.
	res := &Result{Model: t.m, History: make([]Epoch, 0, min(t.cfg.Epochs, 1024))}
	bestScore, bestLoss := math.Inf(-1), math.Inf(1)
	for e := range t.cfg.Epochs {
		start := time.Now()
		loss, acc, err := t.epoch(ctx, train)
		if err != nil {
			return nil, fmt.Errorf("nn: training stopped in epoch %d of %d: %w", e+1, t.cfg.Epochs, err)
		}
		ep := Epoch{TrainLoss: loss, TrainAcc: acc, LR: t.opt.lr}
		if val != nil {
			for _, row := range t.conf {
				clear(row)
			}
			l, c := score(t.m.plan, t.m.params, t.ws, val, t.conf)
			ep.ValLoss, ep.ValAcc = l/float64(val.Len()), float64(c)/float64(val.Len())
			ep.ValBalancedAccuracy = balancedAccuracy(t.conf)
		}
		ep.Seconds = time.Since(start).Seconds()
		res.History = append(res.History, ep)
		if val == nil {
			res.Best = e
			continue
		}
		sc := ep.ValAcc
		if t.cfg.Select == SelectBalanced {
			sc = ep.ValBalancedAccuracy
		}
		if sc > bestScore || (sc == bestScore && ep.ValLoss < bestLoss) {
			bestScore, bestLoss, res.Best = sc, ep.ValLoss, e
			copy(t.best, t.m.params)
		} else if t.cfg.Patience > 0 && e-res.Best >= t.cfg.Patience {
			break
		}
	}
	if val != nil {
		copy(t.m.params, t.best)
	}
	return res, nil
}

// order sets t.perm to the epoch's order of training samples: a fresh
// permutation, or with BalanceSampler len(perm) class-balanced draws.
func (t *trainer) order() {
	if t.byClass != nil {
		for i := range t.perm {
			idx := t.byClass[t.shuffle.IntN(len(t.byClass))]
			t.perm[i] = idx[t.shuffle.IntN(len(idx))]
		}
		return
	}
	for i := len(t.perm) - 1; i > 0; i-- {
		j := t.shuffle.IntN(i + 1)
		t.perm[i], t.perm[j] = t.perm[j], t.perm[i]
	}
}

// epoch makes one pass over train in a fresh random order and returns the
// mean training loss and accuracy.
func (t *trainer) epoch(ctx context.Context, train *dataset.Dataset) (loss, acc float64, err error) {
	p, params, ws := t.m.plan, t.m.params, t.ws
	dropout := t.drop != nil
	logitsGrad := ws.grad[len(p.layers)]
	t.order()
	var temp float64
	var soft []float32
	if t.soft != nil {
		temp = t.soft.temperature
	}
	done := ctx.Done()
	correct := 0
	for b0 := 0; b0 < len(t.perm); b0 += t.cfg.Batch {
		select {
		case <-done:
			return 0, 0, ctx.Err()
		default:
		}
		batch := t.perm[b0:min(b0+t.cfg.Batch, len(t.perm))]
		scale := 1 / float32(len(batch))
		clear(t.grads)
		for _, idx := range batch {
			x := train.Sample(idx)
			if t.aug != nil {
				x = t.aug.apply(x)
			}
			if dropout {
				fill(t.drop, ws)
			}
			z := ws.forward(p, params, x, dropout)
			label := int(train.Labels[idx])
			if argmax(z) == label {
				correct++
			}
			w := float32(1)
			if t.classW != nil {
				w = t.classW[label]
			}
			var l float32
			if t.soft != nil {
				soft = t.soft.Probs(idx)
				l = distillLoss(z, label, soft, temp, t.cfg.Alpha, w*scale, logitsGrad)
			} else {
				l = softmaxCE(z, label, w*scale, logitsGrad)
			}
			loss += float64(w * l)
			ws.backward(p, params, t.grads, dropout)
		}
		t.opt.lr = t.cfg.LearningRate(t.steps, t.perStep)
		t.steps++
		t.opt.step(params, t.grads)
	}
	n := float64(len(t.perm))
	return loss / n, float64(correct) / n, nil
}
