package arch

// Weights is the number of weights of the layer: Kernel·In.Ch·Out.Ch for a
// Conv or ConvTranspose, In.Size()·Out.Size() for a Dense layer, 0 for a
// MaxPool.
func (l Layer) Weights() int {
	switch l.Kind {
	case Dense:
		return l.In.Size() * l.Out.Size()
	case MaxPool:
		return 0
	}
	return l.Kernel * l.In.Ch * l.Out.Ch
}

// Biases is the number of biases of the layer: one per output channel for a
// Conv or ConvTranspose, one per output for a Dense layer, none for a
// MaxPool.
func (l Layer) Biases() int {
	switch l.Kind {
	case Dense:
		return l.Out.Size()
	case MaxPool:
		return 0
	}
	return l.Out.Ch
}

// Params is the number of trainable parameters, Weights() + Biases().
func (l Layer) Params() int { return l.Weights() + l.Biases() }

// MACs is the number of multiply-accumulates of one inference:
// Out.Len·Out.Ch·Kernel·In.Ch for a Conv (padding zeros included),
// In.Len·In.Ch·Out.Ch·Kernel for a ConvTranspose (cropped outputs
// included), In.Size()·Out.Size() for a Dense layer, 0 for a MaxPool: its
// Out.Size()·(Kernel−1) comparisons are not multiply-accumulates (a
// latency model prices them through its input and output size terms).
func (l Layer) MACs() int {
	switch l.Kind {
	case Conv:
		return l.Out.Len * l.Out.Ch * l.Kernel * l.In.Ch
	case ConvTranspose:
		return l.In.Len * l.In.Ch * l.Out.Ch * l.Kernel
	case MaxPool:
		return 0
	}
	return l.In.Size() * l.Out.Size()
}

// Precision is the number format of a deployed network: WeightBits per
// weight and ActBits per activation, both positive. Biases are always
// stored in 32 bits: float32 for Float32, int32 (the accumulator type) for
// Int8 and Int4. A buffer of v values at b bits takes ByteSize(v, b) =
// ceil(v·b/8) bytes; each layer's weights are one buffer, each tensor is
// one buffer.
//
// An integer precision (Integer: weights of at most 8 bits) also stores
// what requantizes each layer's int32 accumulators to its int8 output
// (package quant, the TFLite int8 scheme): for each output channel a
// fixed-point multiplier and a shift (int32 each, RequantChannelBytes),
// for each layer with weights its input and output zero points (int32
// each, RequantLayerBytes), and once the float32 scale that quantizes the
// input window (InputScaleBytes) — even at split point 0, where the edge
// sends the quantized input. On the tiny networks splitnas searches these
// constants are a large share of Flash, and Flash counts them.
type Precision struct {
	Name       string
	WeightBits int
	ActBits    int
}

// biasBits is the width of a stored bias at every precision.
const biasBits = 32

// The requantization constants of an integer precision, in bytes (see
// Precision).
const (
	RequantChannelBytes = 8 // int32 multiplier + int32 shift, per output channel
	RequantLayerBytes   = 8 // int32 input and output zero points, per layer with weights
	InputScaleBytes     = 4 // float32 scale of the input quantizer, once
)

// Float32 is 32-bit float weights and activations.
func Float32() Precision { return Precision{Name: "float32", WeightBits: 32, ActBits: 32} }

// Int8 is 8-bit integer weights and activations.
func Int8() Precision { return Precision{Name: "int8", WeightBits: 8, ActBits: 8} }

// Int4 is 4-bit integer weights (two to a byte) and 8-bit integer
// activations.
func Int4() Precision { return Precision{Name: "int4", WeightBits: 4, ActBits: 8} }

// Integer reports whether p stores integer weights (at most 8 bits), which
// need requantization constants.
func (p Precision) Integer() bool { return p.WeightBits <= 8 }

