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

// packRows packs int4 values stored sparse two per byte, each row from a
// byte boundary (quant.PackWeights per row: the first in the low nibble,
// an odd row's last high nibble 0).
func packRows(s arch.SparseWeights[int8]) []byte {
	var b []byte
	for _, row := range s.Rows() {
		b = append(b, quant.PackWeights(row, 4)...)
	}
	return b
}

// Rows returns, for each layer of n, the non-zero weights of each of its
// rows (arch.RowNonZero; nil for a layer without weights):
// partition.EvaluateSparse's rows, from which it chooses the layers export
// stores sparse (among those arch.Layer.Sparsable).
func (n Network) Rows() [][]int {
	switch {
	case n.Int != nil:
		return n.Int.RowNonZero()
	case n.Float != nil:
		return n.Float.RowNonZero()
	}
	return nil
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
		sp := arch.EncodeSparse(l.Layer, l.W)
		return sparseArrays(b, k, "uint8_t", packRows(sp), intText[uint8], sp)
	case g.sparse[i]:
		sp := arch.EncodeSparse(l.Layer, l.W)
		return sparseArrays(b, k, "int8_t", sp.Values, intText[int8], sp)
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
func sparseArrays[V any, T float32 | int8](b *bytes.Buffer, k int, ctype string, vals []V, format func(V) (string, error), sp arch.SparseWeights[T]) (string, error) {
	w, idx, cnt := fmt.Sprintf("splitnas_w%d", k), fmt.Sprintf("splitnas_idx%d", k), fmt.Sprintf("splitnas_cnt%d", k)
	if len(vals) == 0 {
		w, idx = fmt.Sprintf("(const %s *)0", ctype), "(const uint16_t *)0"
	} else {
		if err := array(b, ctype, w, vals, format); err != nil {
			return "", err
		}
		if err := array(b, "uint16_t", idx, sp.Index, intText[uint16]); err != nil {
			return "", err
		}
	}
	return w + ", " + idx + ", " + cnt, array(b, "uint16_t", cnt, sp.Count, intText[uint16])
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
