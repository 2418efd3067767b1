package hw

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/internal/stats"
)

// Measurement is one measured layer: its kind, shapes, kernel and stride
// (0 for a dense layer) and the clock cycles one call took on the device.
type Measurement struct {
	Kind           arch.Kind
	In, Out        arch.Shape
	Kernel, Stride int
	Cycles         float64
}

// Layer returns the layer m describes, for Features and the latency model.
// Padding is not part of a measurement: the models do not depend on it.
func (m Measurement) Layer() arch.Layer {
	return arch.Layer{Kind: m.Kind, In: m.In, Out: m.Out, Kernel: m.Kernel, Stride: m.Stride, ReLU: m.Kind == arch.Conv || m.Kind == arch.ConvTranspose}
}

// The columns of a measurement CSV that give the measured time of a layer:
// a file has exactly one of them (see ReadMeasurements).
const (
	ColumnCycles    = "cycles"
	ColumnLatencyUS = "latency_us"
)

// MeasurementColumns returns the columns every measurement CSV has (see
// ReadMeasurements), in the order calib's CSV writer puts them first: kind,
// l_in, c_in, l_out, c_out, kernel, stride. The slice is new on every call.
func MeasurementColumns() []string {
	return []string{"kind", "l_in", "c_in", "l_out", "c_out", "kernel", "stride"}
}

// maxCSVInt bounds the sizes a measurement may give, so that products of
// them (MACs) stay exact in float64 and in int.
const maxCSVInt = 1 << 30

// ReadMeasurements reads measured layer latencies from a CSV file; name (a
// file name) prefixes its errors. The first row names the columns, in any
// order:
//
//	kind        layer kind: conv1d, conv1d_transpose, dense or maxpool1d
//	l_in, c_in  input length and channels (positive whole numbers)
//	l_out,c_out output length and channels
//	kernel      kernel size (positive; 0 or empty for dense)
//	stride      stride (positive; 0 or empty for dense)
//	cycles      clock cycles of one call, or instead
//	latency_us  microseconds of one call, converted to cycles at clockHz
//
// Exactly one of cycles and latency_us must be present; other columns are
// ignored. Column names are case-insensitive; blank lines and lines starting
// with # are skipped. Errors name the file, line and column, e.g.
// `lat.csv line 7, column c_in: "two" is not a whole number`.
func ReadMeasurements(r io.Reader, name string, clockHz float64) ([]Measurement, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	measurementCols := MeasurementColumns()
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file (want a header row: %s, and cycles or latency_us)", name, strings.Join(measurementCols, ","))
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	headerLine, _ := cr.FieldPos(0)
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		if j, dup := col[h]; dup {
			return nil, fmt.Errorf("%s line %d: column %s appears twice (columns %d and %d)", name, headerLine, h, j+1, i+1)
		}
		col[h] = i
	}
	for _, c := range measurementCols {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("%s line %d: missing column %s (required: %s, and cycles or latency_us)", name, headerLine, c, strings.Join(measurementCols, ", "))
		}
	}
	_, hasCycles := col[ColumnCycles]
	_, hasLatency := col[ColumnLatencyUS]
	timeCol := ColumnCycles
	switch {
	case hasCycles && hasLatency:
		return nil, fmt.Errorf("%s line %d: both cycles and latency_us columns; give only one", name, headerLine)
	case !hasCycles && !hasLatency:
		return nil, fmt.Errorf("%s line %d: missing column cycles or latency_us (the measured time of each layer)", name, headerLine)
	case hasLatency:
		timeCol = ColumnLatencyUS
		if math.IsNaN(clockHz) || math.IsInf(clockHz, 0) || clockHz <= 0 {
			return nil, fmt.Errorf("%s: latency_us needs a positive clock to convert to cycles, got %v Hz", name, clockHz)
		}
	}

	var ms []Measurement
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		fail := func(column string, format string, args ...any) error {
			return fmt.Errorf("%s line %d, column %s: %s", name, line, column, fmt.Sprintf(format, args...))
		}
		field := func(c string) string {
			if i := col[c]; i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if len(rec) < len(header) {
			// A short row: name the first required column it lacks.
			for _, c := range append(measurementCols, timeCol) {
				if col[c] >= len(rec) {
					return nil, fail(c, "missing (the row has %d fields, the header %d)", len(rec), len(header))
				}
			}
		}
		var m Measurement
		kind, err := ParseKind(strings.ToLower(field("kind")))
		if err != nil {
			return nil, fmt.Errorf("%s line %d, column kind: %w", name, line, err)
		}
		m.Kind = kind
		whole := func(c string, allowZero bool) (int, error) {
			s := field(c)
			if s == "" && allowZero {
				return 0, nil
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || v != math.Trunc(v) {
				return 0, fail(c, "%q is not a whole number", s)
			}
			if v < 0 || v == 0 && !allowZero {
				return 0, fail(c, "must be positive, got %s", s)
			}
			if v > maxCSVInt {
				return 0, fail(c, "%s is too large (at most %d)", s, maxCSVInt)
			}
			return int(v), nil
		}
		dense := kind == arch.Dense
		for _, f := range []struct {
			col       string
			dst       *int
			allowZero bool
		}{
			{"l_in", &m.In.Len, false}, {"c_in", &m.In.Ch, false},
			{"l_out", &m.Out.Len, false}, {"c_out", &m.Out.Ch, false},
			{"kernel", &m.Kernel, dense}, {"stride", &m.Stride, dense},
		} {
			if *f.dst, err = whole(f.col, f.allowZero); err != nil {
				return nil, err
			}
		}
		s := field(timeCol)
		t, err := strconv.ParseFloat(s, 64)
		switch {
		case err != nil || math.IsNaN(t) || math.IsInf(t, 0):
			return nil, fail(timeCol, "%q is not a number", s)
		case t < 0:
			return nil, fail(timeCol, "negative latency %s", s)
		case t == 0:
			return nil, fail(timeCol, "latency must be positive, got %s", s)
		}
		if timeCol == ColumnLatencyUS {
			t *= clockHz / 1e6
		}
		m.Cycles = t
		ms = append(ms, m)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("%s: no measurements after the header row", name)
	}
	return ms, nil
}

