package quant

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/quant/scheme"
)

// Method is how Calibrate turns the values a tensor took on the
// calibration data into the range it is quantized over.
type Method uint8

const (
	// MinMax takes the smallest and the largest value seen: nothing is
	// clipped, at the price of coarse steps when a few values are far out.
	MinMax Method = iota
	// Percentile takes the 0.01th and the 99.99th percentile: the rarest
	// 0.02 % of values are clipped.
	Percentile
	// MSE shrinks each end of the min-max range by the factor in 0.30,
	// 0.31, …, 1.00 that minimises the mean squared error between the
	// values and their quantized-then-dequantized form (the error of
	// rounding inside the range plus that of clipping outside it): the
	// upper end with the lower one fixed, then the lower end, twice over,
	// on at most 65,536 evenly spaced values of the tensor.
	MSE
)

var methodNames = []string{"minmax", "percentile", "mse"}

// String returns "minmax", "percentile" or "mse".
func (m Method) String() string {
	if int(m) < len(methodNames) {
		return methodNames[m]
	}
	return fmt.Sprintf("method(%d)", int(m))
}

// ParseMethod accepts the names String returns.
func ParseMethod(s string) (Method, error) {
	if i := slices.Index(methodNames, s); i >= 0 {
		return Method(i), nil
	}
	return 0, fmt.Errorf("quant: unknown calibration method %q (want minmax, percentile or mse)", s)
}

// Range is the real interval a tensor is quantized over (scheme.Range).
type Range = scheme.Range

// ErrShape is wrapped by the error for calibration or evaluation data whose
// samples do not fit the network's input.
var ErrShape = errors.New("data does not fit the network")

// Calibrate runs the float model fm on every sample of d and returns the
// range of each tensor, 0 (the input) to L (the logits), chosen by method
// from the values seen. Use representative data — the training split, not
// validation or test. d must be valid, hold at least one sample and have
// fm's input shape (an error wrapping ErrShape says what does not fit).
func Calibrate(fm *nn.Model, d *dataset.Dataset, method Method) ([]Range, error) {
	if int(method) >= len(methodNames) {
		return nil, fmt.Errorf("quant: invalid calibration method %d", method)
	}
	if d == nil || d.Len() == 0 {
		return nil, errors.New("quant: no calibration samples")
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("quant: calibration data: %w", err)
	}
	net := fm.Network()
	if got, in := (arch.Shape{Len: d.Length, Ch: d.Channels}), net.Input(); got != in {
		return nil, fmt.Errorf("quant: calibration data has samples of %v (length×channels), network input is %v: %w", got, in, ErrShape)
	}
	values := make([][]float32, len(net.Layers)+1)
	for i := range d.Len() {
		fm.Tensors(d.Sample(i), func(t int, v []float32) { values[t] = append(values[t], v...) })
	}
	ranges := make([]Range, len(values))
	for t, v := range values {
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, fmt.Errorf("quant: tensor %d takes the value %v on the calibration data", t, x)
			}
		}
		ranges[t] = method.choose(v)
	}
	return ranges, nil
}

// choose returns the range method takes for the values v (not empty).
func (m Method) choose(v []float32) Range {
	lo, hi := slices.Min(v), slices.Max(v)
	switch m {
	case Percentile:
		s := slices.Clone(v)
		slices.Sort(s)
		at := func(p float64) float32 { return s[int(math.Round(p*float64(len(s)-1)))] }
		lo, hi = at(0.0001), at(0.9999)
	case MSE:
		sub := v
		if n := len(v); n > 1<<16 { // an evenly spaced subsample keeps this fast
			sub = make([]float32, 0, 1<<16)
			for i := range 1 << 16 {
				sub = append(sub, v[i*n>>16])
			}
		}
		sqErr := func(r Range) float64 {
			q := r.Params()
			var e float64
			for _, x := range sub {
				d := float64(q.Dequantize(q.Quantize(x)) - x)
				e += d * d
			}
			return e
		}
		// Coordinate descent: the best shrink of the upper end with the
		// lower one fixed, then of the lower end, twice over.
		r := Range{Min: lo, Max: hi}
		for range 2 {
			for end := range 2 {
				best, bestErr := r, math.Inf(1)
				for k := 30; k <= 100; k++ {
					c := r
					a := float32(k) / 100
					if end == 0 {
						c.Max = a * hi
					} else {
						c.Min = a * lo
					}
					if e := sqErr(c); e < bestErr {
						best, bestErr = c, e
					}
				}
				r = best
			}
		}
		return r
	}
	return Range{Min: lo, Max: hi}
}

