package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/splitnas/splitnas/arch"
)

// Finite-difference settings: central differences with step h; the
// relative error |a−n| / max(|a|, |n|, gradFloor·max(1, |loss|)) of every
// coordinate must stay below gradTol. The floor keeps round-off in the
// numeric gradient (about 1e-16·|loss|/h) from counting as error on
// gradients that are zero or nearly so.
const (
	gradStep  = 1e-6
	gradTol   = 1e-6
	gradFloor = 1e-3
)

// gradCheck compares the analytic gradient grad of f with respect to v with
// central differences, perturbing v in place and restoring it. If kinked is
// not nil and reports that a perturbation crossed a ReLU kink, that
// coordinate is skipped. It returns the worst relative error and the number
// of coordinates skipped.
func gradCheck(t *testing.T, what string, v, grad []float64, f func() float64, kinked func() bool) (worst float64, skipped int) {
	t.Helper()
	floor := gradFloor * max(1, math.Abs(f()))
	for i := range v {
		save := v[i]
		v[i] = save + gradStep
		fp := f()
		kink := kinked != nil && kinked()
		v[i] = save - gradStep
		fm := f()
		kink = kink || kinked != nil && kinked()
		v[i] = save
		if kink {
			skipped++
			continue
		}
		num := (fp - fm) / (2 * gradStep)
		rel := math.Abs(grad[i]-num) / max(math.Abs(grad[i]), math.Abs(num), floor)
		if rel > gradTol || math.IsNaN(rel) {
			t.Errorf("%s[%d]: analytic %.10g, numeric %.10g, relative error %.2g", what, i, grad[i], num, rel)
		}
		worst = max(worst, rel)
	}
	return worst, skipped
}

func randomSlice(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

// TestLayerGradients checks each layer kernel alone under the loss
// L = Σ r·y + ½ Σ y² of its output y, with respect to every weight, bias
// and input value: chosen edge cases, then random Conv and ConvTranspose
// layers up to 60 in all.
func TestLayerGradients(t *testing.T) {
	tests := []struct {
		name  string
		layer arch.Layer
	}{
		{"conv stride 1 padded", conv(arch.Shape{Len: 10, Ch: 2}, 3, 3, 1, 1, 1)},
		{"conv strided overlap asymmetric padding", conv(arch.Shape{Len: 23, Ch: 3}, 2, 5, 2, 2, 1)},
		{"conv kernel = stride", conv(arch.Shape{Len: 32, Ch: 1}, 4, 8, 8, 0, 0)},
		{"conv kernel = stride, ragged end", conv(arch.Shape{Len: 30, Ch: 2}, 3, 8, 8, 0, 0)},
		{"conv window wholly in padding", conv(arch.Shape{Len: 5, Ch: 2}, 2, 2, 1, 3, 2)},
		{"convT no cropping", convT(arch.Shape{Len: 7, Ch: 3}, 2, 4, 2, 0, 0)},
		{"convT cropped", convT(arch.Shape{Len: 7, Ch: 2}, 3, 5, 3, 2, 1)},
		{"convT kernel = stride", convT(arch.Shape{Len: 8, Ch: 4}, 2, 8, 8, 0, 0)},
		{"convT kernel < stride", convT(arch.Shape{Len: 5, Ch: 2}, 2, 2, 3, 0, 1)},
		{"convT cropping beyond a window", convT(arch.Shape{Len: 5, Ch: 1}, 2, 2, 2, 3, 3)},
		{"dense", dense(arch.Shape{Len: 6, Ch: 2}, arch.Shape{Len: 5, Ch: 1})},
		{"dense to a 2-channel tensor", dense(arch.Shape{Len: 4, Ch: 3}, arch.Shape{Len: 3, Ch: 2})},
	}
	rng := rand.New(rand.NewPCG(13, 1))
	for len(tests) < 60 {
		in := arch.Shape{Len: 1 + rng.IntN(30), Ch: 1 + rng.IntN(4)}
		k, s, ch := 1+rng.IntN(9), 1+rng.IntN(9), 1+rng.IntN(4)
		pl, pr := rng.IntN(k+2), rng.IntN(k+2)
		if rng.IntN(2) == 0 && in.Len+pl+pr >= k {
			tests = append(tests, struct {
				name  string
				layer arch.Layer
			}{fmt.Sprintf("random conv k%d s%d pad %d+%d", k, s, pl, pr), conv(in, ch, k, s, pl, pr)})
		} else if (in.Len-1)*s+k-pl-pr >= 1 {
			tests = append(tests, struct {
				name  string
				layer arch.Layer
			}{fmt.Sprintf("random convT k%d s%d crop %d+%d", k, s, pl, pr), convT(in, ch, k, s, pl, pr)})
		}
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newPlan(arch.Network{Layers: []arch.Layer{tt.layer}})
			if err != nil {
				t.Fatal(err)
			}
			g := &p.layers[0]
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			params, x := randomSlice(rng, p.nParams), randomSlice(rng, g.inSize())
			r := randomSlice(rng, g.outSize())
			y := make([]float64, g.outSize())
			loss := func() float64 {
				forward(g, params, x, y)
				var l float64
				for j, v := range y {
					l += r[j]*v + v*v/2
				}
				return l
			}
			loss()
			dy := make([]float64, len(y))
			for j := range dy {
				dy[j] = r[j] + y[j]
			}
			dp, dx := make([]float64, p.nParams), make([]float64, g.inSize())
			backward(g, params, x, dy, dp, dx)
			wp, _ := gradCheck(t, "params", params, dp, loss, nil)
			wx, _ := gradCheck(t, "input", x, dx, loss, nil)
			t.Logf("worst relative error: params %.2g, input %.2g", wp, wx)
		})
	}
}

