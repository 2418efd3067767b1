// Package arch describes the tiny 1-D CNNs splitnas searches: the search
// space, the genome (a length chromosome and a channel chromosome over M
// layer slots), its decoding into a network, the network's text form, and
// per-layer metrics — parameters, MACs, activation sizes — with the Flash and
// RAM an edge partition needs.
package arch

import "fmt"

// Kind is a layer type.
type Kind int

// The layer kinds a decoded network uses.
const (
	Conv          Kind = iota // 1-D convolution, stride ≥ 1 (shrinks or keeps the length)
	ConvTranspose             // 1-D transposed convolution, stride > 1 (grows the length)
	Dense                     // fully connected, on the flattened input
	MaxPool                   // 1-D max pooling per channel, no padding (reference networks only)
)

// String returns "conv1d", "conv1d_transpose", "dense" or "maxpool1d".
func (k Kind) String() string {
	switch k {
	case Conv:
		return "conv1d"
	case ConvTranspose:
		return "conv1d_transpose"
	case Dense:
		return "dense"
	case MaxPool:
		return "maxpool1d"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Shape is a tensor's length × channels (one sample, no batch).
type Shape struct{ Len, Ch int }

// Size is the number of values in the tensor.
func (s Shape) Size() int { return s.Len * s.Ch }

// String returns "LENxCH", the form used in architecture strings.
func (s Shape) String() string { return fmt.Sprintf("%dx%d", s.Len, s.Ch) }

// Layer is one layer of a network. For Conv and ConvTranspose, Kernel,
// Stride and PadLeft/PadRight (zeros added to the input of a Conv, or
// cropped from the output of a ConvTranspose) give the exact output length.
// A MaxPool takes the maximum of each channel over windows of Kernel
// values, Stride apart, without padding; it keeps the channel count and has
// no ReLU. A Dense layer sees its input flattened and outputs Shape{N, 1}.
// Conv, ConvTranspose and hidden Dense layers are followed by ReLU; the
// final Dense layer gives the class scores (logits).
//
// Networks decoded from a genome (Space.Decode, Parse) use only Conv and
// ConvTranspose hidden layers; MaxPool and hidden Dense layers appear in
// reference networks such as VGG11.
type Layer struct {
	Kind              Kind
	In, Out           Shape
	Kernel, Stride    int
	PadLeft, PadRight int
	ReLU              bool
}

// Network is an architecture: tensor 0 is the input, tensor i
// (1 ≤ i ≤ len(Layers)) the output of layer i.
type Network struct {
	Layers []Layer
}

// Input is the shape of tensor 0.
func (n Network) Input() Shape { return n.Layers[0].In }

// Tensor returns the shape of tensor i (0 = input).
func (n Network) Tensor(i int) Shape {
	if i == 0 {
		return n.Input()
	}
	return n.Layers[i-1].Out
}

// Classes is the number of outputs of the final layer.
func (n Network) Classes() int { return n.Layers[len(n.Layers)-1].Out.Size() }
