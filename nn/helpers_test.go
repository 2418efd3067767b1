package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
)

// conv returns a Conv layer from in with ch output channels, the output
// length given by the arch formula.
func conv(in arch.Shape, ch, k, s, pl, pr int) arch.Layer {
	return arch.Layer{Kind: arch.Conv, In: in, Out: arch.Shape{Len: (in.Len+pl+pr-k)/s + 1, Ch: ch},
		Kernel: k, Stride: s, PadLeft: pl, PadRight: pr}
}

// convT returns a ConvTranspose layer (pl, pr cropped from the output).
func convT(in arch.Shape, ch, k, s, pl, pr int) arch.Layer {
	return arch.Layer{Kind: arch.ConvTranspose, In: in, Out: arch.Shape{Len: (in.Len-1)*s + k - pl - pr, Ch: ch},
		Kernel: k, Stride: s, PadLeft: pl, PadRight: pr}
}

// dense returns a Dense layer from in to out.
func dense(in, out arch.Shape) arch.Layer {
	return arch.Layer{Kind: arch.Dense, In: in, Out: out}
}

// mustNet chains layers into a network: ReLU after every layer but the
// last. It fails the test if the network is malformed.
func mustNet(tb testing.TB, layers ...arch.Layer) arch.Network {
	tb.Helper()
	for i := range layers {
		layers[i].ReLU = i < len(layers)-1
	}
	net := arch.Network{Layers: layers}
	if _, err := newPlan(net); err != nil {
		tb.Fatal(err)
	}
	return net
}

// typicalNet is 2048x1-128x2-8x4-64x2-5, the typical search candidate.
func typicalNet(tb testing.TB) arch.Network {
	l1 := conv(arch.Shape{Len: 2048, Ch: 1}, 2, 16, 16, 0, 0)
	l2 := conv(l1.Out, 4, 16, 16, 0, 0)
	l3 := convT(l2.Out, 2, 8, 8, 0, 0)
	l4 := dense(l3.Out, arch.Shape{Len: 5, Ch: 1})
	return mustNet(tb, l1, l2, l3, l4)
}

// randomData returns n samples of Gaussian noise of the given shape with
// random labels, all in the training split.
func randomData(n int, shape arch.Shape, classes int, seed uint64) *dataset.Dataset {
	rng := rand.New(rand.NewPCG(seed, 7))
	names := make([]string, classes)
	for i := range names {
		names[i] = string(rune('A' + i))
	}
	d := dataset.New(names, shape.Ch, shape.Len)
	d.X = make([]float32, n*shape.Size())
	for i := range d.X {
		d.X[i] = float32(rng.NormFloat64())
	}
	d.Labels = make([]uint8, n)
	d.Splits = make([]dataset.Split, n)
	d.Records = make([]string, n)
	for i := range d.Labels {
		d.Labels[i] = uint8(rng.IntN(classes))
		d.Records[i] = "r"
	}
	return d
}

// sinusoids returns n noisy 1×length windows of a sine whose frequency is
// 4, 9 or 16 cycles per window (class 0, 1, 2), with random phase and
// amplitude and Gaussian noise of standard deviation 0.5.
func sinusoids(n, length int, seed uint64) *dataset.Dataset {
	rng := rand.New(rand.NewPCG(seed, 11))
	freqs := []float64{4, 9, 16}
	d := dataset.New([]string{"slow", "medium", "fast"}, 1, length)
	x := make([]float32, length)
	for i := range n {
		c := i % len(freqs)
		phase, amp := 2*math.Pi*rng.Float64(), 0.5+rng.Float64()
		for t := range x {
			x[t] = float32(amp*math.Sin(2*math.Pi*freqs[c]*float64(t)/float64(length)+phase) + 0.5*rng.NormFloat64())
		}
		if err := d.Add(x, c, "toy"); err != nil {
			panic(err)
		}
	}
	return d
}
