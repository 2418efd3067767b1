package arch

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// KernelRule fixes the kernel, stride and padding of every hidden layer from
// the lengths of its input and output tensors, so that a genome need only
// choose lengths and channel counts.
//
// A layer that keeps the length is a stride-1 Conv with kernel Same and
// "same" padding: (Same−1)/2 zeros on each side.
//
// A layer that shrinks the length by a factor s (In.Len = s·Out.Len) is a
// Conv with stride s and kernel Overlap·s; a layer that grows it by s
// (Out.Len = s·In.Len) is a ConvTranspose with stride s and kernel
// Overlap·s. With Overlap = 1 the kernel equals the stride: the input is cut
// into non-overlapping patches (Conv) or each input position spreads over
// its own patch of outputs (ConvTranspose), and no padding is needed. With
// Overlap > 1, the e = (Overlap−1)·s extra positions are padded with zeros
// on the input of a Conv, or cropped from the full output of a
// ConvTranspose, floor(e/2) on the left and ceil(e/2) on the right, so that
// the output length is exactly In.Len/s or In.Len·s.
//
// For example, 2048×1 → 128×C under DefaultKernelRule is a Conv with stride
// 16, kernel 16 and no padding; under Overlap = 2 it is a Conv with stride
// 16, kernel 32 and 8 zeros on each side.
type KernelRule struct {
	Same    int // kernel of a stride-1 Conv; odd, ≥ 1
	Overlap int // kernel of a strided layer, in strides; ≥ 1
}

// DefaultKernelRule returns KernelRule{Same: 3, Overlap: 1}.
func DefaultKernelRule() KernelRule { return KernelRule{Same: 3, Overlap: 1} }

// Validate reports whether Same is odd and positive and Overlap positive.
func (r KernelRule) Validate() error {
	if err := r.check(); err != nil {
		return fmt.Errorf("arch: kernel rule: %w", err)
	}
	return nil
}

func (r KernelRule) check() error {
	if r.Same < 1 || r.Same%2 == 0 {
		return fmt.Errorf("Same %d must be odd and positive (default 3)", r.Same)
	}
	if r.Overlap < 1 {
		return fmt.Errorf("Overlap %d must be positive (default 1)", r.Overlap)
	}
	return nil
}

// hidden returns the hidden layer from in to out under the rule, which must
// be valid; in and out must have positive lengths and channels. It fails if
// the longer length is not a multiple of the shorter one, or if the kernel
// is too large to represent.
func (r KernelRule) hidden(in, out Shape) (Layer, error) {
	l := Layer{In: in, Out: out, ReLU: true}
	var stride int
	switch {
	case out.Len == in.Len:
		l.Kind, l.Kernel, l.Stride = Conv, r.Same, 1
		l.PadLeft, l.PadRight = (r.Same-1)/2, (r.Same-1)/2
		return l, nil
	case out.Len < in.Len:
		if in.Len%out.Len != 0 {
			return Layer{}, fmt.Errorf("length %d does not divide %d", out.Len, in.Len)
		}
		l.Kind, stride = Conv, in.Len/out.Len
	default:
		if out.Len%in.Len != 0 {
			return Layer{}, fmt.Errorf("length %d is not a multiple of %d", out.Len, in.Len)
		}
		l.Kind, stride = ConvTranspose, out.Len/in.Len
	}
	k, ok := mulCapped(r.Overlap, stride)
	if !ok {
		return Layer{}, fmt.Errorf("kernel %d×%d is too large", r.Overlap, stride)
	}
	extra := k - stride
	l.Kernel, l.Stride = k, stride
	l.PadLeft, l.PadRight = extra/2, extra-extra/2
	return l, nil
}

// Space is the search space: a network has an input of InputLength ×
// InputChannels, up to Slots hidden layers, and a Dense layer to Classes
// outputs. Each slot's length is one of Lengths (0 skips the slot) and its
// channel count one of Channels; Kernel turns lengths into layers.
type Space struct {
	InputLength   int
	InputChannels int
	Classes       int
	Slots         int   // hidden layer slots (genes per chromosome)
	Lengths       []int // allowed output lengths of a slot; 0 = skip the slot
	Channels      []int // allowed output channel counts of a slot
	Kernel        KernelRule
	// Overlaps, if not empty, makes the kernel overlap of the strided
	// layers part of the genome: one gene per network (Genome.Overlap),
	// one of these values, replacing Kernel.Overlap. Empty: every network
	// uses Kernel.Overlap and genomes carry no overlap gene.
	Overlaps []int
}

// DefaultSpace returns the space of Huang et al. for 1×2048 inputs: 8 slots,
// lengths {1024, 512, …, 4} or skip, channels {4, 3, 2, 1}, and
// DefaultKernelRule.
func DefaultSpace(classes int) Space {
	return Space{
		InputLength:   2048,
		InputChannels: 1,
		Classes:       classes,
		Slots:         8,
		Lengths:       []int{1024, 512, 256, 128, 64, 32, 16, 8, 4, 0},
		Channels:      []int{4, 3, 2, 1},
		Kernel:        DefaultKernelRule(),
	}
}