// reference computes a layer's output by a direct reading of the
// definitions: a Conv on an explicitly zero-padded input, a ConvTranspose
// as a full scatter then cropped, a Dense as a matrix product.
func reference(l arch.Layer, w, b, x []float64) []float64 {
	y := make([]float64, l.Out.Size())
	switch l.Kind {
	case arch.Conv:
		padded := l.In.Len + l.PadLeft + l.PadRight
		for ci := range l.In.Ch {
			xp := make([]float64, padded)
			copy(xp[l.PadLeft:], x[ci*l.In.Len:(ci+1)*l.In.Len])
			for co := range l.Out.Ch {
				for t := range l.Out.Len {
					for j := range l.Kernel {
						y[co*l.Out.Len+t] += w[(co*l.In.Ch+ci)*l.Kernel+j] * xp[t*l.Stride+j]
					}
				}
			}
		}
		for co := range l.Out.Ch {
			for t := range l.Out.Len {
				y[co*l.Out.Len+t] += b[co]
			}
		}
	case arch.ConvTranspose:
		full := (l.In.Len-1)*l.Stride + l.Kernel
		for co := range l.Out.Ch {
			z := make([]float64, full)
			for ci := range l.In.Ch {
				for t := range l.In.Len {
					for j := range l.Kernel {
						z[t*l.Stride+j] += w[(co*l.In.Ch+ci)*l.Kernel+j] * x[ci*l.In.Len+t]
					}
				}
			}
			for u := range l.Out.Len {
				y[co*l.Out.Len+u] = z[u+l.PadLeft] + b[co]
			}
		}
	case arch.Dense:
		for o := range y {
			y[o] = b[o]
			for j := range x {
				y[o] += w[o*len(x)+j] * x[j]
			}
		}
	}
	return y
}

