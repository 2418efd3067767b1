package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/internal/atomicfile"
)

func newCalibrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "calibrate",
		Short: "Fit a device's per-layer latency models to measured latencies",
	}
	cmd.AddCommand(newCalibrateFitCmd(), newCalibrateMeasureCmd(), newCalibrateSparseCmd())
	return cmd
}

// calibrateReport is what `splitnas calibrate fit --json` prints.
type calibrateReport struct {
	Profile string          `json:"profile"` // the written file
	Name    string          `json:"name"`    // the written profile's name
	Base    string          `json:"base"`    // --profile
	CSV     string          `json:"csv"`
	Kept    []string        `json:"kept"` // kinds whose model comes from the base profile
	Kinds   []calibrateKind `json:"kinds"`
}

type calibrateKind struct {
	Kind         string                `json:"kind"`
	N            int                   `json:"n"`
	R2           float64               `json:"r2"`
	RMSECycles   float64               `json:"rmse_cycles"`
	MedianRelErr float64               `json:"median_rel_err"`
	P95RelErr    float64               `json:"p95_rel_err"`
	Coefficients calibrateCoefficients `json:"coefficients"`
	Residuals    []float64             `json:"residuals"` // measured − predicted cycles, in CSV order
	// On the --holdout measurements, not used in the fit (absent without).
	Holdout *calibrateHoldout `json:"holdout,omitempty"`
}

type calibrateHoldout struct {
	N            int     `json:"n"`
	R2           float64 `json:"r2"`
	MedianRelErr float64 `json:"median_rel_err"`
	P95RelErr    float64 `json:"p95_rel_err"`
}

type calibrateCoefficients struct {
	PerMAC    float64 `json:"per_mac"`
	PerInput  float64 `json:"per_input"`
	PerOutput float64 `json:"per_output"`
	Fixed     float64 `json:"fixed"`
}

const calibrateFitLong = `Fits the edge latency surrogate of each layer kind,

    cycles = per_mac·MACs + per_input·inputs + per_output·outputs + fixed,

by least squares to measured layer latencies, and writes a device profile: the base profile
(--profile, default ` + hw.DefaultProfile + `) with the edge latency model of every kind in the CSV
replaced by its fit. Kinds the CSV does not measure keep the base profile's model (a message on
stderr lists them). The new profile is named after the --out file; load it with --profile FILE.
It prints, per kind, the number of measurements, R² and RMSE in cycles, the median and 95th
percentile of |predicted − measured| / measured, and the fitted coefficients.

The CSV has a header row naming its columns, in any order (case-insensitive):

    kind        layer kind: conv1d, conv1d_transpose, dense or maxpool1d
    l_in, c_in  input length and channels (positive whole numbers)
    l_out,c_out output length and channels
    kernel      kernel size (positive; 0 or empty for dense)
    stride      stride (positive; 0 or empty for dense)
    cycles      clock cycles of one call of the layer, or instead
    latency_us  microseconds of one call, converted to cycles at the base profile's edge clock

Exactly one of cycles and latency_us must be present; other columns are ignored. Blank lines
and lines starting with # are skipped. MACs, inputs and outputs are computed from the shapes as
for a searched network. Each kind needs more measurements than coefficients (5; 4 for
maxpool1d, which has no MACs) of shapes that vary MACs, inputs and outputs independently:
dense layers, for instance, must not all have the same number of outputs. Example:

    kind,l_in,c_in,l_out,c_out,kernel,stride,cycles
    conv1d,2048,1,128,2,16,16,40904
    conv1d,128,2,128,4,3,1,35528
    conv1d_transpose,8,4,64,2,8,8,7112
    dense,256,4,5,1,0,0,36115`