// Validate reports the first problem with the space: InputLength,
// InputChannels, Classes and Slots must be positive; Lengths and Channels
// non-empty and free of repeats; every length positive or 0; every channel
// count positive; and of any two of the input length and the non-zero
// lengths, the larger must be a multiple of the smaller, so that every
// layer's stride is an integer.
func (s Space) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{
		{"InputLength", s.InputLength},
		{"InputChannels", s.InputChannels},
		{"Classes", s.Classes},
		{"Slots", s.Slots},
	} {
		if f.v < 1 {
			return spaceErr(f.name, "%s %d must be positive", f.name, f.v)
		}
	}
	if len(s.Lengths) == 0 {
		return spaceErr("Lengths", "Lengths is empty")
	}
	if len(s.Channels) == 0 {
		return spaceErr("Channels", "Channels is empty")
	}
	for i, l := range s.Lengths {
		if l < 0 {
			return spaceErr("Lengths", "Lengths[%d] = %d must be positive or 0 (skip)", i, l)
		}
		if slices.Contains(s.Lengths[:i], l) {
			return spaceErr("Lengths", "Lengths lists %d twice", l)
		}
	}
	for i, c := range s.Channels {
		if c < 1 {
			return spaceErr("Channels", "Channels[%d] = %d must be positive", i, c)
		}
		if slices.Contains(s.Channels[:i], c) {
			return spaceErr("Channels", "Channels lists %d twice", c)
		}
	}
	for i, a := range s.Lengths {
		if a == 0 {
			continue
		}
		if !divides(a, s.InputLength) {
			return spaceErr("Lengths", "Lengths[%d] = %d and InputLength %d do not divide one another", i, a, s.InputLength)
		}
		for j, b := range s.Lengths[:i] {
			if b != 0 && !divides(a, b) {
				return spaceErr("Lengths", "Lengths[%d] = %d and Lengths[%d] = %d do not divide one another", j, b, i, a)
			}
		}
	}
	if err := s.Kernel.check(); err != nil {
		field, _, _ := strings.Cut(err.Error(), " ")
		return &SpaceError{Field: "Kernel." + field, Msg: "Kernel: " + err.Error()}
	}
	for i, o := range s.Overlaps {
		if o < 1 {
			return spaceErr("Overlaps", "Overlaps[%d] = %d must be positive", i, o)
		}
		if slices.Contains(s.Overlaps[:i], o) {
			return spaceErr("Overlaps", "Overlaps lists %d twice", o)
		}
	}
	return nil
}

// SpaceError is the problem Space.Validate found: Field names the Space
// field at fault ("Lengths", "Channels", "Overlaps", "Slots", "Kernel.Same",
// "Kernel.Overlap", ...), Msg says what is wrong with it.
type SpaceError struct {
	Field string
	Msg   string
}

func (e *SpaceError) Error() string { return "arch: space: " + e.Msg }

