// Package prune makes a trained network smaller or sparser, the first
// step of Han et al.'s Deep Compression (prune, then quantize):
//
//   - structured (Channels): whole output channels of the hidden
//     convolutions are removed, with the input channels of the next layer
//     they feed, chosen by the L1 norm of their filters (Li et al. 2017,
//     "Pruning filters for efficient ConvNets"). The result is a smaller
//     dense network: its architecture, Flash, RAM, MACs and energy are
//     those of the smaller network, and everything downstream (training,
//     quantization, export) treats it like any other.
//   - unstructured (Magnitude, Gradual): the weights of smallest magnitude
//     in the whole network are zeroed, and held at 0 while the network is
//     fine-tuned (nn.Config.Mask), the sparsity rising over the
//     fine-tuning in Zhu and Gupta's cubic schedule (2017, "To prune, or
//     not to prune"). The architecture stays; what sparsity saves depends
//     on how the weights are stored and run: Costs stores a layer sparse
//     where the profile's sparse kernel model says that runs faster, as
//     package export does.
package prune

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/partition"
)

// Method is a way of pruning.
type Method string

const (
	ByChannel   Method = "channel"   // structured: whole channels (Channels)
	ByMagnitude Method = "magnitude" // unstructured: single weights (Magnitude, Gradual)
)

// ParseMethod reads "channel" or "magnitude".
func ParseMethod(s string) (Method, error) {
	switch m := Method(s); m {
	case ByChannel, ByMagnitude:
		return m, nil
	}
	return "", fmt.Errorf("unknown pruning method %q (want channel or magnitude)", s)
}

// SparsityError is a sparsity outside [0, 1).
type SparsityError struct{ Sparsity float64 }

func (e *SparsityError) Error() string {
	return fmt.Sprintf("prune: sparsity %v: want a fraction 0 ≤ s < 1", e.Sparsity)
}

func checkSparsity(s float64) error {
	if !(s >= 0 && s < 1) {
		return &SparsityError{s}
	}
	return nil
}

// prunable reports whether layer i of net has output channels Channels
// may remove: a hidden Conv or ConvTranspose (the class scores and hidden
// Dense layers keep their outputs).
func prunable(net arch.Network, i int) bool {
	k := net.Layers[i].Kind
	return i < len(net.Layers)-1 && (k == arch.Conv || k == arch.ConvTranspose)
}

