package nn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/splitnas/splitnas/arch"
)

// views splits flat into n consecutive slices of size values.
func views[T float](flat []T, n, size int) [][]T {
	v := make([][]T, n)
	for s := range v {
		v[s] = flat[s*size : (s+1)*size]
	}
	return v
}

// TestBatchNormPyTorch pins the conventions on numbers from PyTorch 1.13's
// BatchNorm1d (float64, default momentum and ε) on a batch of 2 samples of
// 2 channels of 3 values, under L = Σ r·y + ½ Σ y²: the output, the
// gradients of the input, γ and β, the running estimates after one and
// two batches (biased variance to normalise, unbiased in the running
// estimate), and the inference output by those estimates, through fold.
func TestBatchNormPyTorch(t *testing.T) {
	// A 1×1 convolution with identity weights feeds the normalisation the
	// values z as they are.
	l := conv(arch.Shape{Len: 3, Ch: 2}, 2, 1, 1, 0, 0)
	net := mustNet(t, l, dense(l.Out, arch.Shape{Len: 2, Ch: 1}))
	p, _ := newPlan(net)
	g := &p.layers[0]
	params := make([]float64, p.nParams)
	params[g.wOff], params[g.wOff+3] = 1, 1 // w[0][0] = w[1][1] = 1
	bn := newBatchNorm[float64](p)
	if len(bn.layers) != 1 || bn.nParams != 4 {
		t.Fatalf("normalised layers %+v, %d parameters; want the convolution, 4", bn.layers, bn.nParams)
	}
	bp := []float64{2, 0.5, 0.5, -1} // γ, then β
	b := newBNBatch(p, bn, 2, false, false)
	z := [][]float64{{1, 2, 4, 0, -1, 3}, {3, 6, -2, 2, 2, 5}}
	r := [][]float64{{1, -1, 2, 0.5, 0, 1}, {-2, 1, 0, 1, 3, -1}}
	for s := range z {
		b.ws[s].act[0] = z[s]
	}
	b.forward(params, bp, 2, false)

	wantY := []float64{-0.5690441085967415, 0.23273897285081446, 1.8363051357459264, -1.4698960943628943, -1.726203054924473, -0.7009752126781581,
		1.0345220542983704, 3.4398712986410382, -2.9743933529394093, -0.9572821732397369, -0.9572821732397369, -0.18836129155500075}
	// The convolution's ReLU has cut the negative outputs: compare ŷ·γ + β.
	var y []float64
	for s := range z {
		for j, h := range b.xhat[s][1] {
			y = append(y, bp[j/3]*h+bp[2+j/3])
		}
	}
	close := func(what string, got, want []float64) {
		t.Helper()
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-12*max(1, math.Abs(want[i])) {
				t.Errorf("%s[%d] = %.15g, PyTorch %.15g", what, i, got[i], want[i])
			}
		}
	}
	close("y", y, wantY)
	close("running mean", bn.runMean[0], []float64{0.23333333333333336, 0.18333333333333335})
	close("running variance", bn.runVar[0], []float64{1.6466666666666667, 1.356666666666667})

	// The gradient, straight through bnBackward (no ReLU in PyTorch's).
	d := make([][]float64, 2)
	for s := range d {
		d[s] = make([]float64, 6)
		for j := range d[s] {
			d[s][j] = r[s][j] + y[6*s+j]
		}
	}
	dbp := make([]float64, 4)
	bnBackward(d, [][]float64{b.xhat[0][1], b.xhat[1][1]}, 2, 3, bp[:2], bn.invStd[0], dbp[:2], dbp[2:])
	close("dz", slices.Concat(d...), []float64{0.8017814891379836, -0.9020063647058935, 1.302899497739244, -0.11038056468107017, -0.26379067652950067, 0.09354281030264273,
		-1.8040111371022145, 0.30067303439415777, 0.3006634805367234, 0.06828617873500153, 0.5809000998581589, -0.36855784768523236})
	close("dγ, dβ", dbp, []float64{13.87080790436101, 1.8466107942819314, 3.9999999999999982, -1.4999999999999998})

	b.forward(params, bp, 2, false)
	close("running mean after 2", bn.runMean[0], []float64{0.44333333333333336, 0.3483333333333334})
	close("running variance after 2", bn.runVar[0], []float64{2.228666666666667, 1.677666666666667})
	folded := make([]float64, p.nParams)
	bn.fold(p, params, bp, folded)
	var eval []float64
	for s := range z {
		out := make([]float64, 6)
		forward(g, folded, z[s], out)
		eval = append(eval, out...)
	}
	close("inference", eval, []float64{1.245764453337387, 2.5854610760991603, 5.264854321622707, -1.1344655113925033, -1.520490902949929, 0.023610663279773514,
		3.9251576988609336, 7.944247567146253, -2.7733254149479327, -0.3624147282776521, -0.3624147282776521, 0.7956614463946248})
}

