// Command prune measures what pruning does to one network: it trains the
// network once on a dataset, prunes the result at several sparsities by
// each method (package prune: whole channels, or single weights by
// magnitude with the gradual schedule), fine-tunes each — and with
// -precision int8 or int4 quantizes each after (post-training, prune →
// fine-tune → quantize) — and prints a Markdown table: validation and test
// accuracy, the layers stored sparse, Flash (as exported, and all dense),
// RAM and E_edge at the best split point of the profile (package prune's
// Costs: a layer is stored sparse where the profile predicts its sparse
// kernel faster), and the cycles of the edge part as exported (package
// export, sparse kernels included) emulated on the Cortex-M4 — after
// checking the export's outputs against the Go reference on a few test
// windows, on the host and emulated. It marks the first sparsity of each
// method whose test accuracy is more than one point below the unpruned
// network's.
//
// On the embedded sample, in about a minute on 2 cores (with
// arm-none-eabi-gcc and qemu-system-arm installed):
//
//	go run ./bench/prune --arch 2048x1-128x8-32x8-8x8-5 --epochs 5 --fine-tune-epochs 2
//
// The README's runs, on the best MIT-BIH and Bonn networks:
//
//	go run ./bench/prune --data /tmp/mitdb-b256.snds --arch 256x1-16x3-512x2-16x2-512x4-512x1-256x4-5/o2 --epochs 60 --lr 0.003
//	go run ./bench/prune --data /tmp/bonn256-global.snds --arch 2048x1-4x2-1024x4-32x1-16x1-256x2-64x3-64x3-32x4-2 --epochs 60 --lr 0.003
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/sample"
	"github.com/splitnas/splitnas/export"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/partition"
	"github.com/splitnas/splitnas/prune"
	"github.com/splitnas/splitnas/quant"
)

// options are the command line's settings.
type options struct {
	data, archText, profile string
	bits                    int // 0: float32; 8 or 4: quantized after pruning
	scope                   prune.Scope
	sparsities              []float64
	epochs, fineTune, stage int
	lr                      float64
	seed                    uint64
}

// row is one network of the table.
type row struct {
	method   string
	sparsity float64
	prune.Cost
	val, test          float64
	cycles, predicted  float64 // of the edge part as exported: emulated, and the profile's
	dropsMoreThanOnePt bool
}

