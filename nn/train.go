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
	"github.com/splitnas/splitnas/quant/scheme"
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

	// BatchNorm trains with batch normalisation after every hidden Conv
	// and ConvTranspose layer, before its ReLU: per channel over the batch
	// and the positions, learnable γ and β, running estimates of the mean
	// and variance with momentum 0.1 and ε 1e-5, as PyTorch's BatchNorm1d
	// (biased variance to normalise, unbiased for the running estimate).
	// The model Train returns has it folded into the weights and biases
	// by the running estimates — the same architecture, parameter count,
	// Flash, RAM, MACs and energy as without — and validation (the choice
	// of the best epoch) scores that folded network. It needs Batch ≥ 2
	// (an epoch's last batch may still hold a single sample: its
	// statistics are then over its positions alone); the biases of the
	// normalised layers stay 0 until folded, and γ and β get no weight
	// decay. Off, training is exactly what it is without the option.
	BatchNorm bool
	// SamplesPerEpoch ≥ 0 fixes the number of training samples an epoch
	// draws, so that its cost does not grow with the training data; 0
	// draws the whole training split. With BalanceSampler that many
	// class-balanced draws (with replacement); otherwise that many
	// distinct samples drawn uniformly without replacement (a fresh
	// seeded partial shuffle every epoch), or the whole split if it has no
	// more. The learning-rate schedule counts the steps of these epochs.
	SamplesPerEpoch int

	// QATBits, if not 0, trains quantization-aware for int8 activations
	// and weights of QATBits bits, 8 or 4 (see qat.go); Result.Ranges
	// then holds the tensor ranges to quantize the model with
	// (quant.FromFloat). It cannot be combined with BatchNorm: fold first
	// (train with BatchNorm, then fine-tune the result with Init).
	QATBits int
	// EMA, if not 0, keeps an exponential moving average of the trained
	// parameters (Polyak averaging, as TensorFlow's
	// ExponentialMovingAverage with num_updates): after Adam step t
	// (t = 1, 2, …) every averaged value a of a parameter p becomes
	// a + (1−d)·(p − a), with d = min(EMA, (1+t)/(10+t)) so that the
	// average forgets the initial weights quickly early on; it starts from
	// the initial parameters. Validation then scores the averaged network
	// (which picks the best epoch), and the model returned holds its
	// parameters. With BatchNorm γ and β are averaged too and folded with
	// the running statistics as they stand. 0 ≤ EMA < 1; 0 = off.
	EMA float64
	// Init, if not nil, is the model whose weights training starts from
	// (fine-tuning) instead of Seed's random ones; it must have the
	// network being trained.
	Init *Model
	// Mask, if not nil, holds one entry per parameter (the layout of
	// Model.Params): the parameters whose entry is false are set to 0
	// before training and stay exactly 0 through it — their gradient is
	// dropped before every Adam step, so their moments stay 0 and so do
	// their updates — as the fine-tuning of a pruned network needs (see
	// package prune). With BatchNorm the mask applies to the unfolded
	// parameters: folding scales a masked weight to 0 still, but gives
	// every bias of a normalised layer its folded value, masked or not.
	Mask []bool
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
	case c.BatchNorm && c.Batch < 2:
		return &ConfigError{"Batch", c.Batch, "want at least 2 with batch normalisation"}
	case c.SamplesPerEpoch < 0:
		return &ConfigError{"SamplesPerEpoch", c.SamplesPerEpoch, "want ≥ 0 samples (0: the whole training split)"}
	case !(c.EMA >= 0 && c.EMA < 1):
		return &ConfigError{"EMA", c.EMA, "want a decay 0 ≤ d < 1 (0: off)"}
	case c.QATBits != 0 && c.QATBits != 8 && c.QATBits != 4:
		return &ConfigError{"QATBits", c.QATBits, "want 8 or 4 (0: off)"}
	case c.QATBits != 0 && c.BatchNorm:
		return &ConfigError{"QATBits", c.QATBits, "cannot be combined with batch normalisation: train with it first, then fine-tune the folded model quantization-aware"}
	}
	return nil
}