// TestBatchNormGradient checks the normalisation alone, over a batch, under
// L = Σ r·y + ½ Σ y² with respect to every input value of every sample
// and to γ and β, by finite differences — including one value per channel,
// whose variance is 0 (the output is β, the gradients of z and γ zero).
func TestBatchNormGradient(t *testing.T) {
	for i, tt := range []struct {
		name         string
		batch, ch, n int
	}{
		{"batch 4, 3 channels of 7", 4, 3, 7},
		{"batch 2, length 1", 2, 2, 1},
		{"one sample of 6", 1, 2, 6},
		{"one value per channel", 1, 2, 1},
		{"batch 8, 1 channel of 16", 8, 1, 16},
		{"batch 3, 4 channels of 5", 3, 4, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 21))
			size := tt.ch * tt.n
			zFlat := randomSlice(rng, tt.batch*size)
			for j := range zFlat {
				zFlat[j] = 2*zFlat[j] + 1
			}
			r := randomSlice(rng, len(zFlat))
			gamma, beta := randomSlice(rng, tt.ch), randomSlice(rng, tt.ch)
			yFlat, xhFlat := make([]float64, len(zFlat)), make([]float64, len(zFlat))
			y, xh := views(yFlat, tt.batch, size), views(xhFlat, tt.batch, size)
			mean, variance, invStd := make([]float64, tt.ch), make([]float64, tt.ch), make([]float64, tt.ch)
			loss := func() float64 {
				copy(yFlat, zFlat)
				bnStats(y, tt.ch, tt.n, mean, variance, invStd)
				bnNormalize(y, xh, tt.ch, tt.n, mean, invStd, gamma, beta)
				var l float64
				for j, v := range yFlat {
					l += r[j]*v + v*v/2
				}
				return l
			}
			loss()
			dFlat := make([]float64, len(yFlat))
			for j := range dFlat {
				dFlat[j] = r[j] + yFlat[j]
			}
			dgamma, dbeta := make([]float64, tt.ch), make([]float64, tt.ch)
			bnBackward(views(dFlat, tt.batch, size), xh, tt.ch, tt.n, gamma, invStd, dgamma, dbeta)
			wz, _ := gradCheck(t, "z", zFlat, dFlat, loss, nil)
			wg, _ := gradCheck(t, "γ", gamma, dgamma, loss, nil)
			wb, _ := gradCheck(t, "β", beta, dbeta, loss, nil)
			t.Logf("worst relative error: z %.2g, γ %.2g, β %.2g", wz, wg, wb)
			if tt.batch*tt.n == 1 && slices.ContainsFunc(dFlat, func(v float64) bool { return v != 0 }) {
				t.Errorf("one value per channel: gradient %v, want 0", dFlat)
			}
		})
	}
}

