package stats

import (
	"math"
	"slices"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		name string
		xs   []float64
		want float64
	}{
		{"one", []float64{3}, 3},
		{"odd", []float64{5, 1, 3}, 3},
		{"even", []float64{4, 1, 3, 2}, 2.5},
		{"ties", []float64{2, 2, 2, 7}, 2},
		{"negative", []float64{-1, -3, -2}, -2},
		{"empty", nil, math.NaN()},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := slices.Clone(c.xs)
			got := Median(c.xs)
			if got != c.want && !(math.IsNaN(got) && math.IsNaN(c.want)) {
				t.Errorf("Median(%v) = %v, want %v", in, got, c.want)
			}
			if !slices.Equal(c.xs, in) {
				t.Errorf("Median reordered its argument: %v, was %v", c.xs, in)
			}
		})
	}
}

// The wanted values are worked by hand the way R's quantile(type = 7) and
// NumPy's quantile (their defaults) compute them: sorted, xs is 0.1 0.1 0.2
// 0.3 0.3 0.4 0.5 0.5 0.6 0.9, and q = 0.95 is h = 8.55 → 0.6 + 0.55·0.3.
func TestQuantile(t *testing.T) {
	xs := []float64{0.3, 0.1, 0.4, 0.1, 0.5, 0.9, 0.2, 0.6, 0.5, 0.3}
	for _, c := range []struct {
		name string
		xs   []float64
		q    float64
		want float64
	}{
		{"min", xs, 0, 0.1},
		{"max", xs, 1, 0.9},
		{"median even", xs, 0.5, 0.35},
		{"p95", xs, 0.95, 0.765},
		{"p25", xs, 0.25, 0.225},
		{"p10", xs, 0.1, 0.1},
		{"one value", []float64{7}, 0.95, 7},
		{"two values", []float64{1, 3}, 0.25, 1.5},
		{"empty", nil, 0.5, math.NaN()},
		{"q below 0", xs, -0.1, math.NaN()},
		{"q above 1", xs, 1.5, math.NaN()},
		{"q NaN", xs, math.NaN(), math.NaN()},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := slices.Clone(c.xs)
			got := Quantile(c.xs, c.q)
			switch {
			case math.IsNaN(c.want):
				if !math.IsNaN(got) {
					t.Errorf("Quantile(%v, %v) = %v, want NaN", in, c.q, got)
				}
			case math.Abs(got-c.want) > 1e-12:
				t.Errorf("Quantile(%v, %v) = %v, want %v", in, c.q, got, c.want)
			}
			if !slices.Equal(c.xs, in) {
				t.Errorf("Quantile reordered its argument: %v, was %v", c.xs, in)
			}
		})
	}
}

// The median is the 0.5-quantile.
func TestMedianIsHalfQuantile(t *testing.T) {
	for n := 1; n <= 9; n++ {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64((i * 7) % n)
		}
		if m, q := Median(xs), Quantile(xs, 0.5); math.Abs(m-q) > 1e-12 {
			t.Errorf("n = %d: Median %v, Quantile(0.5) %v", n, m, q)
		}
	}
}