// Channels removes from each hidden Conv and ConvTranspose layer of m the
// ⌊sparsity·C⌋ of its C output channels whose filters have the
// smallest L1 norm (Σ|w| over input channels and taps; ties: the later
// channel goes), keeping at least one, and the input channels of the next
// layer they fed. It returns the smaller model, with the weights and
// biases of the channels kept, and for each layer the original indices of
// the output channels kept (all of them for layers not pruned). The
// smaller model computes what m computes with the removed channels'
// weights and biases set to 0 (a removed channel then outputs 0 after
// its ReLU, and the next layer's weights on it multiply zeros).
func Channels(m *nn.Model, sparsity float64) (*nn.Model, [][]int, error) {
	if err := checkSparsity(sparsity); err != nil {
		return nil, nil, err
	}
	net := m.Network()
	L := len(net.Layers)
	kept := make([][]int, L)
	for i, l := range net.Layers {
		all := make([]int, l.Out.Ch)
		for c := range all {
			all[c] = c
		}
		kept[i] = all
		if !prunable(net, i) {
			continue
		}
		w, _ := m.Weights(i)
		per := len(w) / l.Out.Ch // in channels × taps
		norm := make([]float64, l.Out.Ch)
		for c := range norm {
			for _, v := range w[c*per : (c+1)*per] {
				norm[c] += math.Abs(float64(v))
			}
		}
		// Rounded down: a sparsity never takes more than its share of a
		// layer (at 25 %, a 2-channel layer keeps both, not one).
		drop := min(int(sparsity*float64(l.Out.Ch)), l.Out.Ch-1)
		order := slices.Clone(all)
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(norm[b], norm[a]) }) // largest first
		keep := order[:l.Out.Ch-drop]
		slices.Sort(keep)
		kept[i] = keep
	}

	small := arch.Network{Layers: slices.Clone(net.Layers)}
	for i := range small.Layers {
		small.Layers[i].Out.Ch = len(kept[i])
		if i > 0 {
			small.Layers[i].In.Ch = len(kept[i-1])
		}
	}
	sm, err := nn.NewModel(small, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("prune: the pruned network: %w", err)
	}
	sm.Classes = slices.Clone(m.Classes)
	for i, l := range net.Layers {
		w, b := m.Weights(i)
		sw, sb := sm.Weights(i)
		inKept := []int(nil) // nil: every input channel (layer 0)
		if i > 0 {
			inKept = kept[i-1]
		}
		switch l.Kind {
		case arch.Conv, arch.ConvTranspose: // w[out][in][tap]
			taps := l.Kernel
			k := 0
			for _, o := range kept[i] {
				for j := range len(sw) / len(kept[i]) / taps {
					in := j
					if inKept != nil {
						in = inKept[j]
					}
					src := (o*l.In.Ch + in) * taps
					copy(sw[k:k+taps], w[src:src+taps])
					k += taps
				}
			}
		case arch.Dense: // w[out][flattened input, channel-major]
			n := l.In.Len
			k := 0
			for o := range l.Out.Size() {
				row := w[o*l.In.Size() : (o+1)*l.In.Size()]
				for j := range len(sw) / l.Out.Size() / n {
					in := j
					if inKept != nil {
						in = inKept[j]
					}
					copy(sw[k:k+n], row[in*n:(in+1)*n])
					k += n
				}
			}
		default:
			return nil, nil, fmt.Errorf("prune: layer %d is a %v, which the engine does not train", i+1, l.Kind)
		}
		if l.Kind == arch.Dense {
			copy(sb, b)
		} else {
			for k, o := range kept[i] {
				sb[k] = b[o]
			}
		}
	}
	return sm, kept, nil
}

// Scope is where Magnitude compares magnitudes.
type Scope string

const (
	// Global ranks all the network's weights together: one threshold
	// (global magnitude pruning, the strong baseline of Blalock et al.
	// 2020, "What is the state of neural network pruning?"). Layers with
	// small weights — under He initialisation those with a large fan-in —
	// lose more.
	Global Scope = "global"
	// PerLayer takes the same fraction from every layer (Zhu and Gupta
	// 2017), rounded down, so that a layer of a handful of weights is not
	// emptied by rounding.
	PerLayer Scope = "layer"
)

// ParseScope reads "global" or "layer".
func ParseScope(s string) (Scope, error) {
	switch sc := Scope(s); sc {
	case Global, PerLayer:
		return sc, nil
	}
	return "", fmt.Errorf("unknown pruning scope %q (want global or layer)", s)
}