// checkBNNetworkGradient checks the gradient of the mean softmax
// cross-entropy of a batch of random samples through network p with
// batch normalisation (random weights, biases, γ and β) with respect to
// every parameter, γ, β and input value of every sample — the samples
// are coupled by the batch statistics — with the dropout masks held fixed.
// Coordinates whose perturbation flips a ReLU in any sample are skipped;
// at most 2% may be. It also checks that the biases of normalised layers
// get a zero gradient.
func checkBNNetworkGradient(t *testing.T, p *plan, batch int, dropout bool, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 22))
	bn := newBatchNorm[float64](p)
	b := newBNBatch(p, bn, batch, dropout, true)
	if dropout {
		d := newDropper(0.25, seed)
		for _, ws := range b.ws {
			fill(d, ws)
		}
	}
	last := len(p.layers)
	nP := p.nParams
	all := make([]float64, nP+bn.nParams)
	params, bp := all[:nP], all[nP:]
	xFlat := make([]float64, batch*p.inSize())
	xs := views(xFlat, batch, p.inSize())
	labels := make([]int, batch)
	scale := 1 / float64(batch)
	var grads, dx []float64
	for try := 0; ; try++ {
		if try == 20 {
			t.Fatal("every draw of weights gives a zero input gradient")
		}
		initParams(p, params, rng)
		for _, g := range p.layers {
			for j := range g.nb {
				params[g.bOff+j] = 0.1 * rng.NormFloat64()
			}
		}
		for _, l := range bn.layers {
			for c := range l.ch {
				bp[l.off+c], bp[l.off+l.ch+c] = 0.5+rng.Float64(), 0.3*rng.NormFloat64()
			}
		}
		copy(xFlat, randomSlice(rng, len(xFlat)))
		for s := range labels {
			labels[s] = rng.IntN(p.classes())
			b.ws[s].act[0] = xs[s]
		}
		b.forward(params, bp, batch, dropout)
		for s, ws := range b.ws {
			softmaxCE(ws.act[last], labels[s], scale, ws.grad[last])
		}
		grads = make([]float64, len(all))
		b.backward(params, bp, grads[:nP], grads[nP:], batch, dropout)
		dx = dx[:0]
		for _, ws := range b.ws {
			dx = append(dx, ws.grad[0]...)
		}
		if slices.ContainsFunc(dx, func(v float64) bool { return v != 0 }) {
			break
		}
	}
	for _, l := range bn.layers {
		g := &p.layers[l.layer]
		if db := grads[g.bOff : g.bOff+g.nb]; slices.ContainsFunc(db, func(v float64) bool { return v != 0 }) {
			t.Errorf("layer %d: bias gradient %v, want 0 before batch normalisation", l.layer+1, db)
		}
	}
	var signs [][]bool
	for _, ws := range b.ws {
		for i := 1; i < last; i++ {
			s := make([]bool, len(ws.act[i]))
			for j, v := range ws.act[i] {
				s[j] = v > 0
			}
			signs = append(signs, s)
		}
	}
	scratch := make([]float64, p.classes())
	f := func() float64 {
		b.forward(params, bp, batch, dropout)
		var l float64
		for s, ws := range b.ws {
			l += scale * softmaxCE(ws.act[last], labels[s], 1, scratch)
		}
		return l
	}
	kinked := func() bool {
		k := 0
		for _, ws := range b.ws {
			for i := 1; i < last; i++ {
				for j, v := range ws.act[i] {
					if (v > 0) != signs[k][j] {
						return true
					}
				}
				k++
			}
		}
		return false
	}
	wp, sp := gradCheck(t, "params, γ, β", all, grads, f, kinked)
	wx, sx := gradCheck(t, "inputs", xFlat, dx, f, kinked)
	if n := len(all) + len(xFlat); 50*(sp+sx) > n {
		t.Errorf("skipped %d of %d coordinates at ReLU kinks, want ≤ 2%%", sp+sx, n)
	}
	t.Logf("%d normalised layers, %d params + %d γ/β, %d×%d inputs: worst relative error %.2g (params), %.2g (input); %d skipped at kinks",
		len(bn.layers), nP, bn.nParams, batch, p.inSize(), wp, wx, sp+sx)
}

// TestBatchNormNetworkGradients checks batch losses through 25 random
// whole networks with batch normalisation (batches of 2 to 4 samples,
// every third with fixed dropout masks) and through a network of Conv,
// Conv and ConvTranspose layers with batches of 5 and of 1 (an epoch's
// last batch may hold one sample).
func TestBatchNormNetworkGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(2025, 23))
	for i := range 25 {
		net := randomNetwork(t, rng)
		batch := 2 + i%3
		dropout := i%3 == 2
		t.Run(fmt.Sprintf("%d:%s/batch%d", i, net.String(), batch), func(t *testing.T) {
			p, err := newPlan(net)
			if err != nil {
				t.Fatal(err)
			}
			checkBNNetworkGradient(t, p, batch, dropout, uint64(i))
		})
	}
	l1 := conv(arch.Shape{Len: 64, Ch: 1}, 2, 8, 4, 2, 2)
	l2 := conv(l1.Out, 3, 4, 4, 0, 0)
	l3 := convT(l2.Out, 2, 4, 2, 1, 1)
	p, err := newPlan(mustNet(t, l1, l2, l3, dense(l3.Out, arch.Shape{Len: 4, Ch: 1})))
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{5, 1} {
		t.Run(fmt.Sprintf("conv-conv-convT-dense/batch%d", batch), func(t *testing.T) {
			checkBNNetworkGradient(t, p, batch, batch == 5, 99)
		})
	}
}

