package hw

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/splitnas/splitnas/arch"
)

// SparseModel is the latency surrogate of a sparse kernel (a layer whose
// weights are stored sparse, arch.SparseWeightBytes) on one device, in
// clock cycles:
//
//	cycles = PerNonZero·nzMACs + PerEdge·edgeMACs + PerOutput·outputs + PerRow·rows + Fixed,
//
// where nzMACs = nonzero·Out.Size()/Rows() is the multiply-accumulates of
// the stored weights (each row's weights serve each of its Out.Len
// positions in a Conv, once in Dense), edgeMACs = nonzero·EdgePositions()
// those a Conv computes with its window crossing the input's edge (each
// checked), outputs the output tensor's size and rows the layer's rows
// (a Conv's output channels; 0 for Dense, whose rows are its outputs).
// Coefficients come from FitSparse on measured sparse kernels (package
// calib's MeasureSparse); a prediction below zero is taken as zero.
type SparseModel struct {
	PerNonZero float64 `toml:"per_nonzero_mac"`
	PerEdge    float64 `toml:"per_edge_mac"`
	PerOutput  float64 `toml:"per_output"`
	PerRow     float64 `toml:"per_row"`
	Fixed      float64 `toml:"fixed"`
}

// NumSparseFeatures is the number of terms of a SparseModel.
const NumSparseFeatures = 5

// SparseFeatureNames names the terms of a SparseModel in the order of
// SparseFeatures: the TOML keys of a profile's [edge.sparse.KIND] tables.
func SparseFeatureNames() [NumSparseFeatures]string {
	return [NumSparseFeatures]string{"per_nonzero_mac", "per_edge_mac", "per_output", "per_row", "fixed"}
}

// SparseKinds are the layer kinds a sparse kernel runs (arch.Layer.Sparsable).
func SparseKinds() []string { return []string{arch.Conv.String(), arch.Dense.String()} }

// SparseFeatures returns the terms a SparseModel multiplies for layer l
// with nonzero stored weights.
func SparseFeatures(l arch.Layer, nonzero int) [NumSparseFeatures]float64 {
	perRow := 0.0
	if r := l.Rows(); r > 0 {
		perRow = float64(l.Out.Size()) / float64(r)
	}
	rows := 0.0 // a Dense layer's rows are its outputs: one term for both
	if l.Kind != arch.Dense {
		rows = float64(l.Rows())
	}
	nz := float64(nonzero)
	return [NumSparseFeatures]float64{nz * perRow, nz * float64(l.EdgePositions()), float64(l.Out.Size()), rows, 1}
}

func (m SparseModel) coefficients() [NumSparseFeatures]float64 {
	return [NumSparseFeatures]float64{m.PerNonZero, m.PerEdge, m.PerOutput, m.PerRow, m.Fixed}
}

// Cycles predicts the clock cycles of layer l run sparse with nonzero
// stored weights, never below zero.
func (m SparseModel) Cycles(l arch.Layer, nonzero int) float64 {
	f, c := SparseFeatures(l, nonzero), m.coefficients()
	s := 0.0
	for i := range f {
		s += f[i] * c[i]
	}
	return max(s, 0)
}

func (m SparseModel) check(table string) error {
	names := SparseFeatureNames()
	for i, c := range m.coefficients() {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return fieldErr(table+"."+names[i], "must be a finite number, got %v", c)
		}
	}
	return nil
}

// SparseSeconds is the predicted latency of layer l run sparse on d with
// rows[r] weights stored in its row r (arch.RowNonZero): from d's sparse
// table if it holds l, else from d's sparse model of l's kind; false if d
// has neither, or l is not arch.Layer.Sparsable. It fails if d names a
// sparse table that is not loaded (read the profile with Load).
func (d Device) SparseSeconds(l arch.Layer, rows []int) (float64, bool, error) {
	if !l.Sparsable() || d.ClockHz <= 0 {
		return 0, false, nil
	}
	if d.SparseTableFile != "" && d.SparseTable == nil {
		return 0, false, fmt.Errorf("hw: device %q: sparse_table %s is not loaded (read the profile with hw.Load)", d.Name, d.SparseTableFile)
	}
	if c, ok := d.SparseTable.Costs(l); ok {
		return c.Cycles(rows) / d.ClockHz, true, nil
	}
	m, ok := d.Sparse[l.Kind.String()]
	if !ok {
		return 0, false, nil
	}
	nz := 0
	for _, n := range rows {
		nz += n
	}
	return m.Cycles(l, nz) / d.ClockHz, true, nil
}

