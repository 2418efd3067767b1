package arch

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestDefaultSpace(t *testing.T) {
	s := DefaultSpace(5)
	if err := s.Validate(); err != nil {
		t.Fatalf("DefaultSpace(5).Validate() = %v", err)
	}
	if s.InputLength != 2048 || s.InputChannels != 1 || s.Classes != 5 || s.Slots != 8 {
		t.Errorf("DefaultSpace(5) = %+v", s)
	}
	if want := []int{1024, 512, 256, 128, 64, 32, 16, 8, 4, 0}; !slices.Equal(s.Lengths, want) {
		t.Errorf("Lengths = %v, want %v", s.Lengths, want)
	}
	if want := []int{4, 3, 2, 1}; !slices.Equal(s.Channels, want) {
		t.Errorf("Channels = %v, want %v", s.Channels, want)
	}
	if s.Kernel != (KernelRule{Same: 3, Overlap: 1}) {
		t.Errorf("Kernel = %+v", s.Kernel)
	}
}

func TestSpaceValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Space)
		want   string // substring of the error; "" = valid
	}{
		{"default", func(*Space) {}, ""},
		{"odd lengths", func(s *Space) { s.InputLength, s.Lengths = 81, []int{27, 0, 9, 3, 243} }, ""},
		{"input length", func(s *Space) { s.InputLength = 0 }, "InputLength 0 must be positive"},
		{"input channels", func(s *Space) { s.InputChannels = -1 }, "InputChannels -1 must be positive"},
		{"classes", func(s *Space) { s.Classes = 0 }, "Classes 0 must be positive"},
		{"slots", func(s *Space) { s.Slots = 0 }, "Slots 0 must be positive"},
		{"no lengths", func(s *Space) { s.Lengths = nil }, "Lengths is empty"},
		{"no channels", func(s *Space) { s.Channels = []int{} }, "Channels is empty"},
		{"negative length", func(s *Space) { s.Lengths = []int{64, -8} }, "Lengths[1] = -8 must be positive or 0"},
		{"repeated length", func(s *Space) { s.Lengths = []int{64, 0, 64} }, "Lengths lists 64 twice"},
		{"zero channels", func(s *Space) { s.Channels = []int{2, 0} }, "Channels[1] = 0 must be positive"},
		{"repeated channels", func(s *Space) { s.Channels = []int{2, 2} }, "Channels lists 2 twice"},
		{"length vs input", func(s *Space) { s.Lengths = []int{64, 100} }, "Lengths[1] = 100 and InputLength 2048"},
		{"length vs input, larger", func(s *Space) { s.Lengths = []int{3000} }, "Lengths[0] = 3000 and InputLength 2048"},
		{"length vs length", func(s *Space) { s.InputLength, s.Lengths = 12, []int{4, 0, 6} }, "Lengths[0] = 4 and Lengths[2] = 6 do not divide"},
		{"even same", func(s *Space) { s.Kernel.Same = 4 }, "Kernel: Same 4 must be odd"},
		{"zero overlap", func(s *Space) { s.Kernel.Overlap = 0 }, "Kernel: Overlap 0 must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSpace(5)
			tt.change(&s)
			err := s.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Fatalf("Validate() = nil, want an error containing %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("Validate() = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestKernelRuleValidate(t *testing.T) {
	for _, r := range []KernelRule{{1, 1}, {3, 1}, {5, 4}} {
		if err := r.Validate(); err != nil {
			t.Errorf("%+v.Validate() = %v", r, err)
		}
	}
	for _, r := range []KernelRule{{}, {0, 1}, {2, 1}, {-3, 1}, {3, 0}, {3, -1}} {
		if err := r.Validate(); err == nil {
			t.Errorf("%+v.Validate() = nil, want an error", r)
		}
	}
}

// conv and convT build the hidden layers the decoding tables expect.
func conv(in, out Shape, kernel, stride, padL, padR int) Layer {
	return Layer{Kind: Conv, In: in, Out: out, Kernel: kernel, Stride: stride, PadLeft: padL, PadRight: padR, ReLU: true}
}

func convT(in, out Shape, kernel, stride, cropL, cropR int) Layer {
	return Layer{Kind: ConvTranspose, In: in, Out: out, Kernel: kernel, Stride: stride, PadLeft: cropL, PadRight: cropR, ReLU: true}
}

func dense(in Shape, classes int) Layer {
	return Layer{Kind: Dense, In: in, Out: Shape{classes, 1}}
}

func TestDecode(t *testing.T) {
	in := Shape{2048, 1}
	tests := []struct {
		name     string
		rule     KernelRule
		lengths  []int
		channels []int
		want     []Layer
		text     string
	}{
		{
			name:     "all skipped",
			lengths:  []int{0, 0, 0, 0, 0, 0, 0, 0},
			channels: []int{4, 3, 2, 1, 4, 3, 2, 1},
			want:     []Layer{dense(in, 5)},
			text:     "2048x1-5",
		},
		{
			// 2048→128: stride 16, kernel 16; 128→8: stride 16;
			// 8→64 grows by 8: ConvTranspose stride 8, kernel 8.
			name:     "shrink, skip, grow",
			lengths:  []int{128, 0, 8, 0, 0, 64, 0, 0},
			channels: []int{1, 4, 4, 3, 3, 2, 1, 1},
			want: []Layer{
				conv(in, Shape{128, 1}, 16, 16, 0, 0),
				conv(Shape{128, 1}, Shape{8, 4}, 16, 16, 0, 0),
				convT(Shape{8, 4}, Shape{64, 2}, 8, 8, 0, 0),
				dense(Shape{64, 2}, 5),
			},
			text: "2048x1-128x1-8x4-64x2-5",
		},
		{
			// Equal lengths: stride-1 Conv, kernel 3, padding 1/1.
			name:     "equal",
			lengths:  []int{1024, 1024, 0, 0, 0, 0, 0, 4},
			channels: []int{2, 3, 1, 1, 1, 1, 1, 4},
			want: []Layer{
				conv(in, Shape{1024, 2}, 2, 2, 0, 0),
				conv(Shape{1024, 2}, Shape{1024, 3}, 3, 1, 1, 1),
				conv(Shape{1024, 3}, Shape{4, 4}, 256, 256, 0, 0),
				dense(Shape{4, 4}, 5),
			},
			text: "2048x1-1024x2-1024x3-4x4-5",
		},
		{
			// Overlap 2: kernel = 2·stride, the extra stride padded
			// (Conv) or cropped (ConvTranspose) half on each side:
			// 2048→4 stride 512 kernel 1024 pad 256/256; 4→1024 stride
			// 256 kernel 512 crop 128/128; 1024→1024 kernel 5 pad 2/2.
			name:     "overlap 2, same 5",
			rule:     KernelRule{Same: 5, Overlap: 2},
			lengths:  []int{0, 4, 1024, 1024, 0, 0, 0, 0},
			channels: []int{1, 1, 3, 3, 1, 1, 1, 1},
			want: []Layer{
				conv(in, Shape{4, 1}, 1024, 512, 256, 256),
				convT(Shape{4, 1}, Shape{1024, 3}, 512, 256, 128, 128),
				conv(Shape{1024, 3}, Shape{1024, 3}, 5, 1, 2, 2),
				dense(Shape{1024, 3}, 5),
			},
			text: "2048x1-4x1-1024x3-1024x3-5/o2/k5",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSpace(5)
			if tt.rule != (KernelRule{}) {
				s.Kernel = tt.rule
			}
			n, err := s.Decode(Genome{Lengths: tt.lengths, Channels: tt.channels})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(n.Layers, tt.want) {
				t.Errorf("Decode layers:\n got %+v\nwant %+v", n.Layers, tt.want)
			}
			if got := n.String(); got != tt.text {
				t.Errorf("String() = %q, want %q", got, tt.text)
			}
			if err := n.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
}

// TestDecodeOddCrop checks the floor/ceil split of an odd number of padded
// or cropped positions: with Overlap 2 and stride 3 the extra is 3.
func TestDecodeOddCrop(t *testing.T) {
	s := Space{InputLength: 27, InputChannels: 2, Classes: 3, Slots: 2,
		Lengths: []int{9, 27}, Channels: []int{1}, Kernel: KernelRule{Same: 3, Overlap: 2}}
	n, err := s.Decode(Genome{Lengths: []int{9, 27}, Channels: []int{1, 1}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Layer{
		conv(Shape{27, 2}, Shape{9, 1}, 6, 3, 1, 2),  // (27+1+2−6)/3+1 = 9
		convT(Shape{9, 1}, Shape{27, 1}, 6, 3, 1, 2), // (9−1)·3+6−1−2 = 27
		dense(Shape{27, 1}, 3),
	}
	if !slices.Equal(n.Layers, want) {
		t.Errorf("Decode layers:\n got %+v\nwant %+v", n.Layers, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	s := DefaultSpace(5)
	ok := []int{0, 0, 0, 0, 0, 0, 0, 0}
	bad := DefaultSpace(5)
	bad.Classes = 0
	tests := []struct {
		name  string
		space Space
		g     Genome
		want  string
	}{
		{"short lengths", s, Genome{Lengths: ok[:7], Channels: ok}, "7 length genes, want 8"},
		{"long channels", s, Genome{Lengths: ok, Channels: append(slices.Clone(ok), 1)}, "9 channel genes, want 8"},
		{"length not in space", s, Genome{Lengths: []int{0, 0, 100, 0, 0, 0, 0, 0}, Channels: []int{1, 1, 1, 1, 1, 1, 1, 1}}, "slot 3: length 100 is not one of"},
		{"channels not in space", s, Genome{Lengths: ok, Channels: []int{1, 1, 1, 1, 1, 1, 1, 5}}, "slot 8: channels 5 is not one of"},
		{"invalid space", bad, Genome{Lengths: ok, Channels: []int{1, 1, 1, 1, 1, 1, 1, 1}}, "Classes 0 must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := tt.space.Decode(tt.g)
			if err == nil {
				t.Fatalf("Decode = %v, want an error containing %q", n, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// propertySpaces are the spaces the property tests draw genomes from.
func propertySpaces() []Space {
	a := DefaultSpace(5)
	b := DefaultSpace(2)
	b.Kernel = KernelRule{Same: 5, Overlap: 2}
	c := DefaultSpace(17)
	c.Kernel = KernelRule{Same: 1, Overlap: 3}
	c.Slots = 12
	d := Space{InputLength: 81, InputChannels: 2, Classes: 3, Slots: 6,
		Lengths: []int{243, 81, 27, 9, 3, 1, 0}, Channels: []int{1, 2, 7}, Kernel: KernelRule{Same: 3, Overlap: 2}}
	e := DefaultSpace(5)
	e.Overlaps = []int{1, 2, 3} // the overlap searched: one gene per network
	return []Space{a, b, c, d, e}
}

// TestDecodeProperty decodes thousands of random genomes and checks each
// network against the genome and the layer formulas, recomputed here.
func TestDecodeProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for si, s := range propertySpaces() {
		for range 3000 {
			g := s.Random(rng)
			if err := s.validGenome(g); err != nil {
				t.Fatalf("space %d: Random gave an invalid genome: %v", si, err)
			}
			n, err := s.Decode(g)
			if err != nil {
				t.Fatalf("space %d: Decode(%v) = %v", si, g, err)
			}
			checkDecoded(t, s, g, n)
		}
	}
}

func checkDecoded(t *testing.T, s Space, g Genome, n Network) {
	t.Helper()
	if err := n.Validate(); err != nil {
		t.Fatalf("%v: Validate() = %v", n, err)
	}
	// The tensors are the input and the non-skipped genes, in order.
	tensors := []Shape{{s.InputLength, s.InputChannels}}
	for i, l := range g.Lengths {
		if l != 0 {
			tensors = append(tensors, Shape{l, g.Channels[i]})
		}
	}
	if len(n.Layers) != len(tensors) {
		t.Fatalf("%v: %d layers, want %d", n, len(n.Layers), len(tensors))
	}
	var text []string
	for i, sh := range tensors {
		text = append(text, strconv.Itoa(sh.Len)+"x"+strconv.Itoa(sh.Ch))
		if got := n.Tensor(i); got != sh {
			t.Fatalf("%v: tensor %d = %v, want %v", n, i, got, sh)
		}
	}
	r := s.rule(g)
	want := strings.Join(append(text, strconv.Itoa(s.Classes)), "-")
	strided, same := false, false
	for i := 1; i < len(tensors); i++ {
		if tensors[i].Len == tensors[i-1].Len {
			same = true
		} else {
			strided = true
		}
	}
	if strided && r.Overlap != 1 {
		want += "/o" + strconv.Itoa(r.Overlap)
	}
	if same && r.Same != 3 {
		want += "/k" + strconv.Itoa(r.Same)
	}
	if n.String() != want {
		t.Fatalf("String() = %q, want %q", n.String(), want)
	}
	// The text form alone (its suffixes) rebuilds the network.
	if back, err := Parse(n.String(), DefaultKernelRule()); err != nil || !slices.Equal(back.Layers, n.Layers) {
		t.Fatalf("Parse(%q) = %v, %v; want the decoded network", n.String(), back, err)
	}
	for i, l := range n.Layers[:len(n.Layers)-1] {
		in, out := tensors[i], tensors[i+1]
		if l.In != in || l.Out != out || !l.ReLU {
			t.Fatalf("%v: layer %d = %+v", n, i+1, l)
		}
		switch {
		case out.Len == in.Len:
			if l.Kind != Conv || l.Stride != 1 || l.Kernel != r.Same || l.PadLeft != (r.Same-1)/2 || l.PadRight != l.PadLeft {
				t.Fatalf("%v: equal-length layer %d = %+v", n, i+1, l)
			}
		case out.Len < in.Len:
			st := in.Len / out.Len
			if l.Kind != Conv || l.Stride != st || l.Kernel != r.Overlap*st {
				t.Fatalf("%v: shrinking layer %d = %+v", n, i+1, l)
			}
		default:
			st := out.Len / in.Len
			if l.Kind != ConvTranspose || l.Stride != st || l.Kernel != r.Overlap*st {
				t.Fatalf("%v: growing layer %d = %+v", n, i+1, l)
			}
		}
		extra := l.PadLeft + l.PadRight
		if l.PadLeft < 0 || l.PadRight-l.PadLeft < 0 || l.PadRight-l.PadLeft > 1 {
			t.Fatalf("%v: layer %d padding %d/%d", n, i+1, l.PadLeft, l.PadRight)
		}
		// Exact output lengths, no remainder dropped by a Conv.
		if l.Kind == Conv {
			num := in.Len + extra - l.Kernel
			if num%l.Stride != 0 || num/l.Stride+1 != out.Len {
				t.Fatalf("%v: layer %d: (%d+%d−%d)/%d+1 ≠ %d", n, i+1, in.Len, extra, l.Kernel, l.Stride, out.Len)
			}
		} else if (in.Len-1)*l.Stride+l.Kernel-extra != out.Len {
			t.Fatalf("%v: layer %d: (%d−1)·%d+%d−%d ≠ %d", n, i+1, in.Len, l.Stride, l.Kernel, extra, out.Len)
		}
	}
	if last := n.Layers[len(n.Layers)-1]; last != dense(tensors[len(tensors)-1], s.Classes) {
		t.Fatalf("%v: last layer = %+v", n, last)
	}
	p, err := Parse(n.String(), s.Kernel)
	if err != nil {
		t.Fatalf("Parse(%q) = %v", n.String(), err)
	}
	if !slices.Equal(p.Layers, n.Layers) {
		t.Fatalf("Parse(%q) does not round-trip:\n got %+v\nwant %+v", n.String(), p.Layers, n.Layers)
	}
}

// TestRandomUniform checks that Random draws each value of each slot with
// probability 1/len(values): over 40,000 genomes a count of a value with
// p = 0.1 has standard deviation √(40000·0.1·0.9) = 60, and every count
// must lie within 5 of them (±300) of its mean 4,000 (or 10,000 for a
// channel count).
func TestRandomUniform(t *testing.T) {
	s := DefaultSpace(5)
	rng := rand.New(rand.NewPCG(7, 11))
	const draws = 40000
	lengths := make([]map[int]int, s.Slots)
	channels := make([]map[int]int, s.Slots)
	for i := range s.Slots {
		lengths[i], channels[i] = map[int]int{}, map[int]int{}
	}
	for range draws {
		g := s.Random(rng)
		for i := range s.Slots {
			lengths[i][g.Lengths[i]]++
			channels[i][g.Channels[i]]++
		}
	}
	check := func(kind string, slot int, counts map[int]int, values []int) {
		p := 1 / float64(len(values))
		mean, sd := draws*p, math.Sqrt(draws*p*(1-p))
		for _, v := range values {
			if c := float64(counts[v]); math.Abs(c-mean) > 5*sd {
				t.Errorf("slot %d: %s %d drawn %v times, want %.0f ± %.0f", slot+1, kind, v, c, mean, 5*sd)
			}
		}
		if len(counts) != len(values) {
			t.Errorf("slot %d: %d distinct %s, want %d", slot+1, len(counts), kind, len(values))
		}
	}
	for i := range s.Slots {
		check("length", i, lengths[i], s.Lengths)
		check("channels", i, channels[i], s.Channels)
	}
}

// TestRandomSeeded checks that the same seed gives the same genomes.
func TestRandomSeeded(t *testing.T) {
	s := DefaultSpace(5)
	a, b := rand.New(rand.NewPCG(3, 4)), rand.New(rand.NewPCG(3, 4))
	for range 100 {
		ga, gb := s.Random(a), s.Random(b)
		if !slices.Equal(ga.Lengths, gb.Lengths) || !slices.Equal(ga.Channels, gb.Channels) {
			t.Fatalf("same seed, different genomes: %v, %v", ga, gb)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	s := DefaultSpace(5)
	rng := rand.New(rand.NewPCG(1, 2))
	genomes := make([]Genome, 256)
	for i := range genomes {
		genomes[i] = s.Random(rng)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Decode(genomes[i%len(genomes)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// Space.Layers holds every layer a decoded network has, and nothing twice:
// for the default space 37 input shapes (the input and 9 lengths × 4
// channels) × 36 output shapes + 37 Dense layers; a second kernel overlap
// adds the 1,332 − 144 strided layers (the 144 "same" layers do not depend
// on it).
func TestSpaceLayers(t *testing.T) {
	for _, c := range []struct {
		name     string
		overlaps []int
		want     int
	}{
		{"overlap 1", nil, 37*36 + 37},
		{"overlaps 1,2", []int{1, 2}, 37*36 + (37*36 - 144) + 37},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := DefaultSpace(5)
			s.Overlaps = c.overlaps
			ls, err := s.Layers()
			if err != nil {
				t.Fatal(err)
			}
			if len(ls) != c.want {
				t.Errorf("%d layers, want %d", len(ls), c.want)
			}
			set := map[Layer]bool{}
			for _, l := range ls {
				if set[l] {
					t.Errorf("%v listed twice", l)
				}
				set[l] = true
			}
			rng := rand.New(rand.NewPCG(3, 4))
			for range 300 {
				n, err := s.Decode(s.Random(rng))
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range n.Layers {
					if !set[l] {
						t.Fatalf("network %v has %v, not in Layers", n, l)
					}
				}
			}
		})
	}
	bad := DefaultSpace(5)
	bad.Slots = 0
	if _, err := bad.Layers(); err == nil {
		t.Error("invalid space: no error")
	}
}