// bnReference computes the logits of x through p at inference with batch
// normalisation by the running estimates, unfolded: each normalised
// layer's output z becomes γ·(z − μ)/√(σ² + ε) + β, then the ReLU.
func bnReference(p *plan, bn *batchNorm[float32], params, bp, x []float32) []float32 {
	for i := range p.layers {
		g := &p.layers[i]
		y := make([]float32, g.outSize())
		forward(g, params, x, y)
		if k := bn.at[i]; k >= 0 {
			l := bn.layers[k]
			for c := range l.ch {
				s := bp[l.off+c] / float32(math.Sqrt(float64(bn.runVar[k][c])+bnEpsilon))
				for t := range l.n {
					y[c*l.n+t] = (y[c*l.n+t]-bn.runMean[k][c])*s + bp[l.off+l.ch+c]
				}
			}
		}
		if g.relu {
			relu(y)
		}
		x = y
	}
	return x
}

// TestBatchNormFold checks that the folded network gives the outputs of
// the unfolded one at inference, within 1e-5 (relative to max(1, |z|)),
// in float32, on 60 random networks (random weights, biases, γ, β and
// running estimates) and 5 random inputs each, and on the typical and the
// README's best MIT-BIH network; and that fold changes only the weights
// and biases of the normalised layers.
func TestBatchNormFold(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 24))
	var nets []arch.Network
	for range 60 {
		nets = append(nets, randomNetwork(t, rng))
	}
	best, err := arch.Parse("2048x1-256x4-32x4-5/o2", arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	nets = append(nets, typicalNet(t), best)
	var worst float64
	for i, net := range nets {
		t.Run(fmt.Sprintf("%d:%s", i, net.String()), func(t *testing.T) {
			p, err := newPlan(net)
			if err != nil {
				t.Fatal(err)
			}
			bn := newBatchNorm[float32](p)
			params := make([]float32, p.nParams)
			initParams(p, params, rng)
			for _, g := range p.layers {
				for j := range g.nb {
					params[g.bOff+j] = float32(0.3 * rng.NormFloat64())
				}
			}
			bp := make([]float32, bn.nParams)
			for k, l := range bn.layers {
				for c := range l.ch {
					bp[l.off+c], bp[l.off+l.ch+c] = float32(0.5+rng.Float64()), float32(0.5*rng.NormFloat64())
					bn.runMean[k][c] = float32(0.5 * rng.NormFloat64())
					bn.runVar[k][c] = float32(0.2 + 2*rng.Float64())
				}
			}
			folded := make([]float32, p.nParams)
			bn.fold(p, params, bp, folded)
			for j := range p.layers {
				g := &p.layers[j]
				if bn.at[j] >= 0 {
					continue
				}
				if !equalBits(folded[g.wOff:g.bOff+g.nb], params[g.wOff:g.bOff+g.nb]) {
					t.Errorf("layer %d is not normalised, but fold changed its parameters", j+1)
				}
			}
			m := &Model{net: net, plan: p, params: folded}
			out := make([]float32, p.classes())
			for range 5 {
				x := make([]float32, p.inSize())
				for j := range x {
					x[j] = float32(rng.NormFloat64())
				}
				want := bnReference(p, bn, params, bp, x)
				m.Logits(x, out)
				for j := range want {
					d := math.Abs(float64(out[j]-want[j])) / max(1, math.Abs(float64(want[j])))
					worst = max(worst, d)
					if d > 1e-5 {
						t.Errorf("logit %d: folded %.8g, unfolded %.8g", j, out[j], want[j])
					}
				}
			}
		})
	}
	t.Logf("worst difference %.2g", worst)
}

