// Command prune measures what pruning does to one network: it trains the
// network once on a dataset, prunes the result at several sparsities by
// each method (package prune: whole channels, or single weights by
// magnitude with the gradual schedule), fine-tunes each, and prints a
// Markdown table — validation and test accuracy, Flash (dense, and with
// a bitmask encoding of sparse weights), RAM and E_edge at the best split
// point of the profile, and the edge part's cycles emulated on the
// Cortex-M4 (package calib, the kernels the export ships) — marking the
// first sparsity of each method whose test accuracy is more than one
// point below the unpruned network's.
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
	"github.com/splitnas/splitnas/calib"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/sample"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/partition"
	"github.com/splitnas/splitnas/prune"
)

// options are the command line's settings.
type options struct {
	data, archText, profile string
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
	cycles             float64 // emulated, of the edge part
	dropsMoreThanOnePt bool
}

func main() {
	var o options
	var sp string
	flag.StringVar(&o.data, "data", "", "dataset file (default: the embedded MIT-BIH sample)")
	flag.StringVar(&o.archText, "arch", "", "network to train and prune (required)")
	flag.StringVar(&o.profile, "profile", hw.DefaultProfile, "device profile (float32)")
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
	if prof.Edge.Precision().Integer() {
		return fmt.Errorf("-profile %s: a float32 profile, please (prune, then quantize)", o.profile)
	}
	emu, err := calib.NewEmulator(ctx, "")
	if err != nil {
		return err
	}
	train, val, test := d.Part(dataset.Train), d.Part(dataset.Val), d.Part(dataset.Test)
	cfg := nn.DefaultConfig()
	cfg.Epochs, cfg.LR, cfg.Seed = o.epochs, o.lr, o.seed
	slog.Info("training", "arch", net.String(), "epochs", o.epochs)
	res, err := nn.Native().Train(ctx, net, train, val, cfg)
	if err != nil {
		return err
	}
	cycles := map[string]float64{} // arch/P → emulated cycles
	lim := partition.Limits{FlashBytes: prof.Edge.FlashBytes, RAMBytes: prof.Edge.RAMBytes}
	describe := func(method string, s float64, m *nn.Model) (row, error) {
		r := row{method: method, sparsity: s}
		var err error
		if r.Cost, err = prune.Costs(m, prof, partition.Edge, lim); err != nil {
			return r, err
		}
		for _, e := range []struct {
			d   *dataset.Dataset
			acc *float64
		}{{val, &r.val}, {test, &r.test}} {
			met, err := nn.Evaluate(m, e.d)
			if err != nil {
				return r, err
			}
			*e.acc = met.Accuracy
		}
		if r.Split > 0 {
			key := fmt.Sprintf("%s/%d", r.Arch, r.Split)
			c, ok := cycles[key]
			if !ok {
				cr, err := emu.MeasureNetwork(ctx, calib.Config{Precision: calib.Float32}, m.Network(), r.Split)
				if err != nil {
					return r, err
				}
				c = cr.Cycles
				cycles[key] = c
			}
			r.cycles = c
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
	fmt.Fprintf(w, "%s on %s (%d training samples), trained %d epochs at lr %g, pruned and fine-tuned %d epochs (magnitude: %s, %d stages); profile %s\n\n",
		net, dataName(o.data), train.Len(), o.epochs, o.lr, o.fineTune, o.scope, o.stage, prof.Name)
	fmt.Fprintln(w, "| method | sparsity | network | non-zero weights | val | test | P | Flash (B) | Flash, bitmask (B) | RAM (B) | emulated cycles | E_edge (µJ) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		mark := ""
		if r.dropsMoreThanOnePt {
			mark = " **(> 1 pt)**"
		}
		fmt.Fprintf(w, "| %s | %.0f %% | `%s` | %d / %d | %.1f %% | %.1f %%%s | %d | %d | %d | %d | %.0f | %.1f |\n",
			r.method, 100*r.sparsity, r.Arch, r.NonZero, r.Weights, 100*r.val, 100*r.test, mark, r.Split, r.Flash, r.FlashBitmask, r.RAM, r.cycles, 1000*r.EEdge)
	}
	return nil
}

func dataName(path string) string {
	if path == "" {
		return "the embedded MIT-BIH sample"
	}
	return path
}