// Epoch is the record of one epoch. The training figures are those of the
// training passes themselves (with dropout, augmentation and batch
// statistics, while the weights change; the loss is the objective
// minimised: class-weighted and mixed with the teacher's term when those
// are on); the validation figures are zero without validation data.
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
	// validation data. With Config.BatchNorm the normalisation is folded
	// into them: Model is the plain network, and its validation scores
	// are the ones recorded for epoch Best.
	Model   *Model
	History []Epoch
	Best    int // index into History
	// Ranges, with Config.QATBits, are the ranges of tensors 0..L (input
	// to logits) as they stood after epoch Best, to quantize Model with;
	// nil otherwise.
	Ranges []scheme.Range
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
	if cfg.Init != nil {
		if !slices.Equal(cfg.Init.net.Layers, net.Layers) {
			return nil, &ConfigError{"Init", cfg.Init.String(), fmt.Sprintf("want a model of the network trained, %v", net)}
		}
		copy(m.params, cfg.Init.params)
	}
	if cfg.Mask != nil {
		if len(cfg.Mask) != len(m.params) {
			return nil, &ConfigError{"Mask", len(cfg.Mask), fmt.Sprintf("want one entry per parameter of the network (%d)", len(m.params))}
		}
		for i, keep := range cfg.Mask {
			if !keep {
				m.params[i] = 0
			}
		}
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
	m   *Model
	cfg Config
	// all is the vector Adam updates and grads its gradient: the model's
	// parameters, and with batch normalisation γ and β after them. params
	// is the network's part of all: m.params itself without batch
	// normalisation; with it a copy, trained unfolded, which fold turns
	// into m.params.
	all, params, grads []float32
	best               []float32 // parameters of the best epoch so far (folded)
	ema                []float32 // with Config.EMA: the moving average of all, else nil
	opt                *adam
	ws                 *workspace[float32] // one sample's pass; validation
	drop               *dropper            // nil without dropout
	shuffle            *rand.Rand
	perm               []int // the training samples, in the order of the last draws
	draws              int   // samples per epoch: the first draws of perm

	// With Config.BatchNorm (nil otherwise): the normalisation, the
	// batch-wide passes, its parameters γ and β (the end of all), the
	// folded parameters of the last validation, and with augmentation a
	// buffer per sample of a batch.
	bn     *batchNorm[float32]
	batch  *bnBatch[float32]
	bnp    []float32
	folded []float32
	inputs [][]float32

	steps   int     // Adam steps taken
	perStep int     // Adam steps per epoch
	masked  []int32 // with Config.Mask: the parameters held at 0

	classW  []float32 // per-class loss weights, or nil
	byClass [][]int   // BalanceSampler: the training samples of each class present
	aug     *augmenter
	soft    *SoftTargets
	conf    [][]int // validation confusion matrix

	fq         *fakeQuant[float32] // with Config.QATBits, else nil
	bestRanges []scheme.Range      // fq's ranges after the best epoch
}