// TestForwardReference compares the layer kernels with reference on chosen
// edge cases and on 300 random layers.
func TestForwardReference(t *testing.T) {
	layers := []arch.Layer{
		conv(arch.Shape{Len: 23, Ch: 3}, 2, 5, 2, 2, 1),
		conv(arch.Shape{Len: 5, Ch: 2}, 2, 2, 1, 3, 2),
		conv(arch.Shape{Len: 64, Ch: 1}, 4, 16, 16, 0, 0),
		convT(arch.Shape{Len: 7, Ch: 2}, 3, 5, 3, 2, 1),
		convT(arch.Shape{Len: 5, Ch: 1}, 2, 2, 2, 3, 3),
		dense(arch.Shape{Len: 4, Ch: 3}, arch.Shape{Len: 3, Ch: 2}),
	}
	rng := rand.New(rand.NewPCG(11, 2))
	for range 300 {
		in := arch.Shape{Len: 1 + rng.IntN(40), Ch: 1 + rng.IntN(4)}
		k, s, ch := 1+rng.IntN(12), 1+rng.IntN(12), 1+rng.IntN(4)
		pl, pr := rng.IntN(k+2), rng.IntN(k+2)
		if rng.IntN(2) == 0 {
			if in.Len+pl+pr >= k {
				layers = append(layers, conv(in, ch, k, s, pl, pr))
			}
		} else if (in.Len-1)*s+k-pl-pr >= 1 {
			layers = append(layers, convT(in, ch, k, s, pl, pr))
		}
	}
	for i, l := range layers {
		p, err := newPlan(arch.Network{Layers: []arch.Layer{l}})
		if err != nil {
			t.Fatal(err)
		}
		g := &p.layers[0]
		params, x := randomSlice(rng, p.nParams), randomSlice(rng, g.inSize())
		want := reference(l, params[g.wOff:g.wOff+g.nw], params[g.bOff:g.bOff+g.nb], x)
		got := make([]float64, len(want))
		forward(g, params, x, got)
		for j := range want {
			if math.Abs(got[j]-want[j]) > 1e-12*max(1, math.Abs(want[j])) {
				t.Fatalf("layer %d (%v %v→%v k%d s%d pad %d+%d): y[%d] = %.15g, want %.15g",
					i, l.Kind, l.In, l.Out, l.Kernel, l.Stride, l.PadLeft, l.PadRight, j, got[j], want[j])
			}
		}
	}
	t.Logf("%d layers checked", len(layers))
}

// myFloat is a named float type: BLAS does not take it, so the Dense layer
// runs its plain loops, which must agree with the BLAS path.
type myFloat float32

func TestDenseLoopsMatchBLAS(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 2))
	for _, size := range [][2]int{{128, 5}, {7, 3}, {33, 9}} {
		n, m := size[0], size[1]
		w, b, x, dy := randomSlice(rng, m*n), randomSlice(rng, m), randomSlice(rng, n), randomSlice(rng, m)
		conv32 := func(v []float64) ([]float32, []myFloat) {
			a, c := make([]float32, len(v)), make([]myFloat, len(v))
			for i := range v {
				a[i], c[i] = float32(v[i]), myFloat(v[i])
			}
			return a, c
		}
		w1, w2 := conv32(w)
		b1, b2 := conv32(b)
		x1, x2 := conv32(x)
		dy1, dy2 := conv32(dy)
		y1, y2 := make([]float32, m), make([]myFloat, m)
		denseForward(w1, b1, x1, y1)
		denseForward(w2, b2, x2, y2)
		dw1, dw2 := make([]float32, m*n), make([]myFloat, m*n)
		db1, db2 := make([]float32, m), make([]myFloat, m)
		dx1, dx2 := make([]float32, n), make([]myFloat, n)
		denseBackward(w1, x1, dy1, dw1, db1, dx1)
		denseBackward(w2, x2, dy2, dw2, db2, dx2)
		for _, pair := range []struct {
			name string
			a    []float32
			b    []myFloat
		}{{"y", y1, y2}, {"dw", dw1, dw2}, {"db", db1, db2}, {"dx", dx1, dx2}} {
			for i := range pair.a {
				if d := math.Abs(float64(pair.a[i]) - float64(pair.b[i])); d > 1e-5*max(1, math.Abs(float64(pair.a[i]))) {
					t.Errorf("%d→%d %s[%d]: BLAS %g, loops %g", n, m, pair.name, i, pair.a[i], pair.b[i])
				}
			}
		}
	}
}

// TestForwardByHand pins the padding and cropping conventions on numbers
// worked out by hand.
func TestForwardByHand(t *testing.T) {
	// Conv, kernel 2, stride 2, one zero padded on the left:
	// padded x = 0 1 2 3 4 → windows (0,1) (2,3); w = (1, 10), b = 0.5.
	c := conv(arch.Shape{Len: 4, Ch: 1}, 1, 2, 2, 1, 0)
	// ConvTranspose, kernel 3, stride 2: x = (1, 2), w = (1, 10, 100) scatter
	// to 1 10 100 / 2 20 200 at offsets 0 and 2 → 1 10 102 20 200; cropping
	// one on each side leaves 10 102 20; plus b = 0.5.
	ct := convT(arch.Shape{Len: 2, Ch: 1}, 1, 3, 2, 1, 1)
	for _, tt := range []struct {
		l         arch.Layer
		params, x []float64
		want      []float64
	}{
		{c, []float64{1, 10, 0.5}, []float64{1, 2, 3, 4}, []float64{10.5, 32.5}},
		{ct, []float64{1, 10, 100, 0.5}, []float64{1, 2}, []float64{10.5, 102.5, 20.5}},
	} {
		p, err := newPlan(arch.Network{Layers: []arch.Layer{tt.l}})
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float64, len(tt.want))
		forward(&p.layers[0], tt.params, tt.x, got)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%v: got %v, want %v", tt.l.Kind, got, tt.want)
		}
	}
}

