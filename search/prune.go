package search

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/prune"
)

// PrunedModelFile is the file name of the pruned winner (Config.Prune).
const PrunedModelFile = "pruned.model"

// Pruning is the pruning a search applies to its winner after its final
// training (package prune): Method, to Sparsity, then fine-tuned for
// Epochs (magnitude: in Stages of the gradual schedule) with the search's
// training settings.
type Pruning struct {
	Method   prune.Method `json:"method"`
	Sparsity float64      `json:"sparsity"`
	Epochs   int          `json:"epochs"`
	Stages   int          `json:"stages,omitempty"`
	Scope    prune.Scope  `json:"scope,omitempty"` // magnitude: global or per layer
}

func (p *Pruning) check() error {
	if _, err := prune.ParseMethod(string(p.Method)); err != nil {
		return &ConfigError{Field: "Prune.Method", Value: p.Method, Err: err}
	}
	switch {
	case !(p.Sparsity >= 0 && p.Sparsity < 1):
		return &ConfigError{Field: "Prune.Sparsity", Value: p.Sparsity, Problem: "want a fraction 0 ≤ s < 1"}
	case p.Epochs < 0:
		return &ConfigError{Field: "Prune.Epochs", Value: p.Epochs, Problem: "want ≥ 0 (0: no fine-tuning)"}
	case p.Method == prune.ByMagnitude && p.Stages < 1:
		return &ConfigError{Field: "Prune.Stages", Value: p.Stages, Problem: "want at least 1"}
	}
	if p.Method == prune.ByMagnitude {
		if _, err := prune.ParseScope(string(p.Scope)); err != nil {
			return &ConfigError{Field: "Prune.Scope", Value: p.Scope, Err: err}
		}
	}
	return nil
}

// Pruned is the winner after pruning: the smaller (channel) or sparser
// (magnitude) network, its costs at its best split point and its scores,
// test included (scored once, like the winner's).
type Pruned struct {
	Pruning
	// Costs at the pruned network's own best split point, its layers
	// stored as export stores them (sparse where the profile predicts the
	// sparse kernel faster; prune.Costs).
	prune.Cost
	// Scores under the search's metric (Train.Select) on the validation
	// halves; accuracy and balanced accuracy on the test split.
	ValAccuracy          float64       `json:"val_accuracy"`
	ValBAccuracy         float64       `json:"val_b_accuracy"`
	TestAccuracy         float64       `json:"test_accuracy"`
	TestBalancedAccuracy float64       `json:"test_balanced_accuracy"`
	Stages               []prune.Stage `json:"stages,omitempty"`
	Model                string        `json:"model,omitempty"` // file name in the output directory
}

// prunePoint prunes the winner's model and records the pruned network
// in b.
func (s *searcher) prunePoint(ctx context.Context, b *Best, model *nn.Model, seedKey string) error {
	p := *s.cfg.Prune
	cfg := s.cfg.Train
	cfg.Epochs = max(p.Epochs, 1)
	cfg.WarmupEpochs = min(cfg.WarmupEpochs, cfg.Epochs)
	cfg.Seed = candidateSeed(s.cfg.Seed, seedKey+"/prune")
	var (
		pm     *nn.Model
		stages []prune.Stage
		err    error
	)
	switch p.Method {
	case prune.ByChannel:
		if pm, _, err = prune.Channels(model, p.Sparsity); err != nil {
			return err
		}
		if p.Epochs > 0 {
			cfg.Init = pm
			res, err := s.cfg.Engine.Train(ctx, pm.Network(), s.train, s.valA, cfg)
			if err != nil {
				return fmt.Errorf("search: fine-tuning the pruned winner: %w", err)
			}
			pm = res.Model
		}
	case prune.ByMagnitude:
		if pm, _, stages, err = prune.Gradual(ctx, s.cfg.Engine, model, s.train, s.valA, cfg, p.Sparsity, p.Scope, p.Epochs, p.Stages); err != nil {
			return fmt.Errorf("search: pruning the winner: %w", err)
		}
	}
	cost, err := prune.Costs(pm, s.cfg.Profile, s.cfg.Scenario, s.limits)
	if err != nil {
		return fmt.Errorf("search: the pruned winner: %w", err)
	}
	r := &Pruned{Pruning: p, Cost: cost, Stages: stages}
	var met [3]nn.Metrics
	for i, d := range []*dataset.Dataset{s.valA, s.valB, s.test} {
		if met[i], err = nn.Evaluate(pm, d); err != nil {
			return err
		}
	}
	r.ValAccuracy, r.ValBAccuracy = s.metric(met[0]), s.metric(met[1])
	r.TestAccuracy, r.TestBalancedAccuracy = met[2].Accuracy, met[2].BalancedAccuracy
	if s.cfg.Dir != "" {
		if err := nn.SaveFile(filepath.Join(s.cfg.Dir, PrunedModelFile), pm); err != nil {
			return err
		}
		r.Model = PrunedModelFile
	}
	b.Pruned = r
	return nil
}
