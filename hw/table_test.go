package hw

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
)

const tableCSV = `kind,l_in,c_in,l_out,c_out,kernel,stride,cycles
conv1d,2048,1,128,2,16,16,11356
dense,64,2,5,1,0,0,1500
`

func TestLayerTablePredictsItsLayers(t *testing.T) {
	p, err := Load(DefaultProfile)
	if err != nil {
		t.Fatal(err)
	}
	d := p.Edge
	if d.Table, err = ReadLayerTable(strings.NewReader(tableCSV), "t.csv", d.ClockHz); err != nil {
		t.Fatal(err)
	}
	conv := arch.Layer{Kind: arch.Conv, In: arch.Shape{Len: 2048, Ch: 1}, Out: arch.Shape{Len: 128, Ch: 2}, Kernel: 16, Stride: 16, ReLU: true}
	dense := arch.Layer{Kind: arch.Dense, In: arch.Shape{Len: 64, Ch: 2}, Out: arch.Shape{Len: 5, Ch: 1}}
	other := arch.Layer{Kind: arch.Dense, In: arch.Shape{Len: 64, Ch: 3}, Out: arch.Shape{Len: 5, Ch: 1}}
	for _, c := range []struct {
		name string
		l    arch.Layer
		want float64
	}{
		{"table conv", conv, 11356},
		{"table dense", dense, 1500},
		{"model", other, p.Edge.Latency["dense"].Cycles(other)},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := d.LayerSeconds(c.l)
			if err != nil {
				t.Fatal(err)
			}
			if got := s * d.ClockHz; abs(got-c.want) > 1e-6*c.want {
				t.Errorf("%v: %v cycles, want %v", c.l, got, c.want)
			}
		})
	}
	// An overlap-2 layer between the same shapes is another kernel: the
	// table must not take it for the measured one.
	padded := conv
	padded.Kernel, padded.PadLeft, padded.PadRight = 32, 8, 8
	if _, ok := d.Table.Cycles(padded); ok {
		t.Errorf("table holds %v, measured only with kernel 16", padded)
	}
}

func TestLayerTableErrors(t *testing.T) {
	dup := tableCSV + "conv1d,2048,1,128,2,16,16,12000\n"
	if _, err := ReadLayerTable(strings.NewReader(dup), "dup.csv", 80e6); err == nil || !strings.Contains(err.Error(), "dup.csv: data row 3") || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate layer: got %v", err)
	}
	if _, err := ReadLayerTable(strings.NewReader("kind,l_in\n"), "bad.csv", 80e6); err == nil || !strings.Contains(err.Error(), "bad.csv") {
		t.Errorf("bad header: got %v", err)
	}
}

