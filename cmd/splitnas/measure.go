package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/calib"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/internal/atomicfile"
)

const calibrateMeasureLong = `Measures layer latency on an emulated Cortex-M4, without a board: it samples --samples layer
shapes from the default search space (Conv1D, transposed Conv1D and Dense in turn; Dense layers
with 2 to 16 outputs; strided kernels --overlap times their stride), generates C kernels for
them, cross-compiles them with arm-none-eabi-gcc (-mcpu=cortex-m4 -mthumb -mfloat-abi=hard
-mfpu=fpv4-sp-d16 -O2, bare metal), runs the images under qemu-system-arm -M mps2-an386 on all
cores, and counts each kernel call's executed
instructions per class with a QEMU TCG plugin. Counts become cycles with the Cortex-M4 timings
of the Technical Reference Manual and the flash wait states of an STM32L4 at --clock-hz (4 at
80 MHz, RM0351), behind its ART accelerator; see package calib for the cycle table.

The CSV has the columns splitnas calibrate fit reads (kind, l_in, c_in, l_out, c_out, kernel,
stride, cycles), then instructions, precision, macs, pad_left, pad_right, the instruction count
of each class (n_alu, n_mul, n_div, n_load, n_store, n_ldm_stm, n_branch, n_fp_arith, n_fp_mac,
n_fp_ldst, n_fp_ldm, n_fp_div, n_other), the cycle model's events (regs, taken, pipelined,
stalls, flash_reads, flash_misses), and time_us and energy_uj at the profile's clock and power.
Its first line, a # comment, records the command and tool versions.

With --all-layers, measure instead measures every distinct layer of the default search space
(every --overlap, Dense layers to each of --classes): the per-layer latency table a profile names
as edge.layer_table (a layer the table holds is predicted by its measured cycles).

With --check-arch, measure instead emulates the edge partition of that network (layers 1..--split)
in one image and compares its cycles with the sum of --profile's per-layer predictions; it prints
the comparison and writes no CSV, so --out is not given.

Needs arm-none-eabi-gcc, qemu-system-arm and a host gcc (for the plugin); on Debian:
apt-get install gcc-arm-none-eabi qemu-system-arm gcc`

