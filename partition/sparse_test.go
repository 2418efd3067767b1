package partition

import (
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/hw"
)

// TestEvaluateSparse: a layer runs sparse exactly where the profile's
// sparse model predicts it faster, and its Flash and latency follow.
func TestEvaluateSparse(t *testing.T) {
	prof := mustLoad(t, "stm32l476-int8")
	// A sparse model of 10 cycles per stored MAC and nothing else (no
	// table: the model predicts every layer).
	prof.Edge.Sparse = map[string]hw.SparseModel{"conv1d": {PerNonZero: 10}, "dense": {PerNonZero: 10}}
	prof.Edge.SparseTable, prof.Edge.SparseTableFile = nil, ""
	net, err := arch.Parse("2048x1-128x2-8x4-64x2-5", arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	dense, err := Evaluate(net, prof, Edge, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// Layer 1 (2 rows of 16 weights, 128 positions): 1 non-zero weight a
	// row costs 10·2·128 = 2,560 cycles, less than dense; layer 2 (4 rows
	// of 32) all weights: 10·128·8 = 10,240, more than dense (layer 2's
	// 1,024 MACs are far cheaper dense). Layer 3 is transposed: never
	// sparse. Layer 4 (Dense 128→5) with 3 a row: 150 cycles.
	rows := [][]int{{1, 1}, {32, 32, 32, 32}, {32, 32}, {3, 3, 3, 3, 3}}
	tab, err := EvaluateSparse(net, prof, Edge, Limits{}, rows)
	if err != nil {
		t.Fatal(err)
	}
	p := prof.Edge.Precision()
	wantSparse := []bool{true, false, false, true}
	wantCycles := []float64{2560, dense.Layers[1].EdgeSeconds * 80e6, dense.Layers[2].EdgeSeconds * 80e6, 150}
	for i, l := range tab.Layers {
		if l.Sparse != wantSparse[i] {
			t.Errorf("layer %d: sparse %v, want %v", i+1, l.Sparse, wantSparse[i])
		}
		if !close(l.EdgeSeconds*80e6, wantCycles[i], 1e-9) {
			t.Errorf("layer %d: %.1f cycles, want %.1f", i+1, l.EdgeSeconds*80e6, wantCycles[i])
		}
		want := dense.Layers[i].FlashBytes
		if wantSparse[i] {
			want += p.SparseFlashDelta(net.Layers[i], rows[i])
		}
		if l.FlashBytes != want {
			t.Errorf("layer %d: Flash %d B, want %d", i+1, l.FlashBytes, want)
		}
		if l.FogMJ != dense.Layers[i].FogMJ {
			t.Errorf("layer %d: fog energy %v changed (%v dense): the fog runs dense", i+1, l.FogMJ, dense.Layers[i].FogMJ)
		}
	}
	// Layer 1 int8: 32 weights dense = 32 B; sparse 2·(1 + 2 + 2) = 10 B.
	if d := tab.Points[1].FlashBytes - dense.Points[1].FlashBytes; d != -22 {
		t.Errorf("Flash(1) changed by %d B, want −22", d)
	}
	for P, pt := range tab.Points {
		flash := net.Flash(P, p)
		for i := range P {
			flash += tab.Layers[i].FlashBytes - dense.Layers[i].FlashBytes
		}
		if pt.FlashBytes != flash {
			t.Errorf("P = %d: Flash %d, want %d", P, pt.FlashBytes, flash)
		}
	}
	if tab.Points[4].EEdge >= dense.Points[4].EEdge {
		t.Errorf("E_edge(4) %v not below the dense %v", tab.Points[4].EEdge, dense.Points[4].EEdge)
	}
	// A layer without a zero stays dense, however cheap the sparse kernel.
	cheap := prof
	cheap.Edge.Sparse = map[string]hw.SparseModel{"conv1d": {}, "dense": {}}
	full := [][]int{{16, 16}, {32, 32, 32, 32}, nil, {128, 128, 128, 128, 128}}
	if tab, err := EvaluateSparse(net, cheap, Edge, Limits{}, full); err != nil {
		t.Fatal(err)
	} else {
		for i, l := range tab.Layers {
			if l.Sparse {
				t.Errorf("layer %d holds no zero and is stored sparse", i+1)
			}
		}
	}

	t.Run("no sparse model", func(t *testing.T) {
		plain := mustLoad(t, "stm32l476-int8")
		plain.Edge.Sparse, plain.Edge.SparseTable, plain.Edge.SparseTableFile = nil, nil, ""
		tab, err := EvaluateSparse(net, plain, Edge, Limits{}, rows)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := Evaluate(net, plain, Edge, Limits{})
		for i := range tab.Points {
			if tab.Points[i] != want.Points[i] {
				t.Errorf("P = %d: %+v, want the dense %+v", i, tab.Points[i], want.Points[i])
			}
		}
	})
	for _, c := range []struct {
		name string
		rows [][]int
		want string
	}{
		{"row count", [][]int{{1}}, "layer 1: 1 row counts for a conv1d layer of 2 rows"},
		{"too many", [][]int{{1, 17}}, "layer 1: row 2: 17 non-zero weights of 16"},
		{"negative", [][]int{nil, {1, 1, -1, 1}}, "layer 2: row 3: -1 non-zero weights of 32"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := EvaluateSparse(net, prof, Edge, Limits{}, c.rows)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}
