package arch

import (
	"slices"
	"testing"
)

func TestNetworkValidate(t *testing.T) {
	base, err := Parse("2048x1-128x2-8x4-64x2-5", DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	if err := base.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	// Two stride-1 convolutions of 2²⁰ channels with kernel 16,385: each
	// has 16,385·2⁴⁰ + 2²⁰ < 2⁵⁵ parameters, the two together more.
	wide := Shape{1, 1 << 20}
	huge := conv(wide, wide, 16385, 1, 8192, 8192)
	tests := []struct {
		name   string
		change func(n *Network)
		want   string
	}{
		{"no layers", func(n *Network) { n.Layers = nil }, "arch: network has no layers"},
		{"input", func(n *Network) { n.Layers[0].In.Ch = 0 }, "arch: input: shape 2048x0 must have a positive length and channel count"},
		{"chain", func(n *Network) { n.Layers[1].In.Ch = 1 }, "arch: layer 2 (conv1d): input 128x1 does not match the previous output 128x2"},
		{"conv length", func(n *Network) { n.Layers[0].Out.Len, n.Layers[1].In.Len = 127, 127 },
			"arch: layer 1 (conv1d): output length 127, want (2048+0+0−16)/16+1 = 128"},
		{"conv transpose length", func(n *Network) { n.Layers[2].PadRight = 1 },
			"arch: layer 3 (conv1d_transpose): output length 64, want (8−1)·8+8−0−1 = 63"},
		{"conv transpose crop", func(n *Network) { n.Layers[2].PadLeft = 100 },
			"arch: layer 3 (conv1d_transpose): cropping 100+0 exceeds the full output (64)"},
		{"kernel too long", func(n *Network) { n.Layers[0].Kernel = 4096 },
			"arch: layer 1 (conv1d): kernel 4096 is longer than the padded input (2048)"},
		{"zero stride", func(n *Network) { n.Layers[0].Stride = 0 }, "arch: layer 1 (conv1d): kernel 16 and stride 0 must be positive"},
		{"negative pad", func(n *Network) { n.Layers[1].PadLeft = -1 }, "arch: layer 2 (conv1d): padding -1/0 must not be negative"},
		{"hidden without ReLU", func(n *Network) { n.Layers[1].ReLU = false }, "arch: layer 2 (conv1d): a hidden layer must have a ReLU"},
		{"last not dense", func(n *Network) { n.Layers = n.Layers[:3] }, "arch: layer 3 (conv1d_transpose): the last layer must be dense"},
		{"hidden dense without ReLU", func(n *Network) {
			n.Layers = []Layer{{Kind: Dense, In: Shape{2048, 1}, Out: Shape{4, 1}}, dense(Shape{4, 1}, 5)}
		}, "arch: layer 1 (dense): a hidden layer must have a ReLU"},
		{"hidden dense channels", func(n *Network) {
			n.Layers = []Layer{{Kind: Dense, In: Shape{2048, 1}, Out: Shape{4, 2}, ReLU: true}, dense(Shape{4, 2}, 5)}
		}, "arch: layer 1 (dense): output 4x2 must have 1 channel"},
		{"dense ReLU", func(n *Network) { n.Layers[3].ReLU = true }, "arch: layer 4 (dense): the last layer must not have a ReLU (it emits logits)"},
		{"dense channels", func(n *Network) { n.Layers[3].Out = Shape{5, 2} }, "arch: layer 4 (dense): output 5x2 must have 1 channel"},
		{"dense kernel", func(n *Network) { n.Layers[3].Kernel = 1 }, "arch: layer 4 (dense): a dense layer must have no kernel, stride or padding"},
		{"unknown kind", func(n *Network) { n.Layers[0].Kind = Kind(7) }, "arch: layer 1 (kind(7)): unknown layer kind"},
		{"empty output", func(n *Network) { n.Layers[3].Out.Len = 0 }, "arch: layer 4 (dense): output: shape 0x1 must have a positive length and channel count"},
		{"too many parameters", func(n *Network) {
			n.Layers = []Layer{huge, huge, dense(wide, 1)}
		}, "arch: network has too many parameters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := Network{Layers: slices.Clone(base.Layers)}
			tt.change(&n)
			err := n.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want %s", tt.want)
			}
			if err.Error() != tt.want {
				t.Fatalf("Validate()\n got %s\nwant %s", err, tt.want)
			}
		})
	}
	// One of the huge layers alone is within the limits.
	if err := (Network{Layers: []Layer{huge, dense(wide, 1)}}).Validate(); err != nil {
		t.Errorf("one huge layer: Validate() = %v", err)
	}
}
