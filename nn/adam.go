package nn

import "math"

// Adam's default hyper-parameters. ε is Keras's 1e-7 (PyTorch uses 1e-8),
// applied in Keras's form: θ ← θ − αₜ·m/(√v + ε) with
// αₜ = α·√(1−β₂ᵗ)/(1−β₁ᵗ), the bias corrections folded into the step size.
const (
	adamBeta1   = 0.9
	adamBeta2   = 0.999
	adamEpsilon = 1e-7
)

// adam is the Adam optimiser (Kingma & Ba 2015) over a flat float32
// parameter vector.
type adam struct {
	lr, beta1, beta2, eps float64
	t                     int
	pow1, pow2            float64 // β₁ᵗ, β₂ᵗ
	m, v                  []float32
}

func newAdam(lr float64, n int) *adam {
	return &adam{
		lr: lr, beta1: adamBeta1, beta2: adamBeta2, eps: adamEpsilon,
		pow1: 1, pow2: 1,
		m: make([]float32, n), v: make([]float32, n),
	}
}

// step applies one update to params given the gradient g.
func (a *adam) step(params, g []float32) {
	a.t++
	a.pow1 *= a.beta1
	a.pow2 *= a.beta2
	lr := float32(a.lr * math.Sqrt(1-a.pow2) / (1 - a.pow1))
	b1, b2 := float32(a.beta1), float32(a.beta2)
	c1, c2 := 1-b1, 1-b2
	eps := float32(a.eps)
	m, v, g := a.m[:len(params)], a.v[:len(params)], g[:len(params)]
	for i := range params {
		gi := g[i]
		mi := b1*m[i] + c1*gi
		vi := b2*v[i] + c2*gi*gi
		m[i], v[i] = mi, vi
		params[i] -= lr * mi / (float32(math.Sqrt(float64(vi))) + eps)
	}
}
