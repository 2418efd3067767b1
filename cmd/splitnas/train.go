package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/sample"
	"github.com/splitnas/splitnas/internal/trainbench"
	"github.com/splitnas/splitnas/nn"
)

// archFlags parse --arch with the kernel rule flags.
type archFlags struct {
	arch string
	rule arch.KernelRule
}

func (a *archFlags) register(cmd *cobra.Command) {
	a.rule = arch.DefaultKernelRule()
	cmd.Flags().StringVar(&a.arch, "arch", "", `architecture, tensors LENxCH from input to the class count, e.g. "2048x1-128x2-8x4-64x2-5" (required)`)
	cmd.Flags().IntVar(&a.rule.Same, "same-kernel", a.rule.Same, "kernel of a length-keeping convolution (odd)")
	cmd.Flags().IntVar(&a.rule.Overlap, "overlap", a.rule.Overlap, "kernel of a strided layer, in strides (1 = non-overlapping)")
	cmd.MarkFlagRequired("arch")
}

func (a *archFlags) network() (arch.Network, error) {
	if err := a.rule.Validate(); err != nil {
		return arch.Network{}, fmt.Errorf("--same-kernel/--overlap: %w", err)
	}
	net, err := arch.Parse(a.arch, a.rule)
	if err != nil {
		return arch.Network{}, fmt.Errorf("--arch: %w", err)
	}
	return net, nil
}

// trainReport is what `splitnas train --json` prints.
type trainReport struct {
	Data          string     `json:"data"`
	Arch          string     `json:"arch"`
	Params        int        `json:"params"`
	MACs          int        `json:"macs"`
	FlashBytes    int        `json:"flash_bytes"` // whole network on the edge, float32
	RAMBytes      int        `json:"ram_bytes"`
	Epochs        int        `json:"epochs"`
	BestEpoch     int        `json:"best_epoch"` // 1-based
	ValAccuracy   float64    `json:"val_accuracy"`
	ValMacroF1    float64    `json:"val_macro_f1"`
	TestAccuracy  float64    `json:"test_accuracy"`
	TestMacroF1   float64    `json:"test_macro_f1"`
	TestConfusion [][]int    `json:"test_confusion"`
	Classes       []string   `json:"classes"`
	History       []nn.Epoch `json:"history"`
	Seconds       float64    `json:"seconds"`
	Model         string     `json:"model,omitempty"`
}