// Magnitude returns a mask (nn.Config.Mask) that drops the weights of m
// with the smallest magnitude — round(s·N) of its N weights ranked
// together (Global), or ⌊s·n⌋ of each layer's n (PerLayer) — counting the
// weights prev already drops among them: a weight once dropped stays
// dropped. Biases are kept. prev may be nil.
func Magnitude(m *nn.Model, sparsity float64, scope Scope, prev []bool) ([]bool, error) {
	if err := checkSparsity(sparsity); err != nil {
		return nil, err
	}
	if _, err := ParseScope(string(scope)); err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	params := m.Params()
	if prev != nil && len(prev) != len(params) {
		return nil, fmt.Errorf("prune: previous mask of %d entries for %d parameters", len(prev), len(params))
	}
	mask := make([]bool, len(params))
	if prev != nil {
		copy(mask, prev)
	} else {
		for i := range mask {
			mask[i] = true
		}
	}
	// drop removes from live (indices into params of weights still kept)
	// the smallest, until want of the group's weights are dropped.
	drop := func(live []int, dropped, want int) {
		// Smallest magnitude first; ties: the earlier weight goes.
		slices.SortStableFunc(live, func(a, b int) int {
			return cmp.Compare(math.Abs(float64(params[a])), math.Abs(float64(params[b])))
		})
		for _, k := range live[:max(0, min(len(live), want-dropped))] {
			mask[k] = false
		}
	}
	var live []int
	total, dropped := 0, 0
	off := 0
	for i, l := range m.Network().Layers {
		w, _ := m.Weights(i)
		if scope == PerLayer {
			live, dropped = live[:0], 0
		}
		for j := range w {
			if mask[off+j] {
				live = append(live, off+j)
			} else {
				dropped++
			}
		}
		total += len(w)
		if scope == PerLayer {
			drop(live, dropped, int(sparsity*float64(len(w))))
		}
		off += l.Params()
	}
	if scope == Global {
		drop(live, dropped, int(math.Round(sparsity*float64(total))))
	}
	return mask, nil
}

// Apply returns a copy of m whose parameters mask drops are 0.
func Apply(m *nn.Model, mask []bool) (*nn.Model, error) {
	c, err := nn.NewModel(m.Network(), 0)
	if err != nil {
		return nil, err
	}
	c.Classes = slices.Clone(m.Classes)
	p := c.Params()
	if len(mask) != len(p) {
		return nil, fmt.Errorf("prune: mask of %d entries for %d parameters", len(mask), len(p))
	}
	for i, v := range m.Params() {
		if mask[i] {
			p[i] = v
		} else {
			p[i] = 0
		}
	}
	return c, nil
}

// CubicSparsity is Zhu and Gupta's schedule: the sparsity after stage k
// of n, rising from 0 to final, fast at first and slowly at the end:
// final·(1 − (1 − k/n)³).
func CubicSparsity(final float64, k, n int) float64 {
	r := 1 - float64(k)/float64(n)
	return final * (1 - r*r*r)
}

// Stage is one step of a gradual pruning: the sparsity reached and the
// fine-tuning that followed.
type Stage struct {
	Sparsity float64 `json:"sparsity"`
	Epochs   int     `json:"epochs"`
	ValAcc   float64 `json:"val_accuracy"` // after the stage's fine-tuning (its best epoch)
}

// Gradual prunes m by magnitude (in scope) to sparsity in stages (at most epochs of
// them; 0 stages: one), each pruning to the cubic schedule's next
// sparsity and then fine-tuning with engine for its share of epochs
// (epochs/stages, the remainder to the last), the mask held fixed within
// a stage and only growing between stages. cfg is the fine-tuning's
// configuration (its Init and Mask are set here; its epoch is chosen by
// val as in any training). With epochs 0 it prunes once, without
// training. It returns the pruned model, its mask and the stages.
func Gradual(ctx context.Context, engine nn.Engine, m *nn.Model, train, val *dataset.Dataset, cfg nn.Config, sparsity float64, scope Scope, epochs, stages int) (*nn.Model, []bool, []Stage, error) {
	if err := checkSparsity(sparsity); err != nil {
		return nil, nil, nil, err
	}
	if epochs < 0 || stages < 0 {
		return nil, nil, nil, fmt.Errorf("prune: %d epochs in %d stages: want both ≥ 0", epochs, stages)
	}
	if epochs == 0 {
		mask, err := Magnitude(m, sparsity, scope, nil)
		if err != nil {
			return nil, nil, nil, err
		}
		pm, err := Apply(m, mask)
		return pm, mask, []Stage{{Sparsity: sparsity}}, err
	}
	stages = min(max(stages, 1), epochs)
	var (
		mask []bool
		done []Stage
		cur  = m
	)
	for k := 1; k <= stages; k++ {
		s := CubicSparsity(sparsity, k, stages)
		var err error
		if mask, err = Magnitude(cur, s, scope, mask); err != nil {
			return nil, nil, nil, err
		}
		c := cfg
		c.Init, c.Mask = cur, mask
		c.Epochs = epochs / stages
		if k == stages {
			c.Epochs += epochs % stages
		}
		c.WarmupEpochs = min(c.WarmupEpochs, c.Epochs)
		res, err := engine.Train(ctx, cur.Network(), train, val, c)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("prune: fine-tuning stage %d of %d: %w", k, stages, err)
		}
		cur = res.Model
		done = append(done, Stage{Sparsity: s, Epochs: c.Epochs, ValAcc: res.History[res.Best].ValAcc})
	}
	return cur, mask, done, nil
}

