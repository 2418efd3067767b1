package export

import (
	"bytes"
	"fmt"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/quant"
)

// SparseFile is the sparse kernels (package calib's SparseKernels), written
// when a layer is stored sparse.
const SparseFile = "splitnas_sparse.c"

// sparse is one layer's weights in the stored sparse form of
// arch.SparseWeightBytes: the non-zero weights row after row, each one's
// offset in the input tensor, and each row's count.
type sparse[T float32 | int8] struct {
	vals []T
	idx  []uint16
	cnt  []uint16
}

// encodeSparse stores the dense weights w of layer l (w[row][j], a row
// being an output channel of a Conv — j = c·Kernel + tap — or an output of
// a Dense layer — j the flattened input index) sparse. l must be
// Sparsable.
func encodeSparse[T float32 | int8](l arch.Layer, w []T) sparse[T] {
	var s sparse[T]
	rows := l.Rows()
	per := len(w) / rows
	for r := range rows {
		n := 0
		for j, v := range w[r*per : (r+1)*per] {
			if v == 0 {
				continue
			}
			off := j
			if l.Kind == arch.Conv {
				off = j/l.Kernel*l.In.Len + j%l.Kernel
			}
			s.vals = append(s.vals, v)
			s.idx = append(s.idx, uint16(off))
			n++
		}
		s.cnt = append(s.cnt, uint16(n))
	}
	return s
}

// packRows packs int4 values stored sparse two per byte, each row from a
// byte boundary (quant.PackWeights per row: the first in the low nibble,
// an odd row's last high nibble 0).
func packRows(s sparse[int8]) []byte {
	var b []byte
	off := 0
	for _, n := range s.cnt {
		b = append(b, quant.PackWeights(s.vals[off:off+int(n)], 4)...)
		off += int(n)
	}
	return b
}

// Rows returns, for each layer of n, the non-zero weights of each of its
// rows (arch.RowNonZero; nil for a layer without weights):
// partition.EvaluateSparse's rows, from which it chooses the layers export
// stores sparse (among those arch.Layer.Sparsable).
func (n Network) Rows() [][]int {
	net, _, err := n.net()
	if err != nil {
		return nil
	}
	rows := make([][]int, len(net.Layers))
	for i, l := range net.Layers {
		if n.Int != nil {
			rows[i] = arch.RowNonZero(l, n.Int.Layers[i].W)
		} else {
			w, _ := n.Float.Weights(i)
			rows[i] = arch.RowNonZero(l, w)
		}
	}
	return rows
}

// kernel is the C function that runs layer i+1.
func (g *gen) kernel(i int) string {
	_, suf := kernels(g.prec)
	if g.sparse[i] {
		return fmt.Sprintf("splitnas_%s_sparse_%s", g.net.Layers[i].Kind, suf)
	}
	return fmt.Sprintf("splitnas_%s_%s", g.net.Layers[i].Kind, suf)
}

// intWeights writes the weight arrays of integer layer i+1 — dense, or
// sparse (values, splitnas_idxK, splitnas_cntK) — and returns the kernel
// arguments that pass them.
func (g *gen) intWeights(b *bytes.Buffer, i int) (string, error) {
	l, k := &g.n.Int.Layers[i], i+1
	name := fmt.Sprintf("splitnas_w%d", k)
	switch {
	case g.sparse[i] && g.n.Int.Bits == 4:
		sp := encodeSparse(l.Layer, l.W)
		return sparseArrays(b, k, "uint8_t", packRows(sp), intText[uint8], sp)
	case g.sparse[i]:
		sp := encodeSparse(l.Layer, l.W)
		return sparseArrays(b, k, "int8_t", sp.vals, intText[int8], sp)
	case g.n.Int.Bits == 4:
		// Packed as quant.PackWeights (and TFLite, CMSIS-NN): two per
		// byte, the first in the low nibble.
		return name, array(b, "uint8_t", name, quant.PackWeights(l.W, 4), intText[uint8])
	}
	return name, array(b, "int8_t", name, l.W, intText[int8])
}

// sparseArrays writes layer k's sparse arrays — the stored weights vals
// (as ctype), splitnas_idxK and splitnas_cntK — and returns the kernel
// arguments "w, idx, cnt". A layer without a single non-zero weight has no
// weight or index array (C has no empty arrays): it passes null pointers,
// which the kernels never read through when every count is 0.
func sparseArrays[V any, T float32 | int8](b *bytes.Buffer, k int, ctype string, vals []V, format func(V) (string, error), sp sparse[T]) (string, error) {
	w, idx, cnt := fmt.Sprintf("splitnas_w%d", k), fmt.Sprintf("splitnas_idx%d", k), fmt.Sprintf("splitnas_cnt%d", k)
	if len(vals) == 0 {
		w, idx = fmt.Sprintf("(const %s *)0", ctype), "(const uint16_t *)0"
	} else {
		if err := array(b, ctype, w, vals, format); err != nil {
			return "", err
		}
		if err := array(b, "uint16_t", idx, sp.idx, intText[uint16]); err != nil {
			return "", err
		}
	}
	return w + ", " + idx + ", " + cnt, array(b, "uint16_t", cnt, sp.cnt, intText[uint16])
}

// nonZero counts the non-zero weights of layers 1..P of n.
func nonZero(n Network, P int) int {
	c := 0
	for _, r := range n.Rows()[:P] {
		for _, v := range r {
			c += v
		}
	}
	return c
}

// sparseReadme is the library README's paragraph on its sparse layers.
func (g *gen) sparseReadme() string {
	if len(g.s.SparseLayers) == 0 {
		return ""
	}
	return fmt.Sprintf(`
Layers %v are stored sparse: only their non-zero weights (%d in layers 1..%d), each with its 16-bit offset
in the input tensor, and a 16-bit count per output channel (per output for Dense); %s runs them. splitnas
stores a layer sparse where its profile predicts fewer cycles than for the dense kernel; the Flash, cycles and
energy above are those of this mix. Export with --sparse off for dense weights everywhere.
`, g.s.SparseLayers, g.s.NonZero, g.P, SparseFile)
}