// A profile file names its table by a path relative to itself; a missing
// table fails Load naming the field; Parse alone does not read it, and the
// device then refuses to predict rather than silently use its model.
func TestProfileLayerTableFile(t *testing.T) {
	base, ok := BuiltinTOML(DefaultProfile)
	if !ok {
		t.Fatal("no default profile")
	}
	text := strings.Replace(string(base), `layer_table = "stm32l476-layers.csv"`, `layer_table = "t.csv"`, 1)
	text = strings.Replace(text, `sparse_table = "stm32l476-sparse.csv"`, `sparse_table = "s.csv"`, 1)
	if !strings.Contains(text, `layer_table = "t.csv"`) || !strings.Contains(text, `sparse_table = "s.csv"`) {
		t.Fatal("could not replace layer_table and sparse_table")
	}
	dir := t.TempDir()
	prof := filepath.Join(dir, "p.toml")
	if err := os.WriteFile(prof, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(prof); err == nil || !strings.Contains(err.Error(), "edge.layer_table") {
		t.Errorf("missing table: got %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "t.csv"), []byte(tableCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(prof); err == nil || !strings.Contains(err.Error(), "edge.sparse_table") {
		t.Errorf("missing sparse table: got %v", err)
	}
	sparse := strings.Join(SparseTableColumns(), ",") + "\ndense,64,2,5,1,0,0,100,10,2,8,6\n"
	if err := os.WriteFile(filepath.Join(dir, "s.csv"), []byte(sparse), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(prof)
	if err != nil {
		t.Fatal(err)
	}
	if p.Edge.Table.Len() != 2 || p.Edge.SparseTable.Len() != 1 {
		t.Errorf("table has %d layers, want 2; sparse table %d, want 1", p.Edge.Table.Len(), p.Edge.SparseTable.Len())
	}
	q, err := Parse(bytes.NewReader([]byte(text)), "p.toml")
	if err != nil {
		t.Fatal(err)
	}
	l := arch.Layer{Kind: arch.Dense, In: arch.Shape{Len: 64, Ch: 2}, Out: arch.Shape{Len: 5, Ch: 1}}
	if _, err := q.Edge.LayerSeconds(l); err == nil || !strings.Contains(err.Error(), "not loaded") {
		t.Errorf("unloaded table: got %v", err)
	}
	if _, _, err := q.Edge.SparseSeconds(l, []int{1, 1, 1, 1, 1}); err == nil || !strings.Contains(err.Error(), "not loaded") {
		t.Errorf("unloaded sparse table: got %v", err)
	}
}

// defaultSpaceLayers returns the layers of the default search space with
// kernel overlaps 1 and 2, for 2 to 5 classes (repeats included).
func defaultSpaceLayers(t *testing.T) []arch.Layer {
	t.Helper()
	var all []arch.Layer
	for _, classes := range []int{2, 3, 4, 5} {
		s := arch.DefaultSpace(classes)
		s.Overlaps = []int{1, 2}
		ls, err := s.Layers()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ls...)
	}
	return all
}

// The built-in STM32 profiles' sparse tables hold every Conv1D and Dense
// layer of the default search space with both kernel overlaps.
func TestSparseTablesCoverTheSpace(t *testing.T) {
	for _, name := range []string{"stm32l476", "stm32l476-int8", "stm32l476-int4"} {
		p, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range defaultSpaceLayers(t) {
			if _, ok := p.Edge.SparseTable.Costs(l); l.Sparsable() && !ok {
				t.Errorf("%s: sparse table lacks %s %v→%v (kernel %d, stride %d)", name, l.Kind, l.In, l.Out, l.Kernel, l.Stride)
			}
		}
	}
}

// The built-in integer profiles' tables hold every layer of the default
// search space with both kernel overlaps, as their regeneration commands
// measure them.
func TestIntProfileTablesCoverTheSpace(t *testing.T) {
	for _, name := range []string{"stm32l476-int8", "stm32l476-int4"} {
		p, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range defaultSpaceLayers(t) {
			if _, ok := p.Edge.Table.Cycles(l); !ok {
				t.Errorf("%s: table lacks %s %v→%v kernel %d", name, l.Kind, l.In, l.Out, l.Kernel)
			}
		}
		if n := p.Edge.Table.Len(); n != 2668 {
			t.Errorf("%s: table has %d layers, want 2668", name, n)
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestSparseTablesAgainstDense compares, on every Conv1D and Dense layer of
// the default space, each built-in STM32 profile's sparse table with its
// dense layer table, and logs (go test -run SparseTablesAgainstDense -v
// ./hw) what the README quotes: cycles per MAC dense and sparse with every
// weight stored, and the largest share of each row's weights at which the
// sparse kernel is still faster. It checks that the sparse table's cycles
// never fall as a row stores more weights.
func TestSparseTablesAgainstDense(t *testing.T) {
	for _, name := range []string{"stm32l476", "stm32l476-int8", "stm32l476-int4"} {
		p, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[arch.Layer]bool{}
		var densePerMAC, sparsePerMAC, breakEven []float64
		for _, l := range defaultSpaceLayers(t) {
			k := tableKey(l)
			if !l.Sparsable() || seen[k] {
				continue
			}
			seen[k] = true
			c, ok := p.Edge.SparseTable.Costs(l)
			dense, ok2 := p.Edge.Table.Cycles(l)
			if !ok || !ok2 {
				t.Fatalf("%s: %s %v→%v missing from a table", name, l.Kind, l.In, l.Out)
			}
			per := l.Weights() / l.Rows()
			rows := make([]int, l.Rows())
			prev, even := c.Cycles(rows), 0.0
			for n := 1; n <= per; n++ {
				for r := range rows {
					rows[r] = n
				}
				cy := c.Cycles(rows)
				if cy < prev-1e-6*prev {
					t.Errorf("%s: %s %v→%v: %.0f cycles with %d weights a row, %.0f with %d", name, l.Kind, l.In, l.Out, cy, n, prev, n-1)
				}
				if cy < dense {
					even = float64(n) / float64(per)
				}
				prev = cy
			}
			macs := float64(l.MACs())
			densePerMAC, sparsePerMAC, breakEven = append(densePerMAC, dense/macs), append(sparsePerMAC, prev/macs), append(breakEven, even)
		}
		q := func(v []float64) string {
			slices.Sort(v)
			return fmt.Sprintf("median %.2f, 5–95 %% %.2f–%.2f", v[len(v)/2], v[len(v)*5/100], v[len(v)*95/100])
		}
		t.Logf("%s, %d layers: cycles/MAC dense %s; sparse, every weight stored, %s; sparse faster up to a share of each row of %s",
			name, len(seen), q(densePerMAC), q(sparsePerMAC), q(breakEven))
	}
}