// ByteSize is the size in bytes of a buffer of values numbers of the given
// bit width, packed: ceil(values·bits/8). It is the one rule every size in
// splitnas follows, from the Flash and RAM here to the bytes a split sends
// over the radio. values and bits must be non-negative; the product must
// not overflow (for a network that passes Validate it does not: counts are
// at most 2⁵⁵ and widths 32 bits).
func ByteSize(values, bits int) int { return (values*bits + 7) / 8 }

// requantBytes is the bytes of layer l's requantization constants at p: 0
// for a float precision and for a layer without weights (a MaxPool keeps
// its input's scale).
func (p Precision) requantBytes(l Layer) int {
	if !p.Integer() || l.Weights() == 0 {
		return 0
	}
	return RequantChannelBytes*l.Biases() + RequantLayerBytes
}

// layerFlash is the bytes of a layer's weights, biases and requantization
// constants.
func (p Precision) layerFlash(l Layer) int {
	return ByteSize(l.Weights(), p.WeightBits) + ByteSize(l.Biases(), biasBits) + p.requantBytes(l)
}

// inputFlash is what the edge stores to quantize its input: InputScaleBytes
// for an integer precision, nothing for float32.
func (p Precision) inputFlash() int {
	if p.Integer() {
		return InputScaleBytes
	}
	return 0
}

// LayerMetrics are the costs of one layer at one precision.
type LayerMetrics struct {
	Weights, Biases, Params int // counts
	MACs                    int // multiply-accumulates per inference
	Activations             int // values in the layer's output tensor
	Flash                   int // bytes of the weights, biases and requantization constants
	Requant                 int // bytes of Flash that are requantization constants (see Precision)
	ActBytes                int // bytes of the output tensor
}

// Metrics returns the costs of each layer at precision p; element i
// describes layer i+1 (n.Layers[i]). Their Flash sums to Flash(L, p) less
// the input scale of an integer precision.
func (n Network) Metrics(p Precision) []LayerMetrics {
	m := make([]LayerMetrics, len(n.Layers))
	for i, l := range n.Layers {
		m[i] = LayerMetrics{
			Weights:     l.Weights(),
			Biases:      l.Biases(),
			Params:      l.Params(),
			MACs:        l.MACs(),
			Activations: l.Out.Size(),
			Flash:       p.layerFlash(l),
			Requant:     p.requantBytes(l),
			ActBytes:    ByteSize(l.Out.Size(), p.ActBits),
		}
	}
	return m
}

// Params is the number of trainable parameters of the network.
func (n Network) Params() int {
	s := 0
	for _, l := range n.Layers {
		s += l.Params()
	}
	return s
}

// MACs is the number of multiply-accumulates of one inference.
func (n Network) MACs() int {
	s := 0
	for _, l := range n.Layers {
		s += l.MACs()
	}
	return s
}

// Flash is the bytes of the weights and biases of layers 1..P — the layers
// that run on the edge when the network is split at P — at precision p,
// with the requantization constants and the input scale of an integer
// precision. Biases take 32 bits each at every precision (see Precision).
// Flash(0, p) is 0 for a float precision and InputScaleBytes for an
// integer one; for Float32, Flash(len(n.Layers), p) is 4·Params(). P must
// be in 0..len(n.Layers); Flash panics otherwise.
//
// The metrics assume a network that passes Validate, which guarantees they
// do not overflow.
func (n Network) Flash(P int, p Precision) int {
	s := p.inputFlash()
	for _, l := range n.Layers[:P] {
		s += p.layerFlash(l)
	}
	return s
}

// RAM is the activation memory, in bytes at precision p, of running layers
// 1..P on the edge: layer i reads tensor i−1 and writes tensor i, both
// live, so RAM is the largest sum of two successive tensors among tensors
// 0..P. RAM(0, p) is the input buffer alone (the edge only samples and
// sends it). P must be in 0..len(n.Layers); RAM panics otherwise.
func (n Network) RAM(P int, p Precision) int {
	prev := ByteSize(n.Input().Size(), p.ActBits)
	ram := prev
	for _, l := range n.Layers[:P] {
		cur := ByteSize(l.Out.Size(), p.ActBits)
		ram = max(ram, prev+cur)
		prev = cur
	}
	return ram
}
