package nn

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/splitnas/splitnas/arch"
)

// TestQATGradients checks the straight-through backward pass of
// quantization-aware training against float64 central differences. The
// estimator is the exact gradient of a surrogate: the network whose
// quantization errors are frozen at the point of the check — each weight
// w is w + (Q(w₀) − w₀), each tensor value inside its range is y + (Q(y₀) −
// y₀), one clipped (or, after a ReLU, not positive) is the constant Q(y₀) —
// so differences of that surrogate must match the analytic gradient,
// coordinate by coordinate, as the float gradient checks do.
func TestQATGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 13))
	for i := range 12 {
		net := randomNetwork(t, rng)
		bits := []int{8, 4}[i%2]
		t.Run(fmt.Sprintf("%d:int%d:%s", i, bits, net.String()), func(t *testing.T) {
			p, err := newPlan(net)
			if err != nil {
				t.Fatal(err)
			}
			params := randomSlice(rng, p.nParams)
			for j := range params {
				params[j] *= 0.5
			}
			x := randomSlice(rng, p.inSize())
			label := rng.IntN(p.classes())
			q := newFakeQuant[float64](p, bits)
			ws := newWorkspace[float64](p, false, false)
			// Ranges from one observing pass, narrowed by 10 % so that some
			// values are clipped and their gradient must be zero.
			q.beginBatch(p, params)
			q.forward(ws, p, x, false, true)
			q.endBatch()
			for j := range q.ranges {
				q.ranges[j].Min *= 0.9
				q.ranges[j].Max *= 0.9
			}
			q.refresh()

			// The analytic gradient.
			q.beginBatch(p, params)
			z := q.forward(ws, p, x, false, false)
			L := len(p.layers)
			softmaxCE(z, label, 1, ws.grad[L])
			dp := make([]float64, p.nParams)
			q.backward(ws, p, dp, false)

			// The surrogate, frozen at params.
			dw := make([]float64, p.nParams)
			for j := range dw {
				dw[j] = q.pw[j] - params[j]
			}
			type frozen struct{ off, quant, pass []float64 }
			fr := make([]frozen, L+1)
			pre := make([][]float64, L+1)
			ref := newWorkspace[float64](p, false, false)
			in := append([]float64(nil), q.in...)
			ref.act[0] = in
			w := make([]float64, p.nParams)
			for j := range w {
				w[j] = params[j] + dw[j]
			}
			for li := 1; li <= L; li++ {
				g := &p.layers[li-1]
				y := ref.act[li]
				forward(g, w, ref.act[li-1], y)
				if g.relu {
					relu(y)
				}
				pre[li] = append([]float64(nil), y...)
				qy := append([]float64(nil), y...)
				mask := make([]float64, len(y))
				q.fake(li, qy, mask, g.relu, false)
				fr[li] = frozen{off: make([]float64, len(y)), quant: qy, pass: mask}
				for j := range y {
					fr[li].off[j] = qy[j] - y[j]
				}
				copy(y, qy)
			}
			kink := false
			f := func() float64 {
				for j := range w {
					w[j] = params[j] + dw[j]
				}
				ref.act[0] = in
				for li := 1; li <= L; li++ {
					g := &p.layers[li-1]
					y := ref.act[li]
					forward(g, w, ref.act[li-1], y)
					if g.relu {
						relu(y)
					}
					for j := range y {
						if fr[li].pass[j] == 1 {
							if (y[j] > 0) != (pre[li][j] > 0) && g.relu {
								kink = true
							}
							y[j] += fr[li].off[j]
						} else {
							if g.relu && pre[li][j] == 0 && y[j] > 0 {
								kink = true
							}
							y[j] = fr[li].quant[j]
						}
					}
				}
				return crossEntropy(ref.act[L], label)
			}
			if got, want := f(), crossEntropy(z, label); math.Abs(got-want) > 1e-9 {
				t.Fatalf("surrogate loss %g, fake-quantized forward %g", got, want)
			}
			worst, skipped := gradCheck(t, "params", params, dp, f, func() bool { k := kink; kink = false; return k })
			t.Logf("worst relative error %.2g, %d of %d coordinates skipped at kinks", worst, skipped, len(params))
		})
	}
}

// TestQATTrains checks quantization-aware training end to end on a
// learnable task: it trains, returns one range per tensor that holds the
// values seen, and refuses what it cannot do.
func TestQATTrains(t *testing.T) {
	d := sinusoids(300, 256, 1)
	net := mustNet(t, conv(arch.Shape{Len: 256, Ch: 1}, 4, 16, 16, 0, 0), dense(arch.Shape{Len: 16, Ch: 4}, arch.Shape{Len: 3, Ch: 1}))
	cfg := DefaultConfig()
	cfg.Epochs, cfg.LR, cfg.QATBits = 8, 0.01, 4
	res, err := Native().Train(context.Background(), net, d, d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Ranges) != 3 {
		t.Fatalf("%d ranges, want 3 (input, hidden, logits)", len(res.Ranges))
	}
	for i, r := range res.Ranges {
		if !(r.Min < r.Max) || math.IsNaN(float64(r.Min)) {
			t.Errorf("range %d = %+v", i, r)
		}
	}
	if r := res.Ranges[1]; r.Min < 0 {
		t.Errorf("the ReLU output's range %+v goes below 0", r)
	}
	if acc := res.History[res.Best].ValAcc; acc < 0.8 {
		t.Errorf("fake-quantized accuracy %.3f after 8 epochs, want ≥ 0.8", acc)
	}
	// Fine-tuning from the trained weights keeps (about) their accuracy
	// from the first epoch on.
	cfg.Epochs, cfg.Init = 1, res.Model
	tuned, err := Native().Train(context.Background(), net, d, d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if acc := tuned.History[0].ValAcc; acc < 0.8 {
		t.Errorf("one epoch of fine-tuning from the trained model: accuracy %.3f, want ≥ 0.8", acc)
	}
	other := mustNet(t, conv(arch.Shape{Len: 256, Ch: 1}, 2, 16, 16, 0, 0), dense(arch.Shape{Len: 16, Ch: 2}, arch.Shape{Len: 3, Ch: 1}))
	if _, err := Native().Train(context.Background(), other, d, d, cfg); err == nil {
		t.Error("Init of another network: no error")
	}
	cfg.Init, cfg.BatchNorm = nil, true
	if err := cfg.Validate(); err == nil {
		t.Error("QAT with batch norm: no error")
	}
	cfg.BatchNorm, cfg.QATBits = false, 6
	if err := cfg.Validate(); err == nil {
		t.Error("QATBits 6: no error")
	}
}
