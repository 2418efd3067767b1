package search

import (
	"math"
	"slices"
)

// HasScores reports whether a candidate has an accuracy and an energy to
// compare: it was trained (not abandoned) and both numbers are finite.
func (c Candidate) HasScores() bool {
	return c.Status != Abandoned && finite(c.ValAccuracy) && finite(c.Energy)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// ParetoFront returns the candidates no other candidate dominates, for
// maximising validation accuracy (half A) and minimising energy (the
// scenario's objective): d dominates c if d's accuracy is higher or equal
// and its energy lower or equal, and it is strictly better in one. Only
// candidates with scores (HasScores) take part; over-energy ones do, as the
// front shows the whole trade-off. Equal points do not dominate each other,
// so all of them stay. The front is sorted by energy ascending, then
// accuracy descending, then ID.
func ParetoFront(cands []Candidate) []Candidate {
	var pool []Candidate
	for _, c := range cands {
		if c.HasScores() {
			pool = append(pool, c)
		}
	}
	slices.SortStableFunc(pool, byEnergy)

	// Sweep groups of equal energy: a member is on the front if it has its
	// group's highest accuracy and beats every cheaper candidate.
	var front []Candidate
	cheaperBest := math.Inf(-1) // best accuracy at strictly lower energy
	for i := 0; i < len(pool); {
		j := i
		for j < len(pool) && pool[j].Energy == pool[i].Energy {
			j++
		}
		top := pool[i].ValAccuracy // the group is sorted by accuracy descending
		for _, c := range pool[i:j] {
			if c.ValAccuracy == top && c.ValAccuracy > cheaperBest {
				front = append(front, c)
			}
		}
		cheaperBest = math.Max(cheaperBest, top)
		i = j
	}
	return front
}

// byEnergy orders by energy ascending, accuracy descending, then ID.
func byEnergy(a, b Candidate) int {
	switch {
	case a.Energy != b.Energy:
		return cmpFloat(a.Energy, b.Energy)
	case a.ValAccuracy != b.ValAccuracy:
		return cmpFloat(b.ValAccuracy, a.ValAccuracy)
	}
	return a.ID - b.ID
}

func cmpFloat(a, b float64) int {
	if a < b {
		return -1
	}
	return 1
}
