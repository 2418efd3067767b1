// Package quant is splitnas's integer reference: networks with int8
// activations and int8 or int4 weights, run in pure integer arithmetic from
// the quantized input to the class scores, with the scheme and the rounding
// of TensorFlow Lite Micro's int8 reference kernels, so that the C code
// splitnas generates and other runtimes can match it bit for bit.
//
// The scheme, per layer with weights (Conv, ConvTranspose, Dense):
//
//   - activations: int8 per tensor, asymmetric: real = S·(q − Z), Z in
//     −128..127; the network input is quantized as q = clamp(round(x/S) + Z)
//     with round halving away from zero (TFLite's Quantize);
//   - weights: per output channel c, symmetric: real = Sw[c]·q, q within
//     ±127 (int8) or ±7 (int4, stored two to a byte, low nibble first);
//   - bias: int32 at scale S_in·Sw[c];
//   - output: acc = bias + Σ q_w·(q_x − Z_in) in int32, then
//     q_y = clamp(MultiplyByQuantizedMultiplier(acc, M[c]) + Z_out) with
//     M[c] = S_in·Sw[c]/S_out held as a Q0.31 mantissa and a shift
//     (package scheme, which holds all of this arithmetic); a fused ReLU is the lower clamp at Z_out (real 0).
//
// MaxPool keeps its input's scale and zero point and needs no arithmetic.
// A model is built from a float model (package nn) and the activation
// ranges seen on calibration data (Calibrate, FromFloat), saved and loaded
// in its own file format (file.go), and scored like a float model
// (Evaluate). Simulate runs the same network in float64 on the dequantized
// values ("fake quantization"), the reference the integer path is checked
// against.
package quant

import (
	"fmt"
	"math"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/quant/scheme"
)

// QParams is one tensor's affine quantization (scheme.QParams).
type QParams = scheme.QParams

// Layer is one quantized layer: its geometry and, for the layers with
// weights, the integer weights, biases and requantization constants, one
// per output channel (per output for a Dense layer), in the order and
// layout of package nn (see nn.Model.Weights).
type Layer struct {
	arch.Layer
	W      []int8    // weights, within ±(2^(bits−1) − 1)
	WScale []float32 // Sw[c]: real weight = WScale[c]·W
	B      []int32   // biases at scale InQ.Scale·WScale[c]
	Mult   []int32   // Q0.31 mantissa of InQ.Scale·WScale[c]/OutQ.Scale
	Shift  []int32   // its power-of-two exponent (QuantizeMultiplier)
	InQ    QParams   // the input tensor's quantization (the previous layer's OutQ)
	OutQ   QParams   // the output tensor's quantization
}

// actMin is the lower clamp of the layer's output: the zero point (real
// 0) with a fused ReLU, −128 otherwise.
func (l *Layer) actMin() int32 {
	if l.ReLU {
		return max(l.OutQ.ZeroPoint, math.MinInt8)
	}
	return math.MinInt8
}

// Model is a quantized network. Build one with FromFloat or Load; its
// methods may be called from several goroutines at once.
type Model struct {
	Classes []string // output names, or nil
	Bits    int      // weight bits: 8 or 4 (activations are always int8)
	Layers  []Layer
	// Method and Calibration record how the activation ranges were chosen
	// (e.g. "minmax", and the number of calibration samples).
	Method      string
	Calibration int
}

// Network returns the model's architecture.
func (m *Model) Network() arch.Network {
	n := arch.Network{Layers: make([]arch.Layer, len(m.Layers))}
	for i := range m.Layers {
		n.Layers[i] = m.Layers[i].Layer
	}
	return n
}

// RowNonZero counts the non-zero weights of each row of each layer
// (arch.RowNonZero; nil for a layer without weights): what
// partition.EvaluateSparse takes to cost a pruned network.
func (m *Model) RowNonZero() [][]int {
	rows := make([][]int, len(m.Layers))
	for i := range m.Layers {
		rows[i] = arch.RowNonZero(m.Layers[i].Layer, m.Layers[i].W)
	}
	return rows
}

// Precision is the arch precision the model is stored in: arch.Int8 or
// arch.Int4.
func (m *Model) Precision() arch.Precision {
	if m.Bits == 4 {
		return arch.Int4()
	}
	return arch.Int8()
}

// Tensor returns the quantization of tensor i (0 = input, i = 1..L the
// output of layer i).
func (m *Model) Tensor(i int) QParams {
	if i == 0 {
		return m.Layers[0].InQ
	}
	return m.Layers[i-1].OutQ
}

// QuantizeInput quantizes one float sample (Input().Size() values,
// channel-major) into q, which must have the same length.
func (m *Model) QuantizeInput(x []float32, q []int8) {
	in := m.Layers[0].InQ
	for i, v := range x {
		q[i] = in.Quantize(v)
	}
}

// Run runs layers from+1..to on tensor from (in, its int8 values) in
// integer arithmetic and returns tensor to. With from = 0 and to = L it is
// the whole network; with to = P it is the edge part of a network split at
// P, and from = P the fog part. It panics if the range or len(in) is wrong.
func (m *Model) Run(in []int8, from, to int) []int8 { return m.run(in, from, to, (*Layer).forwardInt) }