func spaceErr(field, format string, args ...any) error {
	return &SpaceError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// divides reports whether the larger of two positive integers is a multiple
// of the smaller.
func divides(a, b int) bool {
	if a > b {
		a, b = b, a
	}
	return b%a == 0
}

// Genome is a candidate architecture: two chromosomes of gene values, one
// gene per slot. Lengths[i] is the output length of slot i, one of
// Space.Lengths (0 skips the slot); Channels[i] its output channel count,
// one of Space.Channels. A skipped slot keeps its channel gene, which
// decoding ignores, so that both chromosomes always have Space.Slots genes.
// Overlap is the network's kernel overlap, one of Space.Overlaps, when the
// space searches it, and 0 when it does not.
type Genome struct {
	Lengths  []int
	Channels []int
	Overlap  int `json:",omitempty"`
}

// rule returns the kernel rule a genome decodes under.
func (s Space) rule(g Genome) KernelRule {
	r := s.Kernel
	if len(s.Overlaps) > 0 {
		r.Overlap = g.Overlap
	}
	return r
}

// Random returns a genome whose genes are drawn independently and uniformly
// from the space's Lengths and Channels (and Overlaps, if searched). The space must be valid; Random
// panics if Lengths or Channels is empty.
func (s Space) Random(rng *rand.Rand) Genome {
	g := Genome{Lengths: make([]int, s.Slots), Channels: make([]int, s.Slots)}
	for i := range s.Slots {
		g.Lengths[i] = s.Lengths[rng.IntN(len(s.Lengths))]
		g.Channels[i] = s.Channels[rng.IntN(len(s.Channels))]
	}
	if len(s.Overlaps) > 0 { // drawn last, so spaces without it draw as before
		g.Overlap = s.Overlaps[rng.IntN(len(s.Overlaps))]
	}
	return g
}

// validGenome reports whether g has Slots genes in each chromosome, each one
// of the space's values. Slots are counted from 1 in its messages.
func (s Space) validGenome(g Genome) error {
	if len(g.Lengths) != s.Slots {
		return fmt.Errorf("arch: genome: %d length genes, want %d (one per slot)", len(g.Lengths), s.Slots)
	}
	if len(g.Channels) != s.Slots {
		return fmt.Errorf("arch: genome: %d channel genes, want %d (one per slot)", len(g.Channels), s.Slots)
	}
	for i := range s.Slots {
		if !slices.Contains(s.Lengths, g.Lengths[i]) {
			return fmt.Errorf("arch: genome: slot %d: length %d is not one of %v", i+1, g.Lengths[i], s.Lengths)
		}
		if !slices.Contains(s.Channels, g.Channels[i]) {
			return fmt.Errorf("arch: genome: slot %d: channels %d is not one of %v", i+1, g.Channels[i], s.Channels)
		}
	}
	switch {
	case len(s.Overlaps) > 0 && !slices.Contains(s.Overlaps, g.Overlap):
		return fmt.Errorf("arch: genome: overlap %d is not one of %v", g.Overlap, s.Overlaps)
	case len(s.Overlaps) == 0 && g.Overlap != 0:
		return fmt.Errorf("arch: genome: overlap gene %d, but the space does not search the overlap", g.Overlap)
	}
	return nil
}

// Decode turns a genome into a network: the input (InputLength ×
// InputChannels), then one hidden layer per non-skipped slot, in slot order,
// each with the kernel, stride and padding Kernel (with the genome's
// overlap, if the space searches it) gives for its input and output lengths (shrinking: strided Conv; growing: ConvTranspose; equal:
// stride-1 Conv) and a ReLU, then a Dense layer without ReLU to
// Out = Shape{Len: Classes, Ch: 1}. A genome that skips every slot decodes
// to a single Dense layer.
//
// Decode fails if the space or the genome is invalid, or — only for spaces
// far beyond microcontroller scale — if the network's sizes do not fit the
// limits of Network.Validate. Every network it returns passes
// Network.Validate.
func (s Space) Decode(g Genome) (Network, error) {
	if err := s.Validate(); err != nil {
		return Network{}, err
	}
	if err := s.validGenome(g); err != nil {
		return Network{}, err
	}
	n := Network{Layers: make([]Layer, 0, s.Slots+1)}
	prev := Shape{Len: s.InputLength, Ch: s.InputChannels}
	rule := s.rule(g)
	for i, l := range g.Lengths {
		if l == 0 {
			continue
		}
		next := Shape{Len: l, Ch: g.Channels[i]}
		layer, err := rule.hidden(prev, next)
		if err != nil { // unreachable for a valid space; kept as a guard
			return Network{}, fmt.Errorf("arch: decode: slot %d: %w", i+1, err)
		}
		n.Layers = append(n.Layers, layer)
		prev = next
	}
	n.Layers = append(n.Layers, Layer{Kind: Dense, In: prev, Out: Shape{Len: s.Classes, Ch: 1}})
	if err := n.check(); err != nil {
		return Network{}, fmt.Errorf("arch: decode: %w", err)
	}
	return n, nil
}

// Layers returns every distinct layer a network of s can contain, in a
// fixed order: for each kernel overlap (each of Overlaps, or Kernel.Overlap),
// the hidden layer from every shape a layer can read (the input, or any
// slot's length × channels) to every shape a slot can produce, then the
// Dense layer from each of those shapes to Classes outputs. It is what a
// per-layer latency table of the space must hold (hw.Device.Table).
func (s Space) Layers() ([]Layer, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var outs []Shape
	for _, l := range s.Lengths {
		if l == 0 {
			continue
		}
		for _, c := range s.Channels {
			outs = append(outs, Shape{Len: l, Ch: c})
		}
	}
	ins := append([]Shape{{Len: s.InputLength, Ch: s.InputChannels}}, outs...)
	overlaps := s.Overlaps
	if len(overlaps) == 0 {
		overlaps = []int{s.Kernel.Overlap}
	}
	seen := map[Layer]bool{}
	var layers []Layer
	add := func(l Layer) {
		if !seen[l] {
			seen[l] = true
			layers = append(layers, l)
		}
	}
	for _, o := range overlaps {
		rule := s.Kernel
		rule.Overlap = o
		for _, in := range ins {
			for _, out := range outs {
				l, err := rule.hidden(in, out)
				if err != nil {
					return nil, fmt.Errorf("arch: space layers: %v to %v: %w", in, out, err)
				}
				add(l)
			}
		}
	}
	for _, in := range ins {
		add(Layer{Kind: Dense, In: in, Out: Shape{Len: s.Classes, Ch: 1}})
	}
	return layers, nil
}
