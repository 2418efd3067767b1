package nn

import (
	"math"

	"github.com/splitnas/splitnas/arch"
)

// Batch normalisation (Ioffe & Szegedy 2015) exists only while training
// (Config.BatchNorm). It follows every hidden Conv and ConvTranspose
// layer, before its ReLU, and normalises each output channel over the
// batch and the positions, as PyTorch's BatchNorm1d does:
//
//	ŷ = (z − μ_B)/√(σ²_B + ε),  y = γ·ŷ + β
//
// with μ_B and σ²_B the mean and biased variance of the channel's N =
// batch·length values, and learnable γ (initially 1) and β (initially 0)
// per channel. Each training batch also updates running estimates,
// initially 0 and 1, with momentum bnMomentum:
//
//	μ ← (1 − m)·μ + m·μ_B,  σ² ← (1 − m)·σ² + m·σ²_B·N/(N − 1)
//
// (the running variance is the unbiased one; a channel with N = 1 leaves
// it alone). At inference the running estimates take the place of the
// batch's, so the normalisation is an affine map per channel, which
// fold merges into the layer's weights and bias: the trained model is a
// plain network, with the same architecture, parameters, Flash, RAM,
// MACs and energy as one trained without batch normalisation.
//
// The bias of a normalised layer cannot change its output (μ_B absorbs
// it), so its gradient is zero in exact arithmetic; training sets the
// gradient to exactly zero, which keeps the bias at its initial 0 (as
// PyTorch's Conv1d(bias=False) before a BatchNorm1d) instead of letting
// Adam turn rounding noise into steps. γ and β get Adam's updates and the
// learning-rate schedule like the other parameters, but no weight decay.
const (
	bnEpsilon  = 1e-5 // ε, added to the variance
	bnMomentum = 0.1  // m, weight of the batch in the running estimates
)

// normLayer is a layer that batch normalisation follows in training.
type normLayer struct {
	layer int // index into plan.layers
	ch, n int // output channels and length
	off   int // γ at off, β at off+ch in the vector of normalisation parameters
}

// batchNorm holds the batch normalisation of a network in training: which
// layers are normalised, the statistics of the last batch and the
// running estimates. Its learnable parameters γ and β live in a flat
// vector of its own (bn.nParams values; see normLayer.off) so that Adam
// can update them with the network's.
type batchNorm[T float] struct {
	layers  []normLayer
	at      []int // at[i] is the index in layers of layer i, or −1
	nParams int

	// Per normalised layer and channel: the mean, biased variance and
	// 1/√(σ²+ε) of the last training batch, and the running estimates.
	mean, variance, invStd [][]T
	runMean, runVar        [][]T
}

// newBatchNorm normalises every Conv and ConvTranspose layer of p but the
// last, with running estimates μ = 0, σ² = 1.
func newBatchNorm[T float](p *plan) *batchNorm[T] {
	bn := &batchNorm[T]{at: make([]int, len(p.layers))}
	for i := range p.layers {
		bn.at[i] = -1
		g := &p.layers[i]
		if i == len(p.layers)-1 || g.kind != arch.Conv && g.kind != arch.ConvTranspose {
			continue
		}
		bn.at[i] = len(bn.layers)
		bn.layers = append(bn.layers, normLayer{layer: i, ch: g.outCh, n: g.outLen, off: bn.nParams})
		bn.nParams += 2 * g.outCh
		ones := make([]T, g.outCh)
		for c := range ones {
			ones[c] = 1
		}
		bn.mean = append(bn.mean, make([]T, g.outCh))
		bn.variance = append(bn.variance, make([]T, g.outCh))
		bn.invStd = append(bn.invStd, make([]T, g.outCh))
		bn.runMean = append(bn.runMean, make([]T, g.outCh))
		bn.runVar = append(bn.runVar, ones)
	}
	return bn
}

// initParams sets every γ in bp to 1 and every β to 0.
func (bn *batchNorm[T]) initParams(bp []T) {
	for _, l := range bn.layers {
		for c := range l.ch {
			bp[l.off+c], bp[l.off+l.ch+c] = 1, 0
		}
	}
}

// fold writes to dst (p.nParams values) the parameters of the plain
// network that computes at inference what params, with batch
// normalisation by the running estimates and the γ and β of bp, computes:
// for every output channel of a normalised layer, with s = γ/√(σ² + ε),
//
//	w' = w·s,  b' = (b − μ)·s + β,
//
// and the other parameters copied. It computes in float64.
func (bn *batchNorm[T]) fold(p *plan, params, bp, dst []T) {
	copy(dst, params[:p.nParams])
	for k, l := range bn.layers {
		g := &p.layers[l.layer]
		taps := g.inCh * g.k // weights per output channel: w[co][ci][j]
		for co := range l.ch {
			s := float64(bp[l.off+co]) / math.Sqrt(float64(bn.runVar[k][co])+bnEpsilon)
			w := dst[g.wOff+co*taps : g.wOff+(co+1)*taps]
			for j, v := range w {
				w[j] = T(float64(v) * s)
			}
			b := float64(params[g.bOff+co])
			dst[g.bOff+co] = T((b-float64(bn.runMean[k][co]))*s + float64(bp[l.off+l.ch+co]))
		}
	}
}

