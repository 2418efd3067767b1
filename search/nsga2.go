package search

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Objective is one quantity the NSGA2 strategy optimises.
type Objective string

const (
	// ObjAccuracy is validation accuracy (half A, the search's metric),
	// maximised.
	ObjAccuracy Objective = "accuracy"
	// ObjEnergy is the scenario's energy per inference (E_edge or
	// E_total) at the candidate's split, minimised.
	ObjEnergy Objective = "energy"
	// ObjFlash and ObjRAM are the edge part's Flash and RAM at the split,
	// minimised.
	ObjFlash Objective = "flash"
	ObjRAM   Objective = "ram"
)

// DefaultObjectives are the NSGA2 strategy's objectives when Config
// gives none: accuracy and energy.
func DefaultObjectives() []Objective { return []Objective{ObjAccuracy, ObjEnergy} }

// ParseObjectives reads a comma-separated list such as
// "accuracy,energy,ram". Accuracy and energy must be among them; flash and
// ram are optional; none may repeat.
func ParseObjectives(s string) ([]Objective, error) {
	var out []Objective
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		o := Objective(f)
		switch o {
		case ObjAccuracy, ObjEnergy, ObjFlash, ObjRAM:
		default:
			return nil, fmt.Errorf("unknown objective %q (want accuracy, energy, flash or ram)", f)
		}
		out = append(out, o)
	}
	if err := checkObjectives(out); err != nil {
		return nil, err
	}
	return out, nil
}

func checkObjectives(objs []Objective) error {
	for i, o := range objs {
		switch o {
		case ObjAccuracy, ObjEnergy, ObjFlash, ObjRAM:
		default:
			return fmt.Errorf("unknown objective %q (want accuracy, energy, flash or ram)", o)
		}
		if slices.Contains(objs[:i], o) {
			return fmt.Errorf("objective %q given twice", o)
		}
	}
	if !slices.Contains(objs, ObjAccuracy) || !slices.Contains(objs, ObjEnergy) {
		return fmt.Errorf("objectives %v: accuracy and energy are always optimised; flash and ram may be added", objs)
	}
	return nil
}

// objectives returns the search's NSGA2 objectives (the defaults if none
// were given).
func (c Config) objectives() []Objective {
	if len(c.Objectives) == 0 {
		return DefaultObjectives()
	}
	return c.Objectives
}

// moPoint is a candidate as NSGA-II sees it: its objective values, all to
// be minimised (accuracy enters as −accuracy), and its total constraint
// violation, 0 when feasible.
type moPoint struct {
	f         []float64
	violation float64
}

// point returns candidate c's objective vector for objs and its
// violation of the energy limit: max(0, E − E_limit), 0 without a limit.
// A non-finite accuracy counts as the worst (+Inf after negation).
func point(c Candidate, objs []Objective, energyLimit float64) moPoint {
	p := moPoint{f: make([]float64, len(objs))}
	for i, o := range objs {
		switch o {
		case ObjAccuracy:
			p.f[i] = -c.ValAccuracy
			if math.IsNaN(c.ValAccuracy) {
				p.f[i] = math.Inf(1)
			}
		case ObjEnergy:
			p.f[i] = c.Energy
		case ObjFlash:
			p.f[i] = float64(c.FlashBytes)
		case ObjRAM:
			p.f[i] = float64(c.RAMBytes)
		}
	}
	if energyLimit > 0 && c.Energy > energyLimit {
		p.violation = c.Energy - energyLimit
	}
	return p
}

// dominates reports whether a Pareto-dominates b (all objectives
// minimised): a is no worse in every objective and better in one.
func dominates(a, b []float64) bool {
	better := false
	for i := range a {
		if a[i] > b[i] {
			return false
		}
		if a[i] < b[i] {
			better = true
		}
	}
	return better
}

// constrainedDominates is Deb's constraint domination: a feasible point
// dominates an infeasible one; of two infeasible points the one with the
// smaller total violation dominates; two feasible points compare by
// Pareto dominance.
func constrainedDominates(a, b moPoint) bool {
	switch {
	case a.violation == 0 && b.violation > 0:
		return true
	case a.violation > 0 && b.violation == 0:
		return false
	case a.violation > 0: // both infeasible
		return a.violation < b.violation
	}
	return dominates(a.f, b.f)
}

// nondominatedSort is NSGA-II's fast non-dominated sorting (Deb et al.
// 2002): it returns the fronts F_1, F_2, … as indices into pts, each in
// ascending index order. F_1 holds the points no other point
// (constraint-)dominates; F_k those dominated only by points of
// F_1…F_(k−1). O(M·N²) comparisons.
func nondominatedSort(pts []moPoint) [][]int {
	n := len(pts)
	dominated := make([][]int, n) // S_p: the points p dominates
	count := make([]int, n)       // n_p: how many points dominate p
	var front []int
	for p := range n {
		for q := range n {
			switch {
			case p == q:
			case constrainedDominates(pts[p], pts[q]):
				dominated[p] = append(dominated[p], q)
			case constrainedDominates(pts[q], pts[p]):
				count[p]++
			}
		}
		if count[p] == 0 {
			front = append(front, p)
		}
	}
	var fronts [][]int
	for len(front) > 0 {
		fronts = append(fronts, front)
		var next []int
		for _, p := range front {
			for _, q := range dominated[p] {
				if count[q]--; count[q] == 0 {
					next = append(next, q)
				}
			}
		}
		slices.Sort(next)
		front = next
	}
	return fronts
}

