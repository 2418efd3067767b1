package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/splitnas/splitnas/arch"
)

// Limits of the engine. They keep a network read from an untrusted file
// from asking for absurd amounts of memory, or overflowing int arithmetic
// (on 32-bit platforms too), before it is used: a workspace (activations
// and their gradients) takes at most 2·4·maxActivations bytes = 256 MiB, a
// parameter vector at most 4·maxParams = 64 MiB. The search's networks are
// many orders of magnitude below them.
const (
	maxLayers      = 256
	maxTensorSize  = 1 << 24 // values in one tensor
	maxActivations = 1 << 25 // values in all the tensors of a network, input included
	maxParams      = 1 << 24 // values in the flat parameter vector
	maxGeom        = 1 << 24 // kernel, stride, padding
)

// mulAtMost returns a·b for a, b ≥ 0 and whether it is at most limit,
// without overflowing.
func mulAtMost(a, b, limit int) (int, bool) {
	if b != 0 && a > limit/b {
		return 0, false
	}
	return a * b, true
}

// plan is a checked network: its layers in kernel form and the size of its
// flat parameter vector (each layer's weights, then its biases, layer after
// layer).
type plan struct {
	layers  []geom
	nParams int
}

func (p *plan) inSize() int  { return p.layers[0].inSize() }
func (p *plan) classes() int { return p.layers[len(p.layers)-1].outSize() }

// newPlan checks that net is well formed and within the engine's limits —
// at most maxLayers layers, every shape positive with at most
// maxTensorSize values, at most maxActivations values in all the tensors,
// kernel, stride and padding at most maxGeom, at most maxParams
// parameters, each layer's input the previous layer's output, and each
// output length the one its kernel, stride and padding give — and lays out
// its parameters. The engine trains Conv, ConvTranspose and Dense layers in
// any order (hidden Dense layers included); it rejects MaxPool layers,
// which only reference networks such as arch.VGG11 use. Its errors do not
// start with "nn: ": callers add the context.
func newPlan(net arch.Network) (*plan, error) {
	if len(net.Layers) == 0 {
		return nil, errors.New("network has no layers")
	}
	if len(net.Layers) > maxLayers {
		return nil, fmt.Errorf("network has %d layers, at most %d are supported", len(net.Layers), maxLayers)
	}
	p := &plan{layers: make([]geom, len(net.Layers))}
	acts := 0 // values in tensors 0..i
	for i, l := range net.Layers {
		for _, s := range [2]arch.Shape{l.In, l.Out} {
			if _, ok := mulAtMost(s.Len, s.Ch, maxTensorSize); s.Len <= 0 || s.Ch <= 0 || !ok {
				return nil, layerError(i, l, "tensor shape %v is not positive or exceeds %d values", s, maxTensorSize)
			}
		}
		if i > 0 && l.In != net.Layers[i-1].Out {
			return nil, layerError(i, l, "input %v is not the previous layer's output %v", l.In, net.Layers[i-1].Out)
		}
		if i == 0 {
			acts = l.In.Size()
		}
		if acts += l.Out.Size(); acts > maxActivations {
			return nil, layerError(i, l, "the tensors up to this layer hold %d values, the engine's limit for a network is %d", acts, maxActivations)
		}
		g := geom{
			kind: l.Kind, inLen: l.In.Len, inCh: l.In.Ch, outLen: l.Out.Len, outCh: l.Out.Ch,
			k: l.Kernel, s: l.Stride, pl: l.PadLeft, pr: l.PadRight, relu: l.ReLU,
		}
		switch l.Kind {
		case arch.Conv, arch.ConvTranspose:
			if g.k < 1 || g.s < 1 || g.pl < 0 || g.pr < 0 || g.k > maxGeom || g.s > maxGeom || g.pl > maxGeom || g.pr > maxGeom {
				return nil, layerError(i, l, "kernel %d, stride %d, padding %d+%d out of range", g.k, g.s, g.pl, g.pr)
			}
			var want int
			if l.Kind == arch.Conv {
				padded := g.inLen + g.pl + g.pr // ≤ 3·2²⁴: no overflow
				if padded < g.k {
					return nil, layerError(i, l, "kernel %d is longer than the padded input %d", g.k, padded)
				}
				want = (padded-g.k)/g.s + 1
			} else {
				// (inLen−1)·s beyond this bound cannot be cropped back to
				// maxTensorSize values; within it the sum cannot overflow.
				span, ok := mulAtMost(g.inLen-1, g.s, maxTensorSize+2*maxGeom)
				if !ok {
					return nil, layerError(i, l, "stride %d over %d inputs gives an output longer than %d", g.s, g.inLen, maxTensorSize)
				}
				want = span + g.k - g.pl - g.pr
			}
			if g.outLen != want {
				return nil, layerError(i, l, "output length %d, kernel %d stride %d padding %d+%d give %d", g.outLen, g.k, g.s, g.pl, g.pr, want)
			}
			taps, ok := mulAtMost(g.inCh, g.k, maxParams)
			if ok {
				g.nw, ok = mulAtMost(taps, g.outCh, maxParams)
			}
			if !ok {
				return nil, layerError(i, l, "too many weights")
			}
			g.nb = g.outCh
		case arch.Dense:
			var ok bool
			if g.nw, ok = mulAtMost(g.inSize(), g.outSize(), maxParams); !ok {
				return nil, layerError(i, l, "too many weights")
			}
			// Dense layers see a flat vector: treat the output as outSize×1.
			g.outLen, g.outCh = g.outSize(), 1
			g.nb = g.outLen
		case arch.MaxPool:
			return nil, layerError(i, l, "maxpool1d layers are not supported by the training engine")
		default:
			return nil, layerError(i, l, "unknown layer kind")
		}
		// Each term is at most maxParams and the running total is checked
		// after every layer, so these sums cannot overflow.
		g.wOff = p.nParams
		g.bOff = g.wOff + g.nw
		p.nParams = g.bOff + g.nb
		if p.nParams > maxParams {
			return nil, fmt.Errorf("network has more than %d parameters", maxParams)
		}
		p.layers[i] = g
	}
	return p, nil
}

