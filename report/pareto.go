package report

import (
	"math"
	"sort"

	"github.com/splitnas/splitnas/search"
)

// ParetoFront returns the candidates no other candidate dominates, for
// maximising validation accuracy (half A) and minimising energy (the
// scenario's objective): d dominates c if d's accuracy is higher or equal
// and its energy lower or equal, and it is strictly better in one. Abandoned
// candidates (never trained) and ones with a non-finite accuracy or energy
// are left out. Equal points do not dominate each other, so all of them
// stay. The front is sorted by energy ascending, then accuracy descending,
// then ID.
func ParetoFront(cands []search.Candidate) []search.Candidate {
	var pool []search.Candidate
	for _, c := range cands {
		if plotted(c) {
			pool = append(pool, c)
		}
	}
	sort.SliceStable(pool, func(i, j int) bool { return byEnergy(pool[i], pool[j]) })

	// Sweep groups of equal energy: a member is on the front if it has its
	// group's highest accuracy and beats every cheaper candidate.
	var front []search.Candidate
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

// plotted says whether a candidate has an accuracy and an energy to show:
// it was trained (not abandoned) and both numbers are finite.
func plotted(c search.Candidate) bool {
	return c.Status != search.Abandoned && finite(c.ValAccuracy) && finite(c.Energy)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// byEnergy orders by energy ascending, accuracy descending, then ID.
func byEnergy(a, b search.Candidate) bool {
	if a.Energy != b.Energy {
		return a.Energy < b.Energy
	}
	if a.ValAccuracy != b.ValAccuracy {
		return a.ValAccuracy > b.ValAccuracy
	}
	return a.ID < b.ID
}
