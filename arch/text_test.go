package arch

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	rule := DefaultKernelRule()
	tests := []struct {
		s    string
		want []Layer
	}{
		{"2048x1-5", []Layer{dense(Shape{2048, 1}, 5)}},
		{"2048x1-2048x1-2", []Layer{
			conv(Shape{2048, 1}, Shape{2048, 1}, 3, 1, 1, 1),
			dense(Shape{2048, 1}, 2),
		}},
		{"2048x1-128x2-8x4-64x2-5", []Layer{
			conv(Shape{2048, 1}, Shape{128, 2}, 16, 16, 0, 0),
			conv(Shape{128, 2}, Shape{8, 4}, 16, 16, 0, 0),
			convT(Shape{8, 4}, Shape{64, 2}, 8, 8, 0, 0),
			dense(Shape{64, 2}, 5),
		}},
		// Parse needs only successive lengths to divide; not a power of 2.
		{"27x2-9x1-27x1-3", []Layer{
			conv(Shape{27, 2}, Shape{9, 1}, 3, 3, 0, 0),
			convT(Shape{9, 1}, Shape{27, 1}, 3, 3, 0, 0),
			dense(Shape{27, 1}, 3),
		}},
		// Leading zeros are read as decimal; String drops them.
		{"0064x01-007", []Layer{dense(Shape{64, 1}, 7)}},
	}
	for _, tt := range tests {
		n, err := Parse(tt.s, rule)
		if err != nil {
			t.Errorf("Parse(%q) = %v", tt.s, err)
			continue
		}
		if !slices.Equal(n.Layers, tt.want) {
			t.Errorf("Parse(%q):\n got %+v\nwant %+v", tt.s, n.Layers, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		s    string
		rule KernelRule
		want string // the whole message
	}{
		{"2048x1-100x2-5", KernelRule{}, `arch "2048x1-100x2-5": tensor 2 "100x2": length 100 does not divide 2048`},
		{"64x1-100x2-5", KernelRule{}, `arch "64x1-100x2-5": tensor 2 "100x2": length 100 is not a multiple of 64`},
		{"", KernelRule{}, `arch "": needs at least an input and a class count, as in "2048x1-5"`},
		{"2048x1", KernelRule{}, `arch "2048x1": needs at least an input and a class count, as in "2048x1-5"`},
		{"2048-5", KernelRule{}, `arch "2048-5": tensor 1 "2048": want LENxCH, as in "128x2"`},
		{"2048x1-abcx2-5", KernelRule{}, `arch "2048x1-abcx2-5": tensor 2 "abcx2": length "abc" is not a number`},
		{"2048x1-128x-5", KernelRule{}, `arch "2048x1-128x-5": tensor 2 "128x": channels is missing`},
		{"2048x1-128x+2-5", KernelRule{}, `arch "2048x1-128x+2-5": tensor 2 "128x+2": channels "+2" is not a number`},
		{"2048x1-128x2x3-5", KernelRule{}, `arch "2048x1-128x2x3-5": tensor 2 "128x2x3": channels "2x3" is not a number`},
		{"2048x0-5", KernelRule{}, `arch "2048x0-5": tensor 1 "2048x0": channels 0 must be positive`},
		{"0x1-5", KernelRule{}, `arch "0x1-5": tensor 1 "0x1": length 0 must be positive`},
		{"2048x1--5", KernelRule{}, `arch "2048x1--5": tensor 2 "": want LENxCH, as in "128x2"`},
		{"2048x1-0", KernelRule{}, `arch "2048x1-0": class count "0": 0 must be positive`},
		{"2048x1-", KernelRule{}, `arch "2048x1-": class count "": is missing`},
		{"2048x1-five", KernelRule{}, `arch "2048x1-five": class count "five": "five" is not a number`},
		{"2048x1-5x1", KernelRule{}, `arch "2048x1-5x1": class count "5x1": "5x1" is not a number`},
		{"99999999999999999999x1-5", KernelRule{}, `arch "99999999999999999999x1-5": tensor 1 "99999999999999999999x1": length 99999999999999999999 is out of range`},
		{"2048x1-5", KernelRule{Same: 2, Overlap: 1}, `arch "2048x1-5": kernel rule: Same 2 must be odd and positive (default 3)`},
		// Each count fits, but the dense layer's weights do not.
		{"4611686018427387904x1-5", KernelRule{}, `arch "4611686018427387904x1-5": input: shape 4611686018427387904x1 is too large`},
		{"1073741824x1-1073741824", KernelRule{}, `arch "1073741824x1-1073741824": layer 1 (dense): too many weights`},
		{"1x1-1099511627776x1-5", KernelRule{}, `arch "1x1-1099511627776x1-5": layer 1 (conv1d_transpose): too many MACs`},
	}
	for _, tt := range tests {
		rule := tt.rule
		if rule == (KernelRule{}) {
			rule = DefaultKernelRule()
		}
		n, err := Parse(tt.s, rule)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want error %s", tt.s, n, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Parse(%q) error\n got %s\nwant %s", tt.s, err, tt.want)
		}
	}
}

func TestStringEmpty(t *testing.T) {
	if s := (Network{}).String(); s != "" {
		t.Errorf("Network{}.String() = %q, want \"\"", s)
	}
}