// initParams fills params with He-uniform weights, U(±√(6/fanIn)), for the
// hidden layers and Glorot-uniform weights, U(±√(6/(fanIn+fanOut))), for the
// last layer, drawn from rng layer by layer; biases are zero. fanIn is the
// number of products summed into one output: kernel·inCh for a Conv,
// ⌈kernel/stride⌉·inCh for a ConvTranspose (each output position sees that
// many input positions), the input size for a Dense; fanOut likewise.
func initParams[T float](p *plan, params []T, rng *rand.Rand) {
	for i := range p.layers {
		g := &p.layers[i]
		var fanIn, fanOut int
		switch g.kind {
		case arch.Conv:
			fanIn, fanOut = g.k*g.inCh, g.k*g.outCh
		case arch.ConvTranspose:
			taps := (g.k + g.s - 1) / g.s
			fanIn, fanOut = taps*g.inCh, taps*g.outCh
		case arch.Dense:
			fanIn, fanOut = g.inSize(), g.outSize()
		}
		limit := math.Sqrt(6 / float64(fanIn))
		if i == len(p.layers)-1 {
			limit = math.Sqrt(6 / float64(fanIn+fanOut))
		}
		w := params[g.wOff : g.wOff+g.nw]
		for j := range w {
			w[j] = T(limit * (2*rng.Float64() - 1))
		}
		clear(params[g.bOff : g.bOff+g.nb])
	}
}

// workspace holds the activations and gradients of one sample's pass through
// a network. It is what makes a forward/backward pass allocation-free; one
// goroutine uses it at a time.
type workspace[T float] struct {
	act  [][]T // act[i] is tensor i; act[0] is the input, set by forward
	grad [][]T // grad[i] is ∂loss/∂tensor i; grad[0] only if asked for
	mask [][]T // dropout masks of the hidden tensors 1..L−1, or nil
}

// newWorkspace allocates the buffers for plan p; with dropout it also
// allocates masks, and with inputGrad the gradient of the input.
func newWorkspace[T float](p *plan, dropout, inputGrad bool) *workspace[T] {
	n := len(p.layers)
	ws := &workspace[T]{act: make([][]T, n+1), grad: make([][]T, n+1)}
	if inputGrad {
		ws.grad[0] = make([]T, p.inSize())
	}
	for i := range p.layers {
		size := p.layers[i].outSize()
		ws.act[i+1] = make([]T, size)
		ws.grad[i+1] = make([]T, size)
	}
	if dropout {
		ws.mask = make([][]T, n)
		for i := 1; i < n; i++ {
			ws.mask[i] = make([]T, p.layers[i-1].outSize())
		}
	}
	return ws
}

// forward runs x through the network and returns the logits (a view into
// ws). With dropout, the hidden tensors are multiplied by ws.mask.
func (ws *workspace[T]) forward(p *plan, params, x []T, dropout bool) []T {
	ws.act[0] = x
	last := len(p.layers)
	for i := 1; i <= last; i++ {
		g := &p.layers[i-1]
		y := ws.act[i]
		forward(g, params, ws.act[i-1], y)
		if g.relu {
			relu(y)
		}
		if dropout && i < last {
			mul(y, ws.mask[i])
		}
	}
	return ws.act[last]
}

// backward propagates ws.grad[L] (the gradient of the logits, set by the
// caller) back through the network after a forward pass with the same
// dropout setting, adding the parameter gradients to dp. It sets ws.grad[0]
// when the workspace has it.
func (ws *workspace[T]) backward(p *plan, params, dp []T, dropout bool) {
	last := len(p.layers)
	for i := last; i >= 1; i-- {
		g := &p.layers[i-1]
		dy := ws.grad[i]
		if dropout && i < last {
			mul(dy, ws.mask[i])
		}
		if g.relu {
			reluBackward(ws.act[i], dy)
		}
		backward(g, params, ws.act[i-1], dy, dp, ws.grad[i-1])
	}
}

// dropper draws inverted-dropout masks: each value is kept with probability
// 1−rate and then scaled by 1/(1−rate), so the expected activation is the
// same as at inference, when nothing is dropped.
type dropper struct {
	rng       rand.PCG
	threshold uint64 // drop when a uniform 64-bit draw is below this
	scale     float64
}

func newDropper(rate float64, seed uint64) *dropper {
	d := &dropper{scale: 1 / (1 - rate)}
	d.rng.Seed(seed, streamDropout)
	if t := math.Ldexp(rate, 64); t >= math.Ldexp(1, 64) {
		d.threshold = math.MaxUint64
	} else {
		d.threshold = uint64(t)
	}
	return d
}

// fill draws fresh masks for every hidden tensor of ws.
func fill[T float](d *dropper, ws *workspace[T]) {
	scale := T(d.scale)
	for _, m := range ws.mask[1:] {
		for j := range m {
			keep := 0 // branch-free: see relu
			if d.rng.Uint64() >= d.threshold {
				keep = 1
			}
			m[j] = scale * T(keep)
		}
	}
}

// Independent random streams derived from one seed.
const (
	streamInit    = 0x6e6e2d696e6974 // "nn-init"
	streamShuffle = 0x6e6e2d73687566 // "nn-shuf"
	streamDropout = 0x6e6e2d64726f70 // "nn-drop"
	streamAugment = 0x6e6e2d6175676d // "nn-augm"
)
