package nn

import (
	"math"

	"github.com/splitnas/splitnas/quant/scheme"
)

// Quantization-aware training (Config.QATBits): the network trains as it
// will run in integers (package quant), its forward pass seeing
//
//   - each layer's weights fake-quantized per output channel, symmetric, at
//     QATBits (scheme.WeightScale, scheme.QuantizeWeight: the very weights
//     quant.FromFloat will store); biases in float (their int32 form is
//     exact to far below one step);
//   - every tensor — the input, each layer's output after its ReLU, the
//     logits — fake-quantized to int8 with the affine parameters of its
//     range (scheme.Range.Params), the range tracked over the training
//     batches as an exponential moving average of each batch's minimum and
//     maximum (momentum qatMomentum), started from the first batch's.
//
// The backward pass is the straight-through estimator (Bengio et al. 2013;
// Jacob et al. 2018): rounding passes gradients unchanged, to the float
// weights that Adam updates; a tensor value clipped at the end of its
// range passes none. Validation, the choice of the best epoch and the
// returned ranges use the moving averages as they stood after the epoch.
const qatMomentum = 0.99

// fakeQuant is the state of quantization-aware training.
type fakeQuant[T float] struct {
	bits   int
	ranges []scheme.Range   // per tensor 0..L: the moving averages
	qp     []scheme.QParams // their int8 parameters, for the current batch
	seen   bool             // whether ranges holds anything yet
	bmin   []T              // per tensor: the extremes of the current batch
	bmax   []T
	pw     []T   // the fake-quantized parameters of the current batch
	in     []T   // the fake-quantized input of the current sample
	mask   [][]T // per tensor 1..L: 1 where the value was inside its range, else 0
}

func newFakeQuant[T float](p *plan, bits int) *fakeQuant[T] {
	n := len(p.layers)
	q := &fakeQuant[T]{
		bits: bits, ranges: make([]scheme.Range, n+1), qp: make([]scheme.QParams, n+1),
		bmin: make([]T, n+1), bmax: make([]T, n+1),
		pw: make([]T, p.nParams), in: make([]T, p.inSize()), mask: make([][]T, n+1),
	}
	for i := range p.layers {
		q.mask[i+1] = make([]T, p.layers[i].outSize())
	}
	return q
}

// quantizeWeights sets q.pw to params with every layer's weights
// fake-quantized per output channel (biases unchanged).
func (q *fakeQuant[T]) quantizeWeights(p *plan, params []T) {
	copy(q.pw, params)
	for i := range p.layers {
		g := &p.layers[i]
		if g.nw == 0 {
			continue
		}
		w, per := q.pw[g.wOff:g.wOff+g.nw], g.nw/g.nb
		for c := range g.nb {
			wc := w[c*per : (c+1)*per]
			top := 0.0
			for _, v := range wc {
				top = max(top, math.Abs(float64(v)))
			}
			s := scheme.WeightScale(top, q.bits)
			for j, v := range wc {
				wc[j] = T(float32(scheme.QuantizeWeight(float64(v), s, q.bits)) * s)
			}
		}
	}
}

// beginBatch fake-quantizes the weights for the batch and resets the
// batch's observed extremes.
func (q *fakeQuant[T]) beginBatch(p *plan, params []T) {
	q.quantizeWeights(p, params)
	for i := range q.bmin {
		q.bmin[i], q.bmax[i] = T(math.Inf(1)), T(math.Inf(-1))
	}
}

// endBatch folds the batch's extremes into the moving averages (the first
// batch sets them) and refreshes the quantization parameters.
func (q *fakeQuant[T]) endBatch() {
	for i := range q.ranges {
		lo, hi := float32(q.bmin[i]), float32(q.bmax[i])
		if math.IsInf(float64(lo), 0) || math.IsInf(float64(hi), 0) {
			continue
		}
		r := &q.ranges[i]
		if !q.seen {
			r.Min, r.Max = lo, hi
		} else {
			r.Min = qatMomentum*r.Min + (1-qatMomentum)*lo
			r.Max = qatMomentum*r.Max + (1-qatMomentum)*hi
		}
	}
	q.seen = true
	q.refresh()
}

// refresh sets q.qp from q.ranges.
func (q *fakeQuant[T]) refresh() {
	for i, r := range q.ranges {
		q.qp[i] = r.Params()
	}
}

// fake fake-quantizes tensor i in place with its current parameters. It
// records in mask (unless nil) where the gradient passes: where the value
// was inside the range and, after a ReLU (relu set), positive — the ReLU's
// own derivative, taken before the rounding, as the straight-through
// estimator has it. With observe it also records the batch's extremes.
// Before the first batch has been seen (the ranges are empty) it only
// observes: the first batch trains with unquantized tensors.
func (q *fakeQuant[T]) fake(i int, y, mask []T, relu, observe bool) {
	if observe {
		for _, v := range y {
			q.bmin[i], q.bmax[i] = min(q.bmin[i], v), max(q.bmax[i], v)
		}
	}
	lo, hi := T(math.Inf(-1)), T(math.Inf(1))
	qp := q.qp[i]
	if q.seen {
		lo, hi = T(qp.Dequantize(math.MinInt8)), T(qp.Dequantize(math.MaxInt8))
	}
	for j, v := range y {
		if mask != nil {
			if v >= lo && v <= hi && (!relu || v > 0) {
				mask[j] = 1
			} else {
				mask[j] = 0
			}
		}
		if q.seen {
			y[j] = T(qp.FakeQuantize(float32(v)))
		}
	}
}

// forward is workspace.forward with fake quantization: the weights of
// q.pw (set by beginBatch) and every tensor fake-quantized. With observe
// the batch's extremes are recorded (training); without, the ranges are
// only applied (validation).
func (q *fakeQuant[T]) forward(ws *workspace[T], p *plan, x []T, dropout, observe bool) []T {
	copy(q.in, x)
	q.fake(0, q.in, nil, false, observe)
	ws.act[0] = q.in
	last := len(p.layers)
	for i := 1; i <= last; i++ {
		g := &p.layers[i-1]
		y := ws.act[i]
		forward(g, q.pw, ws.act[i-1], y)
		if g.relu {
			relu(y)
		}
		if dropout && i < last {
			mul(y, ws.mask[i])
		}
		q.fake(i, y, q.mask[i], g.relu, observe)
	}
	return ws.act[last]
}

// backward is workspace.backward through the fake-quantized forward pass,
// by the straight-through estimator: each tensor's gradient is zeroed
// where the value was clipped (and, after a ReLU, where it was not
// positive: q.mask holds both), the rest passes the rounding unchanged,
// and the gradients of the fake-quantized weights are added to dp as those
// of the float weights.
func (q *fakeQuant[T]) backward(ws *workspace[T], p *plan, dp []T, dropout bool) {
	last := len(p.layers)
	for i := last; i >= 1; i-- {
		g := &p.layers[i-1]
		dy := ws.grad[i]
		mul(dy, q.mask[i])
		if dropout && i < last {
			mul(dy, ws.mask[i])
		}
		backward(g, q.pw, ws.act[i-1], dy, dp, ws.grad[i-1])
	}
}