// Simulate is Run in float64 on the dequantized values ("fake
// quantization"): each layer computes its affine output from the real
// values its int8 input, weights and bias stand for, divides it by its
// output scale, rounds it as the deployed kernel does
// (scheme.RoundLikeMultiplier), adds the zero point and clamps (ReLU as the clamp
// at the zero point). It differs from Run only in arithmetic: float64
// products and sums in place of int32 ones, the real rescaling factor in
// place of its 31-bit fixed-point form; so for the same input a layer's
// outputs agree within one step, and almost always exactly.
func (m *Model) Simulate(in []int8, from, to int) []int8 {
	return m.run(in, from, to, (*Layer).forwardFloat)
}

// run runs layers from+1..to on tensor from with forward, checking the
// range and len(in) first (it panics on a wrong one).
func (m *Model) run(in []int8, from, to int, forward func(l *Layer, in, out []int8)) []int8 {
	if from < 0 || to > len(m.Layers) || from > to {
		panic(fmt.Sprintf("quant: Run from tensor %d to %d of a %d-layer network", from, to, len(m.Layers)))
	}
	shape := m.Layers[0].In
	if from > 0 {
		shape = m.Layers[from-1].Out
	}
	if len(in) != shape.Size() {
		panic(fmt.Sprintf("quant: Run from tensor %d: got %d values, want %d", from, len(in), shape.Size()))
	}
	x := in
	for i := from; i < to; i++ {
		l := &m.Layers[i]
		y := make([]int8, l.Out.Size())
		forward(l, x, y)
		x = y
	}
	return x
}

// Predict returns the class of one float sample: the index of the largest
// int8 class score (the first one on a tie), as a deployed int8 network
// decides.
func (m *Model) Predict(x []float32) int {
	q := make([]int8, len(x))
	m.QuantizeInput(x, q)
	return argmax(m.Run(q, 0, len(m.Layers)))
}

// Scores returns the dequantized class scores of one float sample.
func (m *Model) Scores(x []float32) []float32 {
	q := make([]int8, len(x))
	m.QuantizeInput(x, q)
	out := m.Run(q, 0, len(m.Layers))
	s := make([]float32, len(out))
	p := m.Tensor(len(m.Layers))
	for i, v := range out {
		s[i] = p.Dequantize(v)
	}
	return s
}

func argmax[T int8 | float32](z []T) int {
	best := 0
	for i, v := range z {
		if v > z[best] {
			best = i
		}
	}
	return best
}

// forwardInt computes the layer in integer arithmetic.
func (l *Layer) forwardInt(in, out []int8) {
	if l.Kind == arch.MaxPool {
		maxPool(&l.Layer, in, out)
		return
	}
	w := make([]int32, len(l.W))
	for i, v := range l.W {
		w[i] = int32(v)
	}
	x := make([]int32, len(in))
	for i, v := range in {
		x[i] = int32(v) - l.InQ.ZeroPoint
	}
	a := make([]int32, len(out))
	accumulate(&l.Layer, w, l.B, x, a)
	lo := l.actMin()
	for o, v := range a {
		c := channelOf(&l.Layer, o)
		out[o] = scheme.Requantize(v, l.Mult[c], int(l.Shift[c]), l.OutQ.ZeroPoint, lo)
	}
}

// forwardFloat computes the layer in float64 on dequantized values.
func (l *Layer) forwardFloat(in, out []int8) {
	if l.Kind == arch.MaxPool {
		maxPool(&l.Layer, in, out)
		return
	}
	sIn := float64(l.InQ.Scale)
	x := make([]float64, len(in))
	for i, v := range in {
		x[i] = sIn * float64(int32(v)-l.InQ.ZeroPoint)
	}
	per := len(l.W) / len(l.B) // weights per output channel
	w := make([]float64, len(l.W))
	for i, v := range l.W {
		w[i] = float64(l.WScale[i/per]) * float64(v)
	}
	b := make([]float64, len(l.B))
	for c, v := range l.B {
		b[c] = sIn * float64(l.WScale[c]) * float64(v)
	}
	a := make([]float64, len(out))
	accumulate(&l.Layer, w, b, x, a)
	lo, sOut := l.actMin(), float64(l.OutQ.Scale)
	for o, v := range a {
		out[o] = scheme.RequantizeReal(v/sOut, int(l.Shift[channelOf(&l.Layer, o)]), l.OutQ.ZeroPoint, lo)
	}
}

// EdgeBytes is what an MCU running layers 1..P of m must store, counted
// from the model's own arrays: for each layer with weights, its packed
// weights, and its biases, multipliers and shifts as int32, plus its input
// and output zero points as int32; and the float32 input scale (even at
// P = 0: the edge then quantizes the input it sends).
// It equals arch's Flash(P, m.Precision()) (a test checks it): the
// per-channel weight scales are not among it, since the integer kernels
// never read them.
func (m *Model) EdgeBytes(P int) int {
	n := 0
	for i := range m.Layers[:P] {
		l := &m.Layers[i]
		if len(l.W) == 0 {
			continue
		}
		n += len(PackWeights(l.W, m.Bits)) + 4*(len(l.B)+len(l.Mult)+len(l.Shift)) + 4*2
	}
	return n + 4
}