// bnStats sets the mean, biased variance and 1/√(variance + ε) of every
// channel of the tensors z (one per sample, ch channels of n values) over
// the samples and positions. It sums in float64, in two passes.
func bnStats[T float](z [][]T, ch, n int, mean, variance, invStd []T) {
	count := float64(len(z) * n)
	for c := range ch {
		var s float64
		for _, zs := range z {
			s += sum64(zs[c*n : (c+1)*n])
		}
		m := s / count
		var q float64
		for _, zs := range z {
			q += sqDev64(zs[c*n:(c+1)*n], m)
		}
		v := q / count
		mean[c], variance[c], invStd[c] = T(m), T(v), T(1/math.Sqrt(v+bnEpsilon))
	}
}

// bnNormalize sets, for every sample s, xhat[s] = (z[s] − μ)·invStd and
// z[s] = γ·xhat[s] + β, per channel: z is normalised in place and xhat
// keeps ŷ for the backward pass.
func bnNormalize[T float](z, xhat [][]T, ch, n int, mean, invStd, gamma, beta []T) {
	for s, zs := range z {
		for c := range ch {
			m, is, ga, be := mean[c], invStd[c], gamma[c], beta[c]
			zr, xr := zs[c*n:(c+1)*n], xhat[s][c*n:(c+1)*n]
			xr = xr[:len(zr)]
			for t, v := range zr {
				h := (v - m) * is
				xr[t] = h
				zr[t] = ga*h + be
			}
		}
	}
}

// bnBackward turns d, the gradient of the normalised output y = γ·ŷ + β
// of every sample, into the gradient of the layer's output z in place,
// and adds the gradients of γ and β to dgamma and dbeta. Per channel, with
// sums over the batch's N values,
//
//	dβ = Σ dy,  dγ = Σ dy·ŷ,  dz = γ·invStd·(dy − dβ/N − ŷ·dγ/N)
//
// (the mean and variance depend on every z, hence the two sums).
func bnBackward[T float](d, xhat [][]T, ch, n int, gamma, invStd, dgamma, dbeta []T) {
	count := float64(len(d) * n)
	for c := range ch {
		var sd, sdx float64
		for s, ds := range d {
			dr := ds[c*n : (c+1)*n]
			sd += sum64(dr)
			sdx += dot64(dr, xhat[s][c*n:(c+1)*n])
		}
		dbeta[c] += T(sd)
		dgamma[c] += T(sdx)
		k, md, mdx := gamma[c]*invStd[c], T(sd/count), T(sdx/count)
		for s, ds := range d {
			dr, xr := ds[c*n:(c+1)*n], xhat[s][c*n:(c+1)*n]
			xr = xr[:len(dr)]
			for t, v := range dr {
				dr[t] = k * (v - md - xr[t]*mdx)
			}
		}
	}
}

// update moves normalised layer k's running estimates towards the
// statistics of the last batch, of count values per channel.
func (bn *batchNorm[T]) update(k, count int) {
	const m = bnMomentum
	mean, variance := bn.mean[k], bn.variance[k]
	rm, rv := bn.runMean[k], bn.runVar[k]
	for c := range rm {
		rm[c] = T((1-m)*float64(rm[c]) + m*float64(mean[c]))
		if count > 1 {
			unbiased := float64(variance[c]) * float64(count) / float64(count-1)
			rv[c] = T((1-m)*float64(rv[c]) + m*unbiased)
		}
	}
}

// sum64 returns Σ x[i] in float64, with four partial sums.
func sum64[T float](x []T) float64 {
	var s0, s1, s2, s3 float64
	for len(x) >= 4 {
		s0 += float64(x[0])
		s1 += float64(x[1])
		s2 += float64(x[2])
		s3 += float64(x[3])
		x = x[4:]
	}
	for _, v := range x {
		s0 += float64(v)
	}
	return (s0 + s1) + (s2 + s3)
}