// TestBatchNormTrainedModel trains with batch normalisation and checks
// what Train returns: a plain network of the architecture's parameter
// count; without validation data the folded last epoch, equal (≤ 1e-5)
// to the unfolded network at inference; with validation data the best
// epoch's scores are those of the returned (folded) model; saved and
// loaded, the model gives bit-identical logits.
func TestBatchNormTrainedModel(t *testing.T) {
	net := toyNet(t)
	train, val := sinusoids(300, 256, 1), sinusoids(90, 256, 2)
	cfg := DefaultConfig()
	cfg.Epochs, cfg.BatchNorm, cfg.Batch = 3, true, 16

	t.Run("no validation: folded last epoch", func(t *testing.T) {
		m, _ := NewModel(net, cfg.Seed)
		m.Classes = slices.Clone(train.Classes)
		tr := newTrainer(m, train, cfg)
		if _, err := tr.run(context.Background(), train, nil); err != nil {
			t.Fatal(err)
		}
		if len(m.Params()) != net.Params() {
			t.Errorf("model has %d parameters, the network %d", len(m.Params()), net.Params())
		}
		out := make([]float32, 3)
		var worst float64
		for i := range val.Len() {
			want := bnReference(m.plan, tr.bn, tr.params, tr.bnp, val.Sample(i))
			m.Logits(val.Sample(i), out)
			for j := range want {
				d := math.Abs(float64(out[j]-want[j])) / max(1, math.Abs(float64(want[j])))
				worst = max(worst, d)
				if d > 1e-5 {
					t.Fatalf("sample %d logit %d: model %.8g, unfolded %.8g", i, j, out[j], want[j])
				}
			}
		}
		t.Logf("worst difference from the unfolded network: %.2g", worst)
		for _, l := range tr.bn.layers {
			g := &m.plan.layers[l.layer]
			if slices.ContainsFunc(tr.params[g.bOff:g.bOff+g.nb], func(v float32) bool { return v != 0 }) {
				t.Errorf("layer %d: trained bias %v before folding, want 0", l.layer+1, tr.params[g.bOff:g.bOff+g.nb])
			}
		}
	})

	t.Run("validation and save/load", func(t *testing.T) {
		res, err := Native().Train(context.Background(), net, train, val, cfg)
		if err != nil {
			t.Fatal(err)
		}
		m := res.Model
		if got := m.Network(); got.String() != net.String() || len(m.Params()) != net.Params() {
			t.Errorf("model %s with %d parameters, want %s with %d", got, len(m.Params()), net, net.Params())
		}
		met, err := Evaluate(m, val)
		if err != nil {
			t.Fatal(err)
		}
		best := res.History[res.Best]
		if met.Accuracy != best.ValAcc || met.Loss != best.ValLoss || met.BalancedAccuracy != best.ValBalancedAccuracy {
			t.Errorf("returned model on val: acc %g loss %g balanced %g; best epoch recorded %g %g %g",
				met.Accuracy, met.Loss, met.BalancedAccuracy, best.ValAcc, best.ValLoss, best.ValBalancedAccuracy)
		}
		var buf bytes.Buffer
		if err := Save(&buf, m); err != nil {
			t.Fatal(err)
		}
		loaded, err := Load(&buf, "bn.snnm")
		if err != nil {
			t.Fatal(err)
		}
		a, b := make([]float32, 3), make([]float32, 3)
		for i := range val.Len() {
			m.Logits(val.Sample(i), a)
			loaded.Logits(val.Sample(i), b)
			if !equalBits(a, b) {
				t.Fatalf("sample %d: logits %v, after save and load %v", i, a, b)
			}
		}
	})
}

// TestBatchNormDeterministic trains twice with batch normalisation,
// dropout, augmentation and the sampler: bit-identical runs; another seed
// differs; batch normalisation changes the training.
func TestBatchNormDeterministic(t *testing.T) {
	net := toyNet(t)
	train, val := sinusoids(120, 256, 1), sinusoids(60, 256, 2)
	runs := make([]*Result, 4)
	for i, seed := range []uint64{3, 3, 4, 3} {
		cfg := fullRecipe(DefaultConfig())
		cfg.Epochs, cfg.Seed, cfg.Dropout, cfg.ClassBalance, cfg.BatchNorm = 3, seed, 0.2, BalanceSampler, i < 3
		res, err := Native().Train(context.Background(), net, train, val, cfg)
		if err != nil {
			t.Fatal(err)
		}
		runs[i] = res
	}
	if !sameRun(runs[0], runs[1]) {
		t.Error("two runs with the same seed differ")
	}
	if equalBits(runs[0].Model.Params(), runs[2].Model.Params()) {
		t.Error("another seed gives the same weights")
	}
	if runs[0].History[0].TrainLoss == runs[3].History[0].TrainLoss {
		t.Error("batch normalisation does not change the training")
	}
}

