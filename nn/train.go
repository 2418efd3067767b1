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

// Config sets up a training run.
type Config struct {
	Epochs  int     // passes over the training data, ≥ 1
	Batch   int     // samples per Adam step, ≥ 1; the last batch of an epoch may be smaller
	LR      float64 // Adam learning rate α, positive and finite
	Dropout float64 // rate in [0, 1) of inverted dropout after every hidden layer; 0 = off
	Seed    uint64  // drives initialisation, shuffling and dropout
	// Patience stops training after that many epochs without a better
	// validation score; 0 trains all Epochs. It needs validation data:
	// Train refuses a positive Patience without it (ErrPatienceWithoutValidation).
	Patience int
}

// DefaultConfig is 20 epochs of batches of 32 at learning rate 1e-3,
// no dropout, seed 1, no early stopping.
func DefaultConfig() Config {
	return Config{Epochs: 20, Batch: 32, LR: 1e-3, Seed: 1}
}

// ErrPatienceWithoutValidation is wrapped by the error of a training run
// given a positive Config.Patience but no validation data (nil or empty),
// so that early stopping could never happen.
var ErrPatienceWithoutValidation = errors.New("nn: patience needs validation data")

// ConfigError names the Config field out of its documented range.
type ConfigError struct {
	Field   string // "Epochs", "Batch", "LR", "Dropout" or "Patience"
	Value   any
	Problem string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("nn: %s %v: %s", e.Field, e.Value, e.Problem)
}

// Validate reports the first field of c out of its documented range, as a
// *ConfigError. Train calls it; a caller can call it first to refuse a
// configuration before doing anything else. (Patience without validation
// data depends on the data, so only Train can refuse it.)
func (c Config) Validate() error {
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
	}
	return nil
}

// Epoch is the record of one epoch. The training figures are those of the
// training passes themselves (with dropout, while the weights change); the
// validation figures are zero without validation data.
type Epoch struct {
	TrainLoss float64 `json:"train_loss"`
	TrainAcc  float64 `json:"train_acc"`
	ValLoss   float64 `json:"val_loss"`
	ValAcc    float64 `json:"val_acc"`
	Seconds   float64 `json:"seconds"` // wall time, validation included
}

// Result is the outcome of a training run.
type Result struct {
	// Model holds the weights after epoch Best: the epoch with the highest
	// validation accuracy (the lower validation loss breaks ties, the earlier
	// epoch after that), or the last epoch without validation data.
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
	m.Classes = slices.Clone(train.Classes)
	t := newTrainer(m, train.Len(), cfg)
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
	perm    []int
}

func newTrainer(m *Model, n int, cfg Config) *trainer {
	t := &trainer{
		m:       m,
		cfg:     cfg,
		grads:   make([]float32, len(m.params)),
		best:    make([]float32, len(m.params)),
		opt:     newAdam(cfg.LR, len(m.params)),
		ws:      newWorkspace[float32](m.plan, cfg.Dropout > 0, false),
		shuffle: rand.New(rand.NewPCG(cfg.Seed, streamShuffle)),
		perm:    make([]int, n),
	}
	if cfg.Dropout > 0 {
		t.drop = newDropper(cfg.Dropout, cfg.Seed)
	}
	for i := range t.perm {
		t.perm[i] = i
	}
	return t
}

func (t *trainer) run(ctx context.Context, train, val *dataset.Dataset) (*Result, error) {
	// Epochs may be huge when Patience ends the run: grow History as needed.
	res := &Result{Model: t.m, History: make([]Epoch, 0, min(t.cfg.Epochs, 1024))}
	bestAcc, bestLoss := math.Inf(-1), math.Inf(1)
	for e := range t.cfg.Epochs {
		start := time.Now()
		loss, acc, err := t.epoch(ctx, train)
		if err != nil {
			return nil, fmt.Errorf("nn: training stopped in epoch %d of %d: %w", e+1, t.cfg.Epochs, err)
		}
		ep := Epoch{TrainLoss: loss, TrainAcc: acc}
		if val != nil {
			l, c := score(t.m.plan, t.m.params, t.ws, val, nil)
			ep.ValLoss, ep.ValAcc = l/float64(val.Len()), float64(c)/float64(val.Len())
		}
		ep.Seconds = time.Since(start).Seconds()
		res.History = append(res.History, ep)
		if val == nil {
			res.Best = e
			continue
		}
		if ep.ValAcc > bestAcc || (ep.ValAcc == bestAcc && ep.ValLoss < bestLoss) {
			bestAcc, bestLoss, res.Best = ep.ValAcc, ep.ValLoss, e
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

// epoch makes one pass over train in a fresh random order and returns the
// mean training loss and accuracy.
func (t *trainer) epoch(ctx context.Context, train *dataset.Dataset) (loss, acc float64, err error) {
	p, params, ws := t.m.plan, t.m.params, t.ws
	dropout := t.drop != nil
	logitsGrad := ws.grad[len(p.layers)]
	for i := len(t.perm) - 1; i > 0; i-- {
		j := t.shuffle.IntN(i + 1)
		t.perm[i], t.perm[j] = t.perm[j], t.perm[i]
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
			if dropout {
				fill(t.drop, ws)
			}
			z := ws.forward(p, params, train.Sample(idx), dropout)
			label := int(train.Labels[idx])
			if argmax(z) == label {
				correct++
			}
			loss += float64(softmaxCE(z, label, scale, logitsGrad))
			ws.backward(p, params, t.grads, dropout)
		}
		t.opt.step(params, t.grads)
	}
	n := float64(len(t.perm))
	return loss / n, float64(correct) / n, nil
}