func newTrainCmd() *cobra.Command {
	var (
		a      archFlags
		data   string
		out    string
		asJSON bool
	)
	cfg := nn.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "train --arch STRING [--data FILE]",
		Short: "Train one architecture and report validation and test accuracy, params, MACs, RAM and Flash",
		Long: `Trains the architecture on the train split with Adam, keeps the weights of the epoch with the
best validation accuracy, and scores them once on the test split. Without --data it uses the
embedded MIT-BIH sample. Flash and RAM are for the whole network on the edge, in float32.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Every flag is checked before the dataset is read, and the
			// dataset before the (long) training; --out is written last.
			net, err := a.network()
			if err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return trainFlagError(err)
			}
			if err := checkOutPath(out); err != nil {
				return err
			}
			d, err := loadDataset(data)
			if err != nil {
				return err
			}
			if cfg.Patience > 0 && len(d.Indices(dataset.Val)) == 0 {
				return fmt.Errorf("--patience %d: %w: %s has no validation split (use --patience 0)", cfg.Patience, nn.ErrPatienceWithoutValidation, dataName(data))
			}
			start := time.Now()
			res, err := nn.Native().Train(cmd.Context(), net, d.Part(dataset.Train), d.Part(dataset.Val), cfg)
			if err != nil {
				return err
			}
			for i, ep := range res.History {
				slog.Debug("epoch", "n", i+1, "train_loss", ep.TrainLoss, "train_acc", ep.TrainAcc, "val_acc", ep.ValAcc, "seconds", ep.Seconds)
			}
			val, err := nn.Evaluate(res.Model, d.Part(dataset.Val))
			if err != nil {
				return err
			}
			test, err := nn.Evaluate(res.Model, d.Part(dataset.Test))
			if err != nil {
				return err
			}
			last := len(net.Layers)
			rep := trainReport{
				Data: dataName(data), Arch: net.String(), Params: net.Params(), MACs: net.MACs(),
				FlashBytes: net.Flash(last, arch.Float32()), RAMBytes: net.RAM(last, arch.Float32()),
				Epochs: len(res.History), BestEpoch: res.Best + 1,
				ValAccuracy: val.Accuracy, ValMacroF1: val.MacroF1,
				TestAccuracy: test.Accuracy, TestMacroF1: test.MacroF1, TestConfusion: test.Confusion,
				Classes: d.Classes, History: res.History, Seconds: time.Since(start).Seconds(),
			}
			if out != "" {
				if err := nn.SaveFile(out, res.Model); err != nil {
					return err
				}
				rep.Model = out
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			printTrain(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	a.register(cmd)
	f := cmd.Flags()
	f.StringVar(&data, "data", "", "dataset file (default: the embedded MIT-BIH sample)")
	f.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "training epochs")
	f.IntVar(&cfg.Batch, "batch", cfg.Batch, "mini-batch size")
	f.Float64Var(&cfg.LR, "lr", cfg.LR, "Adam learning rate")
	f.Float64Var(&cfg.Dropout, "dropout", cfg.Dropout, "dropout rate after each hidden layer")
	f.IntVar(&cfg.Patience, "patience", cfg.Patience, "stop after this many epochs without a better validation score (0 = off)")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed for initialisation, shuffling and dropout")
	f.StringVar(&out, "out", "", "save the trained model to this file")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// checkOutPath refuses an --out that cannot be written as a file: one
// whose directory does not exist or that names a directory. It writes
// nothing.
func checkOutPath(out string) error {
	if out == "" {
		return nil
	}
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		return fmt.Errorf("--out %s is a directory, want a file name", out)
	}
	dir := filepath.Dir(out)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("--out %s: directory %s does not exist", out, dir)
	}
	return nil
}

// trainFlagError words an *nn.ConfigError with the flag that sets the
// field (the flags of train and search are named alike); other errors are
// returned as they are.
func trainFlagError(err error) error {
	var ce *nn.ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	flag := strings.ToLower(ce.Field) // Epochs, Batch, LR, Dropout, Patience
	return fmt.Errorf("--%s %v: %s", flag, ce.Value, ce.Problem)
}

func dataName(path string) string {
	if path == "" {
		return sample.Name
	}
	return path
}

func printTrain(w io.Writer, r trainReport) {
	fmt.Fprintf(w, "arch:     %s (%d params, %d MACs)\n", r.Arch, r.Params, r.MACs)
	fmt.Fprintf(w, "edge:     Flash %d B, RAM %d B (float32, whole network on the edge)\n", r.FlashBytes, r.RAMBytes)
	fmt.Fprintf(w, "data:     %s\n", r.Data)
	fmt.Fprintf(w, "training: %d epochs in %.1f s, best validation at epoch %d\n", r.Epochs, r.Seconds, r.BestEpoch)
	fmt.Fprintf(w, "val:      accuracy %.4f, macro-F1 %.4f\n", r.ValAccuracy, r.ValMacroF1)
	fmt.Fprintf(w, "test:     accuracy %.4f, macro-F1 %.4f\n", r.TestAccuracy, r.TestMacroF1)
	fmt.Fprintln(w, "test confusion (rows true, columns predicted):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for _, c := range r.Classes {
		fmt.Fprintf(tw, "%s\t", c)
	}
	fmt.Fprintln(tw)
	for i, row := range r.TestConfusion {
		fmt.Fprintf(tw, "%s\t", r.Classes[i])
		for _, n := range row {
			fmt.Fprintf(tw, "%d\t", n)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	if r.Model != "" {
		fmt.Fprintf(w, "model:    %s\n", r.Model)
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Measure the speed of parts of splitnas"}
	cmd.AddCommand(newBenchTrainCmd())
	return cmd
}

func newBenchTrainCmd() *cobra.Command {
	var (
		a      archFlags
		opt    = trainbench.Options{Samples: 4000, Batch: 32, Epochs: 3, Seed: 1}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "train --arch STRING",
		Short: "Median epoch time of training one architecture on random data",
		Long: `Trains the architecture on --samples random samples and prints the median epoch time
(JSON field epoch_seconds). With --parallel N it then runs N trainings at once, each on its
own data, and reports their throughput against the single run's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			net, err := a.network()
			if err != nil {
				return err
			}
			rep, err := trainbench.Run(cmd.Context(), nn.Native(), net, opt)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s (%d params, %d MACs), %d samples, batch %d, engine %s\n", rep.Arch, rep.Params, rep.MACs, rep.Samples, rep.Batch, rep.Engine)
			fmt.Fprintf(w, "median epoch: %.4f s (%.0f samples/s) over %d epochs %v\n", rep.EpochSeconds, rep.SamplesPerSec, rep.Epochs, rep.EpochSecondsAll)
			if rep.Parallel > 1 {
				fmt.Fprintf(w, "%d at once:    %.0f samples/s, %.2f× one training's throughput\n", rep.Parallel, rep.ParallelSamplesPerS, rep.ParallelSpeedup)
			}
			return nil
		},
	}
	a.register(cmd)
	f := cmd.Flags()
	f.IntVar(&opt.Samples, "samples", opt.Samples, "random training samples")
	f.IntVar(&opt.Batch, "batch", opt.Batch, "mini-batch size")
	f.IntVar(&opt.Epochs, "epochs", opt.Epochs, "epochs to time")
	f.IntVar(&opt.Parallel, "parallel", 0, "also time this many trainings at once (0 = skip)")
	f.Uint64Var(&opt.Seed, "seed", opt.Seed, "seed of the data and the training")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}
