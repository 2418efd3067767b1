package nn

import (
	"math"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
)

func TestArchString(t *testing.T) {
	if got, want := typicalNet(t).String(), "2048x1-128x2-8x4-64x2-5"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	net := mustNet(t, conv(arch.Shape{Len: 16, Ch: 1}, 2, 4, 4, 0, 0))
	if got, want := net.String(), "16x1-4x2"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got := (arch.Network{}).String(); got != "" {
		t.Errorf("String of no layers = %q, want empty", got)
	}
}

func TestNewModelRejects(t *testing.T) {
	in := arch.Shape{Len: 32, Ch: 1}
	good := conv(in, 2, 4, 4, 0, 0)
	last := dense(good.Out, arch.Shape{Len: 3, Ch: 1})
	with := func(f func(l *arch.Layer)) arch.Network {
		l := good
		f(&l)
		return arch.Network{Layers: []arch.Layer{l, last}}
	}
	tests := []struct {
		name string
		net  arch.Network
		want string
	}{
		{"empty", arch.Network{}, "no layers"},
		{"zero length", with(func(l *arch.Layer) { l.In.Len = 0 }), "not positive"},
		{"negative channels", with(func(l *arch.Layer) { l.Out.Ch = -1 }), "not positive"},
		{"huge tensor", with(func(l *arch.Layer) { l.In = arch.Shape{Len: 1 << 40, Ch: 1 << 40} }), "exceeds"},
		{"wrong output length", with(func(l *arch.Layer) { l.Out.Len = 9 }), "give 8"},
		{"zero stride", with(func(l *arch.Layer) { l.Stride = 0 }), "out of range"},
		{"negative padding", with(func(l *arch.Layer) { l.PadLeft = -1 }), "out of range"},
		{"kernel too long", with(func(l *arch.Layer) { l.Kernel = 40 }), "longer than the padded input"},
		{"unknown kind", with(func(l *arch.Layer) { l.Kind = 7 }), "unknown layer kind"},
		{"broken chain", arch.Network{Layers: []arch.Layer{good, dense(arch.Shape{Len: 9, Ch: 2}, arch.Shape{Len: 3, Ch: 1})}}, "not the previous layer's output"},
		{"transpose length", arch.Network{Layers: []arch.Layer{{Kind: arch.ConvTranspose, In: in, Out: arch.Shape{Len: 64, Ch: 1}, Kernel: 2, Stride: 2, PadLeft: 1}}}, "give 63"},
		{"too many weights", arch.Network{Layers: []arch.Layer{dense(arch.Shape{Len: 1 << 13, Ch: 1}, arch.Shape{Len: 1 << 12, Ch: 1})}}, "too many weights"},
		{"too many layers", func() arch.Network {
			var n arch.Network
			for range maxLayers {
				n.Layers = append(n.Layers, conv(in, 1, 1, 1, 0, 0))
			}
			n.Layers = append(n.Layers, last)
			return n
		}(), "257 layers, at most 256"},
		// Each tensor within the limit, all of them together over it.
		{"too many activations", func() arch.Network {
			big := arch.Shape{Len: 1 << 24, Ch: 1}
			return arch.Network{Layers: []arch.Layer{conv(big, 1, 1, 1, 0, 0), conv(big, 1, 1, 1, 0, 0), dense(big, arch.Shape{Len: 1, Ch: 1})}}
		}(), "layer 2 (conv1d 16777216x1→16777216x1): the tensors up to this layer hold 50331648 values"},
		{"transpose overflow", arch.Network{Layers: []arch.Layer{{Kind: arch.ConvTranspose, In: arch.Shape{Len: 1 << 24, Ch: 1}, Out: arch.Shape{Len: 4, Ch: 1},
			Kernel: 1, Stride: 1 << 24, ReLU: true}, last}}, "gives an output longer than 16777216"},
	}
	for _, tt := range tests {
		_, err := NewModel(tt.net, 1)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "nn: ") {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// TestInit checks He-uniform and Glorot-uniform weights: within the limit,
// with the variance limit²/3 of a uniform distribution, zero biases, and
// the same values for the same seed.
func TestInit(t *testing.T) {
	net := mustNet(t,
		conv(arch.Shape{Len: 256, Ch: 4}, 4, 16, 4, 0, 0),
		dense(arch.Shape{Len: 61, Ch: 4}, arch.Shape{Len: 40, Ch: 1}))
	m, err := NewModel(net, 7)
	if err != nil {
		t.Fatal(err)
	}
	limits := []float64{math.Sqrt(6.0 / (16 * 4)), math.Sqrt(6.0 / (244 + 40))}
	for i, limit := range limits {
		w, b := m.Weights(i)
		var sum, sq float64
		for _, v := range w {
			if math.Abs(float64(v)) > limit {
				t.Fatalf("layer %d: weight %g outside ±%g", i, v, limit)
			}
			sum += float64(v)
			sq += float64(v) * float64(v)
		}
		n := float64(len(w))
		mean, variance := sum/n, sq/n-(sum/n)*(sum/n)
		want := limit * limit / 3
		// Standard error of the variance of n uniform values: limit²·√(4/45/n).
		if se := limit * limit * math.Sqrt(4.0/45/n); math.Abs(variance-want) > 5*se || math.Abs(mean) > 5*limit/math.Sqrt(3*n) {
			t.Errorf("layer %d: %d weights with mean %.4g, variance %.4g; want 0 and %.4g", i, len(w), mean, variance, want)
		}
		for _, v := range b {
			if v != 0 {
				t.Fatalf("layer %d: bias %g, want 0", i, v)
			}
		}
	}
	again, _ := NewModel(net, 7)
	other, _ := NewModel(net, 8)
	if !equalBits(m.Params(), again.Params()) {
		t.Error("same seed gave different weights")
	}
	if equalBits(m.Params(), other.Params()) {
		t.Error("different seeds gave the same weights")
	}
	if w, b := m.Weights(2); w != nil || b != nil {
		t.Error("Weights(2) of a 2-layer model is not nil")
	}
}

func equalBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestLogits(t *testing.T) {
	m := identityModel(t)
	out := make([]float32, 3)
	m.Logits([]float32{1, -2, 3}, out)
	if out[0] != 1 || out[1] != -2 || out[2] != 3 {
		t.Errorf("Logits = %v, want [1 -2 3]", out)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "got 2 inputs") {
			t.Errorf("Logits with 2 inputs: panic %v, want one naming the sizes", r)
		}
	}()
	m.Logits([]float32{1, 2}, out)
}

// TestRunSplits checks that the edge part (layers 1..P) followed by the
// fog part (P+1..L) gives the whole network's logits bit for bit at every
// split point, transposed layers included, and that wrong ranges panic.
func TestRunSplits(t *testing.T) {
	net, err := arch.Parse("256x1-64x4-128x2-5/o2", arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(net, 3)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 256)
	for i := range x {
		x[i] = float32(math.Sin(float64(i) / 7))
	}
	want := make([]float32, 5)
	m.Logits(x, want)
	L := len(net.Layers)
	for P := 0; P <= L; P++ {
		edge := m.Run(x, 0, P)
		if got := len(edge); got != net.Tensor(P).Size() {
			t.Fatalf("P=%d: edge tensor has %d values, want %d", P, got, net.Tensor(P).Size())
		}
		got := m.Run(edge, P, L)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("P=%d: logit %d = %g, whole network %g", P, i, got[i], want[i])
			}
		}
	}
	for _, c := range []struct{ from, to, n int }{{-1, 1, 256}, {2, 1, 256}, {0, L + 1, 256}, {0, 1, 255}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Run(%d values, %d, %d) did not panic", c.n, c.from, c.to)
				}
			}()
			m.Run(make([]float32, c.n), c.from, c.to)
		}()
	}
}
