package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/splitnas/splitnas/arch"
)

// Model is a network with its float32 parameters. Models come from
// NewModel, Load or an Engine (the zero Model is not usable). Its methods may
// be called from several goroutines at once as long as none changes the
// parameters.
type Model struct {
	// Classes names the outputs in order; Train sets it from the training
	// data. It may be nil.
	Classes []string

	net    arch.Network
	plan   *plan
	params []float32
}

// NewModel checks net and returns a model with weights drawn from seed and
// zero biases: He-uniform, U(±√(6/fanIn)), for the hidden layers and
// Glorot-uniform, U(±√(6/(fanIn+fanOut))), for the last. fanIn counts the
// products summed into one output: kernel·inCh for a Conv,
// ⌈kernel/stride⌉·inCh for a ConvTranspose, the input size for a Dense.
//
// The engine takes Conv, ConvTranspose and Dense layers (not MaxPool) and
// has limits far above the networks splitnas searches: at most 256
// layers, 2²⁴ values in a tensor, 2²⁵ in all the tensors together, 2²⁴
// parameters, and kernels, strides and padding of at most 2²⁴. Load
// applies the same checks to a model file.
func NewModel(net arch.Network, seed uint64) (*Model, error) {
	p, err := newPlan(net)
	if err != nil {
		return nil, fmt.Errorf("nn: %w", err)
	}
	m := &Model{
		net:    arch.Network{Layers: append([]arch.Layer(nil), net.Layers...)},
		plan:   p,
		params: make([]float32, p.nParams),
	}
	initParams(p, m.params, rand.New(rand.NewPCG(seed, streamInit)))
	return m, nil
}

// Network returns the model's architecture.
func (m *Model) Network() arch.Network {
	return arch.Network{Layers: append([]arch.Layer(nil), m.net.Layers...)}
}

// Params returns the flat parameter vector (a view, not a copy): for each
// layer in turn its weights, then its biases. See Weights for the layout.
func (m *Model) Params() []float32 { return m.params }

// Weights returns views of layer i's weights and biases (i counts from 0).
// Conv and ConvTranspose weights are w[out channel][in channel][tap],
// Dense weights w[output][flattened input], row-major; a Conv or
// ConvTranspose has one bias per output channel, a Dense one per output.
// It returns nil slices if i is out of range.
func (m *Model) Weights(i int) (w, b []float32) {
	if i < 0 || i >= len(m.plan.layers) {
		return nil, nil
	}
	g := &m.plan.layers[i]
	return m.params[g.wOff : g.wOff+g.nw : g.wOff+g.nw], m.params[g.bOff : g.bOff+g.nb : g.bOff+g.nb]
}

// RowNonZero counts the non-zero weights of each row of each layer
// (arch.RowNonZero; nil for a layer without weights): what
// partition.EvaluateSparse takes to cost a pruned network.
func (m *Model) RowNonZero() [][]int {
	net := m.Network()
	rows := make([][]int, len(net.Layers))
	for i, l := range net.Layers {
		w, _ := m.Weights(i)
		rows[i] = arch.RowNonZero(l, w)
	}
	return rows
}

// Logits computes the class scores of one sample x (Input().Size() values,
// channel-major) into out (Classes() values). It allocates a small
// workspace per call; Evaluate reuses one across a dataset. It panics if a
// length is wrong, like an out-of-range index would.
func (m *Model) Logits(x, out []float32) {
	if len(x) != m.plan.inSize() || len(out) != m.plan.classes() {
		panic(fmt.Sprintf("nn: Logits: got %d inputs and %d outputs, model takes %d and gives %d",
			len(x), len(out), m.plan.inSize(), m.plan.classes()))
	}
	ws := newWorkspace[float32](m.plan, false, false)
	copy(out, ws.forward(m.plan, m.params, x, false))
}

// Predict returns the most likely class of sample x (see Logits).
func (m *Model) Predict(x []float32) int {
	out := make([]float32, m.plan.classes())
	m.Logits(x, out)
	return argmax(out)
}

// String returns the architecture in the text form used across splitnas,
// LENxCH-...-K: e.g. "2048x1-128x2-8x4-64x2-5".
func (m *Model) String() string { return m.net.String() }

// Tensors runs one sample x through the network and calls fn with every
// tensor in turn: i = 0 for the input, i = 1..L for the output of layer i
// after its ReLU (the logits for i = L). The slice fn receives is only
// valid during the call. It is how a quantizer observes activation ranges
// (package quant); like Logits it panics if len(x) is wrong.
func (m *Model) Tensors(x []float32, fn func(i int, t []float32)) {
	if len(x) != m.plan.inSize() {
		panic(fmt.Sprintf("nn: Tensors: got %d inputs, model takes %d", len(x), m.plan.inSize()))
	}
	ws := newWorkspace[float32](m.plan, false, false)
	ws.forward(m.plan, m.params, x, false)
	for i, t := range ws.act {
		fn(i, t)
	}
}

// Run runs layers from+1..to of the network on tensor from (in, its
// values channel-major) and returns tensor to, each hidden layer followed by
// its ReLU: with from = 0 and to = L it gives the logits Logits gives; with
// to = P it is the edge part of a network split at P, and from = P the fog
// part (float32 arithmetic, so edge then fog equals the whole network bit
// for bit). It panics if the range or len(in) is wrong, like quant's Run.
func (m *Model) Run(in []float32, from, to int) []float32 {
	L := len(m.plan.layers)
	if from < 0 || to > L || from > to {
		panic(fmt.Sprintf("nn: Run from tensor %d to %d of a %d-layer network", from, to, L))
	}
	size := m.plan.inSize()
	if from > 0 {
		size = m.plan.layers[from-1].outSize()
	}
	if len(in) != size {
		panic(fmt.Sprintf("nn: Run from tensor %d: got %d values, want %d", from, len(in), size))
	}
	x := in
	for i := from; i < to; i++ {
		g := &m.plan.layers[i]
		y := make([]float32, g.outSize())
		forward(g, m.params, x, y)
		if g.relu {
			relu(y)
		}
		x = y
	}
	if from == to {
		x = append([]float32(nil), in...)
	}
	return x
}
