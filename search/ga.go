package search

import (
	"fmt"
	"slices"

	"github.com/splitnas/splitnas/arch"
)

// Member is what the fitness of a population member depends on.
type Member struct {
	Accuracy float64 // validation half A
	Energy   float64 // the scenario's energy at the member's split, mJ
	Valid    bool    // within the energy limit (Flash and RAM always hold)
}

// Fitness returns the fitness of each member of a population: its accuracy
// if it is valid, else the paper's penalised value
//
//	P_adj = P'_min − (P'_min − P'_bound) / (E°_max − E_limit) · (E° − E_limit)
//
// where P'_min is the lowest accuracy among the valid members, P'_bound
// the task's theoretical minimum (bound, e.g. 1/classes), E°_max the
// highest energy among the invalid members and E_limit the limit. An
// invalid member just over the limit scores just under the worst valid
// one; the most wasteful scores P'_bound. Corner cases:
//   - no valid member: P'_min is taken as 1, so invalid members are ranked
//     by energy alone, from just under 1 down to P'_bound — the search
//     first looks for feasibility;
//   - a single invalid member, or all at the same energy: they score
//     P'_bound (E° = E°_max);
//   - valid members below P'_bound (worse than chance): the bound is
//     lowered to P'_min, so that no invalid member ever outscores a valid
//     one. On equal fitness, ranking puts valid members first.
func Fitness(pop []Member, bound, limit float64) []float64 {
	fit := make([]float64, len(pop))
	pmin, anyValid, emax := 1.0, false, limit
	for _, m := range pop {
		if m.Valid {
			if !anyValid || m.Accuracy < pmin {
				pmin = m.Accuracy
			}
			anyValid = true
		} else {
			emax = max(emax, m.Energy)
		}
	}
	bound = min(bound, pmin)
	for i, m := range pop {
		switch {
		case m.Valid:
			fit[i] = m.Accuracy
		case emax <= limit: // invalid only by rounding: at the limit
			fit[i] = pmin
		default:
			fit[i] = pmin - (pmin-bound)/(emax-limit)*(m.Energy-limit)
		}
	}
	return fit
}

// fitness is Fitness of the population given by candidate IDs.
func (s *searcher) fitness(ids []int) []float64 {
	pop := make([]Member, len(ids))
	for i, id := range ids {
		c := s.cands[id]
		pop[i] = Member{Accuracy: c.ValAccuracy, Energy: c.Energy, Valid: c.Status == Valid}
	}
	return Fitness(pop, 1/float64(s.cfg.Space.Classes), s.cfg.EnergyLimitMJ)
}

// Ties is how a search orders candidates of equal validation score.
type Ties string

const (
	// TiesEnergy prefers the lower energy: accuracy alone is the fitness,
	// as in the paper. The default: on Bonn, where most candidates
	// classify a validation half perfectly, TiesLoss did no better (README,
	// "Results (issue #12)").
	TiesEnergy Ties = "energy"
	// TiesLoss prefers the lower validation loss (mean cross-entropy:
	// how confident the network is in the right classes), then the lower
	// energy, so that candidates of equal accuracy are still ranked.
	TiesLoss Ties = "loss"
)

// ParseTies accepts "loss" and "energy".
func ParseTies(s string) (Ties, error) {
	switch t := Ties(s); t {
	case TiesLoss, TiesEnergy:
		return t, nil
	}
	return "", fmt.Errorf("unknown tie-break %q (want loss or energy)", s)
}

// PickBy is which validation score picks the final model among the
// searched candidates.
type PickBy string

const (
	// PickB ranks by validation half B alone, the paper's protocol: half A
	// was the fitness, so its scores are biased upwards by the selection.
	PickB PickBy = "b"
	// PickAB ranks by the mean of the two halves' scores. Taking the best
	// of some 150 candidates on half B alone brings back the winner's
	// curse the halves were meant to avoid (a weak network with a lucky
	// half B wins); the mean of both halves has half the variance.
	PickAB PickBy = "ab"
)

// ParsePickBy accepts "b" and "ab".
func ParsePickBy(s string) (PickBy, error) {
	switch p := PickBy(s); p {
	case PickB, PickAB:
		return p, nil
	}
	return "", fmt.Errorf("unknown final pick %q (want b or ab)", s)
}

