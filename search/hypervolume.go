package search

import (
	"cmp"
	"slices"
)

// AccEnergy is a point of the accuracy × energy plane: an accuracy to
// maximise and an energy (mJ) to minimise.
type AccEnergy struct {
	Accuracy float64
	EnergyMJ float64
}

// Hypervolume returns the area of the accuracy × energy plane that the
// points dominate and that dominates the reference point ref (Zitzler and
// Thiele 1998): the area of the union of the rectangles
//
//	[E_i, E_ref] × [A_ref, A_i]
//
// for every point with A_i > A_ref and E_i < E_ref (others add nothing).
// A larger hypervolume means a better front; dominated points do not
// change it. It is computed exactly by a sweep in order of energy: each
// point more accurate than every cheaper one adds the strip
//
//	(E_ref − E_i) · (A_i − A_best so far)
//
// with A_best starting at A_ref. Points with a NaN coordinate are
// ignored. Units: accuracy (as a fraction) × mJ.
func Hypervolume(points []AccEnergy, ref AccEnergy) float64 {
	var pts []AccEnergy
	for _, p := range points {
		if p.Accuracy > ref.Accuracy && p.EnergyMJ < ref.EnergyMJ {
			pts = append(pts, p)
		}
	}
	slices.SortFunc(pts, func(a, b AccEnergy) int {
		if c := cmp.Compare(a.EnergyMJ, b.EnergyMJ); c != 0 {
			return c
		}
		return cmp.Compare(b.Accuracy, a.Accuracy)
	})
	hv, best := 0.0, ref.Accuracy
	for _, p := range pts {
		if p.Accuracy > best {
			hv += (ref.EnergyMJ - p.EnergyMJ) * (p.Accuracy - best)
			best = p.Accuracy
		}
	}
	return hv
}
