package prune

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/internal/testenv"
	"github.com/splitnas/splitnas/nn"
)

// A Conv, a Conv, a ConvTranspose and a Dense: every kind Channels meets.
const testArch = "256x1-64x8-16x8-64x6-3/o2"

func model(t *testing.T, seed uint64) *nn.Model {
	t.Helper()
	net, err := arch.Parse(testArch, arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.NewModel(net, seed)
	if err != nil {
		t.Fatal(err)
	}
	// Non-zero biases, so that a channel removed with its bias would show.
	rng := rand.New(rand.NewPCG(seed, 9))
	for i := range net.Layers {
		_, b := m.Weights(i)
		for j := range b {
			b[j] = float32(rng.NormFloat64() * 0.1)
		}
	}
	return m
}

// TestChannelsEqualsZeroed: the channel-pruned network computes what the
// original computes with the removed channels' weights and biases zeroed,
// and has the channel counts the sparsity asks for.
func TestChannelsEqualsZeroed(t *testing.T) {
	for _, tt := range []struct {
		sparsity float64
		want     string // the pruned architecture
	}{
		{0, "256x1-64x8-16x8-64x6-3/o2"},
		{0.25, "256x1-64x6-16x6-64x5-3/o2"}, // ⌊0.25·6⌋ = 1 of 6
		{0.5, "256x1-64x4-16x4-64x3-3/o2"},
		{0.75, "256x1-64x2-16x2-64x2-3/o2"}, // ⌊4.5⌋ = 4 of 6
		{0.99, "256x1-64x1-16x1-64x1-3/o2"}, // one channel always stays
	} {
		t.Run(tt.want, func(t *testing.T) {
			m := model(t, 3)
			pm, kept, err := Channels(m, tt.sparsity)
			if err != nil {
				t.Fatal(err)
			}
			if got := pm.Network().String(); got != tt.want {
				t.Fatalf("pruned to %s, want %s", got, tt.want)
			}
			// The original with the removed channels zeroed.
			z, _ := Apply(m, allTrue(len(m.Params())))
			for i, l := range m.Network().Layers {
				w, b := z.Weights(i)
				per := len(w) / l.Out.Ch
				for c := range l.Out.Ch {
					if !contains(kept[i], c) {
						clear(w[c*per : (c+1)*per])
						b[c] = 0
					}
				}
			}
			rng := rand.New(rand.NewPCG(5, 6))
			x := make([]float32, 256)
			want, got := make([]float32, 3), make([]float32, 3)
			for range 20 {
				for j := range x {
					x[j] = float32(rng.NormFloat64())
				}
				z.Logits(x, want)
				pm.Logits(x, got)
				for k := range want {
					if d := math.Abs(float64(got[k] - want[k])); d > 1e-5*(1+math.Abs(float64(want[k]))) {
						t.Fatalf("logit %d: pruned %g, zeroed original %g", k, got[k], want[k])
					}
				}
			}
		})
	}
	if _, _, err := Channels(model(t, 1), 1); !errors.As(err, new(*SparsityError)) {
		t.Errorf("sparsity 1: %v, want a SparsityError", err)
	}
}

func allTrue(n int) []bool {
	m := make([]bool, n)
	for i := range m {
		m[i] = true
	}
	return m
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestMagnitude: round(s·N) of the network's N weights go, the smallest
// in the whole network (Global), or ⌊s·n⌋ of each layer's n, the layer's
// smallest (PerLayer); no bias; a weight a previous mask dropped stays
// dropped.
func TestMagnitude(t *testing.T) {
	for _, scope := range []Scope{Global, PerLayer} {
		t.Run(string(scope), func(t *testing.T) {
			m := model(t, 4)
			half, err := Magnitude(m, 0.5, scope, nil)
			if err != nil {
				t.Fatal(err)
			}
			off, dropped, all := 0, 0, 0
			maxDropped, minKept := 0.0, math.Inf(1)
			for i, l := range m.Network().Layers {
				w, _ := m.Weights(i)
				layerDropped := 0
				if scope == PerLayer {
					maxDropped, minKept = 0, math.Inf(1)
				}
				for j, v := range w {
					a := math.Abs(float64(v))
					if half[off+j] {
						minKept = min(minKept, a)
					} else {
						layerDropped++
						maxDropped = max(maxDropped, a)
					}
				}
				if scope == PerLayer && (layerDropped != len(w)/2 || maxDropped > minKept) {
					t.Errorf("layer %d: %d of %d dropped (want %d), largest dropped %g, smallest kept %g", i+1, layerDropped, len(w), len(w)/2, maxDropped, minKept)
				}
				for j := len(w); j < l.Params(); j++ {
					if !half[off+j] {
						t.Errorf("layer %d: bias %d dropped", i+1, j-len(w))
					}
				}
				dropped += layerDropped
				all += len(w)
				off += l.Params()
			}
			if want := int(math.Round(0.5 * float64(all))); scope == Global && (dropped != want || maxDropped > minKept) {
				t.Errorf("%d of %d weights dropped (want %d), largest dropped %g, smallest kept %g", dropped, all, want, maxDropped, minKept)
			}
			// Raise a dropped weight above everything: at 0.75 it stays dropped.
			p := m.Params()
			var j int
			for j = range half {
				if !half[j] {
					break
				}
			}
			p[j] = 100
			more, err := Magnitude(m, 0.75, scope, half)
			if err != nil {
				t.Fatal(err)
			}
			for i := range half {
				if !half[i] && more[i] {
					t.Fatalf("parameter %d was dropped at 0.5 and is back at 0.75", i)
				}
			}
		})
	}
	if _, err := Magnitude(model(t, 1), 0.5, "everywhere", nil); err == nil || !strings.Contains(err.Error(), `unknown pruning scope "everywhere"`) {
		t.Errorf("bad scope: %v", err)
	}
}

// TestPerLayerSparesTinyLayers: at 25 % a layer of 2 weights keeps both
// (⌊0.5⌋ = 0): rounding must not empty the bottlenecks of small networks.
func TestPerLayerSparesTinyLayers(t *testing.T) {
	net, err := arch.Parse("256x1-8x1-4x1-3", arch.DefaultKernelRule()) // layer 2: kernel 2, 1 in, 1 out: 2 weights
	if err != nil {
		t.Fatal(err)
	}
	m, _ := nn.NewModel(net, 1)
	mask, err := Magnitude(m, 0.25, PerLayer, nil)
	if err != nil {
		t.Fatal(err)
	}
	pm, _ := Apply(m, mask)
	if nz := pm.RowNonZero()[1]; len(nz) != 1 || nz[0] != 2 {
		t.Errorf("layer 2 keeps %v of its 2 weights at 25 %%, want 2", nz)
	}
}

// TestCubicSparsity against hand values: 0.8·(1 − (1 − k/4)³).
func TestCubicSparsity(t *testing.T) {
	for k, want := range []float64{0, 0.8 * (1 - 27.0/64), 0.8 * (1 - 8.0/64), 0.8 * (1 - 1.0/64), 0.8} {
		if got := CubicSparsity(0.8, k, 4); math.Abs(got-want) > 1e-12 {
			t.Errorf("stage %d: %g, want %g", k, got, want)
		}
	}
}

// TestGradualKeepsMasks: after gradual pruning with fine-tuning every
// dropped weight is exactly 0, each layer is at the asked sparsity, the
// stages follow the schedule, and the network still learns the task.
func TestGradualKeepsMasks(t *testing.T) {
	d := testenv.Waves(t, 120)
	train, val := d.Part(dataset.Train), d.Part(dataset.Val)
	cfg := nn.DefaultConfig()
	cfg.Epochs, cfg.LR = 6, 0.01
	res, err := nn.Native().Train(context.Background(), model(t, 2).Network(), train, val, cfg)
	if err != nil {
		t.Fatal(err)
	}
	pm, mask, stages, err := Gradual(context.Background(), nn.Native(), res.Model, train, val, cfg, 0.75, Global, 6, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 3 || stages[2].Sparsity != 0.75 || stages[0].Epochs != 2 {
		t.Errorf("stages %+v, want 3 of 2 epochs rising to 0.75", stages)
	}
	for i, v := range pm.Params() {
		if !mask[i] && v != 0 {
			t.Fatalf("parameter %d is dropped but %g", i, v)
		}
	}
	nz, all := 0, 0
	for i, rows := range pm.RowNonZero() {
		for _, n := range rows {
			nz += n
		}
		w, _ := pm.Weights(i)
		all += len(w)
	}
	if frac := float64(nz) / float64(all); math.Abs(frac-0.25) > 0.01 {
		t.Errorf("%d of %d weights non-zero (%.3f), want 0.25", nz, all, frac)
	}
	met, err := nn.Evaluate(pm, val)
	if err != nil {
		t.Fatal(err)
	}
	if met.Accuracy < 0.6 {
		t.Errorf("validation accuracy %.3f after pruning 75 %% and fine-tuning (3 classes)", met.Accuracy)
	}
}
