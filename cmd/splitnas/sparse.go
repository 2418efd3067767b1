package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/calib"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/internal/atomicfile"
)

const calibrateSparseLong = `Measures the sparse kernels (the ones "splitnas export" uses for a pruned layer: only the non-zero
weights stored, each with a 16-bit offset into the input) on the emulated Cortex-M4 and fits their
latency surrogate,

    cycles = per_nonzero_mac·nzMACs + per_edge_mac·edgeMACs + per_output·outputs + per_row·rows + fixed,

per kind (conv1d and dense): nzMACs are the multiply-accumulates of the stored weights, edgeMACs those
of a convolution's positions whose window crosses the input's edge, rows a convolution's output
channels (hw.SparseModel). It samples --samples Conv1D and Dense layers of the default search space
(kernel overlaps --overlap), measures each with --densities of its weights stored (the same number
in every row, at pseudo-random positions), and prints the fit's quality and the profile tables
[edge.sparse.conv1d] and [edge.sparse.dense] to put into the profile of that precision — the
built-in stm32l476 profiles carry the tables this command printed.

With --all-layers --out FILE.csv it measures instead every distinct Conv1D and Dense layer of the
space (overlaps --overlap, Dense layers to each of --classes) with 0, 1, 2, 3 and the largest
even count up to all of each row's weights stored, and writes the profile's sparse table
(edge.sparse_table): per layer, the cycles with every row empty, and per non-empty row, per row
of two or more, per pair of its weights and for an odd last one (the kernels take weights two at
a time). It checks the table on one more measurement of every layer whose rows have at least 6
weights, an odd count near half of each row's weights, and prints the error.`