func main() {
	var o options
	var sp string
	flag.StringVar(&o.data, "data", "", "dataset file (default: the embedded MIT-BIH sample)")
	flag.StringVar(&o.archText, "arch", "", "network to train and prune (required)")
	var precision string
	flag.StringVar(&o.profile, "profile", "", "device profile (default stm32l476, or stm32l476-int8 / -int4 with -precision)")
	flag.StringVar(&precision, "precision", "float32", "float32, or int8 / int4: each network quantized (post-training, minmax) after pruning")
	flag.StringVar(&sp, "sparsities", "0.25,0.5,0.75", "sparsities to prune to, comma-separated")
	flag.IntVar(&o.epochs, "epochs", 60, "training epochs of the network before pruning")
	flag.IntVar(&o.fineTune, "fine-tune-epochs", 10, "fine-tuning epochs after pruning")
	flag.IntVar(&o.stage, "stages", 5, "steps of the gradual schedule (magnitude)")
	flag.StringVar((*string)(&o.scope), "scope", string(prune.Global), "magnitude: global or layer")
	flag.Float64Var(&o.lr, "lr", 1e-3, "learning rate (training and fine-tuning)")
	flag.Uint64Var(&o.seed, "seed", 1, "training seed")
	flag.Parse()
	for _, f := range strings.Split(sp, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(v > 0 && v < 1) {
			fmt.Fprintf(os.Stderr, "prune: -sparsities %q: %q is not a fraction 0 < s < 1\n", sp, f)
			os.Exit(2)
		}
		o.sparsities = append(o.sparsities, v)
	}
	if o.archText == "" {
		fmt.Fprintln(os.Stderr, "prune: -arch is required")
		os.Exit(2)
	}
	switch precision {
	case "float32":
	case "int8", "int4":
		o.bits = int(precision[3] - '0')
	default:
		fmt.Fprintf(os.Stderr, "prune: -precision %q: want float32, int8 or int4\n", precision)
		os.Exit(2)
	}
	if o.profile == "" {
		o.profile = hw.DefaultProfile
		if o.bits != 0 {
			o.profile += "-" + precision
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "prune:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, o options) error {
	d, err := sample.Load()
	if o.data != "" {
		d, err = dataset.Load(o.data)
	}
	if err != nil {
		return err
	}
	net, err := arch.Parse(o.archText, arch.DefaultKernelRule())
	if err != nil {
		return err
	}
	prof, err := hw.Load(o.profile)
	if err != nil {
		return err
	}
	if pw := prof.Edge.Precision().WeightBits; o.bits == 0 && pw != 32 || o.bits != 0 && pw != o.bits {
		return fmt.Errorf("-profile %s is %s: give a profile of the -precision", o.profile, prof.Edge.Precision().Name)
	}
	train, val, test := d.Part(dataset.Train), d.Part(dataset.Val), d.Part(dataset.Test)
	var windows [][]float32 // what each export is verified on
	for i := range min(3, test.Len()) {
		windows = append(windows, test.Sample(i))
	}
	tmp, err := os.MkdirTemp("", "splitnas-bench-prune-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cfg := nn.DefaultConfig()
	cfg.Epochs, cfg.LR, cfg.Seed = o.epochs, o.lr, o.seed
	slog.Info("training", "arch", net.String(), "epochs", o.epochs)
	res, err := nn.Native().Train(ctx, net, train, val, cfg)
	if err != nil {
		return err
	}
	lim := partition.Limits{FlashBytes: prof.Edge.FlashBytes, RAMBytes: prof.Edge.RAMBytes}
	cal := quant.CalibrationSamples(train, 256, o.seed)
	describe := func(method string, s float64, fm *nn.Model) (row, error) {
		r := row{method: method, sparsity: s}
		n := export.Network{Float: fm}
		if o.bits != 0 {
			q, err := quant.PostTraining(fm, cal, quant.MinMax, o.bits)
			if err != nil {
				return r, err
			}
			n = export.Network{Int: q}
		}
		var err error
		if r.Cost, err = prune.CostsOf(n.Network(), n.Rows(), prof, partition.Edge, lim); err != nil {
			return r, err
		}
		for _, e := range []struct {
			d   *dataset.Dataset
			acc *float64
		}{{val, &r.val}, {test, &r.test}} {
			met, err := nn.Evaluate(fm, e.d)
			if n.Int != nil {
				met, err = quant.Evaluate(n.Int, e.d)
			}
			if err != nil {
				return r, err
			}
			*e.acc = met.Accuracy
		}
		if r.Split > 0 {
			dir := fmt.Sprintf("%s/%s-%g", tmp, method, s)
			sum, err := export.WriteC(dir, n, r.Split, prof)
			if err != nil {
				return r, err
			}
			if sum.FlashBytes != r.Flash {
				return r, fmt.Errorf("%s: the export holds %d B of Flash, prune.Costs says %d", r.Arch, sum.FlashBytes, r.Flash)
			}
			v, err := export.Verify(ctx, dir, n, sum, windows)
			if err != nil {
				return r, err
			}
			if v.HostMismatches > 0 || v.EmuMismatches > 0 {
				return r, fmt.Errorf("%s (%s %g): the export differs from the Go reference on %d windows (host), %d (emulated)", r.Arch, method, s, v.HostMismatches, v.EmuMismatches)
			}
			r.cycles, r.predicted = v.EmulatedCycles, v.PredictedCycles
		}
		return r, nil
	}
	base, err := describe("–", 0, res.Model)
	if err != nil {
		return err
	}
	rows := []row{base}
	ft := cfg
	ft.Epochs = max(o.fineTune, 1)
	for _, method := range []prune.Method{prune.ByChannel, prune.ByMagnitude} {
		dropped := false
		for _, s := range o.sparsities {
			slog.Info("pruning", "method", method, "sparsity", s)
			var pm *nn.Model
			switch method {
			case prune.ByChannel:
				if pm, _, err = prune.Channels(res.Model, s); err != nil {
					return err
				}
				if o.fineTune > 0 {
					c := ft
					c.Init = pm
					r, err := nn.Native().Train(ctx, pm.Network(), train, val, c)
					if err != nil {
						return err
					}
					pm = r.Model
				}
			case prune.ByMagnitude:
				if pm, _, _, err = prune.Gradual(ctx, nn.Native(), res.Model, train, val, ft, s, o.scope, o.fineTune, o.stage); err != nil {
					return err
				}
			}
			r, err := describe(string(method), s, pm)
			if err != nil {
				return err
			}
			if !dropped && base.test-r.test > 0.01 {
				r.dropsMoreThanOnePt, dropped = true, true
			}
			rows = append(rows, r)
		}
	}
	fmt.Fprintf(w, "%s on %s (%d training samples), trained %d epochs at lr %g, pruned and fine-tuned %d epochs (magnitude: %s, %d stages)%s; profile %s\n\n",
		net, dataName(o.data), train.Len(), o.epochs, o.lr, o.fineTune, o.scope, o.stage, quantized(o.bits), prof.Name)
	fmt.Fprintln(w, "| method | sparsity | network | non-zero weights | val | test | P | sparse layers | Flash (B) | dense Flash (B) | RAM (B) | emulated cycles (profile) | E_edge (µJ) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		mark := ""
		if r.dropsMoreThanOnePt {
			mark = " **(> 1 pt)**"
		}
		fmt.Fprintf(w, "| %s | %.0f %% | `%s` | %d / %d | %.1f %% | %.1f %%%s | %d | %s | %d | %d | %d | %.0f (%.0f) | %.1f |\n",
			r.method, 100*r.sparsity, r.Arch, r.NonZero, r.Weights, 100*r.val, 100*r.test, mark, r.Split, layers(r.Sparse), r.Flash, r.FlashDense, r.RAM, r.cycles, r.predicted, 1000*r.EEdge)
	}
	return nil
}

func quantized(bits int) string {
	if bits == 0 {
		return ""
	}
	return fmt.Sprintf(", then quantized to int%d (post-training, minmax, 256 training samples)", bits)
}

func layers(ls []int) string {
	if len(ls) == 0 {
		return "–"
	}
	return strings.Trim(strings.Join(strings.Fields(fmt.Sprint(ls)), ","), "[]")
}

func dataName(path string) string {
	if path == "" {
		return "the embedded MIT-BIH sample"
	}
	return path
}