// TestReLUGradient checks ReLU's backward pass (inputs kept away from the
// kink at 0) under L = Σ r·relu(x) + ½ Σ relu(x)².
func TestReLUGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	x, r := randomSlice(rng, 40), randomSlice(rng, 40)
	for i := range x {
		if math.Abs(x[i]) < 0.01 {
			x[i] = 0.5
		}
	}
	y := make([]float64, len(x))
	loss := func() float64 {
		copy(y, x)
		relu(y)
		var l float64
		for j, v := range y {
			l += r[j]*v + v*v/2
		}
		return l
	}
	loss()
	dy := make([]float64, len(y))
	for j := range dy {
		dy[j] = r[j] + y[j]
	}
	reluBackward(y, dy)
	gradCheck(t, "relu input", x, dy, loss, nil)
	zeros := 0
	for j := range x {
		if x[j] < 0 && (y[j] != 0 || dy[j] != 0) {
			t.Errorf("x[%d] = %g < 0: relu %g, gradient %g, want 0 and 0", j, x[j], y[j], dy[j])
		}
		if x[j] < 0 {
			zeros++
		}
	}
	if zeros == 0 || zeros == len(x) {
		t.Fatalf("%d of %d inputs negative: test does not exercise both sides", zeros, len(x))
	}
}

// TestSoftmaxCE checks the loss against log-sum-exp, its gradient against
// finite differences, and that huge logits stay finite.
func TestSoftmaxCE(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for label := range 5 {
		z := randomSlice(rng, 5)
		for i := range z {
			z[i] *= 3
		}
		const scale = 0.25 // as for a batch of four
		dz := make([]float64, len(z))
		loss := softmaxCE(z, label, scale, dz)
		var sum float64
		for _, v := range z {
			sum += math.Exp(v)
		}
		if want := math.Log(sum) - z[label]; math.Abs(loss-want) > 1e-12 {
			t.Errorf("label %d: loss %.15g, want %.15g", label, loss, want)
		}
		if ce := crossEntropy(z, label); ce != loss {
			t.Errorf("label %d: crossEntropy %.17g, softmaxCE %.17g", label, ce, loss)
		}
		scratch := make([]float64, len(z))
		f := func() float64 { return scale * softmaxCE(z, label, 1, scratch) }
		gradCheck(t, fmt.Sprintf("logits (label %d)", label), z, dz, f, nil)
	}
	for _, z := range [][]float32{{1000, 1001, 999}, {-1e30, 0, 1e30}, {88, 89, 90}} {
		dz := make([]float32, 3)
		loss := softmaxCE(z, 0, 1, dz)
		if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) || loss < 0 {
			t.Errorf("logits %v: loss %g, want finite and ≥ 0", z, loss)
		}
		var sum float32
		for _, v := range dz {
			sum += v
			if math.IsNaN(float64(v)) {
				t.Errorf("logits %v: gradient %v has NaN", z, dz)
			}
		}
		if math.Abs(float64(sum)) > 1e-6 {
			t.Errorf("logits %v: gradient %v sums to %g, want 0", z, dz, sum)
		}
	}
	if got, want := crossEntropy([]float32{1000, 1001, 999}, 1), float32(math.Log(1+math.Exp(-1)+math.Exp(-2))); math.Abs(float64(got-want)) > 1e-6 {
		t.Errorf("cross-entropy of large logits: %g, want %g", got, want)
	}
}

