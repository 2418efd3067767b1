package search

import (
	"fmt"
	"math"
	"testing"
)

func cand(id int, status Status, acc, energy float64) Candidate {
	return Candidate{ID: id, Arch: fmt.Sprintf("a%d", id), Status: status, ValAccuracy: acc, Energy: energy}
}

func ids(cs []Candidate) []int {
	out := make([]int, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func TestParetoFront(t *testing.T) {
	cands := []Candidate{
		cand(0, Valid, 0.80, 1.0),
		cand(1, Valid, 0.70, 2.0),      // dominated by 0
		cand(2, OverEnergy, 0.90, 5.0), // on the front: over-energy still counts
		cand(3, Valid, 0.80, 1.0),      // equal to 0: both stay
		cand(4, Valid, 0.80, 3.0),      // same accuracy, more energy: dominated
		cand(5, Abandoned, 0, 0),       // never trained
		cand(6, Valid, 0.50, 0.5),      // cheapest
		cand(7, Valid, 0.40, 0.5),      // same energy, less accurate: dominated by 6
		cand(8, Valid, 0.90, 5.0),      // equal to 2
		cand(9, Valid, math.NaN(), 0.1),
		cand(10, Valid, 0.85, 4.0),
		cand(11, Valid, 0.85, 6.0),         // dominated by 2 and 10
		cand(12, Valid, 0.99, math.Inf(1)), // no finite energy: left out
	}
	want := []int{6, 0, 3, 10, 2, 8}
	if got := ids(ParetoFront(cands)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("front %v, want %v", got, want)
	}
	// The order of the input does not matter.
	rev := make([]Candidate, len(cands))
	for i, c := range cands {
		rev[len(cands)-1-i] = c
	}
	if got := ids(ParetoFront(rev)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("front of the reversed input %v, want %v", got, want)
	}
	if got := ParetoFront(nil); len(got) != 0 {
		t.Fatalf("front of nothing: %v", got)
	}
	if got := ParetoFront([]Candidate{cand(0, Abandoned, 0, 0)}); len(got) != 0 {
		t.Fatalf("front of an abandoned candidate: %v", got)
	}
}
