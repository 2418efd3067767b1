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

// TestSparseSeconds: a device runs sparse only the kinds it models, only
// layers whose offsets fit, and from its table where the table holds the
// layer.
func TestSparseSeconds(t *testing.T) {
	d := Device{ClockHz: 80e6, Sparse: map[string]SparseModel{"conv1d": {PerNonZero: 8, Fixed: 800}}}
	conv := arch.Layer{Kind: arch.Conv, In: arch.Shape{Len: 2048, Ch: 1}, Out: arch.Shape{Len: 128, Ch: 2}, Kernel: 16, Stride: 16, ReLU: true}
	// 10 non-zero weights in 2 rows of 128 positions: 10·128 = 1280 MACs.
	if s, ok, err := d.SparseSeconds(conv, []int{4, 6}); err != nil || !ok || math.Abs(s*80e6-(8*1280+800)) > 1e-6 {
		t.Errorf("SparseSeconds = %v, %v, %v; want %v cycles", s*80e6, ok, err, 8*1280+800)
	}
	if _, ok, _ := d.SparseSeconds(arch.Layer{Kind: arch.Dense, In: arch.Shape{Len: 4, Ch: 1}, Out: arch.Shape{Len: 2, Ch: 1}}, []int{1, 1}); ok {
		t.Error("a device without a dense sparse model runs Dense sparse")
	}
	tr := conv
	tr.Kind = arch.ConvTranspose
	d.Sparse["conv1d_transpose"] = SparseModel{}
	if _, ok, _ := d.SparseSeconds(tr, []int{1, 1}); ok {
		t.Error("a transposed convolution runs sparse")
	}

	// The table: 100 cycles empty, 30 per non-empty row, 5 more for a row
	// of two or more, 14 per pair of weights, 9 for an odd last one.
	text := "# a comment\n" + strings.Join(SparseTableColumns(), ",") + "\nconv1d,2048,1,128,2,16,16,100,30,5,14,9\n"
	tab, err := ReadSparseTable(strings.NewReader(text), "s.csv")
	if err != nil {
		t.Fatal(err)
	}
	d.SparseTable, d.SparseTableFile = tab, "s.csv"
	if s, ok, err := d.SparseSeconds(conv, []int{1, 7}); err != nil || !ok || math.Abs(s*80e6-(100+(30+9)+(30+5+14*3+9))) > 1e-9 {
		t.Errorf("from the table: %v cycles, %v, %v; want %v", s*80e6, ok, err, 100+(30+9)+(30+5+14*3+9))
	}
	other := conv
	other.Out.Ch = 3
	if s, ok, _ := d.SparseSeconds(other, []int{1, 1, 1}); !ok || math.Abs(s*80e6-(8*3*128+800)) > 1e-6 {
		t.Errorf("a layer the table lacks: %v cycles, want the model's %v", s*80e6, 8*3*128+800)
	}
	d.SparseTable = nil
	if _, _, err := d.SparseSeconds(conv, []int{1, 1}); err == nil || !strings.Contains(err.Error(), "sparse_table s.csv is not loaded") {
		t.Errorf("unloaded table: %v", err)
	}
	var b strings.Builder
	if err := WriteSparseTable(&b, "written", []SparseEntry{{Layer: conv, SparseCosts: SparseCosts{100, 30, 5, 14, 9}}}); err != nil {
		t.Fatal(err)
	}
	if again, err := ReadSparseTable(strings.NewReader(b.String()), "w.csv"); err != nil || again.Len() != 1 {
		t.Errorf("round trip: %v, %v", again, err)
	} else if c, _ := again.Costs(conv); c != (SparseCosts{100, 30, 5, 14, 9}) {
		t.Errorf("round trip: %+v", c)
	}
}

func TestReadSparseTableErrors(t *testing.T) {
	head := strings.Join(SparseTableColumns(), ",") + "\n"
	for _, c := range []struct{ name, text, want string }{
		{"empty", "", "s.csv: empty file"},
		{"header", "kind,l_in\n", "s.csv line 1: header"},
		{"kind", head + "conv1d_transpose,8,4,64,2,8,8,1,2,3,4,5\n", `s.csv line 2, column kind: "conv1d_transpose" is not a kind with a sparse kernel`},
		{"number", head + "conv1d,8,four,4,2,2,2,1,2,3,4,5\n", `s.csv line 2, column c_in: "four" is not a whole number`},
		{"finite", head + "dense,8,4,2,1,0,0,1,NaN,3,4,5\n", `column cycles_per_row: "NaN" is not a finite number`},
		{"twice", head + "dense,8,4,2,1,0,0,1,2,3,4,5\ndense,8,4,2,1,0,0,1,2,3,4,5\n", "s.csv line 3: layer dense"},
		{"fields", head + "dense,8,4\n", "s.csv"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadSparseTable(strings.NewReader(c.text), "s.csv")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}
