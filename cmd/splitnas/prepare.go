package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/bonn"
	"github.com/splitnas/splitnas/dataset/chbmit"
	"github.com/splitnas/splitnas/dataset/mitbih"
)

func newPrepareCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prepare",
		Short: "Turn raw recordings (MIT-BIH, Bonn, CHB-MIT) into a training-ready dataset file",
	}
	cmd.AddCommand(newPrepareMITDBCmd(), newPrepareBonnCmd(), newPrepareCHBMITCmd())
	return cmd
}

// ioFlags are the flags every prepare command has.
type ioFlags struct {
	src, out, encoding string
}

func (f *ioFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.src, "src", "", "folder with the raw data (required)")
	cmd.Flags().StringVar(&f.out, "out", "", "dataset file to write (required)")
	cmd.Flags().StringVar(&f.encoding, "encoding", "f32", "value encoding in the file: f32, or f16 for half the size")
	cmd.MarkFlagRequired("src")
	cmd.MarkFlagRequired("out")
}

// build runs a builder, saves its dataset and prints a summary.
func (f *ioFlags) build(cmd *cobra.Command, build func(ctx context.Context) (*dataset.Dataset, error)) error {
	enc := dataset.Encoding(f.encoding)
	if enc != dataset.F32 && enc != dataset.F16 {
		return fmt.Errorf("--encoding %q: want f32 or f16", f.encoding)
	}
	start := time.Now()
	d, err := build(cmd.Context())
	if err != nil {
		return err
	}
	if err := dataset.Save(f.out, d, enc); err != nil {
		return err
	}
	slog.Info("dataset written", "file", f.out, "samples", d.Len(), "seconds", time.Since(start).Round(time.Millisecond).Seconds())
	return printInfo(cmd.OutOrStdout(), d.Info())
}

func newPrepareMITDBCmd() *cobra.Command {
	var io ioFlags
	opt := mitbih.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "mitdb --src DIR --out FILE",
		Short: "Heartbeat windows in the five AAMI classes from the MIT-BIH Arrhythmia Database",
		Long: `Cuts a window around every annotated beat of lead MLII (records without it use their first
lead), maps the beat to its AAMI EC57 class (N S V F Q), resamples the window to --length
samples and z-scores it. --split random is the paper's stratified 70/15/15; inter-patient
puts de Chazal's DS1 in train/val and DS2 in test and leaves out the paced records 102, 104,
107 and 217 (DS2 is then kept whole: only DS1 is balanced).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return io.build(cmd, func(ctx context.Context) (*dataset.Dataset, error) {
				return mitbih.Build(ctx, io.src, opt)
			})
		},
	}
	io.register(cmd)
	f := cmd.Flags()
	f.IntVar(&opt.Length, "length", opt.Length, "samples per window after resampling (≥ 64)")
	f.Float64Var(&opt.Before, "before", opt.Before, "seconds of signal before the R peak")
	f.Float64Var(&opt.After, "after", opt.After, "seconds of signal after the R peak")
	f.StringVar(&opt.Lead, "lead", opt.Lead, "lead to use")
	f.StringVar(&opt.Balance, "balance", opt.Balance, "per-class (same count per class, seeded) or none")
	f.IntVar(&opt.PerClass, "per-class", opt.PerClass, "samples kept per class when balancing (0 = size of the smallest class)")
	f.StringVar(&opt.Split, "split", opt.Split, "random (70/15/15, stratified) or inter-patient (DS1 train/val, DS2 test)")
	f.Uint64Var(&opt.Seed, "seed", opt.Seed, "random seed for balancing and splitting")
	f.StringSliceVar(&opt.Classes, "classes", nil, "AAMI classes to keep, e.g. N,S,V,F (default: all five)")
	f.StringSliceVar(&opt.Records, "records", nil, "records to use (default: all in --src/RECORDS)")
	f.IntVar(&opt.Workers, "workers", 0, "records read at once (default: number of CPUs)")
	return cmd
}

func newPrepareBonnCmd() *cobra.Command {
	var io ioFlags
	opt := bonn.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "bonn --src DIR --out FILE",
		Short: "Seizure EEG windows from the Bonn epilepsy data sets A–E",
		Long: `Reads the Bonn sets A–E (folders A_Z, B_O, C_N, D_F, E_S, or A–E), band-passes each
23.6 s segment 1–30 Hz (zero phase), cuts windows of --length samples and z-scores each.
--task E-vs-ABCD (default) is seizure against all other sets; A-vs-E seizure against
healthy eyes-open. --split record (default) keeps the windows of a segment in one split.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return io.build(cmd, func(ctx context.Context) (*dataset.Dataset, error) {
				return bonn.Build(ctx, io.src, opt)
			})
		},
	}
	io.register(cmd)
	f := cmd.Flags()
	f.StringVar(&opt.Task, "task", opt.Task, "E-vs-ABCD or A-vs-E")
	f.IntVar(&opt.Length, "length", opt.Length, "samples per window (≥ 64)")
	f.IntVar(&opt.Stride, "stride", opt.Stride, "samples between window starts (0 = --length, no overlap)")
	f.StringVar(&opt.Balance, "balance", opt.Balance, "per-class (same count per class, seeded) or none")
	f.StringVar(&opt.Split, "split", opt.Split, "record (whole segments, 70/15/15) or random (windows, stratified 70/15/15)")
	f.Uint64Var(&opt.Seed, "seed", opt.Seed, "random seed for balancing and splitting")
	f.Float64Var(&opt.Low, "low", opt.Low, "band-pass low corner, Hz")
	f.Float64Var(&opt.High, "high", opt.High, "band-pass high corner, Hz")
	f.IntVar(&opt.Workers, "workers", 0, "files read at once (default: number of CPUs)")
	return cmd
}

