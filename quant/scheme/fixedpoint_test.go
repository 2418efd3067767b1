package scheme

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

func TestQuantizeMultiplier(t *testing.T) {
	for _, tc := range []struct {
		name  string
		m     float64
		mult  int32
		shift int
	}{
		{"zero", 0, 0, 0},
		{"half", 0.5, 1 << 30, 0},
		{"one", 1, 1 << 30, 1},
		{"three quarters", 0.75, 1610612736, 0},
		{"rounds up to 2^31 and renormalises", 1 - math.Ldexp(1, -40), 1 << 30, 1},
		{"small", math.Ldexp(0.75, -20), 1610612736, -20},
		{"below 2^-32 flushes to zero", 1e-12, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mult, shift := QuantizeMultiplier(tc.m)
			if mult != tc.mult || shift != tc.shift {
				t.Errorf("QuantizeMultiplier(%g) = (%d, %d), want (%d, %d)", tc.m, mult, shift, tc.mult, tc.shift)
			}
		})
	}
}

func TestSaturatingRoundingDoublingHighMul(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b int32
		want int32
	}{
		{"exact", 1 << 30, 1 << 30, 1 << 29},
		{"1.5 rounds up", 3, 1 << 30, 2},
		{"-1.5 rounds up (toward +inf)", -3, 1 << 30, -1},
		{"-2.5 rounds up", -5, 1 << 30, -2},
		{"-1.25 to nearest", -5, 1 << 29, -1},
		{"-1.75 to nearest", -7, 1 << 29, -2},
		{"saturates", math.MinInt32, math.MinInt32, math.MaxInt32},
		{"min times max", math.MinInt32, math.MaxInt32, -math.MaxInt32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SaturatingRoundingDoublingHighMul(tc.a, tc.b); got != tc.want {
				t.Errorf("SRDHM(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestRoundingDivideByPOT(t *testing.T) {
	for _, tc := range []struct {
		x    int32
		e    int
		want int32
	}{
		{3, 1, 2}, {-3, 1, -2}, // ties away from zero
		{5, 2, 1}, {-5, 2, -1}, // 1.25
		{7, 2, 2}, {-7, 2, -2}, // 1.75
		{6, 2, 2}, {-6, 2, -2}, // 1.5
		{42, 0, 42}, {-42, 0, -42},
		{math.MaxInt32, 31, 1}, {math.MinInt32, 31, -1},
	} {
		if got := RoundingDivideByPOT(tc.x, tc.e); got != tc.want {
			t.Errorf("RoundingDivideByPOT(%d, %d) = %d, want %d", tc.x, tc.e, got, tc.want)
		}
	}
}

// exactMBQM computes TFLite's double rounding with exact rationals, from
// its definition rather than its bit tricks: h = 2·x·2^left·m / 2³², rounded
// to nearest with ties toward +∞ (SRDHM), then h / 2^right rounded to
// nearest with ties away from zero.
func exactMBQM(x, m int32, shift int) int64 {
	left, right := max(shift, 0), max(-shift, 0)
	p := new(big.Rat).SetFrac(
		new(big.Int).Mul(big.NewInt(int64(x)<<left), big.NewInt(int64(m))),
		new(big.Int).Lsh(big.NewInt(1), 31))
	h := floorRat(new(big.Rat).Add(p, big.NewRat(1, 2))) // ties toward +inf
	q := new(big.Rat).SetFrac(big.NewInt(h), new(big.Int).Lsh(big.NewInt(1), uint(right)))
	if q.Sign() >= 0 {
		return floorRat(q.Add(q, big.NewRat(1, 2)))
	}
	return -floorRat(q.Add(q.Neg(q), big.NewRat(1, 2)))
}

func floorRat(r *big.Rat) int64 {
	q, _ := new(big.Int).DivMod(r.Num(), r.Denom(), new(big.Int)) // Euclidean: floor for a positive denominator
	return q.Int64()
}

// TestMultiplyByQuantizedMultiplier checks the fixed-point rescaling
// against the exact double rounding and against the real product: within
// one step of round(x·M).
func TestMultiplyByQuantizedMultiplier(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		M := math.Ldexp(0.5+rng.Float64()/2, -rng.IntN(20)) // (2^-20, 1)
		mult, shift := QuantizeMultiplier(M)
		x := int32(rng.IntN(1<<24) - 1<<23)
		got := MultiplyByQuantizedMultiplier(x, mult, shift)
		if want := exactMBQM(x, mult, shift); int64(got) != want {
			t.Fatalf("MBQM(%d, %d, %d) = %d, exact double rounding gives %d", x, mult, shift, got, want)
		}
		if d := math.Abs(float64(got) - float64(x)*M); d > 1 {
			t.Fatalf("MBQM(%d) = %d for M = %g: %g from the real product", x, got, M, d)
		}
	}
}
