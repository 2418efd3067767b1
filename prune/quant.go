package prune

import (
	"fmt"
	"slices"

	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/quant"
)

// MagnitudeQuantized prunes a quantized model directly: it zeroes the
// integer weights of q with the smallest real magnitude |W|·WScale (the
// weight's output channel's scale) — Magnitude's ranking, Global or
// PerLayer, weights already 0 counted among the dropped — and returns the
// pruned copy. Biases, scales, multipliers and zero points stay, so the
// result computes exactly what q computes with those weights 0, in the
// integer arithmetic of package quant and of the exported C. Without
// fine-tuning: for accuracy, prune the float model, fine-tune, then
// quantize (or train --keep-zeros --qat).
func MagnitudeQuantized(q *quant.Model, sparsity float64, scope Scope) (*quant.Model, error) {
	if err := checkSparsity(sparsity); err != nil {
		return nil, err
	}
	net := q.Network()
	// A float view of the real weights, which Magnitude ranks.
	view, err := nn.NewModel(net, 0)
	if err != nil {
		return nil, err
	}
	for i, l := range q.Layers {
		w, _ := view.Weights(i)
		if len(w) != len(l.W) {
			return nil, fmt.Errorf("prune: layer %d holds %d weights, its architecture %d", i+1, len(l.W), len(w))
		}
		per := len(w) / max(l.Rows(), 1)
		for j, v := range l.W {
			w[j] = float32(v) * l.WScale[j/per]
		}
	}
	mask, err := Magnitude(view, sparsity, scope, nil)
	if err != nil {
		return nil, err
	}
	p := *q
	p.Layers = slices.Clone(q.Layers)
	off := 0
	for i := range p.Layers {
		l := &p.Layers[i]
		l.W = slices.Clone(l.W)
		for j := range l.W {
			if !mask[off+j] {
				l.W[j] = 0
			}
		}
		off += l.Params()
	}
	return &p, nil
}
