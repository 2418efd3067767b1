package arch

import (
	"slices"
	"strings"
	"testing"
)

func vgg11(t *testing.T) Network {
	t.Helper()
	n, err := VGG11(Shape{2048, 1}, 5, VGG11Hidden)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func pool(in Shape) Layer {
	return Layer{Kind: MaxPool, In: in, Out: Shape{in.Len / 2, in.Ch}, Kernel: 2, Stride: 2}
}

func hiddenDense(in Shape, width int) Layer {
	return Layer{Kind: Dense, In: in, Out: Shape{width, 1}, ReLU: true}
}

func TestMaxPoolKind(t *testing.T) {
	if got := MaxPool.String(); got != "maxpool1d" {
		t.Errorf("MaxPool.String() = %q, want maxpool1d", got)
	}
	l := Layer{Kind: MaxPool, In: Shape{7, 3}, Out: Shape{3, 3}, Kernel: 3, Stride: 2}
	if l.Weights() != 0 || l.Biases() != 0 || l.Params() != 0 || l.MACs() != 0 {
		t.Errorf("MaxPool weights %d, biases %d, params %d, MACs %d, want all 0", l.Weights(), l.Biases(), l.Params(), l.MACs())
	}
}

// TestVGG11Layers checks the layer sequence and every tensor shape of VGG11
// on 2048x1 against configuration "A" worked out by hand.
func TestVGG11Layers(t *testing.T) {
	n := vgg11(t)
	c := func(in Shape, ch int) Layer { return conv(in, Shape{in.Len, ch}, 3, 1, 1, 1) }
	want := []Layer{
		c(Shape{2048, 1}, 64),
		pool(Shape{2048, 64}),
		c(Shape{1024, 64}, 128),
		pool(Shape{1024, 128}),
		c(Shape{512, 128}, 256),
		c(Shape{512, 256}, 256),
		pool(Shape{512, 256}),
		c(Shape{256, 256}, 512),
		c(Shape{256, 512}, 512),
		pool(Shape{256, 512}),
		c(Shape{128, 512}, 512),
		c(Shape{128, 512}, 512),
		pool(Shape{128, 512}),
		hiddenDense(Shape{64, 512}, 1024),
		hiddenDense(Shape{1024, 1}, 1024),
		dense(Shape{1024, 1}, 5),
	}
	if !slices.Equal(n.Layers, want) {
		t.Fatalf("VGG11 layers:\n got %+v\nwant %+v", n.Layers, want)
	}
	// 8 conv + 3 dense weight layers.
	weighted := 0
	for _, l := range n.Layers {
		if l.Weights() > 0 {
			weighted++
		}
	}
	if weighted != 11 {
		t.Errorf("%d weight layers, want 11", weighted)
	}
	if got := n.Tensor(13); got != (Shape{64, 512}) {
		t.Errorf("tensor before flatten = %v, want 64x512", got)
	}
	if n.Classes() != 5 {
		t.Errorf("Classes() = %d, want 5", n.Classes())
	}
	if err := n.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
	// A multichannel input and other widths.
	m, err := VGG11(Shape{64, 3}, 2, 16)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Layers[0].Weights(), 3*3*64; got != want {
		t.Errorf("VGG11(64x3): first conv has %d weights, want %d", got, want)
	}
	if got := m.Tensor(13); got != (Shape{2, 512}) {
		t.Errorf("VGG11(64x3): tensor before flatten = %v, want 2x512", got)
	}
	if got, want := m.Layers[13].Weights(), 2*512*16; got != want {
		t.Errorf("VGG11(64x3): first dense has %d weights, want %d", got, want)
	}
}

// TestVGG11Params counts VGG11's parameters on 2048x1, 5 classes, hidden
// 1024, layer by layer: a conv with kernel k from ci to co channels has
// k·ci·co + co, a dense layer from i to o values i·o + o.
//
//	conv  1→64     3·1·64 + 64      =        256
//	conv  64→128   3·64·128 + 128   =     24,704
//	conv  128→256  3·128·256 + 256  =     98,560
//	conv  256→256  3·256·256 + 256  =    196,864
//	conv  256→512  3·256·512 + 512  =    393,728
//	conv  512→512  3·512·512 + 512  =    786,944  (three times)
//	                                   3,074,944 in the convolutions
//	dense 64·512 = 32768→1024  32768·1024 + 1024 = 33,555,456
//	dense 1024→1024            1024·1024 + 1024  =  1,049,600
//	dense 1024→5               1024·5 + 5        =      5,125
//	total                                           37,685,125
func TestVGG11Params(t *testing.T) {
	convP := func(k, ci, co int) int { return k*ci*co + co }
	denseP := func(i, o int) int { return i*o + o }
	want := []int{
		convP(3, 1, 64), 0,
		convP(3, 64, 128), 0,
		convP(3, 128, 256), convP(3, 256, 256), 0,
		convP(3, 256, 512), convP(3, 512, 512), 0,
		convP(3, 512, 512), convP(3, 512, 512), 0,
		denseP(2048/32*512, 1024), denseP(1024, 1024), denseP(1024, 5),
	}
	total := 0
	for _, p := range want {
		total += p
	}
	if total != 37_685_125 {
		t.Fatalf("hand count %d, want 37,685,125", total)
	}
	n := vgg11(t)
	for i, l := range n.Layers {
		if l.Params() != want[i] {
			t.Errorf("layer %d (%v): %d params, want %d", i+1, l.Kind, l.Params(), want[i])
		}
	}
	if got := n.Params(); got != 37_685_125 {
		t.Errorf("Params() = %d, want 37,685,125", got)
	}
}

// TestVGG11MACs checks one convolution by hand and the total by formula.
// Layer 3, the conv 1024x64→1024x128 with kernel 3, does
// Out.Len·Out.Ch·K·In.Ch = 1024·128·3·64 = 25,165,824 MACs. A length-L
// conv from ci to co channels does L·co·3·ci; the dense layers i·o.
func TestVGG11MACs(t *testing.T) {
	n := vgg11(t)
	if got := n.Layers[2].MACs(); got != 25_165_824 {
		t.Errorf("layer 3 MACs = %d, want 1024·128·3·64 = 25,165,824", got)
	}
	convM := func(L, ci, co int) int { return L * co * 3 * ci }
	want := convM(2048, 1, 64) + convM(1024, 64, 128) +
		convM(512, 128, 256) + convM(512, 256, 256) +
		convM(256, 256, 512) + convM(256, 512, 512) +
		convM(128, 512, 512) + convM(128, 512, 512) +
		32768*1024 + 1024*1024 + 1024*5
	if want != 714_478_592 {
		t.Fatalf("hand count %d, want 714,478,592", want)
	}
	if got := n.MACs(); got != want {
		t.Errorf("MACs() = %d, want %d", got, want)
	}
	for i, l := range n.Layers {
		if l.Kind == MaxPool && l.MACs() != 0 {
			t.Errorf("layer %d (maxpool1d): %d MACs, want 0", i+1, l.MACs())
		}
	}
}

// TestVGG11FlashRAM checks that Flash does not decrease with the split
// point (a MaxPool adds nothing), that the whole network's float32 Flash is
// 4 bytes a parameter, and RAM for P = 0..3 by hand in float32:
//
//	tensors 0..3: 2048x1 = 2048, 2048x64 = 131072, 1024x64 = 65536,
//	1024x128 = 131072 values
//	RAM(0) = 4·2048                          =   8,192
//	RAM(1) = 4·(2048 + 131072)               = 532,480
//	RAM(2) = 4·(131072 + 65536)              = 786,432
//	RAM(3) = max(RAM(2), 4·(65536 + 131072)) = 786,432
func TestVGG11FlashRAM(t *testing.T) {
	n := vgg11(t)
	for _, p := range []Precision{Float32(), Int8(), Int4()} {
		for P := 1; P <= len(n.Layers); P++ {
			f, prev := n.Flash(P, p), n.Flash(P-1, p)
			if f < prev {
				t.Errorf("Flash(%d, %s) = %d < Flash(%d) = %d", P, p.Name, f, P-1, prev)
			}
			if n.Layers[P-1].Kind == MaxPool && f != prev {
				t.Errorf("Flash(%d, %s) = %d, want Flash(%d) = %d after a max pool", P, p.Name, f, P-1, prev)
			}
		}
	}
	if got, want := n.Flash(len(n.Layers), Float32()), 4*37_685_125; got != want {
		t.Errorf("Flash(16, float32) = %d, want %d", got, want)
	}
	// Flash(1) by hand: 192 weights, 64 biases, 64 multipliers and shifts,
	// two zero points and the input scale.
	if got, want := n.Flash(1, Int8()), 192+4*64+8*64+8+4; got != want {
		t.Errorf("Flash(1, int8) = %d, want %d", got, want)
	}
	for P, want := range []int{8192, 532_480, 786_432, 786_432} {
		if got := n.RAM(P, Float32()); got != want {
			t.Errorf("RAM(%d, float32) = %d, want %d", P, got, want)
		}
	}
	if got, want := n.RAM(1, Float32()), 4*(2048+2048*64); got != want {
		t.Errorf("RAM(1, float32) = %d, want %d", got, want)
	}
}

// TestVGG11String checks that String lists VGG11's tensors, and that the
// text form is not a faithful description: Parse, if it accepts it, builds
// a different network.
func TestVGG11String(t *testing.T) {
	n := vgg11(t)
	want := "2048x1-2048x64-1024x64-1024x128-512x128-512x256-512x256-256x256-256x512-256x512-128x512-128x512-128x512-64x512-1024x1-1024x1-5"
	if got := n.String(); got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	if m, err := Parse(n.String(), DefaultKernelRule()); err == nil && slices.Equal(m.Layers, n.Layers) {
		t.Errorf("Parse(%q) rebuilt VGG11, but String documents it cannot", n.String())
	}
}

func TestVGG11Errors(t *testing.T) {
	tests := []struct {
		in             Shape
		classes, width int
		want           string
	}{
		{Shape{2000, 1}, 5, 1024, "arch: VGG11: input length 2000 must be a positive multiple of 32"},
		{Shape{16, 1}, 5, 1024, "input length 16 must be a positive multiple of 32"},
		{Shape{0, 1}, 5, 1024, "input length 0 must be a positive multiple of 32"},
		{Shape{2048, 0}, 5, 1024, "arch: VGG11: input channels 0 must be positive"},
		{Shape{2048, 1}, 1, 1024, "arch: VGG11: 1 classes, want at least 2"},
		{Shape{2048, 1}, 5, 0, "arch: VGG11: hidden width 0 must be positive"},
		// 64·512 inputs times 2⁴⁰ outputs is 2⁵⁵ weights, over the cap.
		{Shape{2048, 1}, 5, 1 << 40, "arch: VGG11: layer 14 (dense): too many weights"},
	}
	for _, tt := range tests {
		n, err := VGG11(tt.in, tt.classes, tt.width)
		if err == nil {
			t.Errorf("VGG11(%v, %d, %d) = %v, want error %q", tt.in, tt.classes, tt.width, n, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("VGG11(%v, %d, %d) error\n got %s\nwant it to contain %s", tt.in, tt.classes, tt.width, err, tt.want)
		}
	}
}

// TestValidateReference checks Validate on MaxPool and hidden Dense layers.
func TestValidateReference(t *testing.T) {
	accept := []Network{
		// Odd length: floor((5−2)/2)+1 = 2.
		{Layers: []Layer{pool(Shape{5, 1}), dense(Shape{2, 1}, 2)}},
		// Overlapping pool: (7−3)/2+1 = 3.
		{Layers: []Layer{{Kind: MaxPool, In: Shape{7, 3}, Out: Shape{3, 3}, Kernel: 3, Stride: 2}, dense(Shape{3, 3}, 2)}},
		// A convolution after a hidden dense layer, and two pools in a row.
		{Layers: []Layer{
			hiddenDense(Shape{16, 2}, 8),
			conv(Shape{8, 1}, Shape{8, 4}, 3, 1, 1, 1),
			pool(Shape{8, 4}), pool(Shape{4, 4}),
			dense(Shape{2, 4}, 3),
		}},
	}
	for _, n := range accept {
		if err := n.Validate(); err != nil {
			t.Errorf("%+v: Validate() = %v", n.Layers, err)
		}
	}
	tests := []struct {
		name   string
		change func(n *Network)
		want   string
	}{
		{"maxpool padding", func(n *Network) { n.Layers[1].PadLeft = 1 },
			"arch: layer 2 (maxpool1d): padding 1/0 must be 0 (a maxpool1d layer has no padding)"},
		{"maxpool negative padding", func(n *Network) { n.Layers[1].PadRight = -1 },
			"arch: layer 2 (maxpool1d): padding 0/-1 must be 0"},
		{"maxpool length", func(n *Network) { n.Layers[1].Out.Len, n.Layers[2].In.Len = 1023, 1023 },
			"arch: layer 2 (maxpool1d): output length 1023, want (2048−2)/2+1 = 1024"},
		{"maxpool channels", func(n *Network) { n.Layers[1].Out.Ch, n.Layers[2].In.Ch = 32, 32 },
			"arch: layer 2 (maxpool1d): output channels 32, want the input's 64"},
		{"maxpool ReLU", func(n *Network) { n.Layers[1].ReLU = true },
			"arch: layer 2 (maxpool1d): a maxpool1d layer must not have a ReLU"},
		{"maxpool zero stride", func(n *Network) { n.Layers[1].Stride = 0 },
			"arch: layer 2 (maxpool1d): kernel 2 and stride 0 must be positive"},
		{"maxpool kernel too long", func(n *Network) { n.Layers[12].Kernel = 129 },
			"arch: layer 13 (maxpool1d): kernel 129 is longer than the input (128)"},
		{"maxpool last", func(n *Network) { n.Layers = n.Layers[:2] },
			"arch: layer 2 (maxpool1d): the last layer must be dense"},
		{"hidden dense without ReLU", func(n *Network) { n.Layers[14].ReLU = false },
			"arch: layer 15 (dense): a hidden layer must have a ReLU"},
		{"hidden dense channels", func(n *Network) { n.Layers[13].Out, n.Layers[14].In = Shape{512, 2}, Shape{512, 2} },
			"arch: layer 14 (dense): output 512x2 must have 1 channel"},
		{"hidden dense stride", func(n *Network) { n.Layers[13].Stride = 1 },
			"arch: layer 14 (dense): a dense layer must have no kernel, stride or padding"},
		{"last dense ReLU", func(n *Network) { n.Layers[15].ReLU = true },
			"arch: layer 16 (dense): the last layer must not have a ReLU (it emits logits)"},
		{"hidden dense last", func(n *Network) { n.Layers = n.Layers[:15] },
			"arch: layer 15 (dense): the last layer must not have a ReLU (it emits logits)"},
	}
	base := vgg11(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := Network{Layers: slices.Clone(base.Layers)}
			tt.change(&n)
			err := n.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want %s", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate()\n got %s\nwant it to contain %s", err, tt.want)
			}
		})
	}
}
