package hw

import (
	"math"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
)

// TestFitSparseRecoversModel fits samples made by a known model (with a
// little deterministic noise) and gets its coefficients back.
func TestFitSparseRecoversModel(t *testing.T) {
	want := map[string]SparseModel{
		"conv1d": {PerNonZero: 6.5, PerEdge: 9, PerOutput: 14, PerRow: 30, Fixed: 120},
		"dense":  {PerNonZero: 5.5, PerOutput: 40, PerRow: 0, Fixed: 90},
	}
	var ss []SparseSample
	i := 0
	for _, l := range []arch.Layer{
		{Kind: arch.Conv, In: arch.Shape{Len: 256, Ch: 4}, Out: arch.Shape{Len: 256, Ch: 4}, Kernel: 3, Stride: 1, PadLeft: 1, PadRight: 1, ReLU: true},
		{Kind: arch.Conv, In: arch.Shape{Len: 2048, Ch: 1}, Out: arch.Shape{Len: 1024, Ch: 2}, Kernel: 4, Stride: 2, PadLeft: 1, PadRight: 1, ReLU: true},
		{Kind: arch.Conv, In: arch.Shape{Len: 2048, Ch: 1}, Out: arch.Shape{Len: 128, Ch: 3}, Kernel: 16, Stride: 16, ReLU: true},
		{Kind: arch.Conv, In: arch.Shape{Len: 512, Ch: 2}, Out: arch.Shape{Len: 64, Ch: 4}, Kernel: 16, Stride: 8, PadLeft: 4, PadRight: 4, ReLU: true},
		{Kind: arch.Dense, In: arch.Shape{Len: 16, Ch: 3}, Out: arch.Shape{Len: 5, Ch: 1}},
		{Kind: arch.Dense, In: arch.Shape{Len: 64, Ch: 4}, Out: arch.Shape{Len: 2, Ch: 1}},
		{Kind: arch.Dense, In: arch.Shape{Len: 8, Ch: 2}, Out: arch.Shape{Len: 4, Ch: 1}},
	} {
		for _, density := range []float64{0.1, 0.3, 0.6, 1} {
			nz := int(density * float64(l.Weights()))
			i++
			noise := 1 + 1e-4*float64(i%3-1)
			ss = append(ss, SparseSample{Layer: l, NonZero: nz, Cycles: want[l.Kind.String()].Cycles(l, nz) * noise})
		}
	}
	fits, err := FitSparse(ss)
	if err != nil {
		t.Fatal(err)
	}
	if len(fits) != 2 {
		t.Fatalf("%d fits, want conv1d and dense", len(fits))
	}
	for _, f := range fits {
		w := want[f.Kind]
		got, exp := f.Model.coefficients(), w.coefficients()
		for j := range got {
			if math.Abs(got[j]-exp[j]) > 0.02*math.Abs(exp[j])+0.5 {
				t.Errorf("%s %s = %.3f, want %.3f", f.Kind, SparseFeatureNames()[j], got[j], exp[j])
			}
		}
		if f.MaxRelErr > 1e-3 {
			t.Errorf("%s: largest relative error %.2g", f.Kind, f.MaxRelErr)
		}
	}
	t.Run("too few", func(t *testing.T) {
		_, err := FitSparse(ss[:3])
		if err == nil || !strings.Contains(err.Error(), "sparse fit conv1d") {
			t.Errorf("error %v, want one naming the conv1d fit", err)
		}
	})
}

// TestSparseSeconds: a device runs sparse only the kinds it models, and
// only layers whose offsets fit.
func TestSparseSeconds(t *testing.T) {
	d := Device{ClockHz: 80e6, Sparse: map[string]SparseModel{"conv1d": {PerNonZero: 8, Fixed: 800}}}
	conv := arch.Layer{Kind: arch.Conv, In: arch.Shape{Len: 2048, Ch: 1}, Out: arch.Shape{Len: 128, Ch: 2}, Kernel: 16, Stride: 16}
	// 10 non-zero weights in 2 rows of 128 positions: 10·128 = 1280 MACs.
	if s, ok := d.SparseSeconds(conv, 10); !ok || math.Abs(s*80e6-(8*1280+800)) > 1e-6 {
		t.Errorf("SparseSeconds = %v, %v; want %v cycles", s*80e6, ok, 8*1280+800)
	}
	if _, ok := d.SparseSeconds(arch.Layer{Kind: arch.Dense, In: arch.Shape{Len: 4, Ch: 1}, Out: arch.Shape{Len: 2, Ch: 1}}, 3); ok {
		t.Error("a device without a dense sparse model runs Dense sparse")
	}
	tr := conv
	tr.Kind = arch.ConvTranspose
	d.Sparse["conv1d_transpose"] = SparseModel{}
	if _, ok := d.SparseSeconds(tr, 3); ok {
		t.Error("a transposed convolution runs sparse")
	}
}
