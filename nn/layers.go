package nn

import (
	"fmt"
	"math"

	"github.com/splitnas/splitnas/arch"
)

// float is the element type the layer kernels are written for. The engine
// trains in float32; the gradient tests run the very same kernels in float64.
type float interface{ ~float32 | ~float64 }

// geom is one layer of a network with its parameter offsets, checked and in
// the form the kernels use. Weights are stored row-major as
//
//	Conv, ConvTranspose: w[co][ci][k]  (out channel, in channel, tap)
//	Dense:               w[o][i]       (output, flattened input index)
//
// followed by the bias b[co] (b[o] for Dense). Tensors are channel-major:
// value (t, c) of a Len×Ch tensor is at c·Len + t.
type geom struct {
	kind          arch.Kind
	inLen, inCh   int
	outLen, outCh int
	k, s, pl, pr  int
	relu          bool
	wOff, nw      int // weights: offset and count in the flat parameter vector
	bOff, nb      int // biases: offset and count (outCh, or outSize for Dense)
}

func (g *geom) inSize() int  { return g.inLen * g.inCh }
func (g *geom) outSize() int { return g.outLen * g.outCh }

// forward computes the layer's affine output y (before any ReLU) from x.
func forward[T float](g *geom, p, x, y []T) {
	w, b := p[g.wOff:g.wOff+g.nw], p[g.bOff:g.bOff+g.nb]
	switch g.kind {
	case arch.Conv, arch.ConvTranspose:
		convForward(g, w, b, x, y)
	case arch.Dense:
		denseForward(w, b, x, y)
	}
}

// backward adds the layer's parameter gradients to dp given the input x and
// the gradient dy of the affine output, and, unless dx is nil, sets dx to
// the gradient with respect to x.
func backward[T float](g *geom, p, x, dy, dp, dx []T) {
	w := p[g.wOff : g.wOff+g.nw]
	dw, db := dp[g.wOff:g.wOff+g.nw], dp[g.bOff:g.bOff+g.nb]
	switch g.kind {
	case arch.Conv, arch.ConvTranspose:
		convBackward(g, w, x, dy, dw, db, dx)
	case arch.Dense:
		denseBackward(w, x, dy, dw, db, dx)
	}
}

// The convolutions are built from three single-channel primitives over a
// strided window: tap j of output t touches position t·s − pl + j of the
// long sequence (the input of a Conv, the output of a ConvTranspose), and
// positions outside it are the zero padding of a Conv or the cropped ends of
// a ConvTranspose. Each primitive runs a blocked loop (four outputs or taps
// at a time, four independent sums) over the windows that lie wholly inside
// the sequence, and a clipped loop over the few at the ends.

// window returns the taps [lo, hi) of a kernel of k taps placed at position
// start of a sequence of length n that fall inside it; hi ≤ lo when none
// does.
func window(start, k, n int) (lo, hi int) {
	return max(0, -start), min(k, n-start)
}

// fullRange returns the range [lo, hi) of t in [0, count) whose window
// t·s − pl + [0, k) lies wholly inside [0, n).
func fullRange(s, pl, k, n, count int) (lo, hi int) {
	lo = min((pl+s-1)/s, count)
	if n+pl < k {
		return lo, lo
	}
	hi = min((n+pl-k)/s+1, count)
	return lo, max(lo, hi)
}

// corr adds to every y[t] the correlation Σ_j w[j]·x[t·s − pl + j].
func corr[T float](w, x []T, s, pl int, y []T) {
	k := len(w)
	lo, hi := fullRange(s, pl, k, len(x), len(y))
	edge := func(t int) {
		start := t*s - pl
		if a, b := window(start, k, len(x)); a < b {
			y[t] += dot(w[a:b], x[start+a:start+b])
		}
	}
	for t := range lo {
		edge(t)
	}
	for t := hi; t < len(y); t++ {
		edge(t)
	}
	t := lo
	for ; t+4 <= hi; t += 4 {
		b := t*s - pl
		x0, x1, x2, x3 := x[b:][:k], x[b+s:][:k], x[b+2*s:][:k], x[b+3*s:][:k]
		var a0, a1, a2, a3 T
		for j, v := range w {
			a0 += v * x0[j]
			a1 += v * x1[j]
			a2 += v * x2[j]
			a3 += v * x3[j]
		}
		yy := y[t : t+4]
		yy[0] += a0
		yy[1] += a1
		yy[2] += a2
		yy[3] += a3
	}
	for ; t < hi; t++ {
		b := t*s - pl
		y[t] += dot(w, x[b:b+k])
	}
}

