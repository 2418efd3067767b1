package search

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/quant"
)

// Halving is successive halving (Jamieson and Talwalkar 2016; the rule
// inside Hyperband and ASHA) within each generation: every new candidate
// is first trained for a fraction of the epochs, and only the best 1/Eta
// of them are trained again at the next rung with Eta times more, up to
// the full Train.Epochs at the last of Rungs rungs. Rung r trains for
// round(Epochs / Eta^(Rungs−1−r)) epochs (at least 1). A candidate's scores
// are those of the last rung it reached (Candidate.Epochs). The zero value,
// or Rungs 1, trains every candidate for the full epochs.
//
// Each rung trains from scratch with the candidate's seed: with a constant
// learning rate and no early stopping, its first epochs repeat the lower
// rung's exactly, so the result is the one continuing would give, at the
// price of training the lower rung's epochs again.
type Halving struct {
	Rungs int // rungs of the schedule; 0 or 1: off
	Eta   int // reduction factor, ≥ 2 when Rungs ≥ 2
}

func (h Halving) on() bool { return h.Rungs > 1 }

// RungEpochs returns the epochs of each rung for a full budget of epochs:
// [epochs] when halving is off.
func (h Halving) RungEpochs(epochs int) []int {
	if !h.on() {
		return []int{epochs}
	}
	out := make([]int, h.Rungs)
	for r := range out {
		out[r] = max(1, int(math.Round(float64(epochs)/math.Pow(float64(h.Eta), float64(h.Rungs-1-r)))))
	}
	return out
}

func (h Halving) check(epochs int) error {
	switch {
	case h.Rungs < 0:
		return &ConfigError{Field: "Halving.Rungs", Value: h.Rungs, Problem: "want ≥ 0 (0 or 1: off)"}
	case !h.on():
		return nil
	case h.Eta < 2:
		return &ConfigError{Field: "Halving.Eta", Value: h.Eta, Problem: "want at least 2"}
	}
	rungs := h.RungEpochs(epochs)
	for r := 1; r < len(rungs); r++ {
		if rungs[r] <= rungs[r-1] {
			return &ConfigError{Field: "Halving.Rungs", Value: h.Rungs, Problem: fmt.Sprintf(
				"with %d epochs and eta %d the rungs would train %v epochs: too many rungs for so few epochs", epochs, h.Eta, rungs)}
		}
	}
	return nil
}

// trainNew trains the population's candidates that have not been trained,
// rung by rung under the halving schedule, and returns how many trainings
// it ran at each rung.
func (s *searcher) trainNew(ctx context.Context, ids []int) ([]int, error) {
	var todo []int
	seen := map[int]bool{}
	for _, id := range ids {
		if c := s.cands[id]; c.Status != Abandoned && c.BestEpoch == 0 && !seen[id] {
			todo = append(todo, id)
			seen[id] = true
		}
	}
	rungs := s.cfg.Halving.RungEpochs(s.cfg.Train.Epochs)
	trained := make([]int, len(rungs))
	for r, epochs := range rungs {
		if r > 0 {
			todo = s.promote(todo)
		}
		if err := s.trainAll(ctx, todo, epochs); err != nil {
			return nil, err
		}
		trained[r] = len(todo)
	}
	return trained, nil
}

// promote returns the best ceil(n/Eta) of the candidates ids, which were
// just trained at one rung: those within every budget first, then by
// validation-A score, then (Config.Ties) lower validation-A loss, then
// lower energy, then by ID.
func (s *searcher) promote(ids []int) []int {
	ranked := slices.Clone(ids)
	slices.SortStableFunc(ranked, func(x, y int) int {
		a, b := s.cands[x], s.cands[y]
		switch {
		case (a.Status == Valid) != (b.Status == Valid):
			if a.Status == Valid {
				return -1
			}
			return 1
		case a.ValAccuracy != b.ValAccuracy:
			return cmpFloat(b.ValAccuracy, a.ValAccuracy)
		case s.cfg.Ties == TiesLoss && a.ValLoss != b.ValLoss:
			return cmpFloat(a.ValLoss, b.ValLoss)
		case a.Energy != b.Energy:
			return cmpFloat(a.Energy, b.Energy)
		}
		return x - y
	})
	keep := (len(ranked) + s.cfg.Halving.Eta - 1) / s.cfg.Halving.Eta
	kept := ranked[:keep]
	slices.Sort(kept) // train and record in ID order, as at the first rung
	return kept
}

// trainAll trains the candidates ids for the given epochs, in parallel, and
// records their scores; the results do not depend on the number of workers.
func (s *searcher) trainAll(ctx context.Context, ids []int, epochs int) error {
	type outcome struct {
		scores
		best   int
		secs   float64
		model  *nn.Model
		qmodel *quant.Model
	}
	results := make([]outcome, len(ids))
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(s.cfg.Workers)
	for k, id := range ids {
		eg.Go(func() error {
			c := s.cands[id] // a copy, read-only here; s.cands is written below, after Wait
			c.Epochs = epochs
			net, err := s.cfg.Space.Decode(c.Genome)
			if err != nil {
				return err
			}
			cfg := s.trainConfig(c, c.Key())
			t0 := time.Now()
			res, err := s.cfg.Engine.Train(ectx, net, s.train, s.valA, cfg)
			if err != nil {
				return fmt.Errorf("training %s: %w", c.Arch, err)
			}
			sc, qm, err := s.assess(res)
			if err != nil {
				return fmt.Errorf("scoring %s: %w", c.Arch, err)
			}
			results[k] = outcome{sc, res.Best + 1, time.Since(t0).Seconds(), res.Model, qm}
			if s.cfg.OnTrained != nil {
				c.setScores(sc)
				c.BestEpoch = res.Best + 1
				s.mu.Lock()
				s.cfg.OnTrained(c)
				s.mu.Unlock()
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	for k, id := range ids {
		r := results[k]
		c := &s.cands[id]
		c.setScores(r.scores)
		c.BestEpoch, c.Epochs = r.best, epochs
		c.TrainSeconds += r.secs
		s.models[id], s.qmodels[id] = r.model, r.qmodel
	}
	return nil
}