// validateSparse checks a device's sparse models: known kinds, finite
// coefficients.
func validateSparse(table string, d Device) error {
	for _, k := range slices.Sorted(maps.Keys(d.Sparse)) {
		if !slices.Contains(SparseKinds(), k) {
			return fieldErr(table+".sparse."+k, "no sparse kernel for %q layers (sparse kinds: conv1d, dense)", k)
		}
		if err := d.Sparse[k].check(table + ".sparse." + k); err != nil {
			return err
		}
	}
	return nil
}

// SparseSample is one measured sparse layer: the layer, its stored
// weights and the cycles its sparse kernel took.
type SparseSample struct {
	Layer   arch.Layer
	NonZero int
	Cycles  float64
}

// SparseFit is the sparse model fitted to one kind's samples, with the
// median and largest relative error |predicted − measured| / measured
// over them.
type SparseFit struct {
	Kind                    string
	N                       int
	Model                   SparseModel
	MedianRelErr, MaxRelErr float64
}

// FitSparse fits one SparseModel per kind present in ss by least squares,
// each feature column scaled by its largest magnitude; a feature that is
// zero for every sample (the edge MACs of Dense layers) gets coefficient
// 0. It fails if a kind has no more samples than coefficients or if their
// features are linearly dependent.
func FitSparse(ss []SparseSample) ([]SparseFit, error) {
	if len(ss) == 0 {
		return nil, errors.New("hw: sparse fit: no samples")
	}
	var out []SparseFit
	for _, kind := range SparseKinds() {
		var feats [][]float64
		var ys []float64
		for _, s := range ss {
			if s.Layer.Kind.String() != kind {
				continue
			}
			f := SparseFeatures(s.Layer, s.NonZero)
			feats, ys = append(feats, f[:]), append(ys, s.Cycles)
		}
		if len(feats) == 0 {
			continue
		}
		c, err := leastSquares(feats, ys)
		if err != nil {
			return nil, fmt.Errorf("hw: sparse fit %s: %w", kind, err)
		}
		m := SparseModel{PerNonZero: c[0], PerEdge: c[1], PerOutput: c[2], PerRow: c[3], Fixed: c[4]}
		fit := SparseFit{Kind: kind, N: len(ys), Model: m}
		var rel []float64
		for _, s := range ss {
			if s.Layer.Kind.String() == kind && s.Cycles > 0 {
				rel = append(rel, math.Abs(m.Cycles(s.Layer, s.NonZero)-s.Cycles)/s.Cycles)
			}
		}
		slices.Sort(rel)
		if len(rel) > 0 {
			fit.MedianRelErr, fit.MaxRelErr = rel[len(rel)/2], rel[len(rel)-1]
		}
		out = append(out, fit)
	}
	if len(out) == 0 {
		return nil, errors.New("hw: sparse fit: no conv1d or dense samples")
	}
	return out, nil
}

// leastSquares solves min ‖X·c − y‖ for the rows of feats, each column
// scaled by its largest magnitude first; an all-zero column gets c = 0.
// It fails when there are no more rows than fitted columns or when the
// scaled design is rank deficient.
func leastSquares(feats [][]float64, y []float64) ([]float64, error) {
	n := len(feats[0])
	scale := make([]float64, n)
	for _, f := range feats {
		for j, v := range f {
			scale[j] = max(scale[j], math.Abs(v))
		}
	}
	var used []int
	for j, s := range scale {
		if s > 0 {
			used = append(used, j)
		}
	}
	if len(feats) <= len(used) {
		return nil, fmt.Errorf("%d samples, need more than %d", len(feats), len(used))
	}
	x := mat.NewDense(len(feats), len(used), nil)
	for i, f := range feats {
		for c, j := range used {
			x.Set(i, c, f[j]/scale[j])
		}
	}
	var svd mat.SVD
	if !svd.Factorize(x, mat.SVDNone) {
		return nil, errors.New("singular value decomposition of the design did not converge")
	}
	if sv := svd.Values(nil); sv[len(sv)-1] <= rankTolerance*sv[0] {
		return nil, errors.New("the samples cannot tell the terms apart (linearly dependent): vary shapes and densities")
	}
	var qr mat.QR
	qr.Factorize(x)
	var beta mat.VecDense
	if err := qr.SolveVecTo(&beta, false, mat.NewVecDense(len(y), y)); err != nil {
		return nil, fmt.Errorf("least squares solve: %w", err)
	}
	c := make([]float64, n)
	for i, j := range used {
		c[j] = beta.AtVec(i) / scale[j]
	}
	return c, nil
}