// FuzzParse checks that Parse never panics, and that whatever it accepts
// is a valid network whose text form parses back to it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"2048x1-5", "2048x1-128x1-8x4-64x2-2", "2048x1-100x2-5", "27x2-9x1-27x1-3",
		"2048x1-1024x2-1024x3-4x4-5", "1x1-1099511627776x1-5", "1073741824x1-1073741824", "", "-", "x-", "0064x01-007",
	} {
		f.Add(s, uint8(3), uint8(1))
		f.Add(s, uint8(5), uint8(2))
	}
	f.Fuzz(func(t *testing.T, s string, same, overlap uint8) {
		rule := KernelRule{Same: int(same), Overlap: int(overlap)}
		n, err := Parse(s, rule)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "arch ") {
				t.Fatalf("Parse(%q) error %q lacks the arch prefix", s, err)
			}
			return
		}
		if err := n.Validate(); err != nil {
			t.Fatalf("Parse(%q) gave an invalid network: %v", s, err)
		}
		m, err := Parse(n.String(), rule)
		if err != nil {
			t.Fatalf("Parse(%q) = %v", n.String(), err)
		}
		if !slices.Equal(m.Layers, n.Layers) {
			t.Fatalf("%q → %q does not round-trip", s, n.String())
		}
	})
}

func BenchmarkParse(b *testing.B) {
	rule := DefaultKernelRule()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("2048x1-1024x4-256x3-256x3-64x2-16x2-64x1-8x4-4x1-5", rule); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkString(b *testing.B) {
	n, err := Parse("2048x1-1024x4-256x3-256x3-64x2-16x2-64x1-8x4-4x1-5", DefaultKernelRule())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = n.String()
	}
}

// The kernel suffixes of the text form replace the rule's fields, and bad
// ones are refused naming the suffix.
func TestParseKernelSuffixes(t *testing.T) {
	for _, c := range []struct {
		text string
		rule KernelRule
	}{
		{"2048x1-256x4-32x4-5/o2", KernelRule{Same: 3, Overlap: 2}},
		{"2048x1-256x4-256x4-5/k5", KernelRule{Same: 5, Overlap: 1}},
		{"2048x1-256x4-256x4-32x2-5/o3/k7", KernelRule{Same: 7, Overlap: 3}},
	} {
		t.Run(c.text, func(t *testing.T) {
			got, err := Parse(c.text, DefaultKernelRule())
			if err != nil {
				t.Fatal(err)
			}
			body, _, _ := strings.Cut(c.text, "/")
			want, err := Parse(body, c.rule)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Layers, want.Layers) {
				t.Errorf("Parse(%q) layers %+v, want %+v", c.text, got.Layers, want.Layers)
			}
			if got.String() != c.text {
				t.Errorf("String() = %q, want %q", got.String(), c.text)
			}
		})
	}
	// A suffix replaces the rule's field; a field without one keeps the
	// rule's value.
	n, err := Parse("2048x1-256x4-256x4-5/o2", KernelRule{Same: 5, Overlap: 4})
	if err != nil || n.Layers[0].Kernel != 16 || n.Layers[1].Kernel != 5 || n.String() != "2048x1-256x4-256x4-5/o2/k5" {
		t.Errorf("Parse with rule {5, 4}: %v %v", n, err)
	}
	for _, c := range []struct{ text, want string }{
		{"2048x1-256x4-5/x2", `kernel suffix "/x2": want /oN (overlap) or /kN`},
		{"2048x1-256x4-5/o0", `kernel suffix "/o0": 0 must be positive`},
		{"2048x1-256x4-5/o", `kernel suffix "/o": is missing`},
		{"2048x1-256x4-5/", `kernel suffix "/": want /oN`},
		{"2048x1-256x4-5/k4", "Same 4 must be odd"},
	} {
		t.Run(c.text, func(t *testing.T) {
			if _, err := Parse(c.text, DefaultKernelRule()); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Parse(%q) error = %v, want one containing %q", c.text, err, c.want)
			}
		})
	}
}

// A space that searches the overlap carries one overlap gene per genome;
// one that does not refuses it.
func TestOverlapGene(t *testing.T) {
	s := DefaultSpace(5)
	g := Genome{Lengths: []int{128, 0, 0, 0, 0, 0, 0, 32}, Channels: []int{2, 1, 1, 1, 1, 1, 1, 4}}
	if _, err := s.Decode(Genome{Lengths: g.Lengths, Channels: g.Channels, Overlap: 2}); err == nil ||
		!strings.Contains(err.Error(), "does not search the overlap") {
		t.Errorf("overlap gene in a space without: %v", err)
	}
	s.Overlaps = []int{1, 2}
	g.Overlap = 2
	n, err := s.Decode(g)
	if err != nil {
		t.Fatal(err)
	}
	if n.String() != "2048x1-128x2-32x4-5/o2" || n.Layers[0].Kernel != 32 || n.Layers[1].Kernel != 8 {
		t.Errorf("decoded %s with kernels %d, %d; want /o2 with 32, 8", n, n.Layers[0].Kernel, n.Layers[1].Kernel)
	}
	g.Overlap = 3
	if _, err := s.Decode(g); err == nil || !strings.Contains(err.Error(), "overlap 3 is not one of [1 2]") {
		t.Errorf("overlap outside the space: %v", err)
	}
	for _, c := range []struct {
		overlaps []int
		want     string
	}{
		{[]int{0}, "Overlaps[0] = 0 must be positive"},
		{[]int{2, 2}, "Overlaps lists 2 twice"},
	} {
		s.Overlaps = c.overlaps
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Overlaps %v: %v, want %q", c.overlaps, err, c.want)
		}
	}
}