// sqDev64 returns Σ (x[i] − m)² in float64, with four partial sums.
func sqDev64[T float](x []T, m float64) float64 {
	var s0, s1, s2, s3 float64
	for len(x) >= 4 {
		d0, d1, d2, d3 := float64(x[0])-m, float64(x[1])-m, float64(x[2])-m, float64(x[3])-m
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
		x = x[4:]
	}
	for _, v := range x {
		d := float64(v) - m
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// dot64 returns Σ a[i]·b[i] over len(a) values in float64, with four
// partial sums.
func dot64[T float](a, b []T) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	for len(a) >= 4 && len(b) >= 4 {
		s0 += float64(a[0]) * float64(b[0])
		s1 += float64(a[1]) * float64(b[1])
		s2 += float64(a[2]) * float64(b[2])
		s3 += float64(a[3]) * float64(b[3])
		a, b = a[4:], b[4:]
	}
	for i, v := range a {
		s0 += float64(v) * float64(b[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// bnBatch runs a mini-batch through a network with batch normalisation,
// one layer at a time across the batch (the statistics of a layer need
// every sample's output), with a workspace per sample. Without batch
// normalisation the engine runs one sample at a time through the whole
// network instead; bnBatch is used only when Config.BatchNorm is on.
type bnBatch[T float] struct {
	p        *plan
	bn       *batchNorm[T]
	ws       []*workspace[T] // ws[s] holds sample s of the batch; the caller sets ws[s].act[0]
	xhat     [][][]T         // xhat[s][i]: ŷ of layer i's output for sample s (nil for layers not normalised)
	rows, xh [][]T           // scratch: views of one layer's tensors across the batch
}

// newBNBatch allocates workspaces for batches of up to size samples
// (with dropout masks and input gradients as for newWorkspace).
func newBNBatch[T float](p *plan, bn *batchNorm[T], size int, dropout, inputGrad bool) *bnBatch[T] {
	b := &bnBatch[T]{
		p: p, bn: bn,
		ws: make([]*workspace[T], size), xhat: make([][][]T, size),
		rows: make([][]T, size), xh: make([][]T, size),
	}
	for s := range size {
		b.ws[s] = newWorkspace[T](p, dropout, inputGrad)
		b.xhat[s] = make([][]T, len(p.layers)+1)
		for _, l := range bn.layers {
			b.xhat[s][l.layer+1] = make([]T, l.ch*l.n)
		}
	}
	return b
}

// views sets b.rows to tensor i of the first n samples (their gradients
// with grad) and b.xh to their ŷ, and returns both.
func (b *bnBatch[T]) views(i, n int, grad bool) (rows, xh [][]T) {
	rows, xh = b.rows[:n], b.xh[:n]
	for s, ws := range b.ws[:n] {
		if grad {
			rows[s] = ws.grad[i]
		} else {
			rows[s] = ws.act[i]
		}
		xh[s] = b.xhat[s][i]
	}
	return rows, xh
}

// forward runs the first n samples of the batch (ws[s].act[0], set by the
// caller) through the network with the parameters params and the
// normalisation parameters bp, normalising by the batch's statistics and
// updating the running estimates. With dropout the hidden tensors are
// multiplied by each workspace's mask. The logits are ws[s].act[L].
func (b *bnBatch[T]) forward(params, bp []T, n int, dropout bool) {
	p, bn := b.p, b.bn
	last := len(p.layers)
	ws := b.ws[:n]
	for i := 1; i <= last; i++ {
		g := &p.layers[i-1]
		for _, w := range ws {
			forward(g, params, w.act[i-1], w.act[i])
		}
		if k := bn.at[i-1]; k >= 0 {
			l := &bn.layers[k]
			z, xh := b.views(i, n, false)
			bnStats(z, l.ch, l.n, bn.mean[k], bn.variance[k], bn.invStd[k])
			bn.update(k, n*l.n)
			bnNormalize(z, xh, l.ch, l.n, bn.mean[k], bn.invStd[k], bp[l.off:l.off+l.ch], bp[l.off+l.ch:l.off+2*l.ch])
		}
		for _, w := range ws {
			if g.relu {
				relu(w.act[i])
			}
			if dropout && i < last {
				mul(w.act[i], w.mask[i])
			}
		}
	}
}

// backward propagates ws[s].grad[L] (the gradient of the batch loss with
// respect to sample s's logits, set by the caller) back through the
// network after forward with the same n and dropout setting, adding the
// gradients of params to dp and of bp to dbp. The gradients of the biases
// of normalised layers are set to zero (see the note at bnEpsilon). It
// sets ws[s].grad[0] when the workspaces have it.
func (b *bnBatch[T]) backward(params, bp, dp, dbp []T, n int, dropout bool) {
	p, bn := b.p, b.bn
	last := len(p.layers)
	ws := b.ws[:n]
	for i := last; i >= 1; i-- {
		g := &p.layers[i-1]
		for _, w := range ws {
			dy := w.grad[i]
			if dropout && i < last {
				mul(dy, w.mask[i])
			}
			if g.relu {
				reluBackward(w.act[i], dy)
			}
		}
		k := bn.at[i-1]
		if k >= 0 {
			l := &bn.layers[k]
			d, xh := b.views(i, n, true)
			ga, be := l.off, l.off+l.ch
			bnBackward(d, xh, l.ch, l.n, bp[ga:ga+l.ch], bn.invStd[k], dbp[ga:ga+l.ch], dbp[be:be+l.ch])
		}
		for _, w := range ws {
			backward(g, params, w.act[i-1], w.grad[i], dp, w.grad[i-1])
		}
		if k >= 0 {
			clear(dp[g.bOff : g.bOff+g.nb])
		}
	}
}