func newCalibrateSparseCmd() *cobra.Command {
	var (
		board, precision, overlaps, densities string
		out, classes                          string
		allLayers                             bool
		samples, jobs                         int
		seed                                  uint64
	)
	cmd := &cobra.Command{
		Use:   "sparse [--precision f32|int8|int4] [--samples N] [--densities LIST]",
		Short: "Measure the sparse kernels on the emulated Cortex-M4 and fit a profile's [edge.sparse] tables",
		Long:  calibrateSparseLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if samples < 2 {
				return fmt.Errorf("--samples %d: want at least 2 (Conv1D and Dense layers in turn)", samples)
			}
			if jobs < 0 {
				return fmt.Errorf("--jobs %d: must be ≥ 0", jobs)
			}
			prec, err := calib.ParsePrecision(precision)
			if err != nil {
				return fmt.Errorf("--precision: %w", err)
			}
			ds, err := parseList("densities", densities, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
			if err != nil {
				return err
			}
			for _, d := range ds {
				if !(d >= 0 && d <= 1) {
					return fmt.Errorf("--densities: %v is not a fraction 0 ≤ d ≤ 1 of the weights", d)
				}
			}
			ov, err := parseList("overlap", overlaps, strconv.Atoi)
			if err != nil {
				return err
			}
			space := arch.DefaultSpace(5)
			space.Kernel.Overlap, space.Overlaps = ov[0], nil
			if len(ov) > 1 {
				space.Overlaps = ov
			}
			if allLayers != (out != "") {
				return fmt.Errorf("--all-layers and --out go together: the table of every layer, written to --out")
			}
			if allLayers {
				return sparseTable(cmd, board, prec, space, classes, jobs, seed, out)
			}
			// SampleLayers takes Conv, ConvTranspose and Dense in turns:
			// draw 3/2 as many and keep the kinds that run sparse.
			drawn, err := calib.SampleLayers(space, samples*3/2+1, rand.New(rand.NewPCG(seed, 0x737061727365)))
			if err != nil {
				return err
			}
			var layers []calib.SparseLayer
			n := 0
			for _, l := range drawn {
				if !l.Sparsable() || n == samples {
					continue
				}
				n++
				per := l.Weights() / l.Rows()
				for _, d := range ds {
					layers = append(layers, calib.SparseLayer{Layer: l, RowNonZero: int(math.Round(d * float64(per)))})
				}
			}
			rs, took, _, err := emulateSparse(cmd.Context(), board, calib.Config{Precision: prec, Jobs: jobs, Seed: seed}, layers)
			if err != nil {
				return err
			}
			ss := make([]hw.SparseSample, len(rs))
			for i, r := range rs {
				ss[i] = hw.SparseSample{Layer: layers[i].Layer, NonZero: layers[i].RowNonZero * layers[i].Layer.Rows(), Cycles: r.Cycles}
			}
			fits, err := hw.FitSparse(ss)
			if err != nil {
				return err
			}
			printSparseFits(cmd.OutOrStdout(), prec, fits, len(rs), took)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&board, "board", calib.Boards()[0], "QEMU machine ("+strings.Join(calib.Boards(), ", ")+")")
	f.StringVar(&precision, "precision", "f32", "kernel precision: f32, int8 or int4")
	f.IntVar(&samples, "samples", 40, "Conv1D and Dense layer shapes to sample from the default search space")
	f.StringVar(&densities, "densities", "0,0.05,0.1,0.25,0.5,0.75,1", "fractions of each row's weights stored, comma-separated")
	f.StringVar(&overlaps, "overlap", "1,2", "kernel overlaps of the sampled networks (as search --overlap)")
	f.IntVar(&jobs, "jobs", 0, "images emulated at once (default: one per CPU)")
	f.Uint64Var(&seed, "seed", 1, "seed of the sampled shapes, the stored positions and the kernels' data")
	f.BoolVar(&allLayers, "all-layers", false, "measure every distinct Conv1D and Dense layer of the space and write a sparse table (--out)")
	f.StringVar(&out, "out", "", "with --all-layers: the sparse table CSV to write")
	f.StringVar(&classes, "classes", "2,3,4,5", "with --all-layers: the Dense layers' output counts")
	return cmd
}

// sparseTable measures every Conv1D and Dense layer of space with 0, 1, 2,
// 3 and the largest even count of each row's weights stored, derives each
// layer's SparseCosts, checks them on an odd count near half, and writes
// the table to out.
func sparseTable(cmd *cobra.Command, board string, prec calib.Precision, space arch.Space, classes string, jobs int, seed uint64, out string) error {
	all, err := spaceLayers(space, classes)
	if err != nil {
		return err
	}
	var layers []arch.Layer
	for _, l := range all {
		if l.Sparsable() {
			layers = append(layers, l)
		}
	}
	// Six measurements a layer: n = 0, 1, 2, 3, the largest even count
	// (each capped at the row's weights), and the check: an odd count near
	// the middle, at least 5.
	levels := func(per int) [6]int {
		return [6]int{0, 1, min(2, per), min(3, per), max(per&^1, 1), min(max(per/2|1, 5), per)}
	}
	var ms []calib.SparseLayer
	for _, l := range layers {
		for _, n := range levels(l.Weights() / l.Rows()) {
			ms = append(ms, calib.SparseLayer{Layer: l, RowNonZero: n})
		}
	}
	rs, took, tools, err := emulateSparse(cmd.Context(), board, calib.Config{Precision: prec, Jobs: jobs, Seed: seed}, ms)
	if err != nil {
		return err
	}
	entries := make([]hw.SparseEntry, len(layers))
	var rel []float64
	for i, l := range layers {
		per, rows := l.Weights()/l.Rows(), float64(l.Rows())
		lv := levels(per)
		c := func(k int) float64 { return rs[6*i+k].Cycles }
		// Per row, f(n) = (cycles(n) − Empty)/rows: f(1) = PerRow + PerOdd,
		// f(2) = PerRow + PerPairRow + PerPair, f(3) = f(2) + PerOdd,
		// f(2m) = PerRow + PerPairRow + m·PerPair.
		sc := hw.SparseCosts{Empty: c(0)}
		f := func(k int) float64 { return (c(k) - c(0)) / rows }
		switch {
		case per == 1:
			sc.PerRow = f(1)
		case per == 2:
			sc.PerRow, sc.PerPair = f(1), f(2)-f(1)
		default:
			sc.PerOdd = f(3) - f(2)
			sc.PerRow = f(1) - sc.PerOdd
			if e := lv[4]; e >= 4 {
				sc.PerPair = (f(4) - f(2)) / float64(e/2-1)
				sc.PerPairRow = f(2) - sc.PerRow - sc.PerPair
			} else { // rows of 3: one pair at most
				sc.PerPair = f(2) - sc.PerRow
			}
		}
		entries[i] = hw.SparseEntry{Layer: l, SparseCosts: sc}
		if per < 6 {
			continue // every count measured
		}
		uniform := make([]int, l.Rows())
		for r := range uniform {
			uniform[r] = lv[5]
		}
		rel = append(rel, math.Abs(sc.Cycles(uniform)-c(5))/c(5))
	}
	slices.Sort(rel)
	comment := fmt.Sprintf("splitnas calibrate sparse --all-layers --precision %s --overlap %v --classes %s; %s\n"+
		"cycles of the sparse kernel of each layer: cycles_empty + Σ over rows holding n > 0 weights of (cycles_per_row + cycles_per_pair_row·[n ≥ 2] + cycles_per_pair·⌊n/2⌋ + cycles_per_odd·(n mod 2))",
		prec, space.Overlaps, classes, tools)
	if err := atomicfile.Write(out, func(w io.Writer) error { return hw.WriteSparseTable(w, comment, entries) }); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "measured %d %s layers at 6 densities each in %v; wrote %s\n", len(layers), prec, took.Round(time.Millisecond), out)
	fmt.Fprintf(w, "check on the %d layers with rows of 6 weights or more, an odd count near half stored: |table − measured| / measured median %.3f %%, 95th percentile %.3f %%, largest %.3f %%\n",
		len(rel), 100*rel[len(rel)/2], 100*rel[len(rel)*95/100], 100*rel[len(rel)-1])
	return nil
}

