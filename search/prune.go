package search

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/partition"
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
	Arch      string `json:"arch"`
	Params    int    `json:"params"`
	NonZero   int    `json:"nonzero_weights"`
	Weights   int    `json:"weights"`
	MACs      int    `json:"macs"`
	Partition int    `json:"partition"`
	// FlashBytes is Flash as the network is exported (dense weights);
	// FlashBitmaskBytes with the edge's weights in a bitmask encoding
	// (prune.BitmaskDelta), which the export does not use yet. Energy is
	// that of the dense kernels, which do not skip zeros.
	FlashBytes           int           `json:"flash_bytes"`
	FlashBitmaskBytes    int           `json:"flash_bitmask_bytes"`
	RAMBytes             int           `json:"ram_bytes"`
	EEdge                float64       `json:"e_edge_mj"`
	ETotal               float64       `json:"e_total_mj"`
	ValAccuracy          float64       `json:"val_accuracy"`   // validation half A
	ValBAccuracy         float64       `json:"val_b_accuracy"` // validation half B
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
	net := pm.Network()
	tab, err := partition.Evaluate(net, s.cfg.Profile, s.cfg.Scenario, s.limits)
	if err != nil {
		return err
	}
	pt, ok := tab.BestPoint()
	if !ok {
		return fmt.Errorf("search: the pruned winner %s fits at no split point: %s", net, tab.Points[0].Why)
	}
	r := &Pruned{Pruning: p, Arch: net.String(), Params: net.Params(), MACs: net.MACs(), Partition: pt.P,
		FlashBytes: pt.FlashBytes, RAMBytes: pt.RAMBytes, EEdge: pt.EEdge, ETotal: pt.ETotal, Stages: stages}
	r.NonZero, r.Weights = prune.NonZero(pm)
	r.FlashBitmaskBytes = pt.FlashBytes + prune.BitmaskDelta(pm, pt.P, s.cfg.Profile.Edge.Precision().WeightBits)
	for _, e := range []struct {
		d   *dataset.Dataset
		acc *float64
		bal *float64
	}{{s.valA, &r.ValAccuracy, nil}, {s.valB, &r.ValBAccuracy, nil}, {s.test, &r.TestAccuracy, &r.TestBalancedAccuracy}} {
		met, err := nn.Evaluate(pm, e.d)
		if err != nil {
			return err
		}
		*e.acc = met.Accuracy
		if s.cfg.Train.Select == nn.SelectBalanced && e.bal == nil {
			*e.acc = met.BalancedAccuracy
		}
		if e.bal != nil {
			*e.bal = met.BalancedAccuracy
		}
	}
	if s.cfg.Dir != "" {
		if err := nn.SaveFile(filepath.Join(s.cfg.Dir, PrunedModelFile), pm); err != nil {
			return err
		}
		r.Model = PrunedModelFile
	}
	b.Pruned = r
	return nil
}