// TestBatchNormTrains learns the sinusoid task of TestToyTask with batch
// normalisation: at least 0.95 test accuracy, as without it, and within
// 0.03 of the run without it.
func TestBatchNormTrains(t *testing.T) {
	train, val, test := sinusoids(3000, 256, 1), sinusoids(300, 256, 2), sinusoids(600, 256, 3)
	acc := map[bool]float64{}
	for _, bn := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.Epochs, cfg.BatchNorm = 5, bn
		res, err := Native().Train(context.Background(), toyNet(t), train, val, cfg)
		if err != nil {
			t.Fatal(err)
		}
		met, err := Evaluate(res.Model, test)
		if err != nil {
			t.Fatal(err)
		}
		acc[bn] = met.Accuracy
		t.Logf("batch norm %v: test accuracy %.3f, best epoch %d, last train loss %.3f", bn, met.Accuracy, res.Best+1, res.History[len(res.History)-1].TrainLoss)
	}
	if acc[true] < 0.95 || acc[true] < acc[false]-0.03 {
		t.Errorf("test accuracy %.3f with batch normalisation, %.3f without: want ≥ 0.95 and within 0.03", acc[true], acc[false])
	}
}

// TestBatchNormConfig checks that batch normalisation with batches of one
// sample is refused (the statistics would be one sample's own), while a
// last batch of one sample in an epoch trains.
func TestBatchNormConfig(t *testing.T) {
	net := toyNet(t)
	for _, tt := range []struct {
		name    string
		batch   int
		samples int
		wantErr bool
	}{
		{"batch 1 refused", 1, 10, true},
		{"batch 2", 2, 10, false},
		{"last batch of one sample", 4, 9, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Epochs, cfg.Batch, cfg.BatchNorm = 2, tt.batch, true
			res, err := Native().Train(context.Background(), net, randomData(tt.samples, net.Input(), 3, 1), nil, cfg)
			var ce *ConfigError
			if tt.wantErr {
				if !errors.As(err, &ce) || ce.Field != "Batch" || cfg.Validate() == nil {
					t.Errorf("error %v, want a ConfigError for Batch from Validate too", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range res.Model.Params() {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("parameter %g after training", v)
				}
			}
		})
	}
}

// TestSamplesPerEpoch checks the epoch's draws: their number and the steps
// they make, distinct samples drawn uniformly without the sampler (each
// sample about equally often over many epochs), class-balanced draws with
// it, the whole split when SamplesPerEpoch is 0 or at least its size
// (then exactly as without it), and the same draws for the same seed.
func TestSamplesPerEpoch(t *testing.T) {
	net := toyNet(t)
	small := mustNet(t, conv(net.Input(), 1, 256, 256, 0, 0), dense(arch.Shape{Len: 1, Ch: 1}, arch.Shape{Len: 4, Ch: 1}))
	d := labelled(t, net.Input(), []int{800, 150, 50, 0}, 1)
	newT := func(cfg Config) *trainer {
		m, _ := NewModel(small, 1)
		return newTrainer(m, d, cfg)
	}
	const epochs = 200
	for _, tt := range []struct {
		name     string
		balance  ClassBalance
		samples  int
		want     int       // draws per epoch
		distinct bool      // no sample twice in an epoch
		classes  []float64 // expected fraction of each class over the epochs
	}{
		{"uniform 100", BalanceNone, 100, 100, true, []float64{0.8, 0.15, 0.05, 0}},
		{"uniform 999", BalanceWeights, 999, 999, true, []float64{0.8, 0.15, 0.05, 0}},
		{"uniform all", BalanceNone, 1000, 1000, true, []float64{0.8, 0.15, 0.05, 0}},
		{"uniform more than all", BalanceNone, 5000, 1000, true, []float64{0.8, 0.15, 0.05, 0}},
		{"sampler 300", BalanceSampler, 300, 300, false, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3, 0}},
		{"sampler 2500", BalanceSampler, 2500, 2500, false, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3, 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ClassBalance, cfg.SamplesPerEpoch = tt.balance, tt.samples
			a, b := newT(cfg), newT(cfg)
			if want := (tt.want + cfg.Batch - 1) / cfg.Batch; a.perStep != want {
				t.Errorf("%d steps per epoch, want %d", a.perStep, want)
			}
			counts := make([]int, d.Len())
			classes := make([]int, 4)
			for range epochs {
				o, ob := a.order(), b.order()
				if len(o) != tt.want {
					t.Fatalf("%d draws, want %d", len(o), tt.want)
				}
				if !slices.Equal(o, ob) {
					t.Fatal("two trainers with the same seed draw differently")
				}
				seen := map[int]bool{}
				for _, i := range o {
					if tt.distinct && seen[i] {
						t.Fatalf("sample %d drawn twice in an epoch", i)
					}
					seen[i] = true
					counts[i]++
					classes[d.Labels[i]]++
				}
			}
			total := float64(epochs * tt.want)
			for c, n := range classes {
				// Binomial standard deviations are at most 0.0034 here.
				if f := float64(n) / total; math.Abs(f-tt.classes[c]) > 0.015 {
					t.Errorf("class %d: %.4f of the draws, want %.3f ± 0.015", c, f, tt.classes[c])
				}
			}
			if tt.distinct {
				// Each sample is drawn Binomial(200, k/n) times: mean 20 for
				// k = 100 (standard deviation 4.2), and every epoch for k = n.
				mean := float64(epochs*tt.want) / float64(d.Len())
				for i, n := range counts {
					if math.Abs(float64(n)-mean) > 6*math.Sqrt(mean*(1-float64(tt.want)/float64(d.Len())))+1e-9 {
						t.Fatalf("sample %d drawn %d times in %d epochs, want about %.0f", i, n, epochs, mean)
					}
				}
			}
			other := cfg
			other.Seed = 2
			if slices.Equal(newT(other).order(), newT(cfg).order()) {
				t.Error("another seed draws the same samples")
			}
		})
	}
	// SamplesPerEpoch as large as the split or larger shuffles exactly as
	// the whole split does.
	for _, k := range []int{1000, 5000} {
		cfg := DefaultConfig()
		cfg.SamplesPerEpoch = k
		a, plain := newT(cfg), newT(DefaultConfig())
		for e := range 3 {
			if !slices.Equal(a.order(), plain.order()) {
				t.Errorf("SamplesPerEpoch %d: epoch %d differs from the whole split's", k, e+1)
			}
		}
	}
}

