package arch

import (
	"fmt"
	"testing"
)

// TestSparseByHand checks the sparse storage of layers worked out by hand.
//
//	Conv 256x4→256x4, kernel 3, "same" (pad 1+1), stride 1: 4 rows of
//	         4·3 = 12 weights; windows of positions 0 and 255 cross the
//	         edges: 2 edge positions
//	Conv 2048x1→1024x2 overlap 2 (kernel 4, stride 2, pad 1+1): windows
//	         of positions 0 and 1023 cross the edges
//	Conv 2048x1→128x2 (kernel 16 = stride): none
//	Dense 48→5: 5 rows of 48
//
// Sparse bytes, rows with 3, 0, 12 and 5 non-zero weights:
//
//	float32  (3·4+3·2+2) + (0+0+2) + (12·4+12·2+2) + (5·4+5·2+2) = 20+2+74+32 = 128
//	int8     (3+6+2) + 2 + (12+24+2) + (5+10+2) = 11+2+38+17 = 68
//	int4     (2+6+2) + 2 + (6+24+2) + (3+10+2) = 10+2+32+15 = 59   (⌈n/2⌉ a row)
func TestSparseByHand(t *testing.T) {
	same := Layer{Kind: Conv, In: Shape{256, 4}, Out: Shape{256, 4}, Kernel: 3, Stride: 1, PadLeft: 1, PadRight: 1, ReLU: true}
	o2 := Layer{Kind: Conv, In: Shape{2048, 1}, Out: Shape{1024, 2}, Kernel: 4, Stride: 2, PadLeft: 1, PadRight: 1, ReLU: true}
	strided := Layer{Kind: Conv, In: Shape{2048, 1}, Out: Shape{128, 2}, Kernel: 16, Stride: 16, ReLU: true}
	dense := Layer{Kind: Dense, In: Shape{16, 3}, Out: Shape{5, 1}}
	tr := Layer{Kind: ConvTranspose, In: Shape{8, 4}, Out: Shape{64, 2}, Kernel: 8, Stride: 8, ReLU: true}
	pool := Layer{Kind: MaxPool, In: Shape{8, 4}, Out: Shape{4, 4}, Kernel: 2, Stride: 2}
	for _, c := range []struct {
		name            string
		l               Layer
		rows, edges     int
		sparsable       bool
		nonzeroPerRow   int
		rowNonZeroCount int
	}{
		{"same", same, 4, 2, true, 12, 4},
		{"overlap 2", o2, 2, 2, true, 4, 2},
		{"strided", strided, 2, 0, true, 16, 2},
		{"dense", dense, 5, 0, true, 48, 5},
		{"transposed", tr, 2, 0, false, 32, 2},
		{"maxpool", pool, 0, 0, false, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.l.Rows(); got != c.rows {
				t.Errorf("Rows = %d, want %d", got, c.rows)
			}
			if got := c.l.EdgePositions(); got != c.edges {
				t.Errorf("EdgePositions = %d, want %d", got, c.edges)
			}
			if got := c.l.Sparsable(); got != c.sparsable {
				t.Errorf("Sparsable = %v, want %v", got, c.sparsable)
			}
			// All weights 1 except the first of each row: n−1 non-zero a row.
			w := make([]float32, c.l.Weights())
			for i := range w {
				if c.nonzeroPerRow > 0 && i%c.nonzeroPerRow != 0 {
					w[i] = 1
				}
			}
			nz := RowNonZero(c.l, w)
			if len(nz) != c.rowNonZeroCount {
				t.Fatalf("RowNonZero gives %d rows, want %d", len(nz), c.rowNonZeroCount)
			}
			for r, n := range nz {
				if n != c.nonzeroPerRow-1 {
					t.Errorf("row %d: %d non-zero, want %d", r, n, c.nonzeroPerRow-1)
				}
			}
		})
	}
	rows := []int{3, 0, 12, 5}
	for _, c := range []struct {
		p    Precision
		want int
	}{{Float32(), 128}, {Int8(), 68}, {Int4(), 59}} {
		if got := c.p.SparseWeightBytes(rows); got != c.want {
			t.Errorf("%s: SparseWeightBytes(%v) = %d, want %d", c.p.Name, rows, got, c.want)
		}
	}
	// same has 48 weights: int8 dense 48 B, sparse with 2 of 12 a row
	// (2+4+2)·4 = 32 B: 16 B saved; with all 12 a row (12+24+2)·4 = 152 B.
	if got := Int8().SparseFlashDelta(same, []int{2, 2, 2, 2}); got != -16 {
		t.Errorf("SparseFlashDelta at 2 of 12 = %d, want −16", got)
	}
	if got := Int8().SparseFlashDelta(same, []int{12, 12, 12, 12}); got != 152-48 {
		t.Errorf("SparseFlashDelta dense = %d, want %d", got, 152-48)
	}
	big := Layer{Kind: Dense, In: Shape{MaxSparseInput + 1, 1}, Out: Shape{2, 1}}
	long := Layer{Kind: Conv, In: Shape{2, 4}, Out: Shape{2, 4}, Kernel: 3, Stride: 1, PadLeft: 1, PadRight: 1}
	if long.Sparsable() {
		t.Error("a Conv with a kernel longer than its input is Sparsable; its offsets c·In.Len + tap would collide")
	}
	if big.Sparsable() {
		t.Errorf("a Dense layer of %d inputs is Sparsable; its offsets do not fit 16 bits", big.In.Size())
	}
}

// TestEncodeSparse checks the stored form of a small Conv and a Dense
// layer by hand.
func TestEncodeSparse(t *testing.T) {
	// Conv 5x2 → 3x2, kernel 3, stride 1, no padding. Row 0 (output
	// channel 0): [in channel 0: 0 1 0][in channel 1: 2 0 3]; row 1: all 0.
	conv := Layer{Kind: Conv, In: Shape{Len: 5, Ch: 2}, Out: Shape{Len: 3, Ch: 2}, Kernel: 3, Stride: 1}
	s := EncodeSparse(conv, []int8{0, 1, 0, 2, 0, 3, 0, 0, 0, 0, 0, 0})
	// Offsets: tap 1 of channel 0 → 1; taps 0 and 2 of channel 1 → 5, 7.
	if fmt.Sprint(s.Values, s.Index, s.Count, s.Rows()) != "[1 2 3] [1 5 7] [3 0] [[1 2 3] []]" {
		t.Errorf("conv: %v %v %v %v", s.Values, s.Index, s.Count, s.Rows())
	}
	dense := Layer{Kind: Dense, In: Shape{Len: 2, Ch: 2}, Out: Shape{Len: 2, Ch: 1}}
	d := EncodeSparse(dense, []float32{0, 0.5, 0, 0, 1, 0, 0, 2})
	if fmt.Sprint(d.Values, d.Index, d.Count) != "[0.5 1 2] [1 0 3] [1 2]" {
		t.Errorf("dense: %v %v %v", d.Values, d.Index, d.Count)
	}
}