// TestDropout checks the masks' statistics and the gradient through a
// network whose dropout masks are held fixed.
func TestDropout(t *testing.T) {
	net := mustNet(t,
		conv(arch.Shape{Len: 24, Ch: 2}, 3, 4, 2, 1, 1),
		dense(arch.Shape{Len: 12, Ch: 3}, arch.Shape{Len: 4, Ch: 1}))
	p, _ := newPlan(net)
	const rate = 0.3
	ws := newWorkspace[float64](p, true, true)
	d := newDropper(rate, 9)
	kept, total := 0, 0
	for range 2000 {
		fill(d, ws)
		for _, v := range ws.mask[1] {
			switch v {
			case 0:
			case 1 / (1 - rate):
				kept++
			default:
				t.Fatalf("mask value %g, want 0 or %g", v, 1/(1-rate))
			}
			total++
		}
	}
	// Binomial(72000, 0.7): standard deviation 0.0017 in the fraction.
	if frac := float64(kept) / float64(total); math.Abs(frac-(1-rate)) > 0.01 {
		t.Errorf("kept %.4f of the values, want %.2f ± 0.01", frac, 1-rate)
	}
	fill(d, ws)
	checkNetworkGradient(t, p, ws, true, 10)
}

// checkNetworkGradient checks the gradient of the softmax cross-entropy of a
// random sample with respect to every parameter and input value of the
// network p (random weights and biases), with the dropout masks in ws held
// fixed. Coordinates whose perturbation flips a ReLU are skipped; at most
// 2% may be.
func checkNetworkGradient(t *testing.T, p *plan, ws *workspace[float64], dropout bool, seed uint64) {
	t.Helper()
	ce := func(z []float64, label int, dz []float64) float64 { return softmaxCE(z, label, 1, dz) }
	checkNetworkGradientOf(t, p, ws, dropout, seed, ce)
}

// checkNetworkGradientOf is checkNetworkGradient for the loss given by
// loss, which returns the loss of logits z for the true class label and
// sets dz to its gradient.
func checkNetworkGradientOf(t *testing.T, p *plan, ws *workspace[float64], dropout bool, seed uint64,
	loss func(z []float64, label int, dz []float64) float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 5))
	last := len(p.layers)
	var (
		params, x, dp, dx []float64
		label             int
	)
	// Draw weights, biases and a sample until some gradient reaches the
	// input: with dead ReLUs everywhere the check would prove nothing.
	for try := 0; ; try++ {
		if try == 20 {
			t.Fatal("every draw of weights gives a zero input gradient")
		}
		params = make([]float64, p.nParams)
		initParams(p, params, rng)
		for _, g := range p.layers {
			for j := range g.nb {
				params[g.bOff+j] = 0.1 * rng.NormFloat64()
			}
		}
		x = randomSlice(rng, p.inSize())
		label = rng.IntN(p.classes())
		ws.forward(p, params, x, dropout)
		loss(ws.act[last], label, ws.grad[last])
		dp = make([]float64, p.nParams)
		ws.backward(p, params, dp, dropout)
		dx = append([]float64(nil), ws.grad[0]...)
		if slices.ContainsFunc(dx, func(v float64) bool { return v != 0 }) {
			break
		}
	}

	// The sign pattern of every ReLU output at the unperturbed point.
	var signs [][]bool
	for i := 1; i < last; i++ {
		s := make([]bool, len(ws.act[i]))
		for j, v := range ws.act[i] {
			s[j] = v > 0
		}
		signs = append(signs, s)
	}
	scratch := make([]float64, p.classes())
	f := func() float64 { return loss(ws.forward(p, params, x, dropout), label, scratch) }
	kinked := func() bool {
		for i := 1; i < last; i++ {
			for j, v := range ws.act[i] {
				if (v > 0) != signs[i-1][j] {
					return true
				}
			}
		}
		return false
	}
	wp, sp := gradCheck(t, "params", params, dp, f, kinked)
	wx, sx := gradCheck(t, "input", x, dx, f, kinked)
	if n := p.nParams + len(x); 50*(sp+sx) > n {
		t.Errorf("skipped %d of %d coordinates at ReLU kinks, want ≤ 2%%", sp+sx, n)
	}
	t.Logf("%d params, %d inputs: worst relative error %.2g (params), %.2g (input); %d skipped at kinks",
		p.nParams, len(x), wp, wx, sp+sx)
}