// better reports whether population member i ranks above member j: higher
// fitness; then valid before invalid; then (Config.Ties) lower
// validation-A loss; then lower energy; then the earlier candidate.
func (s *searcher) better(ids []int, fit []float64, i, j int) bool {
	if fit[i] != fit[j] {
		return fit[i] > fit[j]
	}
	a, b := s.cands[ids[i]], s.cands[ids[j]]
	if (a.Status == Valid) != (b.Status == Valid) {
		return a.Status == Valid
	}
	if s.cfg.Ties == TiesLoss && a.ValLoss != b.ValLoss {
		return a.ValLoss < b.ValLoss
	}
	if a.Energy != b.Energy {
		return a.Energy < b.Energy
	}
	return a.ID < b.ID
}

// ranked returns the population's indices from best to worst.
func (s *searcher) ranked(ids []int, fit []float64) []int {
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		switch {
		case s.better(ids, fit, i, j):
			return -1
		case s.better(ids, fit, j, i):
			return 1
		}
		return 0
	})
	return order
}

// tournament draws Tournament members at random (with replacement) and
// returns the index of the best.
func (s *searcher) tournament(fit []float64) int {
	best := s.rng.IntN(len(fit))
	for range s.cfg.Tournament - 1 {
		if k := s.rng.IntN(len(fit)); s.better(s.pop, fit, k, best) {
			best = k
		}
	}
	return best
}

// genome is what the genetic algorithm evolves: an architecture's genes
// and, when the search chooses it (Config.LearningRates), a learning rate
// (0 otherwise).
type genome struct {
	arch arch.Genome
	lr   float64
}

func (c Candidate) genome() genome { return genome{c.Genome, c.LR} }

// random draws a genome: the architecture's genes (Space.Random), then the
// learning rate if it is searched.
func (s *searcher) random() genome {
	g := genome{arch: s.cfg.Space.Random(s.rng)}
	if lrs := s.cfg.LearningRates; len(lrs) > 0 {
		g.lr = lrs[s.rng.IntN(len(lrs))]
	}
	return g
}

// crossover returns two children of a and b: with probability
// CrossoverRate, one-point crossover of each chromosome at its own cut
// (the tails after the cut are swapped) and, for the per-network genes
// (overlap, learning rate) that are searched, each swapped with
// probability 1/2; else copies.
func (s *searcher) crossover(a, b genome) (genome, genome) {
	c1 := genome{arch.Genome{Lengths: slices.Clone(a.arch.Lengths), Channels: slices.Clone(a.arch.Channels), Overlap: a.arch.Overlap}, a.lr}
	c2 := genome{arch.Genome{Lengths: slices.Clone(b.arch.Lengths), Channels: slices.Clone(b.arch.Channels), Overlap: b.arch.Overlap}, b.lr}
	if s.rng.Float64() >= s.cfg.CrossoverRate {
		return c1, c2
	}
	onePoint := func(x, y []int) {
		if len(x) < 2 {
			return
		}
		cut := 1 + s.rng.IntN(len(x)-1) // both parts non-empty
		for i := cut; i < len(x); i++ {
			x[i], y[i] = y[i], x[i]
		}
	}
	onePoint(c1.arch.Lengths, c2.arch.Lengths)
	onePoint(c1.arch.Channels, c2.arch.Channels)
	// The random numbers are drawn only for searched genes, so a search
	// without them draws exactly as before they existed.
	if len(s.cfg.Space.Overlaps) > 0 && s.rng.IntN(2) == 1 {
		c1.arch.Overlap, c2.arch.Overlap = c2.arch.Overlap, c1.arch.Overlap
	}
	if len(s.cfg.LearningRates) > 0 && s.rng.IntN(2) == 1 {
		c1.lr, c2.lr = c2.lr, c1.lr
	}
	return c1, c2
}

// mutate redraws each gene with probability MutationRate from the gene's
// allowed values (possibly the same value).
func (s *searcher) mutate(g genome) genome {
	sp := s.cfg.Space
	for i := range g.arch.Lengths {
		if s.rng.Float64() < s.cfg.MutationRate {
			g.arch.Lengths[i] = sp.Lengths[s.rng.IntN(len(sp.Lengths))]
		}
		if s.rng.Float64() < s.cfg.MutationRate {
			g.arch.Channels[i] = sp.Channels[s.rng.IntN(len(sp.Channels))]
		}
	}
	if len(sp.Overlaps) > 0 && s.rng.Float64() < s.cfg.MutationRate {
		g.arch.Overlap = sp.Overlaps[s.rng.IntN(len(sp.Overlaps))]
	}
	if lrs := s.cfg.LearningRates; len(lrs) > 0 && s.rng.Float64() < s.cfg.MutationRate {
		g.lr = lrs[s.rng.IntN(len(lrs))]
	}
	return g
}
