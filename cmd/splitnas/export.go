package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/export"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/partition"
	"github.com/splitnas/splitnas/quant"
)

func newExportCmd() *cobra.Command {
	var (
		model, format, out, profile, data string
		rounding, sparse                  string
		split, windows                    int
		verify, asJSON, adaptive          bool
	)
	cmd := &cobra.Command{
		Use:   "export --model M [--split P] [--format c|onnx [--onnx-rounding qdq|tflite]] --out DIR",
		Short: "Write the edge part of a trained network as a C library, or the network as ONNX models",
		Long: `Writes layers 1..P of a model as a self-contained C99 library into --out: splitnas_model.h with one
entry point (splitnas_run: the input window in, tensor P out), splitnas_model.c with the weights as const
arrays and one static activation arena, the layer kernels splitnas's latency profiles are measured on, a
Makefile (host and arm-none-eabi-gcc) and a README stating Flash, RAM, MACs, cycles and energy as splitnas
computed them. The arena is exactly arch's RAM(P) bytes and the weight arrays exactly Flash(P).

--model is a float model (.snnm, from train --out or a search's best.model) or an integer one with int8
or int4 weights (.snqm, from quantize, train --qat or a search on an integer profile; int4 weights are
written packed two per byte). --profile defaults to stm32l476 for a float model, stm32l476-int8 for an
int8 one and stm32l476-int4 for an int4 one; --split defaults to the split point that profile's edge
scenario chooses.

A pruned model's weights hold zeros (prune --method magnitude). With --sparse auto (the default) a layer
is then stored sparse — only its non-zero weights, a 16-bit input offset each and a 16-bit count per
output channel, run by the sparse kernels of splitnas_sparse.c — where the profile's sparse kernel model
predicts fewer cycles than the dense kernel's; the printed Flash, cycles and energy (and the default
--split) are those of that mix. --sparse off stores every layer dense.

--verify also writes the example firmware (firmware/: make run builds it and runs it under QEMU) and checks
the library on --windows test windows of --data: compiled for this machine, its tensors against splitnas's
Go reference (bit for bit in int8 and int4, within 1e-5 in float32); run on the emulated Cortex-M4, against the host's;
and the emulated cycles against the profile's prediction. It needs gcc, arm-none-eabi-gcc and qemu-system-arm.

--format onnx writes the network as three ONNX models (opset 13) into --out instead: whole.onnx (layers
1..L), edge.onnx (layers 1..P) and fog.onnx (layers P+1..L). The edge takes "input", float32 [batch, C, L]
(channel-major), and returns "split", tensor P, which the fog takes; the whole model and the fog return
"scores", [batch, K]. A float model gives float32 models; an integer one QDQ models (QuantizeLinear,
DequantizeLinear and the float operators) whose "split" and "scores" are int8, exactly what the edge sends
and what the integer reference computes. The command prints the names, shapes, and for int8 tensors scale
and zero point; each model carries them, the architecture, split point, precision, rounding and class names
in its metadata. --verify is for the C library only.

--onnx-rounding (integer models only) chooses how the QDQ models round each layer's output. qdq, the
default, writes the plain QDQ graph converters and vendor tools recognise and fuse into integer kernels;
its QuantizeLinear rounds once, half to even, where the integer reference and the C round twice as
TensorFlow Lite Micro does, so values may differ by a step per layer. tflite adds Sign(y)·δ (δ = half a
step of the multiplier's right shift, per channel) to each layer's float output before QuantizeLinear,
which makes that single rounding the double one: ONNX Runtime then gives the reference's int8 values, at
the price of float operators between DequantizeLinear and QuantizeLinear that keep those layers unfused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if model == "" {
				return fmt.Errorf("--model is required")
			}
			if format != "c" && format != "onnx" {
				return fmt.Errorf("--format %q: want c or onnx", format)
			}
			if format == "onnx" && verify {
				return fmt.Errorf("--verify checks the C library: it does not apply to --format onnx")
			}
			if adaptive && (format != "c" || verify || cmd.Flags().Changed("split")) {
				return fmt.Errorf("--adaptive writes the C library with the profile's split policy: it takes neither --split, --verify nor --format onnx")
			}
			roundingSet := cmd.Flags().Changed("onnx-rounding")
			if roundingSet && format != "onnx" {
				return fmt.Errorf("--onnx-rounding applies to --format onnx only")
			}
			onnxRounding, err := export.ParseONNXRounding(rounding)
			if err != nil {
				return fmt.Errorf("--onnx-rounding %q: want qdq or tflite", rounding)
			}
			if out == "" {
				return fmt.Errorf("--out is required: the directory to write the library into")
			}
			if fi, err := os.Stat(out); err == nil && !fi.IsDir() {
				return fmt.Errorf("--out %s is a file, want a directory", out)
			}
			if sparse != "auto" && sparse != "off" {
				return fmt.Errorf("--sparse %q: want auto or off", sparse)
			}
			n, err := loadAnyModel(model)
			if err != nil {
				return fmt.Errorf("--model: %w", err)
			}
			n.Dense = sparse == "off"
			if roundingSet && n.Int == nil {
				return fmt.Errorf("--onnx-rounding applies to integer models only: %s is a float model", model)
			}
			prof, _, P, err := splitPoint(n, profile, cmd.Flags().Changed("profile"), split, cmd.Flags().Changed("split"))
			if err != nil {
				return err
			}
			split = P
			net := n.Network()
			if adaptive {
				if prof.Link == nil {
					return fmt.Errorf("--adaptive: profile %s: radio %q has no link model ([radio.link]; the built-in stm32l476 profiles have one)", prof.Name, prof.Radio.Name)
				}
				pol, err := partition.NewPolicy(net, prof, partition.Edge, partition.Limits{}, prof.Link.Conditions(hw.DefaultRetransRates()))
				if err != nil {
					return err
				}
				s, err := export.WriteCAdaptive(out, n, prof, pol)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), exportReport{Summary: s})
				}
				printExport(cmd.OutOrStdout(), exportReport{Summary: s}, out)
				fmt.Fprintf(cmd.OutOrStdout(), "adaptive:  splitnas_run_to(window, P) for P = 0..%d; the policy (%d link conditions) picks P among %v: splitnas_policy_split(phy, tx_dbm, retransmission_rate)\n",
					s.Split, len(pol.Rows), candidateSplits(pol))
				return nil
			}
			if format == "onnx" {
				s, err := export.WriteONNXWith(out, n, split, export.ONNXOptions{Rounding: onnxRounding})
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), s)
				}
				printONNX(cmd.OutOrStdout(), s, out)
				return nil
			}
			var inputs [][]float32
			if verify {
				if windows < 1 {
					return fmt.Errorf("--windows %d: want at least 1", windows)
				}
				d, err := loadDataset(data)
				if err != nil {
					return err
				}
				if in := net.Input(); d.Length != in.Len || d.Channels != in.Ch {
					return fmt.Errorf("--data %s has windows of %dx%d, the model takes %v", dataName(data), d.Length, d.Channels, in)
				}
				idx := d.Indices(dataset.Test)
				if len(idx) == 0 {
					idx = d.Indices(dataset.Train)
				}
				for _, i := range idx[:min(windows, len(idx))] {
					inputs = append(inputs, d.Sample(i))
				}
			}
			s, err := export.WriteC(out, n, split, prof)
			if err != nil {
				return err
			}
			rep := exportReport{Summary: s}
			if verify {
				if rep.Verification, err = export.Verify(cmd.Context(), out, n, s, inputs); err != nil {
					return err
				}
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			printExport(cmd.OutOrStdout(), rep, out)
			if v := rep.Verification; v != nil && (v.HostMismatches > 0 || v.EmuMismatches > 0) {
				return fmt.Errorf("--verify: %d of %d windows differ from the Go reference on the host, %d between host and emulation", v.HostMismatches, v.Windows, v.EmuMismatches)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "model file: float (.snnm) or integer, int8 or int4 weights (.snqm)")
	f.IntVar(&split, "split", 0, "export layers 1..P as the edge part (default: the profile's best split point, edge scenario)")
	f.StringVar(&format, "format", "c", "output format: c (the edge part as a C99 library) or onnx (whole, edge and fog ONNX models)")
	f.StringVar(&rounding, "onnx-rounding", "qdq", "with --format onnx, an integer model's rounding: qdq (plain QDQ graph) or tflite (rounds as the integer reference and the C do)")
	f.StringVar(&out, "out", "", "directory to write into")
	f.StringVar(&profile, "profile", hw.DefaultProfile, "device profile the README's numbers are computed on (default stm32l476, or stm32l476-int8 / stm32l476-int4 for an int8 / int4 model)")
	f.BoolVar(&adaptive, "adaptive", false, "C library of layers 1..Pmax that stops at the split point the profile's link policy chooses for the measured link (inspect --link-sweep)")
	f.StringVar(&sparse, "sparse", "auto", "store a pruned layer's non-zero weights only where the profile predicts that faster (auto), or every layer dense (off)")
	f.BoolVar(&verify, "verify", false, "write the example firmware and check the library on the host and the emulated Cortex-M4")
	f.StringVar(&data, "data", "", "dataset whose test windows --verify runs (default: the embedded MIT-BIH sample)")
	f.IntVar(&windows, "windows", 10, "test windows --verify runs")
	f.BoolVar(&asJSON, "json", false, "print the summary as one JSON object")
	return cmd
}

// loadAnyModel reads a float or a quantized model file, telling them apart
// by their magic.
func loadAnyModel(path string) (export.Network, error) {
	f, err := os.Open(path)
	if err != nil {
		return export.Network{}, err
	}
	defer f.Close()
	head := make([]byte, 8)
	if _, err := io.ReadFull(f, head); err == nil && string(head) == quant.Magic {
		m, err := quant.LoadFile(path)
		return export.Network{Int: m}, err
	}
	m, err := nn.LoadFile(path)
	return export.Network{Float: m}, err
}

// exportReport is what export prints, and its --json form.
type exportReport struct {
	*export.Summary
	Verification *export.Verification `json:"verification,omitempty"`
}

func printExport(w io.Writer, r exportReport, dir string) {
	s := r.Summary
	fmt.Fprintf(w, "exported:  layers 1..%d of %d of %s (%s) to %s: %v\n", s.Split, s.Layers, s.Arch, s.Precision, dir, s.Files)
	fmt.Fprintf(w, "returns:   tensor %d, %v (%d B to send)\n", s.Split, s.Output, s.SendBytes)
	fmt.Fprintf(w, "memory:    Flash %d B (weights and constants), RAM %d B (the arena)\n", s.FlashBytes, s.RAMBytes)
	if len(s.SparseLayers) > 0 {
		fmt.Fprintf(w, "sparse:    layers %v stored sparse (%d non-zero weights in layers 1..%d)\n", s.SparseLayers, s.NonZero, s.Split)
	}
	fmt.Fprintf(w, "cost (%s): %d MACs, %.0f cycles (+ %.0f input stage), %.3f ms; E_edge %.5f mJ (compute %.5f + radio %.5f)\n",
		s.Profile, s.MACs, s.Cycles, s.InputCycles, 1000*s.EdgeSeconds, s.EEdgeMJ, s.ECompMJ, s.ECommMJ)
	if v := r.Verification; v != nil {
		fmt.Fprintf(w, "verified:  %d windows; host vs Go reference: %d differ (largest difference %.2g); emulated vs host: %d differ\n",
			v.Windows, v.HostMismatches, v.MaxRelDiff, v.EmuMismatches)
		fmt.Fprintf(w, "cycles:    emulated %.0f (layers 1..%d, first window), profile predicts %.0f (%+.1f %%)\n",
			v.EmulatedCycles, s.Split, v.PredictedCycles, 100*v.CycleError)
		fmt.Fprintf(w, "input:     emulated %.0f cycles (splitnas_load, mean of the windows), profile predicts %.0f\n",
			v.EmulatedInputCycles, v.PredictedInputCycles)
	}
}

// printONNX prints what --format onnx wrote: the files and the tensors they
// exchange.
func printONNX(w io.Writer, s *export.ONNXSummary, dir string) {
	fmt.Fprintf(w, "exported:  %s (%s), split point %d of %d, as ONNX opset %d models to %s:\n", s.Arch, s.Precision, s.Split, s.Layers, s.Opset, dir)
	for _, m := range []export.ONNXModelInfo{s.Whole, s.Edge, s.Fog} {
		layers := fmt.Sprintf("layers %d..%d", m.From+1, m.To)
		if m.From == m.To {
			layers = "no layers"
		}
		nodes := fmt.Sprintf("%d nodes", m.Nodes)
		if m.Nodes == 1 {
			nodes = "1 node"
		}
		fmt.Fprintf(w, "  %-10s %s, %s: %s → %s\n", m.File, layers, nodes, m.Input, m.Output)
	}
	if q := s.InputQuant; q != nil {
		fmt.Fprintf(w, "input:     quantized to int8 by the edge with scale %g, zero point %d\n", q.Scale, q.ZeroPoint)
	}
	switch s.Rounding {
	case export.RoundTFLite.String():
		fmt.Fprintf(w, "rounding:  tflite: each layer rounds as TensorFlow Lite Micro and the integer reference do (float ops before QuantizeLinear)\n")
	case export.RoundQDQ.String():
		fmt.Fprintf(w, "rounding:  qdq: plain QDQ graph, rounding once, half to even (may differ from the integer reference by a step per layer)\n")
	}
	if len(s.Classes) > 0 {
		fmt.Fprintf(w, "classes:   %s (the order of the scores)\n", strings.Join(s.Classes, ", "))
	}
}

// candidateSplits lists the split points a policy may choose.
func candidateSplits(pol partition.Policy) []int {
	var ps []int
	for _, c := range pol.Candidates {
		ps = append(ps, c.P)
	}
	return ps
}
