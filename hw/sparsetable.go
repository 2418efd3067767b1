package hw

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/splitnas/splitnas/arch"
)

// SparseTable is the measured cost of the sparse kernel (a layer stored
// sparse, arch.SparseWeightBytes) of each Conv and Dense layer of a search
// space on one device, as LayerTable is for the dense kernels. The kernels
// take a row's stored weights two at a time in a loop (entered when there
// are two or more), the last alone when their count is odd, so for each
// layer
//
//	cycles = Empty + Σ over rows holding n > 0 weights of
//	         (PerRow + PerPairRow·[n ≥ 2] + PerPair·⌊n/2⌋ + PerOdd·(n mod 2)),
//
// Empty being the layer with every row empty (each output its bias,
// requantized); the five numbers come from measurements of the layer with
// 0, 1, 2, 3 and the largest even count up to all of each row's weights
// stored (package calib's MeasureSparse, `splitnas calibrate sparse
// --all-layers`). A Device with a table predicts the layers it holds from
// it, and the others from its SparseModel.
type SparseTable struct {
	// File is where the table was read from, as the profile names it.
	File  string
	costs map[arch.Layer]SparseCosts
}

// SparseCosts are one layer's entries of a SparseTable, in cycles.
type SparseCosts struct {
	Empty, PerRow, PerPairRow, PerPair, PerOdd float64
}

// Cycles predicts the cycles of the layer with rows[r] weights stored in
// row r.
func (c SparseCosts) Cycles(rows []int) float64 {
	s := c.Empty
	for _, n := range rows {
		if n > 0 {
			s += c.PerRow + c.PerPair*float64(n/2) + c.PerOdd*float64(n%2)
		}
		if n >= 2 {
			s += c.PerPairRow
		}
	}
	return max(s, 0)
}

// SparseEntry is one row of a sparse table file.
type SparseEntry struct {
	Layer arch.Layer
	SparseCosts
}

// SparseTableColumns are the columns of a sparse table file, in order.
func SparseTableColumns() []string {
	return []string{"kind", "l_in", "c_in", "l_out", "c_out", "kernel", "stride", "cycles_empty", "cycles_per_row", "cycles_per_pair_row", "cycles_per_pair", "cycles_per_odd"}
}

// WriteSparseTable writes entries as a sparse table file (CSV, the header
// SparseTableColumns), after the comment lines of comment.
func WriteSparseTable(w io.Writer, comment string, entries []SparseEntry) error {
	for _, line := range strings.Split(comment, "\n") {
		if _, err := fmt.Fprintf(w, "# %s\n", line); err != nil {
			return err
		}
	}
	cw := csv.NewWriter(w)
	cw.Write(SparseTableColumns())
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }
	for _, e := range entries {
		l := e.Layer
		cw.Write([]string{l.Kind.String(), strconv.Itoa(l.In.Len), strconv.Itoa(l.In.Ch), strconv.Itoa(l.Out.Len), strconv.Itoa(l.Out.Ch),
			strconv.Itoa(l.Kernel), strconv.Itoa(l.Stride), f(e.Empty), f(e.PerRow), f(e.PerPairRow), f(e.PerPair), f(e.PerOdd)})
	}
	cw.Flush()
	return cw.Error()
}

// ReadSparseTable reads a sparse table file; name prefixes its errors and
// becomes File. The header must be SparseTableColumns; lines starting
// with # are comments. A layer listed twice, a kind without a sparse kernel
// or a number that is not finite is an error naming the line and column.
func ReadSparseTable(r io.Reader, name string) (*SparseTable, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cols := SparseTableColumns()
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file (want the header %s)", name, strings.Join(cols, ","))
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	if !slices.Equal(header, cols) {
		line, _ := cr.FieldPos(0)
		return nil, fmt.Errorf("%s line %d: header %q, want %s", name, line, strings.Join(header, ","), strings.Join(cols, ","))
	}
	cr.FieldsPerRecord = len(cols)
	t := &SparseTable{File: name, costs: map[arch.Layer]SparseCosts{}}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		bad := func(i int, why string) error {
			return fmt.Errorf("%s line %d, column %s: %q %s", name, line, cols[i], rec[i], why)
		}
		kind, err := ParseKind(rec[0])
		if err != nil || !slices.Contains(SparseKinds(), rec[0]) {
			return nil, bad(0, "is not a kind with a sparse kernel (conv1d, dense)")
		}
		var n [6]int
		for i := range n {
			if n[i], err = strconv.Atoi(rec[1+i]); err != nil || n[i] < 0 || n[i] > maxCSVInt {
				return nil, bad(1+i, "is not a whole number ≥ 0")
			}
		}
		var c [5]float64
		for i := range c {
			if c[i], err = strconv.ParseFloat(rec[7+i], 64); err != nil || math.IsNaN(c[i]) || math.IsInf(c[i], 0) {
				return nil, bad(7+i, "is not a finite number")
			}
		}
		l := Measurement{Kind: kind, In: arch.Shape{Len: n[0], Ch: n[1]}, Out: arch.Shape{Len: n[2], Ch: n[3]}, Kernel: n[4], Stride: n[5]}.Layer()
		k := tableKey(l)
		if _, dup := t.costs[k]; dup {
			return nil, fmt.Errorf("%s line %d: layer %s %v→%v (kernel %d, stride %d) appears twice", name, line, l.Kind, l.In, l.Out, l.Kernel, l.Stride)
		}
		t.costs[k] = SparseCosts{Empty: c[0], PerRow: c[1], PerPairRow: c[2], PerPair: c[3], PerOdd: c[4]}
	}
}

// Costs returns the entries of l, and whether the table holds it. A nil
// table holds nothing.
func (t *SparseTable) Costs(l arch.Layer) (SparseCosts, bool) {
	if t == nil {
		return SparseCosts{}, false
	}
	c, ok := t.costs[tableKey(l)]
	return c, ok
}

// Len is the number of layers in the table.
func (t *SparseTable) Len() int {
	if t == nil {
		return 0
	}
	return len(t.costs)
}
