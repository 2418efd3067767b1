package calib

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"

	"golang.org/x/sync/errgroup"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/hw"
)

// Result is one measured layer.
type Result struct {
	Layer     arch.Layer
	Precision Precision
	Counts    Counts
	Cycles    float64 // Counts under the measurement's CycleTable
}

// Config says how to measure.
type Config struct {
	Precision Precision
	Table     CycleTable // counts → cycles; the zero table means CortexM4(4)
	// Jobs is the number of images emulated at once; 0 means one per CPU
	// (runtime.GOMAXPROCS).
	Jobs int
	// PerImage is the most layers one image runs; 0 means 16.
	PerImage int
	// Seed seeds the images' pseudo-random weights and inputs.
	Seed uint64
}

func (c Config) table() CycleTable {
	if c.Table == (CycleTable{}) {
		return CortexM4(4)
	}
	return c.Table
}

func (c Config) jobs() int {
	if c.Jobs > 0 {
		return c.Jobs
	}
	return runtime.GOMAXPROCS(0)
}

// Measure emulates each layer's kernel call once and returns one Result
// per layer, in order. Layers are grouped into images of up to PerImage
// layers, which run in parallel (Jobs at a time). The layers must be
// Conv, ConvTranspose or Dense layers whose shapes agree with their
// kernel, stride and padding; a layer runs its ReLU if l.ReLU is set.
func (e *Emulator) Measure(ctx context.Context, cfg Config, layers []arch.Layer) ([]Result, error) {
	if err := cfg.Precision.check(); err != nil {
		return nil, err
	}
	for i, l := range layers {
		if err := checkLayer(l); err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
	}
	return e.measure(ctx, cfg, layers, nil)
}

// SparseLayer is a layer stored sparse (a Conv or Dense layer) with
// RowNonZero non-zero weights in each row: an output channel of a Conv
// (In.Ch·Kernel weights), an output of a Dense layer (In.Size() weights).
type SparseLayer struct {
	Layer      arch.Layer
	RowNonZero int
}

// MeasureSparse is Measure for layers stored sparse, run by the sparse
// kernels (SparseKernels): each layer's weights, their input offsets and
// the rows' counts in flash, the RowNonZero weights of each row at
// pseudo-random positions, ascending. It returns one Result per layer, in
// order (Result.Layer is the layer). Each layer must be a Conv or Dense
// layer that Measure accepts, whose input holds at most
// arch.MaxSparseInput values, a Conv's kernel no longer than its input,
// with 0 ≤ RowNonZero ≤ min(row length, 65535).
func (e *Emulator) MeasureSparse(ctx context.Context, cfg Config, layers []SparseLayer) ([]Result, error) {
	if err := cfg.Precision.check(); err != nil {
		return nil, err
	}
	ls, nnz := make([]arch.Layer, len(layers)), make([]int, len(layers))
	for i, sl := range layers {
		if err := checkSparse(sl.Layer, sl.RowNonZero); err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
		ls[i], nnz[i] = sl.Layer, sl.RowNonZero
	}
	return e.measure(ctx, cfg, ls, nnz)
}

