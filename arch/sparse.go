package arch

// Sparse storage of a layer's weights: only the non-zero ones, as the
// exported C stores them for its sparse kernels (package calib's
// SparseKernels, package export). A *row* is one output channel of a Conv
// (its In.Ch·Kernel weights) or one output of a Dense layer (its In.Size()
// weights). Stored, row after row, in the row's dense order:
//
//   - the non-zero weights, at the precision's width (int4: each row's
//     packed two per byte from a byte boundary, so ⌈n/8·4⌉ bytes a row);
//   - for each, its offset in the input tensor as a uint16
//     (SparseIndexBytes): c·In.Len + tap for a Conv (unambiguous for a
//     kernel no longer than the input), the flattened input index for
//     Dense — so the input tensor may hold at most MaxSparseInput values;
//   - for each row, the count of its stored weights as a uint16
//     (SparseCountBytes).
//
// Biases and requantization constants are stored as for a dense layer.
const (
	SparseIndexBytes = 2
	SparseCountBytes = 2
	MaxSparseInput   = 1<<16 - 1
)

// Rows is the number of weight rows of l (see SparseIndexBytes): its
// output channels for Conv and ConvTranspose, its outputs for Dense, 0
// for MaxPool.
func (l Layer) Rows() int {
	switch l.Kind {
	case Conv, ConvTranspose:
		return l.Out.Ch
	case Dense:
		return l.Out.Size()
	}
	return 0
}

// Sparsable reports whether l can be stored and run sparse: a Conv (with a
// kernel no longer than its input) or Dense layer whose input tensor has at
// most MaxSparseInput values.
func (l Layer) Sparsable() bool {
	return (l.Kind == Conv && l.Kernel <= l.In.Len || l.Kind == Dense) && l.In.Size() <= MaxSparseInput
}

// EdgePositions is the number of output positions of a Conv whose window
// crosses an edge of the input (reaches into the padding), where a sparse
// kernel checks each tap's position; 0 for the other kinds.
func (l Layer) EdgePositions() int {
	if l.Kind != Conv {
		return 0
	}
	n := 0
	for t := range l.Out.Len {
		if start := t*l.Stride - l.PadLeft; start < 0 || start+l.Kernel > l.In.Len {
			n++
		}
	}
	return n
}

// SparseWeightBytes is the bytes of a layer's weights stored sparse at
// precision p, rowNonZero[r] the non-zero weights of row r: Σ over rows of
// ByteSize(n, WeightBits) + SparseIndexBytes·n + SparseCountBytes.
func (p Precision) SparseWeightBytes(rowNonZero []int) int {
	s := 0
	for _, n := range rowNonZero {
		s += ByteSize(n, p.WeightBits) + SparseIndexBytes*n + SparseCountBytes
	}
	return s
}

// SparseFlashDelta is what storing l's weights sparse (rowNonZero as in
// SparseWeightBytes) changes in its Flash at p, in bytes: negative when it
// saves.
func (p Precision) SparseFlashDelta(l Layer, rowNonZero []int) int {
	return p.SparseWeightBytes(rowNonZero) - ByteSize(l.Weights(), p.WeightBits)
}

// RowNonZero counts the non-zero values of each row of layer l's weights
// w, stored densely row after row (w[r·n + j], n = Weights()/Rows(): tap j
// of an output channel's [in channel][tap] weights, or input j of a Dense
// output): what SparseWeightBytes takes. nil for a layer without rows.
func RowNonZero[T float32 | int8](l Layer, w []T) []int {
	rows := l.Rows()
	if rows == 0 {
		return nil
	}
	per := len(w) / rows
	nz := make([]int, rows)
	for r := range rows {
		for _, v := range w[r*per : (r+1)*per] {
			if v != 0 {
				nz[r]++
			}
		}
	}
	return nz
}

// SparseWeights is a layer's weights in the stored sparse form (see
// SparseIndexBytes): the non-zero values row after row, each one's offset
// in the input tensor, and each row's count.
type SparseWeights[T float32 | float64 | int8] struct {
	Values       []T
	Index, Count []uint16
}

// EncodeSparse stores the dense weights w of layer l (laid out as
// RowNonZero takes them) sparse. l must be Sparsable.
func EncodeSparse[T float32 | float64 | int8](l Layer, w []T) SparseWeights[T] {
	var s SparseWeights[T]
	rows := l.Rows()
	per := len(w) / rows
	for r := range rows {
		n := 0
		for j, v := range w[r*per : (r+1)*per] {
			if v == 0 {
				continue
			}
			off := j
			if l.Kind == Conv {
				off = j/l.Kernel*l.In.Len + j%l.Kernel
			}
			s.Values = append(s.Values, v)
			s.Index = append(s.Index, uint16(off))
			n++
		}
		s.Count = append(s.Count, uint16(n))
	}
	return s
}

// Rows returns the stored values of each row.
func (s SparseWeights[T]) Rows() [][]T {
	rows := make([][]T, len(s.Count))
	off := 0
	for r, n := range s.Count {
		rows[r] = s.Values[off : off+int(n)]
		off += int(n)
	}
	return rows
}