// crowdingDistance returns, for the points of one front (indices into
// pts), NSGA-II's crowding distance, in the order of front: for each
// objective m the front is sorted by f_m (ties by index), the two ends get
// +Inf, and each other point i adds
//
//	(f_m[next] − f_m[previous]) / (f_m,max − f_m,min)
//
// (objectives on which the front is flat add nothing). A large distance
// means an isolated point, which the selection prefers, keeping the front
// spread out.
func crowdingDistance(pts []moPoint, front []int) []float64 {
	d := make([]float64, len(front))
	if len(front) == 0 {
		return d
	}
	order := make([]int, len(front)) // positions in front
	for m := range pts[front[0]].f {
		for i := range order {
			order[i] = i
		}
		f := func(pos int) float64 { return pts[front[pos]].f[m] }
		slices.SortStableFunc(order, func(a, b int) int {
			if c := cmp.Compare(f(a), f(b)); c != 0 {
				return c
			}
			return front[a] - front[b]
		})
		lo, hi := f(order[0]), f(order[len(order)-1])
		d[order[0]], d[order[len(order)-1]] = math.Inf(1), math.Inf(1)
		if !(hi > lo) || math.IsInf(hi-lo, 0) {
			continue
		}
		for k := 1; k < len(order)-1; k++ {
			d[order[k]] += (f(order[k+1]) - f(order[k-1])) / (hi - lo)
		}
	}
	return d
}

// rankCrowding returns each point's front number (0 for F_1) and crowding
// distance within its front.
func rankCrowding(pts []moPoint) (rank []int, crowd []float64) {
	rank, crowd = make([]int, len(pts)), make([]float64, len(pts))
	for r, front := range nondominatedSort(pts) {
		for k, d := range crowdingDistance(pts, front) {
			rank[front[k]], crowd[front[k]] = r, d
		}
	}
	return rank, crowd
}

// crowdedBetter is NSGA-II's crowded-comparison operator: a lower rank
// wins, then a larger crowding distance.
func crowdedBetter(rank []int, crowd []float64, i, j int) bool {
	if rank[i] != rank[j] {
		return rank[i] < rank[j]
	}
	return crowd[i] > crowd[j]
}

// moPoints returns the NSGA2 points of the candidates ids.
func (s *searcher) moPoints(ids []int) []moPoint {
	objs := s.cfg.objectives()
	pts := make([]moPoint, len(ids))
	for i, id := range ids {
		pts[i] = point(s.cands[id], objs, s.cfg.EnergyLimitMJ)
	}
	return pts
}

// nsgaParents draws two parents of the next offspring from the population
// s.pop by binary tournament on (rank, crowding): two members drawn at
// random (with replacement), the crowded-better one wins, the first drawn
// on a tie. It returns positions in s.pop.
func (s *searcher) nsgaParent(rank []int, crowd []float64) int {
	a, b := s.rng.IntN(len(rank)), s.rng.IntN(len(rank))
	if crowdedBetter(rank, crowd, b, a) {
		return b
	}
	return a
}

// survive is NSGA-II's (μ+λ) survival: from the parents and their
// offspring (candidate IDs; a candidate in both counts once), it keeps
// Population members: whole fronts in order while they fit, then the
// members of the first front that does not fit with the largest crowding
// distance (on a tie, the earlier candidate). If parents and offspring
// hold fewer than Population distinct candidates, all of them are kept and
// the population is filled with the offspring's repeats, in order.
func (s *searcher) survive(parents, offspring []int) []int {
	var pool []int
	seen := map[int]bool{}
	for _, id := range slices.Concat(parents, offspring) {
		if !seen[id] {
			pool = append(pool, id)
			seen[id] = true
		}
	}
	n := s.cfg.Population
	if len(pool) <= n {
		for _, id := range offspring {
			if len(pool) == n {
				break
			}
			pool = append(pool, id)
		}
		return pool
	}
	pts := s.moPoints(pool)
	var next []int
	for _, front := range nondominatedSort(pts) {
		if len(next)+len(front) <= n {
			for _, k := range front {
				next = append(next, pool[k])
			}
			continue
		}
		d := crowdingDistance(pts, front)
		order := make([]int, len(front))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			if c := cmp.Compare(d[b], d[a]); c != 0 {
				return c
			}
			return pool[front[a]] - pool[front[b]]
		})
		for _, k := range order[:n-len(next)] {
			next = append(next, pool[front[k]])
		}
		break
	}
	return next
}

// proposeNSGA2 returns generation g's offspring (candidate IDs, in order)
// and how many proposed genomes were abandoned: in generation 0 a random
// population; later Population children of parents chosen by binary
// tournament on (rank, crowding) from s.pop, by the same crossover and
// mutation as the genetic algorithm. Abandoned children (no split point
// fits Flash and RAM) are dropped and others drawn, as in propose.
func (s *searcher) proposeNSGA2(g int) (ids []int, abandoned int, err error) {
	if g == 0 {
		return s.fill(g, nil, nil)
	}
	rank, crowd := rankCrowding(s.moPoints(s.pop))
	return s.fill(g, nil, func() int { return s.nsgaParent(rank, crowd) })
}