// measure runs Measure's images, of layers stored sparse when sparse is not
// nil (sparse[i] the non-zero weights in each row of layers[i]).
func (e *Emulator) measure(ctx context.Context, cfg Config, layers []arch.Layer, sparse []int) ([]Result, error) {
	per := cfg.PerImage
	if per <= 0 {
		per = 16
	}
	res := make([]Result, len(layers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.jobs())
	for lo := 0; lo < len(layers); lo += per {
		hi := min(lo+per, len(layers))
		im := image{prec: cfg.Precision, layers: layers[lo:hi], seed: uint32(cfg.Seed) ^ uint32(cfg.Seed>>32) ^ uint32(lo)*0x9e3779b1}
		if sparse != nil {
			im.sparse = sparse[lo:hi]
		}
		g.Go(func() error {
			cs, err := e.runImage(gctx, im)
			if err != nil {
				return fmt.Errorf("layers %d–%d: %w", lo+1, hi, err)
			}
			for i, c := range cs {
				res[lo+i] = Result{Layer: layers[lo+i], Precision: cfg.Precision, Counts: c, Cycles: cfg.table().Cycles(c)}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return res, nil
}

// MeasureNetwork emulates layers 1..P of net — the edge partition of a
// split at P — in one image, the output of each layer feeding the next,
// with one marker pair around them all, and returns the counts and cycles
// of the whole partition (its Layer is the zero layer). Compare the cycles
// with the sum of a latency surrogate's per-layer predictions
// (hw.LatencyModel.Cycles).
func (e *Emulator) MeasureNetwork(ctx context.Context, cfg Config, net arch.Network, P int) (Result, error) {
	if err := cfg.Precision.check(); err != nil {
		return Result{}, err
	}
	if P < 1 || P > len(net.Layers) {
		return Result{}, fmt.Errorf("calib: split point %d outside 1..%d", P, len(net.Layers))
	}
	layers := net.Layers[:P]
	for i, l := range layers {
		if err := checkLayer(l); err != nil {
			return Result{}, fmt.Errorf("layer %d: %w", i+1, err)
		}
	}
	cs, err := e.runImage(ctx, image{prec: cfg.Precision, layers: layers, network: true, seed: uint32(cfg.Seed) | 1})
	if err != nil {
		return Result{}, err
	}
	return Result{Precision: cfg.Precision, Counts: cs[0], Cycles: cfg.table().Cycles(cs[0])}, nil
}

// Sampling bounds of Dense layers' outputs: the classes of the sampled
// networks, so that Dense layers vary their number of outputs and not only
// their input size (otherwise their MACs and inputs are proportional and
// the fit cannot tell them apart).
const (
	MinDenseOutputs = 2
	MaxDenseOutputs = 16
)

// SampleLayers draws n distinct layers from networks decoded from random
// genomes of space s, taking turns among Conv, ConvTranspose and Dense: for
// each, it draws genomes until one decodes to a network with a layer of
// that kind not drawn before, and takes one such layer at random. Each
// genome is decoded with s.Classes replaced by a number drawn uniformly
// from [MinDenseOutputs, MaxDenseOutputs]. Conv and ConvTranspose layers
// keep their ReLU, Dense layers have none (the final layer of a searched
// network), as hw.Measurement.Layer assumes.
func SampleLayers(s arch.Space, n int, rng *rand.Rand) ([]arch.Layer, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	kinds := []arch.Kind{arch.Conv, arch.ConvTranspose, arch.Dense}
	seen := map[arch.Layer]bool{}
	out := make([]arch.Layer, 0, n)
	const attempts = 100000
	for i := 0; len(out) < n; i++ {
		kind := kinds[i%len(kinds)]
		found := false
		for range attempts {
			sp := s
			sp.Classes = MinDenseOutputs + rng.IntN(MaxDenseOutputs-MinDenseOutputs+1)
			net, err := sp.Decode(sp.Random(rng))
			if err != nil {
				return nil, err
			}
			var cand []arch.Layer
			for _, l := range net.Layers {
				if l.Kind == kind && !seen[l] {
					cand = append(cand, l)
				}
			}
			if len(cand) == 0 {
				continue
			}
			l := cand[rng.IntN(len(cand))]
			seen[l] = true
			out = append(out, l)
			found = true
			break
		}
		if !found {
			return nil, fmt.Errorf("calib: found no new %s layer in %d random networks; the space has fewer than %d distinct layers of it", kind, attempts, n/len(kinds))
		}
	}
	return out, nil
}

// CSVHeader is the header WriteCSV writes: the columns hw.ReadMeasurements
// requires (hw.MeasurementColumns, then hw.ColumnCycles), then the
// instruction count, the precision, MACs, padding, the count of each
// instruction class (n_alu …), the extra counts (CountNames: regs …
// flash_misses), and time_us and energy_uj at the device's clock and power.
func CSVHeader() []string {
	h := append(hw.MeasurementColumns(), hw.ColumnCycles, "instructions", "precision", "macs", "pad_left", "pad_right")
	for c := range NumClasses {
		h = append(h, "n_"+c.String())
	}
	h = append(h, CountNames()...)
	return append(h, "time_us", "energy_uj")
}

// WriteCSV writes results as CSV (see CSVHeader) for hw.ReadMeasurements.
// clockHz and powerMW convert cycles to time and energy, and must be
// positive and finite; every result's precision must be valid.
func WriteCSV(w io.Writer, rs []Result, clockHz, powerMW float64) error {
	for _, c := range []struct {
		name string
		v    float64
	}{{"clock", clockHz}, {"power", powerMW}} {
		if math.IsNaN(c.v) || math.IsInf(c.v, 0) || c.v <= 0 {
			return fmt.Errorf("calib: CSV %s %v: must be positive and finite", c.name, c.v)
		}
	}
	for i, r := range rs {
		if err := r.Precision.check(); err != nil {
			return fmt.Errorf("result %d: %w", i+1, err)
		}
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader()); err != nil {
		return err
	}
	itoa := strconv.Itoa
	ftoa := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	for _, r := range rs {
		l := r.Layer
		rec := []string{l.Kind.String(), itoa(l.In.Len), itoa(l.In.Ch), itoa(l.Out.Len), itoa(l.Out.Ch),
			itoa(l.Kernel), itoa(l.Stride), ftoa(r.Cycles), strconv.FormatInt(r.Counts.Instructions(), 10),
			r.Precision.String(), itoa(l.MACs()), itoa(l.PadLeft), itoa(l.PadRight)}
		for _, v := range r.Counts.values() {
			rec = append(rec, strconv.FormatInt(*v, 10))
		}
		us := r.Cycles / clockHz * 1e6
		rec = append(rec, ftoa(us), ftoa(us*powerMW/1e3))
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
