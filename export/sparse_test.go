package export

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/splitnas/splitnas/arch"
)

// prunedExports returns randomExports' networks with most of the weights
// of their Conv1D and Dense layers zeroed, layer by layer at densities that
// cycle through 0 (a layer without a single stored weight), 5 %, 15 %, 50 %
// and 100 %, plus one row of each layer emptied — so that some layers are
// stored sparse and others not, in every precision — each exported whole
// (P = L).
func prunedExports(t *testing.T, count int) []exported {
	t.Helper()
	densities := []float64{0, 0.05, 0.15, 0.5, 1}
	es := randomExports(t, count)
	rng := rand.New(rand.NewPCG(21, 22))
	for i := range es {
		e := &es[i]
		e.P = len(e.net.Layers)
		for li, l := range e.net.Layers {
			if !l.Sparsable() {
				// Transposed layers run dense; zeroing them would only
				// test the dense kernels on degenerate data (every output
				// its bias, a branch pattern their tables never saw).
				continue
			}
			d := densities[(i+li)%len(densities)]
			empty := rng.IntN(l.Rows()) // a row with no weight at all
			per := l.Weights() / l.Rows()
			keep := func(j int) bool { return j/per != empty && rng.Float64() < d }
			if e.n.Int != nil {
				for j := range e.n.Int.Layers[li].W {
					if !keep(j) {
						e.n.Int.Layers[li].W[j] = 0
					}
				}
				continue
			}
			w, _ := e.n.Float.Weights(li)
			for j := range w {
				if !keep(j) {
					w[j] = 0
				}
			}
		}
	}
	return es
}

// TestExportSparse exports pruned networks, whose layers WriteC stores
// sparse where the profile predicts that faster, and checks them as
// TestExportVerified and TestExportMemoryAsPromised check dense ones: the
// host build bit-exact with the Go reference (integer) or within 1e-5
// (float32), the emulated Cortex-M4 equal to the host, the cycles the
// sparse layers save against the dense export as the profile predicts them
// (within 5 % of the whole), and the weight symbols of the cross-compiled
// object exactly the Flash partition.EvaluateSparse computes — the dense
// Flash of arch plus each sparse layer's arch.SparseFlashDelta.
func TestExportSparse(t *testing.T) {
	hostCC(t)
	cc, nm := armTools(t)
	if _, err := exec.LookPath("qemu-system-arm"); err != nil {
		t.Skip("qemu-system-arm not on PATH; install Debian's qemu-system-arm")
	}
	es := prunedExports(t, 6)
	sparsePrec := map[string]int{}
	t.Run("networks", func(t *testing.T) {
		for i, e := range es {
			_, p, err := e.n.net()
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			s, err := WriteC(dir, e.n, e.P, e.prof)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.SparseLayers) > 0 {
				sparsePrec[p.Name]++
			}
			t.Run(fmt.Sprintf("%d_%s_sparse%v_%s", i, p.Name, s.SparseLayers, e.net), func(t *testing.T) {
				t.Parallel()
				// Flash: the dense layers' as arch counts them, the sparse
				// ones' as arch.SparseWeightBytes does.
				want := e.net.Flash(e.P, p)
				rows := e.n.Rows()
				for _, k := range s.SparseLayers {
					want += p.SparseFlashDelta(e.net.Layers[k-1], rows[k-1])
				}
				flash, _, _ := compiledFlash(t, cc, nm, dir)
				if flash != want || s.FlashBytes != want {
					t.Errorf("weight symbols hold %d B, want %d (summary %d)", flash, want, s.FlashBytes)
				}
				inputs := noiseWindows(3, e.net.Input(), uint64(i))
				v := verified(t, dir, e.n, s, inputs)
				// The same network stored dense: what storing layers
				// sparse saved, emulated and predicted, must agree within
				// 5 % of the whole. (The dense layers' own predictions are
				// TestExportVerified's to check; the float32 layer table
				// misses a few of them by up to 6.6 %, sparse or not:
				// logged here.)
				dn := e.n
				dn.Dense = true
				ddir := t.TempDir()
				ds, err := WriteC(ddir, dn, e.P, e.prof)
				if err != nil {
					t.Fatal(err)
				}
				dv, err := Verify(context.Background(), ddir, dn, ds, inputs[:1])
				if err != nil {
					t.Fatal(err)
				}
				saved, predSaved := dv.EmulatedCycles-v.EmulatedCycles, dv.PredictedCycles-v.PredictedCycles
				if d := (predSaved - saved) / v.EmulatedCycles; math.Abs(d) > 0.05 {
					t.Errorf("storing layers %v sparse saved %.0f cycles emulated, %.0f predicted: %+.1f %% of the %.0f cycles, want within 5 %%", s.SparseLayers, saved, predSaved, 100*d, v.EmulatedCycles)
				}
				t.Logf("sparse layers %v of %d: emulated %.0f cycles (dense %.0f), predicted %+.2f %% (dense %+.2f %%), saving predicted %+.2f %% of the whole; Flash %d B (dense %d)",
					s.SparseLayers, len(e.net.Layers), v.EmulatedCycles, dv.EmulatedCycles, 100*v.CycleError, 100*dv.CycleError,
					100*(predSaved-saved)/v.EmulatedCycles, s.FlashBytes, ds.FlashBytes)
			})
		}
	})
	for _, p := range []string{"float32", "int8", "int4"} {
		if sparsePrec[p] == 0 {
			t.Errorf("no %s network had a layer stored sparse: the test checks nothing sparse there", p)
		}
	}
}

// TestExportDenseOption: Network.Dense stores every layer dense, as
// before sparse kernels existed: no sparse file, arch's Flash.
func TestExportDenseOption(t *testing.T) {
	for i, e := range prunedExports(t, 3) {
		e.n.Dense = true
		s, err := WriteC(t.TempDir(), e.n, e.P, e.prof)
		if err != nil {
			t.Fatal(err)
		}
		_, p, _ := e.n.net()
		if len(s.SparseLayers) != 0 || s.FlashBytes != e.net.Flash(e.P, p) || len(s.Files) != 6 {
			t.Errorf("%d: Dense export stores layers %v sparse, Flash %d (arch %d), files %v", i, s.SparseLayers, s.FlashBytes, e.net.Flash(e.P, p), s.Files)
		}
	}
}

// TestPackRows: int4 rows stored sparse are packed each from a byte
// boundary. Row 0 stores 1, 2, 3, row 1 stores −1.
func TestPackRows(t *testing.T) {
	conv := arch.Layer{Kind: arch.Conv, In: arch.Shape{Len: 5, Ch: 2}, Out: arch.Shape{Len: 3, Ch: 2}, Kernel: 3, Stride: 1}
	// row 0: 1, 2 → 0x21 = 33; 3 → 0x03; row 1: −1 → 0x0f.
	if b := packRows(arch.EncodeSparse(conv, []int8{0, 1, 0, 2, 0, 3, 0, -1, 0, 0, 0, 0})); fmt.Sprint(b) != "[33 3 15]" {
		t.Errorf("int4 rows packed %v, want [33 3 15]", b)
	}
}
