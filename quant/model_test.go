package quant

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/nn"
)

// gaussian returns n samples of standard normal noise of the given shape,
// labelled round-robin over k classes, all in the training split.
func gaussian(n int, shape arch.Shape, k int, seed uint64) *dataset.Dataset {
	rng := rand.New(rand.NewPCG(seed, 3))
	names := make([]string, k)
	for i := range names {
		names[i] = string(rune('A' + i))
	}
	d := dataset.New(names, shape.Ch, shape.Len)
	x := make([]float32, shape.Size())
	for i := range n {
		for j := range x {
			x[j] = float32(rng.NormFloat64())
		}
		if err := d.Add(x, i%k, "r"); err != nil {
			panic(err)
		}
	}
	return d
}

// searchSpace is the paper's space on 256-sample inputs, with the overlap
// gene: every layer kind and kernel a search candidate can have.
func searchSpace() arch.Space {
	s := arch.DefaultSpace(5)
	s.InputLength = 256
	s.Lengths = []int{1024, 512, 256, 128, 64, 32, 16, 8, 4, 0}
	s.Overlaps = []int{1, 2}
	return s
}

// tones returns n noisy windows of the given shape holding a sine of 2, 5,
// 9, 14 or 20 cycles per window (classes 0..4) with random phase and
// amplitude, on every channel: a task every network of the space learns
// within a few epochs.
func tones(n int, shape arch.Shape, seed uint64) *dataset.Dataset {
	rng := rand.New(rand.NewPCG(seed, 5))
	freqs := []float64{2, 5, 9, 14, 20}
	d := dataset.New([]string{"A", "B", "C", "D", "E"}, shape.Ch, shape.Len)
	x := make([]float32, shape.Size())
	for i := range n {
		c := i % len(freqs)
		phase, amp := 2*math.Pi*rng.Float64(), 0.5+rng.Float64()
		for j := range x {
			t := float64(j % shape.Len)
			x[j] = float32(amp*math.Sin(2*math.Pi*freqs[c]*t/float64(shape.Len)+phase) + 0.3*rng.NormFloat64())
		}
		if err := d.Add(x, c, "toy"); err != nil {
			panic(err)
		}
	}
	return d
}

// randomModels returns n float models of random networks of the search
// space, each trained for a few epochs on tones (a deployed network is a
// trained one: its class scores have margins, where random weights give
// near-ties), and their int8 (even i) or int4 (odd i) quantization
// calibrated on the training samples by method.
func randomModels(t *testing.T, n int, method Method) ([]*nn.Model, []*Model) {
	t.Helper()
	space := searchSpace()
	rng := rand.New(rand.NewPCG(7, 7))
	train := tones(500, arch.Shape{Len: space.InputLength, Ch: 1}, 1)
	cfg := nn.DefaultConfig()
	cfg.Epochs, cfg.LR = 4, 0.003
	var fms []*nn.Model
	var qms []*Model
	for len(fms) < n {
		net, err := space.Decode(space.Random(rng))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Seed = rng.Uint64()
		res, err := nn.Native().Train(context.Background(), net, train, nil, cfg)
		if err != nil {
			t.Fatal(err)
		}
		fm := res.Model
		cal := train.Subset(rand.Perm(train.Len())[:100])
		bits := 8
		if len(fms)%2 == 1 {
			bits = 4
		}
		qm, err := PostTraining(fm, cal, method, bits)
		if err != nil {
			t.Fatalf("%v: %v", net, err)
		}
		fms, qms = append(fms, fm), append(qms, qm)
	}
	return fms, qms
}

// TestIntegerMatchesFakeQuant checks the integer path against the float
// path on the dequantized values (Simulate), on random networks of the
// search space: fed the same int8 input, every layer's outputs agree within
// one step; run end to end, each path on its own outputs, the predicted
// classes agree on at least 99.9 % of the samples.
func TestIntegerMatchesFakeQuant(t *testing.T) {
	nets, samples := 24, 100
	if testing.Short() {
		nets = 6
	}
	_, qms := randomModels(t, nets, MinMax)
	rng := rand.New(rand.NewPCG(9, 9))
	total, agree, exact, values := 0, 0, 0, 0
	for _, qm := range qms {
		net := qm.Network()
		d := tones(samples, net.Input(), rng.Uint64())
		for i := range d.Len() {
			x := make([]int8, d.SampleSize())
			qm.QuantizeInput(d.Sample(i), x)
			for li := range qm.Layers {
				yi, yf := qm.Run(x, li, li+1), qm.Simulate(x, li, li+1)
				for j := range yi {
					diff := int(yi[j]) - int(yf[j])
					if diff < -1 || diff > 1 {
						t.Fatalf("%v layer %d output %d: integer %d, fake-quant %d", net, li+1, j, yi[j], yf[j])
					}
					if diff == 0 {
						exact++
					}
					values++
				}
				x = yi
			}
			q := make([]int8, d.SampleSize())
			qm.QuantizeInput(d.Sample(i), q)
			L := len(qm.Layers)
			if a, b := qm.Run(q, 0, L), qm.Simulate(q, 0, L); argmax(a) == argmax(b) {
				agree++
			} else {
				t.Logf("%d-bit %v: %v vs %v", qm.Bits, net, a, b)
			}
			total++
		}
	}
	t.Logf("%d networks: predictions agree on %d of %d samples; %d of %d layer outputs equal (the rest 1 step apart)",
		nets, agree, total, exact, values)
	if float64(agree) < 0.999*float64(total) {
		t.Errorf("predictions agree on %d of %d samples, want ≥ 99.9 %%", agree, total)
	}
}

