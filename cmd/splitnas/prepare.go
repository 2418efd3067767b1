package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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

// ioFlags are the flags every prepare command has, and the ones whose
// values the builders take as typed values (balance, split).
type ioFlags struct {
	src, out, encoding string
	balance, split     string
	normalize          string // --normalize, for the EEG builders
	// builder is the package that builds the dataset ("mitbih", "bonn",
	// "chbmit"), which prefixes its option errors; flags maps the fields
	// of its Options to the flags that set them.
	builder string
	flags   map[string]string
}

func (f *ioFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.src, "src", "", "folder with the raw data (required)")
	cmd.Flags().StringVar(&f.out, "out", "", "dataset file to write (required)")
	cmd.Flags().StringVar(&f.encoding, "encoding", "f32", "value encoding in the file: f32, or f16 for half the size")
	cmd.MarkFlagRequired("src")
	cmd.MarkFlagRequired("out")
}

// registerMethods adds --balance and --split with their defaults.
func (f *ioFlags) registerMethods(cmd *cobra.Command, balance dataset.Balance, split dataset.SplitBy, splitHelp string) {
	cmd.Flags().StringVar(&f.balance, "balance", balance.String(), "per-class (same count per class, seeded), none, or eval (prepare mitdb --split random, prepare bonn: validation and test balanced, every training sample kept)")
	cmd.Flags().StringVar(&f.split, "split", split.String(), splitHelp)
}

// registerNormalize adds --normalize (EEG builders).
func (f *ioFlags) registerNormalize(cmd *cobra.Command, n dataset.Normalize, help string) {
	cmd.Flags().StringVar(&f.normalize, "normalize", n.String(), help)
}

// parseNormalize parses --normalize.
func (f *ioFlags) parseNormalize() (dataset.Normalize, error) {
	n, err := dataset.ParseNormalize(f.normalize)
	if err != nil {
		return 0, f.word(err)
	}
	return n, nil
}

// methods parses --balance and --split; split must be one of splits, the
// methods the builder supports.
func (f *ioFlags) methods(splits []dataset.SplitBy) (dataset.Balance, dataset.SplitBy, error) {
	balance, err := dataset.ParseBalance(f.balance)
	if err != nil {
		return 0, 0, f.word(err)
	}
	split, err := dataset.ParseSplitBy(f.split)
	if err != nil || !slices.Contains(splits, split) {
		return 0, 0, f.word(&dataset.OptionError{Option: "Split", Value: f.split, Problem: "want " + dataset.OrList(splits)})
	}
	return balance, split, nil
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
		return f.word(err)
	}
	if err := dataset.Save(f.out, d, enc); err != nil {
		return err
	}
	slog.Info("dataset written", "file", f.out, "samples", d.Len(), "seconds", time.Since(start).Round(time.Millisecond).Seconds())
	return printInfo(cmd.OutOrStdout(), d.Info())
}

// flagError is a builder's error worded for the command line: it names the
// flags, where the builder names the fields of its Options.
type flagError struct {
	msg string
	err error
}

func (e *flagError) Error() string { return e.msg }
func (e *flagError) Unwrap() error { return e.err }

// word rewrites err for the command line when it is about an option (a
// *dataset.OptionError) or a source folder: the message names the flags
// that set the options and says what --src should hold. Other errors are
// returned as they are.
func (f *ioFlags) word(err error) error {
	var oe *dataset.OptionError
	if errors.As(err, &oe) {
		msg := f.builder + ": " + f.flag(oe.Option) + " " + dataset.FormatValue(oe.Value)
		if oe.With != "" {
			msg += " / " + f.flag(oe.With) + " " + dataset.FormatValue(oe.WithValue)
		}
		if oe.Problem != "" {
			msg += ": " + oe.Problem
		}
		if oe.Err != nil {
			msg += ": " + oe.Err.Error()
		}
		return &flagError{msg: msg, err: err}
	}
	switch {
	case errors.Is(err, mitbih.ErrNoRecords):
		return fmt.Errorf("%w (is --src a MIT-BIH Arrhythmia Database folder?)", err)
	case errors.Is(err, bonn.ErrNoData):
		return fmt.Errorf("%w (is --src the Bonn folder holding A_Z … E_S?)", err)
	case errors.Is(err, chbmit.ErrNoPatients):
		return fmt.Errorf("%w (is --src the CHB-MIT folder holding chb01 … chb24?)", err)
	}
	return err
}

// flag returns the flag that sets the Options field, e.g. "--length" for
// "Length"; a field without a flag is named as it is.
func (f *ioFlags) flag(field string) string {
	if name, ok := f.flags[field]; ok {
		return "--" + name
	}
	return field
}