// corrGrad adds to every dw[j] the sum Σ_t d[t]·x[t·s − pl + j]: the
// gradient of corr with respect to its weights.
func corrGrad[T float](d, x []T, s, pl int, dw []T) {
	k := len(dw)
	lo, hi := fullRange(s, pl, k, len(x), len(d))
	for t, v := range d {
		if t >= lo && t < hi {
			continue
		}
		start := t*s - pl
		if a, b := window(start, k, len(x)); a < b {
			axpy(v, x[start+a:start+b], dw[a:b])
		}
	}
	if lo == hi {
		return
	}
	d = d[lo:hi]
	j := 0
	for ; j+4 <= k; j += 4 {
		var a0, a1, a2, a3 T
		b := lo*s - pl + j
		for _, v := range d {
			xx := x[b : b+4]
			a0 += v * xx[0]
			a1 += v * xx[1]
			a2 += v * xx[2]
			a3 += v * xx[3]
			b += s
		}
		ww := dw[j : j+4]
		ww[0] += a0
		ww[1] += a1
		ww[2] += a2
		ww[3] += a3
	}
	for ; j < k; j++ {
		var a T
		b := lo*s - pl + j
		for _, v := range d {
			a += v * x[b]
			b += s
		}
		dw[j] += a
	}
}

// scatter adds d[t]·w[j] to every y[t·s − pl + j] inside y: the transpose
// of corr, so also its gradient with respect to x.
func scatter[T float](w, d []T, s, pl int, y []T) {
	k := len(w)
	for t, v := range d {
		start := t*s - pl
		if a, b := window(start, k, len(y)); a < b {
			axpy(v, w[a:b], y[start+a:start+b])
		}
	}
}

// A Conv and a ConvTranspose are the same strided window seen from the two
// ends: a Conv correlates its long input into its short output,
//
//	y[co][t] = b[co] + Σ_ci Σ_j w[co][ci][j]·x[ci][t·s + j − pl]
//
// with x zero outside [0, inLen), and a ConvTranspose scatters its short
// input into its long output, the full output z[co][t·s + j] +=
// w[co][ci][j]·x[ci][t], of length (inLen−1)·s + k, cropped by pl on the
// left and pr on the right: y[co][u] = b[co] + z[co][u + pl]. So one loop
// over channel pairs serves both, calling corr where the other calls
// scatter and swapping the roles of input and output in corrGrad.

// convForward computes the affine output y of a Conv or ConvTranspose.
func convForward[T float](g *geom, w, b, x, y []T) {
	inLen, outLen, k := g.inLen, g.outLen, g.k
	transposed := g.kind == arch.ConvTranspose
	for co := range g.outCh {
		yr := y[co*outLen : (co+1)*outLen]
		for t := range yr {
			yr[t] = b[co]
		}
		for ci := range g.inCh {
			wr, xr := w[(co*g.inCh+ci)*k:][:k], x[ci*inLen:(ci+1)*inLen]
			if transposed {
				scatter(wr, xr, g.s, g.pl, yr)
			} else {
				corr(wr, xr, g.s, g.pl, yr)
			}
		}
	}
}

// convBackward adds the weight and bias gradients of a Conv or
// ConvTranspose to dw and db and, unless dx is nil, sets dx.
func convBackward[T float](g *geom, w, x, dy, dw, db, dx []T) {
	inLen, outLen, k := g.inLen, g.outLen, g.k
	transposed := g.kind == arch.ConvTranspose
	if dx != nil {
		clear(dx[:g.inSize()])
	}
	for co := range g.outCh {
		dyr := dy[co*outLen : (co+1)*outLen]
		var sum T
		for _, v := range dyr {
			sum += v
		}
		db[co] += sum
		for ci := range g.inCh {
			off := (co*g.inCh + ci) * k
			wr, dwr, xr := w[off:off+k], dw[off:off+k], x[ci*inLen:(ci+1)*inLen]
			var dxr []T
			if dx != nil {
				dxr = dx[ci*inLen : (ci+1)*inLen]
			}
			if transposed {
				corrGrad(xr, dyr, g.s, g.pl, dwr)
				if dxr != nil {
					corr(wr, dyr, g.s, g.pl, dxr)
				}
			} else {
				corrGrad(dyr, xr, g.s, g.pl, dwr)
				if dxr != nil {
					scatter(wr, dyr, g.s, g.pl, dxr)
				}
			}
		}
	}
}

// denseForward: y[o] = b[o] + Σ_i w[o][i]·x[i].
func denseForward[T float](w, b, x, y []T) {
	copy(y, b)
	if !gemv(false, len(y), len(x), w, x, 1, y) {
		denseForwardLoops(w, x, y)
	}
}