// TestQuantizedCloseToFloat checks that int8 outputs, dequantized, track
// the float model's logits: the quantization is of the float network, not
// of some other one (per-layer rounding through up to nine layers leaves a
// few per cent of error on these small networks).
func TestQuantizedCloseToFloat(t *testing.T) {
	fms, qms := randomModels(t, 6, MinMax)
	rng := rand.New(rand.NewPCG(4, 4))
	for n, qm := range qms {
		if qm.Bits != 8 {
			continue
		}
		fm := fms[n]
		d := tones(50, fm.Network().Input(), rng.Uint64())
		var num, den float64
		for i := range d.Len() {
			want := make([]float32, 5)
			fm.Logits(d.Sample(i), want)
			for j, v := range qm.Scores(d.Sample(i)) {
				e := float64(v - want[j])
				num += e * e
				den += float64(want[j]) * float64(want[j])
			}
		}
		rel := num / den
		t.Logf("%v: squared error %.2g of the logits' energy", fm, rel)
		if rel > 0.05 { // a wrong layout or scale gives errors of the order of 1
			t.Errorf("%v: int8 logits' squared error is %.3g of the float logits' energy, want ≤ 5 %%", fm, rel)
		}
	}
}

func TestCalibrateErrors(t *testing.T) {
	fm, err := nn.NewModel(mustParse(t, "256x1-64x4-16x4-5"), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		d    *dataset.Dataset
		want error
	}{
		{"wrong length", gaussian(4, arch.Shape{Len: 512, Ch: 1}, 5, 1), ErrShape},
		{"wrong channels", gaussian(4, arch.Shape{Len: 256, Ch: 4}, 5, 1), ErrShape},
		{"empty", gaussian(0, arch.Shape{Len: 256, Ch: 1}, 5, 1), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Calibrate(fm, tc.d, MinMax)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %q does not wrap %v", err, tc.want)
			}
			t.Log(err)
		})
	}
	bad := gaussian(4, arch.Shape{Len: 256, Ch: 1}, 5, 1)
	bad.X[3] = float32(posInf())
	if _, err := Calibrate(fm, bad, MinMax); err == nil {
		t.Error("calibration on an infinite sample: no error")
	}
	if _, err := FromFloat(fm, make([]Range, 2), 8); err == nil {
		t.Error("FromFloat with 2 ranges for 3 layers: no error")
	}
	if _, err := FromFloat(fm, make([]Range, 4), 6); err == nil {
		t.Error("FromFloat with 6-bit weights: no error")
	}
}

// TestMethods checks the three range choices on values with a far
// outlier: min-max keeps it, percentile and MSE clip it, and every range
// holds 0.
func TestMethods(t *testing.T) {
	v := make([]float32, 100000)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	v[17] = 20
	mm := MinMax.choose(v)
	if mm.Max != 20 {
		t.Errorf("minmax max = %v, want 20", mm.Max)
	}
	for _, m := range []Method{Percentile, MSE} {
		r := m.choose(v)
		if !(r.Max < 10 && r.Max > 2 && r.Min < -2 && r.Min > -10) {
			t.Errorf("%v range = %+v, want the outlier clipped and the bulk (|x| ≲ 4) kept", m, r)
		}
		if p := r.Params(); p.Quantize(0) != int8(p.ZeroPoint) || p.Dequantize(int8(p.ZeroPoint)) != 0 {
			t.Errorf("%v: 0 is not exact: %+v", m, p)
		}
	}
	for _, s := range []string{"minmax", "percentile", "mse"} {
		if m, err := ParseMethod(s); err != nil || m.String() != s {
			t.Errorf("ParseMethod(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMethod("kl"); err == nil {
		t.Error(`ParseMethod("kl"): no error`)
	}
}

func mustParse(tb testing.TB, s string) arch.Network {
	tb.Helper()
	n, err := arch.Parse(s, arch.DefaultKernelRule())
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func posInf() float64 { return 1 / zero }

var zero = 0.0

// TestDeadLayer checks that a tensor whose calibrated range is all but zero
// (a dead ReLU layer) still quantizes: its scale is raised until its
// layer's rescaling fits the fixed-point multiplier.
func TestDeadLayer(t *testing.T) {
	fm, err := nn.NewModel(mustParse(t, "256x1-64x4-16x4-5"), 1)
	if err != nil {
		t.Fatal(err)
	}
	ranges, err := Calibrate(fm, gaussian(8, arch.Shape{Len: 256, Ch: 1}, 5, 1), MinMax)
	if err != nil {
		t.Fatal(err)
	}
	ranges[1] = Range{Min: 0, Max: 1e-20} // layer 1's output: dead
	m, err := FromFloat(fm, ranges, 8)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.check(); err != nil {
		t.Fatal(err)
	}
	for c, sh := range m.Layers[0].Shift {
		if sh > 30 || m.Layers[0].Mult[c] < 0 {
			t.Errorf("channel %d: multiplier %d, shift %d", c, m.Layers[0].Mult[c], sh)
		}
	}
	if m.Layers[1].InQ != m.Layers[0].OutQ {
		t.Error("layer 2's input quantization is not layer 1's widened output's")
	}
}
