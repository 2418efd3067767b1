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
// parameter vector, with optional decoupled weight decay (AdamW,
// Loshchilov & Hutter 2019) in PyTorch's form: before the Adam update,
// every value in the decay ranges is multiplied by 1 − lr·decay, lr being
// the step's (scheduled) learning rate without Adam's bias corrections.
// The engine's decay ranges are the weights of every layer, never the
// biases.
type adam struct {
	lr, beta1, beta2, eps float64 // lr: the next step's learning rate, set per step by a schedule
	decay                 float64
	decayRanges           [][2]int // [from, to) in the parameter vector
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

// weightRanges returns the ranges of p's parameter vector that hold
// weights (not biases), layer by layer.
func weightRanges(p *plan) [][2]int {
	r := make([][2]int, len(p.layers))
	for i, g := range p.layers {
		r[i] = [2]int{g.wOff, g.wOff + g.nw}
	}
	return r
}

// step applies one update to params given the gradient g.
func (a *adam) step(params, g []float32) {
	if a.decay > 0 {
		keep := float32(1 - a.lr*a.decay)
		for _, r := range a.decayRanges {
			w := params[r[0]:r[1]]
			for i := range w {
				w[i] *= keep
			}
		}
	}
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
