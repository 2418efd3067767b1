package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/quant"
)

// quantizeReport is what quantize prints, and its --json form.
type quantizeReport struct {
	Model        string           `json:"model"`
	Data         string           `json:"data"`
	Arch         string           `json:"arch"`
	Bits         int              `json:"bits"`
	Method       string           `json:"method"`
	Calibration  int              `json:"calibration_samples"`
	Float        scoreSet         `json:"float32"`
	Quantized    scoreSet         `json:"quantized"`
	FlashFloat   int              `json:"flash_float32_bytes"`
	FlashQuant   int              `json:"flash_quantized_bytes"`
	Requant      int              `json:"flash_requant_bytes"` // of FlashQuant: multipliers, shifts, zero points, input scale
	RAMFloat     int              `json:"ram_float32_bytes"`
	RAMQuant     int              `json:"ram_quantized_bytes"`
	TestPerClass []nn.ClassScores `json:"test_per_class_quantized"`
	Out          string           `json:"out,omitempty"`
	Seconds      float64          `json:"seconds"`
}

// scoreSet is one model's validation and test scores.
type scoreSet struct {
	ValAccuracy          float64 `json:"val_accuracy"`
	ValBalancedAccuracy  float64 `json:"val_balanced_accuracy"`
	TestAccuracy         float64 `json:"test_accuracy"`
	TestBalancedAccuracy float64 `json:"test_balanced_accuracy"`
}

func newQuantizeCmd() *cobra.Command {
	var (
		model, data, out, method string
		bits, calibration        int
		seed                     uint64
		asJSON                   bool
	)
	cmd := &cobra.Command{
		Use:   "quantize --model M --data D --bits 8|4 [--out Q]",
		Short: "Quantize a trained float model to int8 activations and int8 or int4 weights, and score both",
		Long: `Post-training quantization in the TFLite int8 scheme (package quant): int8 activations, one
scale and zero point per tensor, chosen from the values the float model produces on --calibration
samples drawn (with --seed) from the training split by --method — minmax (the full range),
percentile (0.01th to 99.99th), or mse (each end shrunk to minimise the squared rounding and
clipping error); weights symmetric per output channel at --bits 8 or 4; int32 biases; fixed-point
requantization with TFLite Micro's double rounding. Prints the float and the quantized model's
accuracy on the validation and the test split, and Flash and RAM of the whole network on the edge
in both (quantized Flash counts the requantization constants). --out writes the quantized model
(.snqm: versioned and checksummed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if model == "" {
				return fmt.Errorf("--model is required: a model written by train --out")
			}
			if bits != 8 && bits != 4 {
				return fmt.Errorf("--bits %d: want 8 or 4", bits)
			}
			if calibration < 1 {
				return fmt.Errorf("--calibration %d: want at least 1 sample", calibration)
			}
			m, err := quant.ParseMethod(method)
			if err != nil {
				return fmt.Errorf("--method: %w", err)
			}
			if err := checkOutPath(out); err != nil {
				return err
			}
			fm, err := nn.LoadFile(model)
			if err != nil {
				return fmt.Errorf("--model: %w", err)
			}
			d, err := loadDataset(data)
			if err != nil {
				return err
			}
			start := time.Now()
			train := d.Part(dataset.Train)
			if train.Len() == 0 {
				return fmt.Errorf("--data %s: no training samples to calibrate on", dataName(data))
			}
			cal := quant.CalibrationSamples(train, calibration, seed)
			qm, err := quant.PostTraining(fm, cal, m, bits)
			if err != nil {
				return fmt.Errorf("--data %s: %w", dataName(data), err)
			}
			rep := quantizeReport{Model: model, Data: dataName(data), Arch: fm.String(), Bits: bits,
				Method: m.String(), Calibration: cal.Len()}
			// Both networks on both splits: float32 val, test, then int8 val, test.
			var met [4]nn.Metrics
			for i, part := range []*dataset.Dataset{d.Part(dataset.Val), d.Part(dataset.Test)} {
				if met[i], err = nn.Evaluate(fm, part); err == nil {
					met[2+i], err = quant.Evaluate(qm, part)
				}
				if err != nil {
					return fmt.Errorf("--data %s: %w", dataName(data), err)
				}
			}
			fv, ft, qv, qt := met[0], met[1], met[2], met[3]
			rep.Float = scoreSet{fv.Accuracy, fv.BalancedAccuracy, ft.Accuracy, ft.BalancedAccuracy}
			rep.Quantized = scoreSet{qv.Accuracy, qv.BalancedAccuracy, qt.Accuracy, qt.BalancedAccuracy}
			rep.TestPerClass = qt.PerClass
			net, prec := fm.Network(), qm.Precision()
			L := len(net.Layers)
			rep.FlashFloat, rep.FlashQuant = net.Flash(L, arch.Float32()), net.Flash(L, prec)
			rep.Requant = arch.InputScaleBytes
			for _, lm := range net.Metrics(prec) {
				rep.Requant += lm.Requant
			}
			rep.RAMFloat, rep.RAMQuant = net.RAM(L, arch.Float32()), net.RAM(L, prec)
			if out != "" {
				if err := quant.SaveFile(out, qm); err != nil {
					return err
				}
				rep.Out = out
			}
			rep.Seconds = time.Since(start).Seconds()
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			printQuantize(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "float model file (written by train --out)")
	f.StringVar(&data, "data", "", "dataset file (default: the embedded MIT-BIH sample)")
	f.IntVar(&bits, "bits", 8, "weight bits: 8 or 4 (activations are int8)")
	f.IntVar(&calibration, "calibration", 500, "training samples to calibrate the activation ranges on (all, if fewer)")
	f.StringVar(&method, "method", "minmax", "activation range from the calibration values: minmax, percentile or mse")
	f.Uint64Var(&seed, "seed", 1, "seed that draws the calibration samples")
	f.StringVar(&out, "out", "", "write the quantized model to this file (.snqm)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func printQuantize(w io.Writer, r quantizeReport) {
	fmt.Fprintf(w, "model:       %s (%s)\n", r.Model, r.Arch)
	fmt.Fprintf(w, "data:        %s\n", r.Data)
	fmt.Fprintf(w, "quantized:   int%d weights per output channel, int8 activations; %s ranges on %d training samples (%.1f s)\n",
		r.Bits, r.Method, r.Calibration, r.Seconds)
	fmt.Fprintf(w, "edge, whole network: Flash %d B float32 -> %d B int%d (%d B of it requantization constants); RAM %d B -> %d B\n",
		r.FlashFloat, r.FlashQuant, r.Bits, r.Requant, r.RAMFloat, r.RAMQuant)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\tfloat32\tint%d\tchange (points)\t\n", r.Bits)
	row := func(name string, f, q float64) {
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%+.2f\t\n", name, f, q, 100*(q-f))
	}
	row("val accuracy", r.Float.ValAccuracy, r.Quantized.ValAccuracy)
	row("val balanced accuracy", r.Float.ValBalancedAccuracy, r.Quantized.ValBalancedAccuracy)
	row("test accuracy", r.Float.TestAccuracy, r.Quantized.TestAccuracy)
	row("test balanced accuracy", r.Float.TestBalancedAccuracy, r.Quantized.TestBalancedAccuracy)
	tw.Flush()
	if r.Out != "" {
		fmt.Fprintf(w, "out:         %s\n", r.Out)
	}
}