func newCalibrateFitCmd() *cobra.Command {
	var (
		csvPath, out, profile, holdout string
		asJSON                         bool
	)
	cmd := &cobra.Command{
		Use:   "fit --csv FILE --out PROFILE.toml [--profile NAME|FILE]",
		Short: "Fit latency models to a CSV of measured layer latencies and write a profile",
		Long:  calibrateFitLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			base, err := hw.Load(profile)
			if err != nil {
				return fmt.Errorf("--profile: %w", err)
			}
			f, err := os.Open(csvPath)
			if err != nil {
				return fmt.Errorf("--csv: %w", err)
			}
			ms, err := hw.ReadMeasurements(f, csvPath, base.Edge.ClockHz)
			f.Close()
			if err != nil {
				return err
			}
			fits, err := hw.Fit(ms)
			if err != nil {
				return fmt.Errorf("%s: %w", csvPath, err)
			}
			var held []hw.Measurement
			if holdout != "" {
				f, err := os.Open(holdout)
				if err != nil {
					return fmt.Errorf("--holdout: %w", err)
				}
				held, err = hw.ReadMeasurements(f, holdout, base.Edge.ClockHz)
				f.Close()
				if err != nil {
					return err
				}
			}
			p, kept, err := hw.WithFittedLatency(base, fits)
			if err != nil {
				return fmt.Errorf("%s: %w", csvPath, err)
			}
			p.Name = strings.TrimSuffix(filepath.Base(out), filepath.Ext(out))
			rep := calibrateReport{Profile: out, Base: profile, CSV: csvPath, Kept: kept}
			var fitted []string
			for _, r := range fits {
				fitted = append(fitted, r.Kind)
				c := r.Model
				rep.Kinds = append(rep.Kinds, calibrateKind{
					Kind: r.Kind, N: r.N, R2: r.R2, RMSECycles: r.RMSECycles,
					MedianRelErr: r.MedianRelErr, P95RelErr: r.P95RelErr,
					Coefficients: calibrateCoefficients{PerMAC: c.PerMAC, PerInput: c.PerInput, PerOutput: c.PerOutput, Fixed: c.Fixed},
					Residuals:    r.Residuals,
					Holdout:      holdoutOf(r.Kind, r.Model, held),
				})
			}
			if len(rep.Kept) > 0 {
				slog.Warn("the CSV measures no layers of some kinds; keeping the base profile's latency models for them",
					"kinds", strings.Join(rep.Kept, ","), "base", base.Name, "csv", csvPath)
			}
			p.Description = fmt.Sprintf("edge latency of %s fitted to %s", strings.Join(fitted, ", "), filepath.Base(csvPath))
			if base.Description != "" {
				p.Description = base.Description + "; " + p.Description
			}
			rep.Name = p.Name

			var comment bytes.Buffer
			fmt.Fprintf(&comment, "splitnas device profile %q: profile %s with the edge latency models\n", p.Name, base.Name)
			fmt.Fprintf(&comment, "of %s fitted by least squares to the measurements in %s,\n", strings.Join(fitted, ", "), csvPath)
			fmt.Fprintf(&comment, "written by\n    splitnas calibrate fit --csv %s --profile %s --out %s\n", csvPath, profile, out)
			if len(rep.Kept) > 0 {
				fmt.Fprintf(&comment, "Kept from %s (not in the CSV): %s.\n", base.Name, strings.Join(rep.Kept, ", "))
			}
			comment.WriteString("The format is documented in README.md (\"Hardware model and split points\"). Fits:\n\n")
			printCalibrate(&comment, rep.Kinds)
			if err := atomicfile.Write(out, func(w io.Writer) error { return p.WriteTOML(w, comment.String()) }); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			w := cmd.OutOrStdout()
			printCalibrate(w, rep.Kinds)
			fmt.Fprintf(w, "wrote %s (profile %q: %s with fitted %s)\n", out, p.Name, base.Name, strings.Join(fitted, ", "))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&csvPath, "csv", "", "CSV file of measured layer latencies (required; columns in the help above)")
	f.StringVar(&out, "out", "", "profile file to write (required)")
	f.StringVar(&profile, "profile", hw.DefaultProfile, "base profile: a built-in name ("+strings.Join(hw.Builtins(), ", ")+") or a TOML file")
	f.StringVar(&holdout, "holdout", "", "CSV of further measurements (same columns) to report each fit's error on, unused by the fit")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.MarkFlagRequired("csv")
	cmd.MarkFlagRequired("out")
	return cmd
}

// holdoutOf evaluates a fitted model on the held-out measurements of its
// kind; nil if there are none.
func holdoutOf(kind string, m hw.LatencyModel, held []hw.Measurement) *calibrateHoldout {
	var mine []hw.Measurement
	for _, x := range held {
		if x.Kind.String() == kind {
			mine = append(mine, x)
		}
	}
	if len(mine) == 0 {
		return nil
	}
	r2, med, p95 := hw.Evaluate(m, mine)
	return &calibrateHoldout{N: len(mine), R2: r2, MedianRelErr: med, P95RelErr: p95}
}

// printCalibrate prints the fits as a table.
func printCalibrate(w io.Writer, kinds []calibrateKind) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "kind\tn\tR²\tRMSE cycles\tmedian rel err\tp95 rel err\tper_mac\tper_input\tper_output\tfixed")
	for _, k := range kinds {
		c := k.Coefficients
		fmt.Fprintf(tw, "%s\t%d\t%.4f\t%.4g\t%.2f %%\t%.2f %%\t%.4g\t%.4g\t%.4g\t%.4g\n",
			k.Kind, k.N, k.R2, k.RMSECycles, 100*k.MedianRelErr, 100*k.P95RelErr, c.PerMAC, c.PerInput, c.PerOutput, c.Fixed)
	}
	tw.Flush()
	if !slices.ContainsFunc(kinds, func(k calibrateKind) bool { return k.Holdout != nil }) {
		return
	}
	fmt.Fprintln(w, "\nheld out (--holdout, not used by the fit):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "kind\tn\tR²\tmedian rel err\tp95 rel err")
	for _, k := range kinds {
		if h := k.Holdout; h != nil {
			fmt.Fprintf(tw, "%s\t%d\t%.4f\t%.2f %%\t%.2f %%\n", k.Kind, h.N, h.R2, 100*h.MedianRelErr, 100*h.P95RelErr)
		}
	}
	tw.Flush()
}