func newPrepareCHBMITCmd() *cobra.Command {
	var io ioFlags
	opt := chbmit.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "chbmit --src DIR --out FILE",
		Short: "Seizure EEG windows from the CHB-MIT Scalp EEG Database (EDF signals + summaries)",
		Long: `Reads chbNN/chbNN-summary.txt and the .edf recordings under --src, band-passes channels
F7-T7 and F8-T8 1–30 Hz (zero phase), cuts 4 s windows at 256 Hz, z-scores each channel's
window and concatenates the two (2,048 samples). Windows inside a seizure are "seizure",
windows touching none "non-seizure"; those across a boundary are dropped. Patients 6, 14
and 16 are excluded by default. Recordings without the chosen channels are skipped (noted).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return io.build(cmd, func(ctx context.Context) (*dataset.Dataset, error) {
				return chbmit.Build(ctx, io.src, opt)
			})
		},
	}
	io.register(cmd)
	f := cmd.Flags()
	f.StringSliceVar(&opt.Channels, "channels", opt.Channels, "EEG channels, concatenated in this order")
	f.Float64Var(&opt.Window, "window", opt.Window, "seconds per window")
	f.Float64Var(&opt.Stride, "stride", opt.Stride, "seconds between window starts (0 = --window)")
	f.IntVar(&opt.Length, "length", opt.Length, "values per sample, all channels together")
	f.IntSliceVar(&opt.Exclude, "exclude", opt.Exclude, "patient numbers to leave out")
	f.IntSliceVar(&opt.Patients, "patients", nil, "patient numbers to use (default: every chbNN folder)")
	f.StringVar(&opt.Balance, "balance", opt.Balance, "per-class (same count per class, seeded) or none")
	f.IntVar(&opt.PerClass, "per-class", opt.PerClass, "windows kept per class when balancing (0 = size of the smallest class)")
	f.StringVar(&opt.Split, "split", opt.Split, "random (stratified 70/15/15) or patient (whole patients to one split)")
	f.Uint64Var(&opt.Seed, "seed", opt.Seed, "random seed for balancing and splitting")
	f.Float64Var(&opt.Low, "low", opt.Low, "band-pass low corner, Hz")
	f.Float64Var(&opt.High, "high", opt.High, "band-pass high corner, Hz")
	f.IntVar(&opt.Workers, "workers", 0, "recordings read at once (default: min(4, number of CPUs))")
	return cmd
}
