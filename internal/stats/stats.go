// Package stats has the order statistics the module reports: the median
// epoch time of the training benchmarks and the median and 95th percentile
// of a latency fit's relative errors.
package stats

import (
	"math"
	"slices"
)

// Median returns the median of xs: the middle value, or the mean of the two
// middle values for an even count. It is NaN for no values and does not
// modify xs. NaN values sort first (slices.Sort's order).
func Median(xs []float64) float64 {
	n := len(xs)
	if n == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Quantile returns the q-quantile of xs, interpolating linearly between
// order statistics: with the values sorted as x₀ ≤ … ≤ xₙ₋₁ and
// h = q·(n−1), it is x⌊h⌋ + (h − ⌊h⌋)·(x⌊h⌋₊₁ − x⌊h⌋) (type 7 of Hyndman and
// Fan, the default of R's quantile and NumPy's percentile; gonum's
// stat.Quantile offers types 1 and 4 only). It is NaN for no values or q
// outside [0, 1], and does not modify xs.
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	h := q * float64(len(s)-1)
	i := int(h)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (h-float64(i))*(s[i+1]-s[i])
}