// FromFloat quantizes the float model fm with weights of bits 8 or 4 and
// the tensor ranges Calibrate returned (one per tensor, 0..L): per-channel
// symmetric weight scales max|w|/(2^(bits−1) − 1) (1 for a channel of zero
// weights), biases rounded to int32 at the scale of input × weight, and the
// fixed-point multipliers of each output channel.
// The caller records how the ranges were chosen in the model's Method and
// Calibration.
func FromFloat(fm *nn.Model, ranges []Range, bits int) (*Model, error) {
	if bits != 8 && bits != 4 {
		return nil, fmt.Errorf("quant: weights of %d bits: want 8 or 4", bits)
	}
	net := fm.Network()
	if len(ranges) != len(net.Layers)+1 {
		return nil, fmt.Errorf("quant: %d tensor ranges for a %d-layer network (want %d)", len(ranges), len(net.Layers), len(net.Layers)+1)
	}
	m := &Model{Classes: slices.Clone(fm.Classes), Bits: bits, Layers: make([]Layer, len(net.Layers))}
	in := ranges[0].Params()
	for i, al := range net.Layers {
		l := &m.Layers[i]
		l.Layer, l.InQ, l.OutQ = al, in, ranges[i+1].Params()
		if al.Kind == arch.MaxPool {
			l.OutQ = in // pooling picks input values: same scale and zero point
			in = l.OutQ
			continue
		}
		w, b := fm.Weights(i)
		per := len(w) / len(b)
		l.W, l.B = make([]int8, len(w)), make([]int32, len(b))
		l.WScale, l.Mult, l.Shift = make([]float32, len(b)), make([]int32, len(b)), make([]int32, len(b))
		widest := 0.0 // the largest input × weight scale of the layer's channels
		for c := range b {
			wc := w[c*per : (c+1)*per]
			top := 0.0
			for _, v := range wc {
				top = max(top, math.Abs(float64(v)))
			}
			s := scheme.WeightScale(top, bits)
			for j, v := range wc {
				l.W[c*per+j] = scheme.QuantizeWeight(float64(v), s, bits)
			}
			l.WScale[c] = s
			l.B[c] = scheme.Round(float64(b[c]) / (float64(in.Scale) * float64(s)))
			widest = max(widest, float64(in.Scale)*float64(s))
		}
		// A tensor whose range is far narrower than one step of its
		// layer's accumulator (a dead ReLU layer, all but zero) would need
		// a rescaling factor beyond the fixed-point multiplier's 2³⁰; its
		// scale is raised to the smallest that fits, which changes nothing
		// of such a tensor's (all but zero) values.
		if floor := float32(widest / (1 << 30)); l.OutQ.Scale < floor {
			l.OutQ = widen(ranges[i+1], floor)
		}
		for c := range b {
			mult, shift := scheme.QuantizeMultiplier(float64(in.Scale) * float64(l.WScale[c]) / float64(l.OutQ.Scale))
			l.Mult[c], l.Shift[c] = mult, int32(shift)
		}
		in = l.OutQ
	}
	return m, nil
}

// widen returns r's int8 quantization at the given scale instead of its
// own (a larger one): the zero point where r's lower end (or 0) falls.
func widen(r Range, scale float32) QParams {
	lo := min(float64(r.Min), 0)
	zp := scheme.Round(-128 - lo/float64(scale))
	return QParams{Scale: scale, ZeroPoint: min(max(zp, math.MinInt8), math.MaxInt8)}
}

// Evaluate scores m on every sample of d as nn.Evaluate scores a float
// model; Loss is the mean cross-entropy of the dequantized class scores
// (Scores). d must be valid and fit the
// network (an error wrapping ErrShape otherwise); if both name their
// classes, the names must be equal.
func Evaluate(m *Model, d *dataset.Dataset) (nn.Metrics, error) {
	if err := d.Validate(); err != nil {
		return nn.Metrics{}, fmt.Errorf("quant: evaluation data: %w", err)
	}
	net := m.Network()
	if got, in := (arch.Shape{Len: d.Length, Ch: d.Channels}), net.Input(); got != in {
		return nn.Metrics{}, fmt.Errorf("quant: evaluation data has samples of %v (length×channels), network input is %v: %w", got, in, ErrShape)
	}
	k := net.Layers[len(net.Layers)-1].Out.Size()
	if len(d.Classes) != k {
		return nn.Metrics{}, fmt.Errorf("quant: evaluation data has %d classes, network has %d outputs: %w", len(d.Classes), k, ErrShape)
	}
	if m.Classes != nil && !slices.Equal(m.Classes, d.Classes) {
		return nn.Metrics{}, fmt.Errorf("quant: evaluation data has classes %v, model has %v", d.Classes, m.Classes)
	}
	conf := make([][]int, k)
	for i := range conf {
		conf[i] = make([]int, k)
	}
	var loss float64
	for i := range d.Len() {
		// The dequantized scores rank the classes as the int8 ones do
		// (a positive scale), so their argmax is Predict's.
		z, label := m.Scores(d.Sample(i)), int(d.Labels[i])
		conf[label][argmax(z)]++
		loss += nn.CrossEntropy(z, label)
	}
	met := nn.ConfusionMetrics(conf, d.Classes)
	if d.Len() > 0 {
		met.Loss = loss / float64(d.Len())
	}
	return met, nil
}

// CalibrationSamples returns n samples of d drawn without replacement with
// seed (all of them, shuffled, if d has fewer): the representative data
// Calibrate wants, taken from a training split.
func CalibrationSamples(d *dataset.Dataset, n int, seed uint64) *dataset.Dataset {
	idx := rand.New(rand.NewPCG(seed, 0xca1)).Perm(d.Len())
	return d.Subset(idx[:min(n, len(idx))])
}

// PostTraining is post-training quantization: Calibrate on cal by method,
// then FromFloat with bits-bit weights, the model recording the method and
// the number of calibration samples.
func PostTraining(fm *nn.Model, cal *dataset.Dataset, method Method, bits int) (*Model, error) {
	ranges, err := Calibrate(fm, cal, method)
	if err != nil {
		return nil, err
	}
	m, err := FromFloat(fm, ranges, bits)
	if err != nil {
		return nil, err
	}
	m.Method, m.Calibration = method.String(), cal.Len()
	return m, nil
}
