package nn

import (
	"math"
	"testing"
)

// TestAdamHandComputed checks two Adam steps (lr 0.01) against values
// worked out by hand with β₁ 0.9, β₂ 0.999, ε 1e-7 in Keras's form.
//
// Step 1, g = 0.5: m = 0.05, √v = √(0.001·0.25) = 0.0158113883,
// αₜ = 0.01·√0.001/0.1 = 0.00316227766, Δ = αₜ·m/(√v+ε) = 0.0099999368,
// so 1 → 0.9900000632; likewise g = −0.1 moves −2 by 0.0099996838, and a
// zero gradient moves nothing.
// Step 2 for the third value, g = 1: m = 0.1, v = 0.001,
// αₜ = 0.01·√(1−0.999²)/(1−0.9²) = 0.0023531673,
// Δ = αₜ·0.1/(0.0316227766+1e-7) = 0.0074413447, so 0.5 → 0.4925586553.
func TestAdamHandComputed(t *testing.T) {
	params := []float32{1, -2, 0.5}
	a := newAdam(0.01, len(params))
	steps := []struct {
		grads, want []float32
	}{
		{[]float32{0.5, -0.1, 0}, []float32{0.9900000632, -1.9900003162, 0.5}},
		{[]float32{0.5, -0.1, 1}, []float32{0.9800001080, -1.9800005399, 0.4925586553}},
	}
	for s, st := range steps {
		a.step(params, st.grads)
		for i, want := range st.want {
			if math.Abs(float64(params[i]-want)) > 3e-7 {
				t.Errorf("step %d: param %d = %.10f, want %.10f", s+1, i, params[i], want)
			}
		}
	}
	if a.t != 2 {
		t.Errorf("step count %d, want 2", a.t)
	}
}