// ZeroMask returns the mask (nn.Config.Mask) that holds m's zero weights
// at 0 and leaves everything else free: what fine-tuning a pruned model
// further (say, quantization-aware) needs. Biases are never masked.
func ZeroMask(m *nn.Model) []bool {
	mask := make([]bool, len(m.Params()))
	for i := range mask {
		mask[i] = true
	}
	off := 0
	for i, l := range m.Network().Layers {
		w, _ := m.Weights(i)
		for j, v := range w {
			if v == 0 {
				mask[off+j] = false
			}
		}
		off += l.Params()
	}
	return mask
}

// Cost is what a (pruned) network costs the edge at its best split point
// on a profile, with its layers stored as package export stores them:
// sparse where the profile predicts the sparse kernel faster
// (partition.EvaluateSparse), dense elsewhere.
type Cost struct {
	Arch       string  `json:"arch"`
	Params     int     `json:"params"`
	NonZero    int     `json:"nonzero_weights"` // weights (not biases) that are not 0
	Weights    int     `json:"weights"`
	MACs       int     `json:"macs"`
	Split      int     `json:"split"`             // the best split point P
	Flash      int     `json:"flash_bytes"`       // the edge's weights and constants as exported
	FlashDense int     `json:"flash_dense_bytes"` // the same, every layer stored dense
	RAM        int     `json:"ram_bytes"`
	EEdge      float64 `json:"e_edge_mj"`
	ETotal     float64 `json:"e_total_mj"`
	// Sparse are the edge layers (1..Split) stored and run sparse.
	Sparse []int `json:"sparse_layers,omitempty"`
}

// Costs returns m's Cost at the best split point of prof for scenario sc
// within lim, or an error if it fits at no split point.
func Costs(m *nn.Model, prof hw.Profile, sc partition.Scenario, lim partition.Limits) (Cost, error) {
	return CostsOf(m.Network(), m.RowNonZero(), prof, sc, lim)
}

// CostsOf is Costs for network net whose layers' rows hold rows non-zero
// weights (nn.Model.RowNonZero, quant.Model.RowNonZero).
func CostsOf(net arch.Network, rows [][]int, prof hw.Profile, sc partition.Scenario, lim partition.Limits) (Cost, error) {
	c := Cost{Arch: net.String(), Params: net.Params(), MACs: net.MACs()}
	for i, l := range net.Layers {
		c.Weights += l.Weights()
		for _, n := range rows[i] {
			c.NonZero += n
		}
	}
	tab, err := partition.EvaluateSparse(net, prof, sc, lim, rows)
	if err != nil {
		return c, err
	}
	pt, ok := tab.BestPoint()
	if !ok {
		return c, fmt.Errorf("prune: %s fits the Flash and RAM limits at no split point: %s", net, tab.Points[0].Why)
	}
	c.Split, c.Flash, c.RAM, c.EEdge, c.ETotal = pt.P, pt.FlashBytes, pt.RAMBytes, pt.EEdge, pt.ETotal
	c.FlashDense = net.Flash(pt.P, prof.Edge.Precision())
	for _, l := range tab.Layers[:pt.P] {
		if l.Sparse {
			c.Sparse = append(c.Sparse, l.Index)
		}
	}
	return c, nil
}
