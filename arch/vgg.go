package arch

import "fmt"

// VGG11Hidden is the default width of VGG11's two hidden Dense layers.
const VGG11Hidden = 1024

// vgg11Config is VGG configuration "A" (Simonyan & Zisserman 2015): the
// output channels of each 3-tap convolution, 0 for a 2× max pool.
var vgg11Config = [...]int{64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0}

// VGG11 returns the paper's reference network, a one-dimensional VGG11:
// configuration "A" of Simonyan & Zisserman (2015) with 1-D layers. Its
// eight convolutions (64, 128, 256, 256, 512, 512, 512, 512 channels) have
// kernel 3, stride 1, one zero of padding on each side and ReLU, so they
// keep the length; five MaxPool layers (kernel 2, stride 2) after the
// convolutions 1, 2, 4, 6 and 8 halve it. The last 512-channel tensor is
// flattened into a Dense layer to hidden outputs with ReLU, a second Dense
// layer hidden→hidden with ReLU and a final Dense layer to classes logits:
// 11 weight layers, 16 layers in all.
//
// in.Len must be a multiple of 32 (the pools divide it by 2⁵), in.Ch ≥ 1,
// classes ≥ 2 and hidden ≥ 1; VGG11Hidden is the usual width. The
// network passes Validate; it is for computing metrics (parameters, MACs,
// Flash and RAM per split point) and is never trained — package nn does not
// support MaxPool or hidden Dense layers.
//
// For in = 2048x1, 5 classes and hidden = 1024 it has 37,685,125 parameters
// (3,074,944 in the convolutions, 34,610,181 in the Dense layers, of which
// 33,555,456 in the first) and 714,478,592 MACs. The paper reports ≈34 M
// parameters for its VGG11 but does not publish its classifier widths, so
// the counts differ.
func VGG11(in Shape, classes, hidden int) (Network, error) {
	switch {
	case in.Len < 32 || in.Len%32 != 0:
		return Network{}, fmt.Errorf("arch: VGG11: input length %d must be a positive multiple of 32 (five 2× max pools)", in.Len)
	case in.Ch < 1:
		return Network{}, fmt.Errorf("arch: VGG11: input channels %d must be positive", in.Ch)
	case classes < 2:
		return Network{}, fmt.Errorf("arch: VGG11: %d classes, want at least 2", classes)
	case hidden < 1:
		return Network{}, fmt.Errorf("arch: VGG11: hidden width %d must be positive", hidden)
	}
	n := Network{Layers: make([]Layer, 0, len(vgg11Config)+3)}
	prev := in
	add := func(l Layer) {
		n.Layers = append(n.Layers, l)
		prev = l.Out
	}
	for _, ch := range vgg11Config {
		if ch == 0 {
			add(Layer{Kind: MaxPool, In: prev, Out: Shape{Len: prev.Len / 2, Ch: prev.Ch}, Kernel: 2, Stride: 2})
			continue
		}
		add(Layer{Kind: Conv, In: prev, Out: Shape{Len: prev.Len, Ch: ch}, Kernel: 3, Stride: 1, PadLeft: 1, PadRight: 1, ReLU: true})
	}
	add(Layer{Kind: Dense, In: prev, Out: Shape{Len: hidden, Ch: 1}, ReLU: true})
	add(Layer{Kind: Dense, In: prev, Out: Shape{Len: hidden, Ch: 1}, ReLU: true})
	add(Layer{Kind: Dense, In: prev, Out: Shape{Len: classes, Ch: 1}})
	if err := n.check(); err != nil {
		return Network{}, fmt.Errorf("arch: VGG11: %w", err)
	}
	return n, nil
}
