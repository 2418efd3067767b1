package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/export"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/prune"
	"github.com/splitnas/splitnas/quant"
)

// pruneReport is what prune prints, and its --json form.
type pruneReport struct {
	Model    string        `json:"model"`
	Data     string        `json:"data"`
	Method   string        `json:"method"`
	Sparsity float64       `json:"sparsity"`
	Scope    string        `json:"scope,omitempty"`
	Profile  string        `json:"profile"`
	Before   prunedStats   `json:"before"`
	After    prunedStats   `json:"after"`
	Stages   []prune.Stage `json:"stages,omitempty"` // magnitude: the gradual schedule
	Kept     [][]int       `json:"kept_channels,omitempty"`
	Out      string        `json:"out,omitempty"`
}

// prunedStats are one network's sizes and costs at its best split point,
// and its scores.
type prunedStats struct {
	prune.Cost
	ValAccuracy  float64 `json:"val_accuracy"`
	TestAccuracy float64 `json:"test_accuracy"`
}

func newPruneCmd() *cobra.Command {
	var (
		hf                     hwFlags
		model, data, out, meth string
		scope                  string
		sparsity               float64
		epochs, stages, batch  int
		lr                     float64
		seed                   uint64
		asJSON                 bool
	)
	cmd := &cobra.Command{
		Use:   "prune --model M --data D --method channel|magnitude --sparsity S [--fine-tune-epochs N] [--out M2]",
		Short: "Prune a trained model (whole channels or single weights), fine-tune it, and compare",
		Long: `prune makes a trained float model smaller or sparser (package prune):

  --method channel    removes round(S·C) of the C output channels of every hidden convolution, those
                      with the smallest L1 filter norm (and the next layer's inputs they fed): a smaller
                      dense network, whose Flash, RAM, MACs and energy are its own;
  --method magnitude  zeroes the fraction S of the weights with the smallest magnitude — ranked across
                      the whole network (--scope global) or within each layer (--scope layer) —
                      gradually over --stages (Zhu and Gupta's cubic schedule) while fine-tuning, the
                      zeroed weights held at 0; the architecture stays.

Then it fine-tunes for --fine-tune-epochs on the training split (the epoch chosen by the validation
split; 0: no fine-tuning) and prints, before and after: parameters, non-zero weights, MACs, and at
the best split point of --profile, Flash, RAM and E_edge — with the layers stored as "splitnas export"
stores them: sparse (only the non-zero weights, each with a 16-bit input offset, run by kernels that
skip the zeros) where the profile's sparse kernel model predicts fewer cycles than the dense kernel,
dense elsewhere; "dense Flash" is every layer dense — and validation and test accuracy. --out
writes the pruned model. Quantize after pruning (prune → fine-tune → quantize), e.g. with
"splitnas quantize" or "splitnas train --init M2 --keep-zeros --qat 8", then "splitnas export".

A quantized model (.snqm) can be pruned directly too, by magnitude only and without fine-tuning: its
integer weights of smallest real magnitude (weight × its channel's scale) become 0, everything else
stays (--profile then defaults to stm32l476-int8 or -int4). Fine-tuning the float model before
quantizing keeps more accuracy.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if model == "" {
				return errors.New("--model is required: a float model written by train --out")
			}
			method, err := prune.ParseMethod(meth)
			if err != nil {
				return fmt.Errorf("--method: %w", err)
			}
			pscope, err := prune.ParseScope(scope)
			if err != nil {
				return fmt.Errorf("--scope: %w", err)
			}
			if !(sparsity >= 0 && sparsity < 1) {
				return fmt.Errorf("--sparsity %v: want a fraction 0 ≤ S < 1", sparsity)
			}
			if epochs < 0 {
				return fmt.Errorf("--fine-tune-epochs %d: want ≥ 0", epochs)
			}
			if stages < 1 {
				return fmt.Errorf("--stages %d: want at least 1", stages)
			}
			if err := checkOutPath(out); err != nil {
				return err
			}
			n, err := loadAnyModel(model)
			if err != nil {
				return fmt.Errorf("--model: %w", err)
			}
			if n.Int != nil {
				switch {
				case method == prune.ByChannel:
					return fmt.Errorf("--model %s is a quantized model: --method channel needs the float model (removing a channel changes what the next layer's integer arithmetic sums); prune the float model, then quantize (prune → fine-tune → quantize)", model)
				case cmd.Flags().Changed("fine-tune-epochs") && epochs > 0:
					return fmt.Errorf("--fine-tune-epochs %d: a quantized model is pruned without fine-tuning; to fine-tune, prune its float model, then quantize or train --init M2 --keep-zeros --qat", epochs)
				}
				if !cmd.Flags().Changed("profile") {
					hf.profile = fmt.Sprintf("%s-int%d", hw.DefaultProfile, n.Int.Bits)
				}
			}
			prof, sc, lim, err := hf.resolve(cmd)
			if err != nil {
				return err
			}
			d, err := loadDataset(data)
			if err != nil {
				return err
			}
			train, val, test := d.Part(dataset.Train), d.Part(dataset.Val), d.Part(dataset.Test)
			cfg := nn.DefaultConfig()
			cfg.Epochs, cfg.Batch, cfg.LR, cfg.Seed = max(epochs, 1), batch, lr, seed
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("--batch/--lr: %w", err)
			}
			rep := pruneReport{Model: model, Data: dataName(data), Method: string(method), Sparsity: sparsity, Profile: prof.Name}
			describe := func(n export.Network) (prunedStats, error) {
				var st prunedStats
				var err error
				if st.Cost, err = prune.CostsOf(n.Network(), n.Rows(), prof, sc, lim); err != nil {
					return st, err
				}
				for _, s := range []struct {
					d   *dataset.Dataset
					acc *float64
				}{{val, &st.ValAccuracy}, {test, &st.TestAccuracy}} {
					met, err := evaluateAny(n, s.d)
					if err != nil {
						return st, fmt.Errorf("--data %s: %w", dataName(data), err)
					}
					*s.acc = met.Accuracy
				}
				return st, nil
			}
			if rep.Before, err = describe(n); err != nil {
				return err
			}
			if n.Int != nil { // pruned directly, in its integer weights
				rep.Scope = string(pscope)
				pq, err := prune.MagnitudeQuantized(n.Int, sparsity, pscope)
				if err != nil {
					return err
				}
				if rep.After, err = describe(export.Network{Int: pq}); err != nil {
					return err
				}
				if out != "" {
					if err := quant.SaveFile(out, pq); err != nil {
						return err
					}
					rep.Out = out
				}
				return printPruneReport(cmd, rep, asJSON)
			}
			m := n.Float
			var pm *nn.Model
			switch method {
			case prune.ByChannel:
				if pm, rep.Kept, err = prune.Channels(m, sparsity); err != nil {
					return err
				}
				if epochs > 0 {
					c := cfg
					c.Init = pm
					res, err := nn.Native().Train(cmd.Context(), pm.Network(), train, val, c)
					if err != nil {
						return fmt.Errorf("fine-tuning: %w", err)
					}
					pm = res.Model
				}
			case prune.ByMagnitude:
				rep.Scope = string(pscope)
				if pm, _, rep.Stages, err = prune.Gradual(cmd.Context(), nn.Native(), m, train, val, cfg, sparsity, pscope, epochs, stages); err != nil {
					return err
				}
			}
			if rep.After, err = describe(export.Network{Float: pm}); err != nil {
				return err
			}
			if out != "" {
				if err := nn.SaveFile(out, pm); err != nil {
					return err
				}
				rep.Out = out
			}
			return printPruneReport(cmd, rep, asJSON)
		},
	}
	hf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "model file: float (.snnm, written by train --out) or quantized (.snqm; magnitude only, no fine-tuning)")
	f.StringVar(&data, "data", "", "dataset file (default: the embedded MIT-BIH sample)")
	f.StringVar(&meth, "method", "", "channel (structured: whole channels) or magnitude (unstructured: single weights)")
	f.Float64Var(&sparsity, "sparsity", 0.5, "fraction of each layer's channels (channel) or weights (magnitude) to remove")
	f.IntVar(&epochs, "fine-tune-epochs", 10, "epochs of fine-tuning after pruning (0: none)")
	f.StringVar(&scope, "scope", string(prune.Global), "magnitude: rank the weights across the whole network (global) or within each layer (layer)")
	f.IntVar(&stages, "stages", 5, "magnitude: steps of the gradual schedule, spread over the fine-tuning (at most one per epoch)")
	f.Float64Var(&lr, "lr", 1e-3, "fine-tuning learning rate (Adam)")
	f.IntVar(&batch, "batch", 32, "fine-tuning mini-batch size")
	f.Uint64Var(&seed, "seed", 1, "fine-tuning seed (shuffling)")
	f.StringVar(&out, "out", "", "write the pruned model to this file (.snnm, or .snqm for a quantized model)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.MarkFlagRequired("method")
	return cmd
}

func printPruneReport(cmd *cobra.Command, r pruneReport, asJSON bool) error {
	if asJSON {
		return writeJSON(cmd.OutOrStdout(), r)
	}
	printPrune(cmd.OutOrStdout(), r)
	return nil
}

func printPrune(w io.Writer, r pruneReport) {
	fmt.Fprintf(w, "model:   %s, %s pruning to sparsity %g, profile %s\n", r.Model, r.Method, r.Sparsity, r.Profile)
	for _, s := range r.Stages {
		fmt.Fprintf(w, "stage:   sparsity %.3f, %d epochs, validation %.4f\n", s.Sparsity, s.Epochs, s.ValAcc)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\tparams\tnon-zero weights\tMACs\tsplit P\tsparse layers\tFlash B\tdense Flash B\tRAM B\tE_edge mJ\tval\ttest\t\n")
	for _, row := range []struct {
		name string
		s    prunedStats
	}{{"before", r.Before}, {"after", r.After}} {
		s := row.s
		fmt.Fprintf(tw, "%s\t%d\t%d of %d\t%d\t%d\t%s\t%d\t%d\t%d\t%.4f\t%.4f\t%.4f\t\n", row.name, s.Params, s.NonZero, s.Weights,
			s.MACs, s.Split, layerList(s.Sparse), s.Flash, s.FlashDense, s.RAM, s.EEdge, s.ValAccuracy, s.TestAccuracy)
	}
	tw.Flush()
	fmt.Fprintf(w, "arch:    %s -> %s\n", r.Before.Arch, r.After.Arch)
	if r.Out != "" {
		fmt.Fprintf(w, "out:     %s\n", r.Out)
	}
	if strings.HasPrefix(r.Method, "magnitude") && len(r.After.Sparse) == 0 {
		fmt.Fprintln(w, "note:    no layer runs faster sparse at this sparsity on this profile: Flash and E_edge are the dense kernels'")
	}
}

// layerList is "1,3" for layers [1 3], "-" for none.
func layerList(ls []int) string {
	if len(ls) == 0 {
		return "-"
	}
	t := make([]string, len(ls))
	for i, l := range ls {
		t[i] = strconv.Itoa(l)
	}
	return strings.Join(t, ",")
}