func newCalibrateMeasureCmd() *cobra.Command {
	var (
		board, precision, profile, out, checkArch, overlaps, classes string
		allLayers                                                    bool
		samples, jobs, perImage, split                               int
		seed                                                         uint64
		clockHz                                                      float64
		waitStates                                                   int
	)
	cmd := &cobra.Command{
		Use:   "measure --out FILE.csv [--samples N] [--precision f32|int8|int4] [--board mps2-an386]",
		Short: "Measure layer latencies on an emulated Cortex-M4 (QEMU) and write a CSV for calibrate fit",
		Long:  calibrateMeasureLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case out == "" && checkArch == "":
				return fmt.Errorf("--out is required (or --check-arch)")
			case out != "" && checkArch != "":
				return fmt.Errorf("--out %q with --check-arch: the check prints its comparison and writes no CSV; give one of them", out)
			case checkArch == "" && cmd.Flags().Changed("split"):
				return fmt.Errorf("--split is for --check-arch only")
			}
			if samples < 1 {
				return fmt.Errorf("--samples %d: must be positive", samples)
			}
			if jobs < 0 || perImage < 1 {
				return fmt.Errorf("--jobs must be ≥ 0 and --per-image positive")
			}
			prec, err := calib.ParsePrecision(precision)
			if err != nil {
				return fmt.Errorf("--precision: %w", err)
			}
			prof, err := hw.Load(profile)
			if err != nil {
				return fmt.Errorf("--profile: %w", err)
			}
			if !cmd.Flags().Changed("clock-hz") {
				clockHz = prof.Edge.ClockHz
			}
			if !(clockHz > 0) || math.IsInf(clockHz, 0) {
				return fmt.Errorf("--clock-hz %v: must be positive", clockHz)
			}
			if waitStates < 0 {
				if waitStates, err = calib.STM32L4WaitStates(clockHz); err != nil {
					return fmt.Errorf("--clock-hz: %w (give --wait-states for another device)", err)
				}
			}
			cfg := calib.Config{Precision: prec, Table: calib.CortexM4(waitStates), Jobs: jobs, PerImage: perImage, Seed: seed}
			ctx := cmd.Context()
			e, err := calib.NewEmulator(ctx, board)
			if err != nil {
				return err
			}
			defer e.Close()
			w := cmd.OutOrStdout()
			if checkArch != "" {
				return checkPartition(cmd, e, cfg, prof, checkArch, split, clockHz)
			}

			start := time.Now()
			space := arch.DefaultSpace(5)
			ov, err := parseList("overlap", overlaps, strconv.Atoi)
			if err != nil {
				return err
			}
			space.Kernel.Overlap, space.Overlaps = ov[0], nil
			if len(ov) > 1 {
				space.Overlaps = ov
			}
			var layers []arch.Layer
			if allLayers {
				layers, err = spaceLayers(space, classes)
			} else {
				layers, err = calib.SampleLayers(space, samples, rand.New(rand.NewPCG(seed, 0x63616c6962)))
			}
			if err != nil {
				return err
			}
			rs, err := e.Measure(ctx, cfg, layers)
			if err != nil {
				return err
			}
			elapsed := time.Since(start)
			var given []string
			cmd.Flags().Visit(func(fl *pflag.Flag) { given = append(given, "--"+fl.Name+" "+fl.Value.String()) })
			header := fmt.Sprintf("# splitnas calibrate measure %s; %s; arm-none-eabi-gcc %s %s; qemu-system-arm %s -M %s; %d flash wait states at %g Hz, %g mW (%s)\n",
				strings.Join(given, " "), prec, e.CrossCCVersion, strings.Join(calib.CrossFlags(), " "),
				e.QEMUVersion, e.Board, waitStates, clockHz, prof.Edge.ActivePowerMW, prof.Name)
			if err := atomicfile.Write(out, func(f io.Writer) error {
				if _, err := io.WriteString(f, header); err != nil {
					return err
				}
				return calib.WriteCSV(f, rs, clockHz, prof.Edge.ActivePowerMW)
			}); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			printMeasure(w, rs)
			fmt.Fprintf(w, "measured %d %s layers in %v (%v per layer); wrote %s\n",
				len(rs), prec, elapsed.Round(time.Millisecond), (elapsed / time.Duration(len(rs))).Round(time.Millisecond), out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&board, "board", calib.Boards()[0], "QEMU machine ("+strings.Join(calib.Boards(), ", ")+")")
	f.IntVar(&samples, "samples", 200, "layer shapes to sample and measure (Conv1D, transposed Conv1D and Dense in turn)")
	f.StringVar(&precision, "precision", "f32", "kernel precision: f32, int8 or int4")
	f.Uint64Var(&seed, "seed", 1, "seed of the sampled shapes and of the kernels' data")
	f.StringVar(&profile, "profile", hw.DefaultProfile, "device profile for the clock and power: a built-in name ("+strings.Join(hw.Builtins(), ", ")+") or a TOML file")
	f.Float64Var(&clockHz, "clock-hz", 0, "edge clock in Hz: flash wait states and time_us (default: the profile's edge clock)")
	f.IntVar(&waitStates, "wait-states", -1, "flash wait states (default: an STM32L4's at --clock-hz, RM0351 table 11)")
	f.IntVar(&jobs, "jobs", 0, "images emulated at once (default: one per CPU)")
	f.IntVar(&perImage, "per-image", 16, "layers per emulated image")
	f.StringVar(&out, "out", "", "CSV file to write (required unless --check-arch)")
	f.StringVar(&overlaps, "overlap", "1", "kernel overlap of the strided layers, in strides (as search --overlap); a comma-separated list (e.g. 1,2) samples networks of each, or with --all-layers measures the layers of each")
	f.BoolVar(&allLayers, "all-layers", false, "instead of sampling, measure every distinct layer of the space (all --overlap values, Dense layers to each of --classes): a per-layer latency table for a profile's edge.layer_table")
	f.StringVar(&classes, "classes", "2,3,4,5", "with --all-layers: the Dense layers' output counts (the datasets' class counts)")
	f.StringVar(&checkArch, "check-arch", "", "instead of sampling, emulate this network's edge partition and compare with --profile's prediction")
	f.IntVar(&split, "split", 0, "with --check-arch: the split point P, layers 1..P on the edge (default: all layers)")
	return cmd
}