// randomNetwork chains 1–4 random Conv, ConvTranspose or Dense layers with
// 1–4 channels from a random input, then a Dense layer to 2–5 classes.
func randomNetwork(t *testing.T, rng *rand.Rand) arch.Network {
	t.Helper()
	in := arch.Shape{Len: 8 + rng.IntN(33), Ch: 1 + rng.IntN(4)}
	var layers []arch.Layer
	for range 1 + rng.IntN(4) {
		ch := 1 + rng.IntN(4)
		k, s := 1+rng.IntN(6), 1+rng.IntN(4)
		var l arch.Layer
		switch r := rng.IntN(10); {
		case r < 5 || in.Len > 48:
			pl, pr := rng.IntN(k), rng.IntN(k)
			if in.Len+pl+pr < k {
				pl = k - in.Len
			}
			l = conv(in, ch, k, s, pl, pr)
		case r < 8:
			s = 2 + rng.IntN(3)
			full := (in.Len-1)*s + k
			pl, pr := rng.IntN(k), rng.IntN(k)
			if pl+pr >= full {
				pl, pr = 0, 0
			}
			l = convT(in, ch, k, s, pl, pr)
		default:
			l = dense(in, arch.Shape{Len: 2 + rng.IntN(7), Ch: 1 + rng.IntN(3)})
		}
		layers = append(layers, l)
		in = l.Out
	}
	layers = append(layers, dense(in, arch.Shape{Len: 2 + rng.IntN(4), Ch: 1}))
	return mustNet(t, layers...)
}

// TestNetworkGradients checks 25 random whole networks, every third with
// fixed dropout masks.
func TestNetworkGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(2024, 6))
	for i := range 25 {
		net := randomNetwork(t, rng)
		dropout := i%3 == 2
		t.Run(fmt.Sprintf("%d:%s", i, net.String()), func(t *testing.T) {
			p, err := newPlan(net)
			if err != nil {
				t.Fatal(err)
			}
			ws := newWorkspace[float64](p, dropout, true)
			if dropout {
				fill(newDropper(0.25, uint64(i)), ws)
			}
			checkNetworkGradient(t, p, ws, dropout, uint64(i))
		})
	}
}

// TestFloat32MatchesFloat64 runs the same network and weights in both
// precisions: the engine's float32 logits and gradients must agree with the
// float64 ones that the gradient checks verify.
func TestFloat32MatchesFloat64(t *testing.T) {
	net := typicalNet(t)
	p, _ := newPlan(net)
	rng := rand.New(rand.NewPCG(8, 8))
	p64 := make([]float64, p.nParams)
	initParams(p, p64, rng)
	x64 := randomSlice(rng, p.inSize())
	p32, x32 := make([]float32, len(p64)), make([]float32, len(x64))
	for i, v := range p64 {
		p32[i] = float32(v)
	}
	for i, v := range x64 {
		x32[i] = float32(v)
	}
	// Round the float64 copies to the same values.
	for i := range p64 {
		p64[i] = float64(p32[i])
	}
	for i := range x64 {
		x64[i] = float64(x32[i])
	}
	ws64, ws32 := newWorkspace[float64](p, false, false), newWorkspace[float32](p, false, false)
	z64, z32 := ws64.forward(p, p64, x64, false), ws32.forward(p, p32, x32, false)
	for i := range z64 {
		if d := math.Abs(float64(z32[i]) - z64[i]); d > 1e-5*max(1, math.Abs(z64[i])) {
			t.Errorf("logit %d: float32 %.8g, float64 %.8g", i, z32[i], z64[i])
		}
	}
	last := len(p.layers)
	softmaxCE(z64, 2, 1, ws64.grad[last])
	softmaxCE(z32, 2, 1, ws32.grad[last])
	g64, g32 := make([]float64, p.nParams), make([]float32, p.nParams)
	ws64.backward(p, p64, g64, false)
	ws32.backward(p, p32, g32, false)
	var worst float64
	for i := range g64 {
		d := math.Abs(float64(g32[i])-g64[i]) / max(math.Abs(g64[i]), 1e-3)
		worst = max(worst, d)
	}
	if worst > 1e-4 {
		t.Errorf("float32 gradient differs from float64 by up to %.2g (relative), want ≤ 1e-4", worst)
	}
}