func newPrepareMITDBCmd() *cobra.Command {
	io := ioFlags{builder: "mitbih", flags: map[string]string{
		"Length": "length", "Before": "before", "After": "after", "Lead": "lead", "Balance": "balance", "PerClass": "per-class",
		"Split": "split", "Seed": "seed", "Classes": "classes", "Records": "records", "Workers": "workers", "RR": "rr", "RRRelative": "rr-relative",
	}}
	opt := mitbih.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "mitdb --src DIR --out FILE",
		Short: "Heartbeat windows in the five AAMI classes from the MIT-BIH Arrhythmia Database",
		Long: `Cuts a window around every annotated beat of lead MLII (records without it use their first
lead), maps the beat to its AAMI EC57 class (N S V F Q), resamples the window to --length
samples and z-scores it. --split random is the paper's stratified 70/15/15; inter-patient
puts de Chazal's DS1 in train/val and DS2 in test and leaves out the paced records 102, 104,
107 and 217. Its validation split is whole DS1 records (15–20 % of the DS1 beats, chosen with
the seed), and only the training split is balanced: validation and DS2 are kept whole.
--balance eval (random split) balances validation and test and keeps every training beat.
--rr adds three channels after the ECG window, each constant over it and in seconds: the
previous RR interval, the next one (an edge classifier knows it one beat later) and the mean
of the 10 RR intervals ending at the beat; beats without a previous and a next beat are dropped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opt.Balance, opt.Split, err = io.methods(mitbih.SplitMethods()); err != nil {
				return err
			}
			return io.build(cmd, func(ctx context.Context) (*dataset.Dataset, error) {
				return mitbih.Build(ctx, io.src, opt)
			})
		},
	}
	io.register(cmd)
	io.registerMethods(cmd, opt.Balance, opt.Split, "random (70/15/15, stratified) or inter-patient (DS1 train/val, DS2 test)")
	f := cmd.Flags()
	f.IntVar(&opt.Length, "length", opt.Length, "samples per window after resampling (≥ 64)")
	f.Float64Var(&opt.Before, "before", opt.Before, "seconds of signal before the R peak")
	f.Float64Var(&opt.After, "after", opt.After, "seconds of signal after the R peak")
	f.StringVar(&opt.Lead, "lead", opt.Lead, "lead to use")
	f.IntVar(&opt.PerClass, "per-class", opt.PerClass, "samples kept per class when balancing (0 = size of the smallest class)")
	f.Uint64Var(&opt.Seed, "seed", opt.Seed, "random seed for balancing and splitting")
	f.StringSliceVar(&opt.Classes, "classes", nil, "AAMI classes to keep, e.g. N,S,V,F (default: all five)")
	f.StringSliceVar(&opt.Records, "records", nil, "records to use (default: all in --src/RECORDS)")
	f.IntVar(&opt.Workers, "workers", 0, "records read at once (default: number of CPUs)")
	f.BoolVar(&opt.RR, "rr", opt.RR, "add RR-interval channels: previous, next and local mean (10 beats) RR in seconds")
	f.BoolVar(&opt.RRRelative, "rr-relative", opt.RRRelative, "with --rr: previous and next RR as fractions of the local mean (how premature the beat is), the local mean in seconds")
	return cmd
}

// normalizeHelp is the help of --normalize; what names the recording.
func normalizeHelp(what string) string {
	return "window (z-score each window), recording (with the mean/std of its whole " + what + ") or " +
		"global (with the mean/std of the training split's windows)"
}

func newPrepareBonnCmd() *cobra.Command {
	io := ioFlags{builder: "bonn", flags: map[string]string{
		"Task": "task", "Length": "length", "Stride": "stride", "Balance": "balance", "Split": "split", "Seed": "seed",
		"Low": "low", "High": "high", "Workers": "workers", "Normalize": "normalize",
	}}
	opt := bonn.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "bonn --src DIR --out FILE",
		Short: "Seizure EEG windows from the Bonn epilepsy data sets A–E",
		Long: `Reads the Bonn sets A–E (folders A_Z, B_O, C_N, D_F, E_S, or A–E), band-passes each
23.6 s segment 1–30 Hz (zero phase), cuts windows of --length samples and z-scores each
(--normalize window; recording uses the mean and std of the whole segment, so the windows
of a segment keep their relative amplitude; global those of the training split's windows,
so every amplitude difference survives).
--task E-vs-ABCD (default) is seizure against all other sets; A-vs-E seizure against
healthy eyes-open. --split record (default) keeps the windows of a segment in one split.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opt.Balance, opt.Split, err = io.methods(bonn.SplitMethods()); err != nil {
				return err
			}
			if opt.Normalize, err = io.parseNormalize(); err != nil {
				return err
			}
			return io.build(cmd, func(ctx context.Context) (*dataset.Dataset, error) {
				return bonn.Build(ctx, io.src, opt)
			})
		},
	}
	io.register(cmd)
	io.registerMethods(cmd, opt.Balance, opt.Split, "record (whole segments, 70/15/15) or random (windows, stratified 70/15/15)")
	io.registerNormalize(cmd, opt.Normalize, normalizeHelp("band-passed segment"))
	f := cmd.Flags()
	f.StringVar(&opt.Task, "task", opt.Task, "E-vs-ABCD or A-vs-E")
	f.IntVar(&opt.Length, "length", opt.Length, "samples per window (≥ 64)")
	f.IntVar(&opt.Stride, "stride", opt.Stride, "samples between window starts (0 = --length, no overlap)")
	f.Uint64Var(&opt.Seed, "seed", opt.Seed, "random seed for balancing and splitting")
	f.Float64Var(&opt.Low, "low", opt.Low, "band-pass low corner, Hz")
	f.Float64Var(&opt.High, "high", opt.High, "band-pass high corner, Hz")
	f.IntVar(&opt.Workers, "workers", 0, "files read at once (default: number of CPUs)")
	return cmd
}