// denseForwardLoops adds w·x to y, four outputs at a time so that each
// x[i] is loaded once for four products.
func denseForwardLoops[T float](w, x, y []T) {
	n := len(x)
	o := 0
	for ; o+4 <= len(y); o += 4 {
		w0, w1, w2, w3 := w[o*n:][:n], w[(o+1)*n:][:n], w[(o+2)*n:][:n], w[(o+3)*n:][:n]
		w0, w1, w2, w3 = w0[:len(x)], w1[:len(x)], w2[:len(x)], w3[:len(x)] // for the prover
		var a0, a1, a2, a3 T
		for i, v := range x {
			a0 += w0[i] * v
			a1 += w1[i] * v
			a2 += w2[i] * v
			a3 += w3[i] * v
		}
		yy := y[o : o+4]
		yy[0] += a0
		yy[1] += a1
		yy[2] += a2
		yy[3] += a3
	}
	for ; o < len(y); o++ {
		y[o] += dot(w[o*n:(o+1)*n], x)
	}
}

// denseBackward: db += dy, dw += dy·xᵀ, dx = wᵀ·dy.
func denseBackward[T float](w, x, dy, dw, db, dx []T) {
	for o, d := range dy {
		db[o] += d
	}
	m, n := len(dy), len(x)
	if !ger(m, n, dy, x, dw) {
		for o, d := range dy {
			axpy(d, x, dw[o*n:(o+1)*n])
		}
	}
	if dx == nil {
		return
	}
	if !gemv(true, m, n, w, dy, 0, dx) {
		clear(dx)
		for o, d := range dy {
			axpy(d, w[o*n:(o+1)*n], dx)
		}
	}
}

// relu sets negative values of y to zero.
//
// Activations are positive or negative at random, so this and the other
// element-wise loops avoid data-dependent branches, which the processor
// would mispredict half the time (a branchy ReLU costs 8× more).
func relu[T float](y []T) {
	for i, v := range y {
		y[i] = max(v, 0)
	}
}

// reluBackward zeroes the gradient dy where the ReLU output y is not
// positive (the derivative at 0 is taken as 0).
func reluBackward[T float](y, dy []T) {
	dy = dy[:len(y)]
	for i, v := range y {
		on := 0 // an integer, so the compiler uses a conditional move
		if v > 0 {
			on = 1
		}
		dy[i] *= T(on)
	}
}

// mul multiplies y by mask element-wise: the forward and backward pass of
// inverted dropout, whose mask holds 0 (dropped) or 1/(1−rate) (kept).
func mul[T float](y, mask []T) {
	mask = mask[:len(y)]
	for i := range y {
		y[i] *= mask[i]
	}
}

// softmaxCE returns the cross-entropy −log softmax(z)[label] and sets
// dz = scale·(softmax(z) − onehot(label)). It subtracts max(z) first, so
// large logits neither overflow nor lose the loss to rounding.
func softmaxCE[T float](z []T, label int, scale T, dz []T) T {
	m := z[0]
	for _, v := range z[1:] {
		if v > m {
			m = v
		}
	}
	var sum float64
	for i, v := range z {
		e := T(math.Exp(float64(v - m)))
		dz[i] = e
		sum += float64(e)
	}
	inv := T(1 / sum)
	for i := range z {
		dz[i] *= inv * scale
	}
	dz[label] -= scale
	return T(math.Log(sum)) - (z[label] - m)
}

// crossEntropy returns −log softmax(z)[label] without the gradient.
// CrossEntropy is the cross-entropy loss of logits z for the true class
// label, −log softmax(z)[label], computed stably (as training and Evaluate
// compute it): for another runtime's logits (package quant's dequantized
// scores) to report the same Loss.
func CrossEntropy(z []float32, label int) float64 { return float64(crossEntropy(z, label)) }

func crossEntropy[T float](z []T, label int) T {
	m := z[0]
	for _, v := range z[1:] {
		if v > m {
			m = v
		}
	}
	var sum float64
	for _, v := range z {
		sum += math.Exp(float64(v - m))
	}
	return T(math.Log(sum)) - (z[label] - m)
}

// argmax returns the index of the largest value (the first one on ties; NaN
// never wins).
func argmax[T float](z []T) int {
	best := 0
	for i, v := range z {
		if v > z[best] {
			best = i
		}
	}
	return best
}

// dot returns Σ a[i]·b[i] over len(a) values, with four partial sums so the
// additions do not wait on each other.
func dot[T float](a, b []T) T {
	b = b[:len(a)]
	var s0, s1, s2, s3 T
	for len(a) >= 4 && len(b) >= 4 {
		s0 += a[0] * b[0]
		s1 += a[1] * b[1]
		s2 += a[2] * b[2]
		s3 += a[3] * b[3]
		a, b = a[4:], b[4:]
	}
	for i, v := range a {
		s0 += v * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy sets y[i] += a·x[i] over len(x) values.
func axpy[T float](a T, x, y []T) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}

// layerError describes why layer i of a network is malformed.
func layerError(i int, l arch.Layer, format string, args ...any) error {
	return fmt.Errorf("layer %d (%v %v→%v): %s", i+1, l.Kind, l.In, l.Out, fmt.Sprintf(format, args...))
}