// newTrainer prepares a run on train (only its labels and shape are read
// here). train must hold at least one sample.
func newTrainer(m *Model, train *dataset.Dataset, cfg Config) *trainer {
	n := train.Len()
	draws := n
	if k := cfg.SamplesPerEpoch; k > 0 && (k < n || cfg.ClassBalance == BalanceSampler) {
		draws = k
	}
	t := &trainer{
		m:       m,
		cfg:     cfg,
		all:     m.params,
		params:  m.params,
		best:    make([]float32, len(m.params)),
		shuffle: rand.New(rand.NewPCG(cfg.Seed, streamShuffle)),
		perm:    make([]int, max(n, draws)),
		draws:   draws,
		perStep: (draws + cfg.Batch - 1) / cfg.Batch,
		soft:    cfg.Teacher,
	}
	if cfg.BatchNorm {
		t.bn = newBatchNorm[float32](m.plan)
		nP := len(m.params)
		t.all = make([]float32, nP+t.bn.nParams)
		t.params, t.bnp = t.all[:nP:nP], t.all[nP:]
		copy(t.params, m.params)
		t.bn.initParams(t.bnp)
		t.folded = make([]float32, nP)
		size := min(cfg.Batch, draws) // no batch is larger
		t.batch = newBNBatch(m.plan, t.bn, size, cfg.Dropout > 0, false)
		t.ws = t.batch.ws[0]
		if cfg.augments() {
			t.inputs = make([][]float32, size)
			for s := range t.inputs {
				t.inputs[s] = make([]float32, train.Length*train.Channels)
			}
		}
	} else {
		t.ws = newWorkspace[float32](m.plan, cfg.Dropout > 0, false)
	}
	t.grads = make([]float32, len(t.all))
	if cfg.EMA > 0 {
		t.ema = slices.Clone(t.all)
	}
	for i, keep := range cfg.Mask {
		if !keep {
			t.masked = append(t.masked, int32(i))
		}
	}
	t.opt = newAdam(cfg.LR, len(t.all))
	if cfg.WeightDecay > 0 {
		t.opt.decay, t.opt.decayRanges = cfg.WeightDecay, weightRanges(m.plan)
	}
	if cfg.Dropout > 0 {
		t.drop = newDropper(cfg.Dropout, cfg.Seed)
	}
	for i := range min(n, len(t.perm)) {
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
	if cfg.QATBits != 0 {
		t.fq = newFakeQuant[float32](m.plan, cfg.QATBits)
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
		var inf []float32 // the network validated
		if val != nil {
			for _, row := range t.conf {
				clear(row)
			}
			inf = t.inference()
			l, c := t.score(inf, val)
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
			copy(t.best, inf)
			if t.fq != nil {
				t.bestRanges = slices.Clone(t.fq.ranges)
			}
		} else if t.cfg.Patience > 0 && e-res.Best >= t.cfg.Patience {
			break
		}
	}
	switch {
	case val != nil:
		copy(t.m.params, t.best)
	case t.bn != nil || t.ema != nil:
		copy(t.m.params, t.inference())
	}
	if t.fq != nil {
		res.Ranges = t.bestRanges
		if val == nil {
			res.Ranges = slices.Clone(t.fq.ranges)
		}
	}
	return res, nil
}

// score runs the validation data through the network with parameters
// params — fake-quantized, with quantization-aware training — counting
// the predictions in t.conf, and returns the summed loss and the number
// classified correctly.
func (t *trainer) score(params []float32, val *dataset.Dataset) (float64, int) {
	if t.fq == nil {
		return score(t.m.plan, params, t.ws, val, t.conf)
	}
	t.fq.quantizeWeights(t.m.plan, params)
	return scoreWith(func(x []float32) []float32 { return t.fq.forward(t.ws, t.m.plan, x, false, false) }, val, t.conf)
}

// inference returns the parameters of the network as it stands, for
// inference: the trained ones (with Config.EMA their moving average), and
// with batch normalisation those with the normalisation folded in (into
// t.folded).
func (t *trainer) inference() []float32 {
	all := t.all
	if t.ema != nil {
		all = t.ema
	}
	nP := len(t.params)
	if t.bn == nil {
		return all[:nP]
	}
	t.bn.fold(t.m.plan, all[:nP], all[nP:], t.folded)
	return t.folded
}

// order returns the epoch's training samples in the order of training:
// with BalanceSampler t.draws class-balanced draws; otherwise a fresh
// permutation of all the samples, or, when t.draws is fewer, t.draws
// distinct samples drawn uniformly (the first steps of a Fisher–Yates
// shuffle of the permutation left by the previous epoch).
func (t *trainer) order() []int {
	perm := t.perm[:t.draws]
	if t.byClass != nil {
		for i := range perm {
			idx := t.byClass[t.shuffle.IntN(len(t.byClass))]
			perm[i] = idx[t.shuffle.IntN(len(idx))]
		}
		return perm
	}
	if n := len(t.perm); t.draws < n {
		for i := range perm {
			j := i + t.shuffle.IntN(n-i)
			t.perm[i], t.perm[j] = t.perm[j], t.perm[i]
		}
		return perm
	}
	for i := len(perm) - 1; i > 0; i-- {
		j := t.shuffle.IntN(i + 1)
		perm[i], perm[j] = perm[j], perm[i]
	}
	return perm
}

// epoch makes one pass over the epoch's training samples (see order) and
// returns their mean training loss and accuracy.
func (t *trainer) epoch(ctx context.Context, train *dataset.Dataset) (loss, acc float64, err error) {
	order := t.order()
	done := ctx.Done()
	correct := 0
	for b0 := 0; b0 < len(order); b0 += t.cfg.Batch {
		select {
		case <-done:
			return 0, 0, ctx.Err()
		default:
		}
		batch := order[b0:min(b0+t.cfg.Batch, len(order))]
		scale := 1 / float32(len(batch))
		clear(t.grads)
		var l float64
		var c int
		if t.bn != nil {
			l, c = t.batchBN(train, batch, scale)
		} else {
			l, c = t.batchPlain(train, batch, scale)
		}
		loss, correct = loss+l, correct+c
		t.step()
	}
	n := float64(len(order))
	return loss / n, float64(correct) / n, nil
}

// batchPlain accumulates the gradient of one batch into t.grads, one sample
// at a time through the whole network, and returns the batch's summed loss
// and the number of samples classified correctly.
func (t *trainer) batchPlain(train *dataset.Dataset, batch []int, scale float32) (loss float64, correct int) {
	p, params, ws, fq := t.m.plan, t.params, t.ws, t.fq
	dropout := t.drop != nil
	logitsGrad := ws.grad[len(p.layers)]
	if fq != nil {
		fq.beginBatch(p, params)
	}
	for _, idx := range batch {
		x := train.Sample(idx)
		if t.aug != nil {
			x = t.aug.apply(x)
		}
		if dropout {
			fill(t.drop, ws)
		}
		var z []float32
		if fq != nil {
			z = fq.forward(ws, p, x, dropout, true)
		} else {
			z = ws.forward(p, params, x, dropout)
		}
		l, ok := t.loss(train, idx, z, scale, logitsGrad)
		if ok {
			correct++
		}
		loss += l
		if fq != nil {
			fq.backward(ws, p, t.grads, dropout)
		} else {
			ws.backward(p, params, t.grads, dropout)
		}
	}
	if fq != nil {
		fq.endBatch()
	}
	return loss, correct
}

// batchBN is batchPlain with batch normalisation: the batch goes through
// the network layer by layer, all its samples at once (see bnBatch).
func (t *trainer) batchBN(train *dataset.Dataset, batch []int, scale float32) (loss float64, correct int) {
	b := t.batch
	dropout := t.drop != nil
	last := len(t.m.plan.layers)
	nP := len(t.params)
	for s, idx := range batch {
		ws := b.ws[s]
		x := train.Sample(idx)
		if t.aug != nil {
			x = t.aug.applyTo(x, t.inputs[s])
		}
		ws.act[0] = x
		if dropout {
			fill(t.drop, ws)
		}
	}
	b.forward(t.params, t.bnp, len(batch), dropout)
	for s, idx := range batch {
		ws := b.ws[s]
		l, ok := t.loss(train, idx, ws.act[last], scale, ws.grad[last])
		if ok {
			correct++
		}
		loss += l
	}
	b.backward(t.params, t.bnp, t.grads[:nP], t.grads[nP:], len(batch), dropout)
	return loss, correct
}

// loss returns the (class-weighted) training loss of sample idx of train
// given its logits z, sets dz to its gradient times scale, and reports
// whether z predicts the sample's class.
func (t *trainer) loss(train *dataset.Dataset, idx int, z []float32, scale float32, dz []float32) (float64, bool) {
	label := int(train.Labels[idx])
	w := float32(1)
	if t.classW != nil {
		w = t.classW[label]
	}
	var l float32
	if t.soft != nil {
		l = distillLoss(z, label, t.soft.Probs(idx), t.soft.temperature, t.cfg.Alpha, w*scale, dz)
	} else {
		l = softmaxCE(z, label, w*scale, dz)
	}
	return float64(w * l), argmax(z) == label
}

// step takes one Adam step of the schedule with the batch's gradient.
func (t *trainer) step() {
	t.opt.lr = t.cfg.LearningRate(t.steps, t.perStep)
	t.steps++
	for _, i := range t.masked {
		t.grads[i] = 0 // the network's parameters come first in t.all
	}
	t.opt.step(t.all, t.grads)
	if t.ema != nil {
		d := min(t.cfg.EMA, float64(1+t.steps)/float64(10+t.steps))
		f := float32(1 - d)
		for i, p := range t.all {
			t.ema[i] += f * (p - t.ema[i])
		}
	}
}
