package search

import (
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

// better reports whether population member i ranks above member j: higher
// fitness; then valid before invalid; then lower energy; then the earlier
// candidate.
func (s *searcher) better(ids []int, fit []float64, i, j int) bool {
	if fit[i] != fit[j] {
		return fit[i] > fit[j]
	}
	a, b := s.cands[ids[i]], s.cands[ids[j]]
	if (a.Status == Valid) != (b.Status == Valid) {
		return a.Status == Valid
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

// crossover returns two children of a and b: with probability
// CrossoverRate, one-point crossover of each chromosome at its own cut
// (the tails after the cut are swapped), else copies.
func (s *searcher) crossover(a, b arch.Genome) (arch.Genome, arch.Genome) {
	c1 := arch.Genome{Lengths: slices.Clone(a.Lengths), Channels: slices.Clone(a.Channels)}
	c2 := arch.Genome{Lengths: slices.Clone(b.Lengths), Channels: slices.Clone(b.Channels)}
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
	onePoint(c1.Lengths, c2.Lengths)
	onePoint(c1.Channels, c2.Channels)
	return c1, c2
}

// mutate redraws each gene with probability MutationRate from the gene's
// allowed values (possibly the same value).
func (s *searcher) mutate(g arch.Genome) arch.Genome {
	sp := s.cfg.Space
	for i := range g.Lengths {
		if s.rng.Float64() < s.cfg.MutationRate {
			g.Lengths[i] = sp.Lengths[s.rng.IntN(len(sp.Lengths))]
		}
		if s.rng.Float64() < s.cfg.MutationRate {
			g.Channels[i] = sp.Channels[s.rng.IntN(len(sp.Channels))]
		}
	}
	return g
}