func newPrepareCHBMITCmd() *cobra.Command {
	io := ioFlags{builder: "chbmit", flags: map[string]string{
		"Channels": "channels", "Window": "window", "Stride": "stride", "Length": "length", "Exclude": "exclude",
		"Patients": "patients", "Balance": "balance", "PerClass": "per-class", "Split": "split", "Seed": "seed",
		"Low": "low", "High": "high", "Workers": "workers", "Normalize": "normalize",
	}}
	opt := chbmit.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "chbmit --src DIR --out FILE",
		Short: "Seizure EEG windows from the CHB-MIT Scalp EEG Database (EDF signals + summaries)",
		Long: `Reads chbNN/chbNN-summary.txt and the .edf recordings under --src, band-passes channels
F7-T7 and F8-T8 1–30 Hz (zero phase), cuts 4 s windows at 256 Hz, z-scores each channel's
window (--normalize window; recording uses that channel's mean and std over the whole
recording, global those over the training split's windows) and concatenates the two
(2,048 samples). Windows inside a seizure are "seizure",
windows touching none "non-seizure"; those across a boundary are dropped. Patients 6, 14
and 16 are excluded by default. Recordings without the chosen channels are skipped (noted).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opt.Balance, opt.Split, err = io.methods(chbmit.SplitMethods()); err != nil {
				return err
			}
			if opt.Normalize, err = io.parseNormalize(); err != nil {
				return err
			}
			opt.Logger = slog.Default()
			return io.build(cmd, func(ctx context.Context) (*dataset.Dataset, error) {
				return chbmit.Build(ctx, io.src, opt)
			})
		},
	}
	io.register(cmd)
	io.registerMethods(cmd, opt.Balance, opt.Split, "random (stratified 70/15/15) or patient (whole patients to one split)")
	io.registerNormalize(cmd, opt.Normalize, normalizeHelp("band-passed recording, per channel"))
	f := cmd.Flags()
	f.StringSliceVar(&opt.Channels, "channels", opt.Channels, "EEG channels, concatenated in this order")
	f.Float64Var(&opt.Window, "window", opt.Window, "seconds per window")
	f.Float64Var(&opt.Stride, "stride", opt.Stride, "seconds between window starts (0 = --window)")
	f.IntVar(&opt.Length, "length", opt.Length, "values per sample, all channels together")
	f.IntSliceVar(&opt.Exclude, "exclude", opt.Exclude, "patient numbers to leave out")
	f.IntSliceVar(&opt.Patients, "patients", nil, "patient numbers to use (default: every chbNN folder)")
	f.IntVar(&opt.PerClass, "per-class", opt.PerClass, "windows kept per class when balancing (0 = size of the smallest class)")
	f.Uint64Var(&opt.Seed, "seed", opt.Seed, "random seed for balancing and splitting")
	f.Float64Var(&opt.Low, "low", opt.Low, "band-pass low corner, Hz")
	f.Float64Var(&opt.High, "high", opt.High, "band-pass high corner, Hz")
	f.IntVar(&opt.Workers, "workers", 0, "recordings read at once (default: min(4, number of CPUs))")
	return cmd
}