// printMeasure summarises measurements per kind.
func printMeasure(w io.Writer, rs []calib.Result) {
	type agg struct {
		n                int
		minI, maxI       int64
		minC, maxC, sumC float64
		macs             int
	}
	kinds := []string{}
	by := map[string]*agg{}
	for _, r := range rs {
		k := r.Layer.Kind.String()
		a, ok := by[k]
		if !ok {
			a = &agg{minI: math.MaxInt64, minC: math.Inf(1)}
			by[k] = a
			kinds = append(kinds, k)
		}
		n := r.Counts.Instructions()
		a.n++
		a.minI, a.maxI = min(a.minI, n), max(a.maxI, n)
		a.minC, a.maxC, a.sumC = min(a.minC, r.Cycles), max(a.maxC, r.Cycles), a.sumC+r.Cycles
		a.macs += r.Layer.MACs()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "kind\tn\tinstructions\tcycles\tcycles per MAC")
	for _, k := range kinds {
		a := by[k]
		fmt.Fprintf(tw, "%s\t%d\t%d – %d\t%.0f – %.0f\t%.2f\n", k, a.n, a.minI, a.maxI, a.minC, a.maxC, a.sumC/float64(max(a.macs, 1)))
	}
	tw.Flush()
}

// checkPartition emulates an edge partition and compares it with the
// profile's latency surrogate.
func checkPartition(cmd *cobra.Command, e *calib.Emulator, cfg calib.Config, prof hw.Profile, archStr string, split int, clockHz float64) error {
	net, err := arch.Parse(archStr, arch.DefaultKernelRule())
	if err != nil {
		return fmt.Errorf("--check-arch: %w", err)
	}
	if split == 0 {
		split = len(net.Layers)
	}
	if split < 1 || split > len(net.Layers) {
		return fmt.Errorf("--split %d: outside 1..%d", split, len(net.Layers))
	}
	r, err := e.MeasureNetwork(cmd.Context(), cfg, net, split)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "layer\tkind\tshape\tMACs\tpredicted cycles\tfrom")
	pred := 0.0
	for i, l := range net.Layers[:split] {
		s, err := prof.Edge.LayerSeconds(l)
		if err != nil {
			return fmt.Errorf("--profile %s: %w", prof.Name, err)
		}
		c := s * prof.Edge.ClockHz
		from := "latency model"
		if _, ok := prof.Edge.Table.Cycles(l); ok {
			from = "layer table"
		}
		pred += c
		fmt.Fprintf(tw, "%d\t%s\t%v → %v\t%d\t%.0f\t%s\n", i+1, l.Kind, l.In, l.Out, l.MACs(), c, from)
	}
	tw.Flush()
	fmt.Fprintf(w, "partition 1..%d of %s (%s): emulated %.0f cycles (%d instructions), profile %s predicts %.0f: %+.2f%%; %.1f µs at %g Hz\n",
		split, net, cfg.Precision, r.Cycles, r.Counts.Instructions(), prof.Name, pred, 100*(pred-r.Cycles)/r.Cycles, r.Cycles/clockHz*1e6, clockHz)
	return nil
}

// spaceLayers is every layer of space (arch.Space.Layers), with the Dense
// layers repeated for each class count of the --classes list.
func spaceLayers(space arch.Space, classes string) ([]arch.Layer, error) {
	cs, err := parseList("classes", classes, strconv.Atoi)
	if err != nil {
		return nil, err
	}
	var all []arch.Layer
	for i, c := range cs {
		if c < 1 {
			return nil, fmt.Errorf("--classes: %d is not a positive class count", c)
		}
		space.Classes = c
		ls, err := space.Layers()
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			if i == 0 || l.Kind == arch.Dense {
				all = append(all, l)
			}
		}
	}
	return all, nil
}