// emulateSparse measures layers with the sparse kernels on board, and
// returns the results, the time it took and the toolchain, as a table's
// header names it.
func emulateSparse(ctx context.Context, board string, cfg calib.Config, layers []calib.SparseLayer) ([]calib.Result, time.Duration, string, error) {
	e, err := calib.NewEmulator(ctx, board)
	if err != nil {
		return nil, 0, "", err
	}
	defer e.Close()
	start := time.Now()
	rs, err := e.MeasureSparse(ctx, cfg, layers)
	tools := fmt.Sprintf("arm-none-eabi-gcc %s %s; qemu-system-arm %s -M %s", e.CrossCCVersion, strings.Join(calib.CrossFlags(), " "), e.QEMUVersion, e.Board)
	return rs, time.Since(start), tools, err
}

// printSparseFits prints each kind's fit and the profile tables.
func printSparseFits(w io.Writer, prec calib.Precision, fits []hw.SparseFit, n int, took time.Duration) {
	fmt.Fprintf(w, "measured %d sparse %s layers in %v\n", n, prec, took.Round(time.Millisecond))
	var toml bytes.Buffer
	for _, f := range fits {
		fmt.Fprintf(w, "%-7s %3d layers: |predicted − measured| / measured median %.2f %%, largest %.2f %%\n",
			f.Kind, f.N, 100*f.MedianRelErr, 100*f.MaxRelErr)
		fmt.Fprintf(&toml, "\n[edge.sparse.%s]\n", f.Kind)
		m := f.Model
		for i, v := range []float64{m.PerNonZero, m.PerEdge, m.PerOutput, m.PerRow, m.Fixed} {
			fmt.Fprintf(&toml, "%s = %s\n", hw.SparseFeatureNames()[i], strconv.FormatFloat(v, 'g', 6, 64))
		}
	}
	fmt.Fprintf(w, "%s", toml.String())
}