// csvError names the file and line of an encoding/csv error, wrapping its
// cause (e.g. csv.ErrBareQuote).
func csvError(name string, err error) error {
	var perr *csv.ParseError
	if errors.As(err, &perr) {
		return fmt.Errorf("%s line %d, column %d: %w", name, perr.Line, perr.Column, perr.Err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// FitResult is the latency model fitted to the measurements of one layer
// kind, and how well it fits them.
type FitResult struct {
	Kind  string // profile name of the kind, e.g. "conv1d"
	N     int    // measurements
	Model LatencyModel
	// R2 is the coefficient of determination on cycles; RMSECycles the root
	// mean square residual; MedianRelErr and P95RelErr the median and 95th
	// percentile of |predicted − measured| / measured.
	R2, RMSECycles, MedianRelErr, P95RelErr float64
	// Residuals are measured − predicted cycles, in the order the kind's
	// measurements were given.
	Residuals []float64
}

// rankTolerance is the smallest ratio of the least to the largest singular
// value of the column-scaled design that counts as full rank.
const rankTolerance = 1e-9

// Fit fits one LatencyModel per layer kind present in ms, by ordinary least
// squares on the terms of Features, and returns the fits sorted by kind
// name. Each feature column is scaled by its largest magnitude before the
// solve (MACs reach 1e8 while the constant term is 1). A feature that is zero
// for every measurement of a kind (the MACs of maxpool1d) gets coefficient 0
// and is left out. A kind needs more measurements than fitted coefficients,
// and shapes that vary the remaining features independently; otherwise Fit
// fails naming the kind and what to measure.
func Fit(ms []Measurement) ([]FitResult, error) {
	if len(ms) == 0 {
		return nil, errors.New("hw: fit: no measurements")
	}
	byKind := map[string][]Measurement{}
	for _, m := range ms {
		k := m.Kind.String()
		if !knownKind(k) {
			return nil, fmt.Errorf("hw: fit: unknown layer kind %s (known: %s)", k, strings.Join(Kinds(), ", "))
		}
		byKind[k] = append(byKind[k], m)
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	res := make([]FitResult, 0, len(kinds))
	for _, k := range kinds {
		model, err := fitKind(k, byKind[k])
		if err != nil {
			return nil, fmt.Errorf("hw: fit %s: %w", k, err)
		}
		r := FitResult{Kind: k, N: len(byKind[k]), Model: model}
		r.R2, r.MedianRelErr, r.P95RelErr = Evaluate(model, byKind[k])
		r.Residuals = make([]float64, len(byKind[k]))
		ss := 0.0
		for i, m := range byKind[k] {
			r.Residuals[i] = m.Cycles - model.Cycles(m.Layer())
			ss += r.Residuals[i] * r.Residuals[i]
		}
		r.RMSECycles = math.Sqrt(ss / float64(len(byKind[k])))
		res = append(res, r)
	}
	return res, nil
}

// fitKind solves the least squares problem of one kind's measurements.
func fitKind(kind string, ms []Measurement) (LatencyModel, error) {
	feats := make([][NumFeatures]float64, len(ms))
	var scale [NumFeatures]float64 // largest |value| per feature
	for i, m := range ms {
		if m.Kind.String() != kind {
			return LatencyModel{}, fmt.Errorf("measurement %d is a %s layer", i+1, m.Kind)
		}
		if math.IsNaN(m.Cycles) || math.IsInf(m.Cycles, 0) {
			return LatencyModel{}, fmt.Errorf("measurement %d: cycles %v is not a finite number", i+1, m.Cycles)
		}
		feats[i] = Features(m.Layer())
		for j, f := range feats[i] {
			scale[j] = max(scale[j], math.Abs(f))
		}
	}
	var used []int // features with a non-zero column
	for j := range NumFeatures {
		if scale[j] > 0 {
			used = append(used, j)
		}
	}
	names := make([]string, len(used))
	for i, j := range used {
		names[i] = FeatureNames()[j]
	}
	p := len(used)
	if len(ms) < p+1 {
		return LatencyModel{}, fmt.Errorf("%d measurements, need at least %d to fit %d coefficients (%s); measure more %s layers of different shapes",
			len(ms), p+1, p, strings.Join(names, ", "), kind)
	}
	x := mat.NewDense(len(ms), p, nil)
	y := mat.NewVecDense(len(ms), nil)
	for i := range ms {
		for c, j := range used {
			x.Set(i, c, feats[i][j]/scale[j])
		}
		y.SetVec(i, ms[i].Cycles)
	}
	var svd mat.SVD
	if !svd.Factorize(x, mat.SVDThin) {
		return LatencyModel{}, errors.New("singular value decomposition of the design did not converge")
	}
	sv := svd.Values(nil)
	if sv[p-1] <= rankTolerance*sv[0] {
		return LatencyModel{}, rankError(kind, ms, feats, used, names, &svd, sv)
	}
	var qr mat.QR
	qr.Factorize(x)
	var beta mat.VecDense
	if err := qr.SolveVecTo(&beta, false, y); err != nil {
		return LatencyModel{}, fmt.Errorf("least squares solve: %w", err)
	}
	var c [NumFeatures]float64
	for i, j := range used {
		c[j] = beta.AtVec(i) / scale[j]
	}
	return modelFromCoefficients(c), nil
}

// featureTerms names the quantity each feature measures, for errors.
var featureTerms = [NumFeatures]string{"MACs", "input size", "output size", ""}

// rankError explains a rank-deficient design: the features the data cannot
// tell apart, any that never vary, and what to measure instead.
func rankError(kind string, ms []Measurement, feats [][NumFeatures]float64, used []int, names []string, svd *mat.SVD, sv []float64) error {
	// The right singular vectors of the negligible singular values span the
	// combinations of features the data cannot tell apart.
	var v mat.Dense
	svd.VTo(&v)
	p := len(used)
	var tied []string
	for c := range p {
		for s := range p {
			if sv[s] <= rankTolerance*sv[0] && math.Abs(v.At(c, s)) > 1e-3 {
				tied = append(tied, names[c])
				break
			}
		}
	}
	var constant []string
	for _, j := range used {
		if featureTerms[j] == "" {
			continue
		}
		if slices.IndexFunc(feats, func(f [NumFeatures]float64) bool { return f[j] != feats[0][j] }) < 0 {
			constant = append(constant, fmt.Sprintf("the same %s (%v)", featureTerms[j], feats[0][j]))
		}
	}
	vary := "different lengths, channels and kernels"
	switch kind {
	case arch.Dense.String():
		vary = "different input sizes and numbers of outputs"
	case arch.MaxPool.String():
		vary = "different lengths, channels and strides"
	}
	msg := fmt.Sprintf("the %d measurements cannot tell %s apart (their terms are linearly dependent)", len(ms), strings.Join(tied, ", "))
	if len(constant) > 0 {
		msg += "; every measurement has " + strings.Join(constant, " and ")
	}
	return fmt.Errorf("%s; measure %s layers that vary MACs, inputs and outputs independently (%s)", msg, kind, vary)
}

// Evaluate scores model m on measurements ms (e.g. held out from its fit):
// the coefficient of determination R² of the predicted cycles
// (LatencyModel.Cycles, so clipped at zero), and the median and 95th
// percentile of the relative error |predicted − measured| / measured
// (interpolated between order statistics: stats.Quantile). With
// no measurements all three are NaN. If every measurement has the same
// cycles, R² is 1 for a perfect prediction and 0 otherwise.
func Evaluate(m LatencyModel, ms []Measurement) (r2, medianRel, p95Rel float64) {
	if len(ms) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	mean := 0.0
	for _, x := range ms {
		mean += x.Cycles
	}
	mean /= float64(len(ms))
	var ssRes, ssTot float64
	rel := make([]float64, len(ms))
	for i, x := range ms {
		pred := m.Cycles(x.Layer())
		ssRes += (x.Cycles - pred) * (x.Cycles - pred)
		ssTot += (x.Cycles - mean) * (x.Cycles - mean)
		rel[i] = math.Abs(pred-x.Cycles) / x.Cycles
	}
	switch {
	case ssTot > 0:
		r2 = 1 - ssRes/ssTot
	case ssRes == 0:
		r2 = 1
	}
	return r2, stats.Quantile(rel, 0.5), stats.Quantile(rel, 0.95)
}