// TestSamplesPerEpochTrains trains with 64 samples per epoch in batches
// of 16: 4 Adam steps an epoch, the training figures over those 64, and
// the learning-rate schedule laid out over those steps.
func TestSamplesPerEpochTrains(t *testing.T) {
	net := toyNet(t)
	train := sinusoids(600, 256, 1)
	for _, bn := range []bool{false, true} {
		t.Run(fmt.Sprintf("batch norm %v", bn), func(t *testing.T) {
			m, _ := NewModel(net, 1)
			cfg := DefaultConfig()
			cfg.Epochs, cfg.Batch, cfg.SamplesPerEpoch, cfg.BatchNorm = 3, 16, 64, bn
			cfg.Schedule, cfg.WarmupEpochs = ScheduleCosine, 1
			tr := newTrainer(m, train, cfg)
			res, err := tr.run(context.Background(), train, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tr.opt.t != 12 {
				t.Errorf("%d Adam steps in 3 epochs of 64 samples in batches of 16, want 12", tr.opt.t)
			}
			if want := cfg.LearningRate(11, 4); res.History[2].LR != want {
				t.Errorf("last learning rate %g, want %g (step 12 of 12)", res.History[2].LR, want)
			}
			for i, e := range res.History {
				if k := e.TrainAcc * 64; math.Abs(k-math.Round(k)) > 1e-9 {
					t.Errorf("epoch %d: training accuracy %g is not a count out of 64", i+1, e.TrainAcc)
				}
			}
		})
	}
}
