// Command pytorch compares splitnas's training engine (package nn) with a
// PyTorch reference (ref.py, run with Debian's python3-torch) that trains the
// same architectures with the same recipe on the same data.
//
// Subcommands (each prints or writes JSON):
//
//	net      --arch A [--overlap O] [--same-kernel K]
//	         the network as ref.py builds it: every layer's kind, shapes,
//	         kernel, stride, padding/cropping, ReLU, and the parameter count
//	randdata --arch A --samples N --seed S --out F.npz
//	         trainbench.RandomData (what `splitnas bench train` trains on) as .npz
//	export   --data F.snds --out F.npz
//	         a dataset file as .npz (what `splitnas dataset export` writes)
//	dump     (--model F.model | --arch A --epochs E) --inputs N --out F.json
//	         a trained model's weights, N random inputs and nn's logits for them
//	steps    --arch A --samples B --steps K [recipe flags] --out F.json
//	         initial weights, one batch of B samples, and the weights nn's Adam
//	         reaches after K full-batch steps on it (with --schedule, --warmup,
//	         --weight-decay, --class-balance weights as in `splitnas train`)
//	gotime   --arch A --samples N --epochs E
//	         trainbench.Run (what `splitnas bench train` runs) on this process's
//	         cores; run with GOMAXPROCS=1 for one core
//	gotrain  --data F.snds --arch A --seed S ...
//	         nn.Native().Train + nn.Evaluate (what `splitnas train` runs)
//	compare  the driver: timing on one core and accuracy over seeds, both
//	         sides, printed as a table (and as JSON with --json)
//
// It is a main package of the root module (not a module of its own like
// bench/gomlx) because it needs nothing outside the main module's
// dependencies, and so `go build ./...` and `go vet ./...` keep it compiling
// against the current nn, arch and dataset APIs. It may import
// internal/trainbench for the same reason.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/internal/trainbench"
	"github.com/splitnas/splitnas/nn"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pytorch:", err)
		os.Exit(1)
	}
}

const usage = "usage: pytorch net|randdata|export|dump|steps|gotime|gotrain|compare [flags] (see bench/pytorch/README.md)"

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmds := map[string]func(context.Context, []string, io.Writer) error{
		"net": cmdNet, "randdata": cmdRandData, "export": cmdExport, "dump": cmdDump, "steps": cmdSteps,
		"gotime": cmdGoTime, "gotrain": cmdGoTrain, "compare": cmdCompare,
	}
	f, ok := cmds[args[0]]
	if !ok {
		return fmt.Errorf("unknown subcommand %q; %s", args[0], usage)
	}
	return f(ctx, args[1:], stdout)
}

// archFlags are --arch with the kernel rule, as in `splitnas train`.
type archFlags struct {
	arch string
	rule arch.KernelRule
}

func (a *archFlags) register(fs *flag.FlagSet) {
	a.rule = arch.DefaultKernelRule()
	fs.StringVar(&a.arch, "arch", "", "architecture, e.g. 2048x1-128x2-8x4-64x2-5")
	fs.IntVar(&a.rule.Overlap, "overlap", a.rule.Overlap, "kernel of a strided layer, in strides")
	fs.IntVar(&a.rule.Same, "same-kernel", a.rule.Same, "kernel of a length-keeping convolution")
}

func (a *archFlags) network() (arch.Network, error) {
	if a.arch == "" {
		return arch.Network{}, errors.New("--arch is required")
	}
	return arch.Parse(a.arch, a.rule)
}

// layerJSON is one layer as ref.py builds it.
type layerJSON struct {
	Kind     string `json:"kind"` // conv1d, conv1d_transpose, dense
	InLen    int    `json:"in_len"`
	InCh     int    `json:"in_ch"`
	OutLen   int    `json:"out_len"`
	OutCh    int    `json:"out_ch"`
	Kernel   int    `json:"kernel"`
	Stride   int    `json:"stride"`
	PadLeft  int    `json:"pad_left"` // zeros before a Conv's input, or cropped from a ConvTranspose's output
	PadRight int    `json:"pad_right"`
	ReLU     bool   `json:"relu"`
}

// netJSON describes a network for ref.py. Params is nn's count (the length
// of a model's flat parameter vector), which ref.py asserts its own model has.
type netJSON struct {
	Arch    string      `json:"arch"`
	Overlap int         `json:"overlap"`
	Same    int         `json:"same_kernel"`
	Params  int         `json:"params"`
	Layers  []layerJSON `json:"layers"`
}

func describe(net arch.Network, rule arch.KernelRule) (netJSON, error) {
	m, err := nn.NewModel(net, 1)
	if err != nil {
		return netJSON{}, err
	}
	if len(m.Params()) != net.Params() {
		return netJSON{}, fmt.Errorf("nn has %d parameters, arch counts %d", len(m.Params()), net.Params())
	}
	d := netJSON{Arch: net.String(), Overlap: rule.Overlap, Same: rule.Same, Params: len(m.Params())}
	for _, l := range net.Layers {
		d.Layers = append(d.Layers, layerJSON{
			Kind: l.Kind.String(), InLen: l.In.Len, InCh: l.In.Ch, OutLen: l.Out.Len, OutCh: l.Out.Ch,
			Kernel: l.Kernel, Stride: l.Stride, PadLeft: l.PadLeft, PadRight: l.PadRight, ReLU: l.ReLU,
		})
	}
	return d, nil
}

func parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s: %w", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeJSONFile writes v to path, or to stdout when path is "" or "-".
func writeJSONFile(path string, stdout io.Writer, v any) error {
	if path == "" || path == "-" {
		return writeJSON(stdout, v)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(f).Encode(v); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeNPZFile(path string, d *dataset.Dataset) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := dataset.WriteNPZ(f, d); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func cmdNet(_ context.Context, args []string, stdout io.Writer) error {
	var a archFlags
	fs := flag.NewFlagSet("net", flag.ContinueOnError)
	a.register(fs)
	out := fs.String("out", "", "write the JSON here (default stdout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	net, err := a.network()
	if err != nil {
		return err
	}
	d, err := describe(net, a.rule)
	if err != nil {
		return err
	}
	return writeJSONFile(*out, stdout, d)
}

func cmdRandData(_ context.Context, args []string, _ io.Writer) error {
	var a archFlags
	fs := flag.NewFlagSet("randdata", flag.ContinueOnError)
	a.register(fs)
	samples := fs.Int("samples", 4000, "samples")
	seed := fs.Uint64("seed", 1, "data seed")
	out := fs.String("out", "", "output .npz (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	net, err := a.network()
	if err != nil {
		return err
	}
	if *out == "" || *samples < 1 {
		return errors.New("randdata: --out and --samples ≥ 1 are required")
	}
	return writeNPZFile(*out, trainbench.RandomData(net, *samples, *seed))
}

func cmdExport(_ context.Context, args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	data := fs.String("data", "", "dataset file (.snds, required)")
	out := fs.String("out", "", "output .npz (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" || *out == "" {
		return errors.New("export: --data and --out are required")
	}
	d, err := dataset.Load(*data)
	if err != nil {
		return err
	}
	return writeNPZFile(*out, d)
}

// weightsJSON is one layer's parameters in nn's layout: Conv and
// ConvTranspose w[out ch][in ch][tap], Dense w[output][flattened input].
type weightsJSON struct {
	W []float32 `json:"w"`
	B []float32 `json:"b"`
}

func modelWeights(m *nn.Model) []weightsJSON {
	var ws []weightsJSON
	for i := range m.Network().Layers {
		w, b := m.Weights(i)
		ws = append(ws, weightsJSON{W: w, B: b})
	}
	return ws
}

// dumpJSON is a trained model with inputs and the logits nn computes for them.
type dumpJSON struct {
	Net     netJSON       `json:"net"`
	Weights []weightsJSON `json:"weights"`
	X       [][]float32   `json:"x"`      // channel-major, as in the npz's x[i].reshape(-1)
	Logits  [][]float32   `json:"logits"` // nn.Model.Logits of each x
}

func cmdDump(ctx context.Context, args []string, stdout io.Writer) error {
	var a archFlags
	fs := flag.NewFlagSet("dump", flag.ContinueOnError)
	a.register(fs)
	model := fs.String("model", "", "a .model file written by `splitnas train --out` (instead of --arch)")
	epochs := fs.Int("epochs", 2, "with --arch: epochs of training on random data first")
	samples := fs.Int("samples", 256, "with --arch: random training samples")
	seed := fs.Uint64("seed", 1, "seed of the training and of the inputs")
	inputs := fs.Int("inputs", 8, "random inputs to compute the logits of")
	out := fs.String("out", "", "write the JSON here (default stdout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var (
		m    *nn.Model
		rule = a.rule
		err  error
	)
	switch {
	case *model != "" && a.arch != "":
		return errors.New("dump: give --model or --arch, not both")
	case *model != "":
		if m, err = nn.LoadFile(*model); err != nil {
			return err
		}
		rule = arch.KernelRule{} // not recorded in the model file; the layers say it all
	default:
		net, err := a.network()
		if err != nil {
			return err
		}
		cfg := nn.DefaultConfig()
		cfg.Epochs, cfg.Seed, cfg.LR = *epochs, *seed, 3e-3
		res, err := nn.Native().Train(ctx, net, trainbench.RandomData(net, *samples, *seed), nil, cfg)
		if err != nil {
			return err
		}
		m = res.Model
	}
	net := m.Network()
	d, err := describe(net, rule)
	if err != nil {
		return err
	}
	xs := trainbench.RandomData(net, *inputs, *seed+1000)
	dump := dumpJSON{Net: d, Weights: modelWeights(m)}
	for i := range xs.Len() {
		x := append([]float32(nil), xs.Sample(i)...)
		z := make([]float32, net.Classes())
		m.Logits(x, z)
		dump.X = append(dump.X, x)
		dump.Logits = append(dump.Logits, z)
	}
	return writeJSONFile(*out, stdout, dump)
}

// stepsJSON is a short full-batch training run: from the initial weights
// nn.NewModel draws for the seed, Steps Adam steps on one batch holding all
// of X (so the shuffle order does not matter), at learning rate LR.
type stepsJSON struct {
	Net          netJSON       `json:"net"`
	LR           float64       `json:"lr"`
	Steps        int           `json:"steps"`
	Schedule     string        `json:"schedule"`
	Warmup       int           `json:"warmup"` // epochs = steps here
	WeightDecay  float64       `json:"weight_decay"`
	ClassBalance string        `json:"class_balance"`
	Init         []weightsJSON `json:"init"`
	X            [][]float32   `json:"x"`
	Y            []int         `json:"y"`
	Final        []weightsJSON `json:"final"`
	TrainLoss    []float64     `json:"train_loss"` // mean loss over X before each step
}

func cmdSteps(ctx context.Context, args []string, stdout io.Writer) error {
	var a archFlags
	fs := flag.NewFlagSet("steps", flag.ContinueOnError)
	a.register(fs)
	samples := fs.Int("samples", 32, "samples in the one batch")
	steps := fs.Int("steps", 5, "Adam steps")
	lr := fs.Float64("lr", 1e-3, "learning rate")
	seed := fs.Uint64("seed", 1, "seed")
	out := fs.String("out", "", "write the JSON here (default stdout)")
	var r recipeFlags
	r.register(fs, nn.DefaultConfig())
	if err := parse(fs, args); err != nil {
		return err
	}
	net, err := a.network()
	if err != nil {
		return err
	}
	d, err := describe(net, a.rule)
	if err != nil {
		return err
	}
	// Train draws its initial weights with nn.NewModel(net, cfg.Seed).
	init, err := nn.NewModel(net, *seed)
	if err != nil {
		return err
	}
	data := trainbench.RandomData(net, *samples, *seed)
	cfg := nn.DefaultConfig()
	cfg.Epochs, cfg.Batch, cfg.LR, cfg.Seed = *steps, *samples, *lr, *seed
	if err := r.apply(&cfg); err != nil {
		return err
	}
	res, err := nn.Native().Train(ctx, net, data, nil, cfg)
	if err != nil {
		return err
	}
	s := stepsJSON{Net: d, LR: *lr, Steps: *steps, Schedule: r.schedule, Warmup: r.warmup, WeightDecay: r.weightDecay,
		ClassBalance: r.classBalance, Init: modelWeights(init), Final: modelWeights(res.Model)}
	for i := range data.Len() {
		s.X = append(s.X, data.Sample(i))
		s.Y = append(s.Y, int(data.Labels[i]))
	}
	for _, ep := range res.History {
		s.TrainLoss = append(s.TrainLoss, ep.TrainLoss)
	}
	return writeJSONFile(*out, stdout, s)
}

func cmdGoTime(ctx context.Context, args []string, stdout io.Writer) error {
	var a archFlags
	fs := flag.NewFlagSet("gotime", flag.ContinueOnError)
	a.register(fs)
	opt := trainbench.Options{Samples: 4000, Batch: 32, Epochs: 5, Seed: 1}
	fs.IntVar(&opt.Samples, "samples", opt.Samples, "random training samples")
	fs.IntVar(&opt.Batch, "batch", opt.Batch, "mini-batch size")
	fs.IntVar(&opt.Epochs, "epochs", opt.Epochs, "epochs to time")
	fs.Uint64Var(&opt.Seed, "seed", opt.Seed, "seed of the data and the training")
	if err := parse(fs, args); err != nil {
		return err
	}
	net, err := a.network()
	if err != nil {
		return err
	}
	rep, err := trainbench.Run(ctx, nn.Native(), net, opt)
	if err != nil {
		return err
	}
	return writeJSON(stdout, rep)
}

// trainResult is one training run of either side, as `splitnas train --json`
// and ref.py's train report it (the fields both have).
type trainResult struct {
	Side         string    `json:"side"`
	Arch         string    `json:"arch"`
	Params       int       `json:"params"`
	Seed         uint64    `json:"seed"`
	Epochs       int       `json:"epochs"`
	BestEpoch    int       `json:"best_epoch"` // 1-based
	ValAccuracy  float64   `json:"val_accuracy"`
	ValLoss      float64   `json:"val_loss"`
	TestAccuracy float64   `json:"test_accuracy"`
	TestMacroF1  float64   `json:"test_macro_f1"`
	EpochSeconds []float64 `json:"epoch_seconds"` // training pass and validation
	Seconds      float64   `json:"seconds"`
}

type trainOpts struct {
	archFlags
	recipeFlags
	data string
	cfg  nn.Config
}

func (o *trainOpts) register(fs *flag.FlagSet) {
	o.archFlags.register(fs)
	o.cfg = nn.DefaultConfig()
	o.recipeFlags.register(fs, o.cfg)
	fs.StringVar(&o.data, "data", "", "dataset file (.snds, required)")
	fs.IntVar(&o.cfg.Epochs, "epochs", o.cfg.Epochs, "epochs")
	fs.IntVar(&o.cfg.Batch, "batch", o.cfg.Batch, "mini-batch size")
	fs.Float64Var(&o.cfg.LR, "lr", o.cfg.LR, "Adam learning rate")
	fs.Uint64Var(&o.cfg.Seed, "seed", o.cfg.Seed, "seed")
}

// recipeFlags are the parts of nn's training recipe that ref.py mirrors
// besides Adam, batch size and learning rate, named as in `splitnas train`.
// The defaults are nn.DefaultConfig's: every option off.
type recipeFlags struct {
	schedule, classBalance, selectBy string
	warmup                           int
	weightDecay                      float64
}

func (r *recipeFlags) register(fs *flag.FlagSet, def nn.Config) {
	fs.StringVar(&r.schedule, "schedule", def.Schedule.String(), "learning-rate schedule: constant or cosine")
	fs.IntVar(&r.warmup, "warmup", def.WarmupEpochs, "epochs of linear learning-rate warm-up")
	fs.Float64Var(&r.weightDecay, "weight-decay", def.WeightDecay, "AdamW decoupled weight decay of the weights")
	fs.StringVar(&r.classBalance, "class-balance", def.ClassBalance.String(), "none or weights (class-weighted loss); ref.py has no sampler")
	fs.StringVar(&r.selectBy, "select", def.Select.String(), "validation score that picks the epoch: accuracy or balanced")
}

// apply sets the recipe in cfg.
func (r *recipeFlags) apply(cfg *nn.Config) error {
	var err error
	if cfg.Schedule, err = nn.ParseSchedule(r.schedule); err != nil {
		return err
	}
	if cfg.ClassBalance, err = nn.ParseClassBalance(r.classBalance); err != nil {
		return err
	}
	if cfg.ClassBalance == nn.BalanceSampler {
		return errors.New("--class-balance sampler: ref.py does not mirror nn's sampler")
	}
	if cfg.Select, err = nn.ParseSelectBy(r.selectBy); err != nil {
		return err
	}
	cfg.WarmupEpochs, cfg.WeightDecay = r.warmup, r.weightDecay
	return cfg.Validate()
}

// pyArgs are the recipe flags for ref.py.
func (r *recipeFlags) pyArgs() []string {
	return []string{"--schedule", r.schedule, "--warmup", fmt.Sprint(r.warmup), "--weight-decay", fmt.Sprint(r.weightDecay),
		"--class-balance", r.classBalance, "--select", r.selectBy}
}

// goTrain does what `splitnas train --data F --arch A ... --json` does.
func goTrain(ctx context.Context, net arch.Network, d *dataset.Dataset, cfg nn.Config) (trainResult, error) {
	res, err := nn.Native().Train(ctx, net, d.Part(dataset.Train), d.Part(dataset.Val), cfg)
	if err != nil {
		return trainResult{}, err
	}
	test, err := nn.Evaluate(res.Model, d.Part(dataset.Test))
	if err != nil {
		return trainResult{}, err
	}
	r := trainResult{
		Side: "splitnas", Arch: net.String(), Params: net.Params(), Seed: cfg.Seed, Epochs: len(res.History),
		BestEpoch: res.Best + 1, ValAccuracy: res.History[res.Best].ValAcc, ValLoss: res.History[res.Best].ValLoss,
		TestAccuracy: test.Accuracy, TestMacroF1: test.MacroF1,
	}
	for _, ep := range res.History {
		r.EpochSeconds = append(r.EpochSeconds, ep.Seconds)
		r.Seconds += ep.Seconds
	}
	return r, nil
}

func cmdGoTrain(ctx context.Context, args []string, stdout io.Writer) error {
	var o trainOpts
	fs := flag.NewFlagSet("gotrain", flag.ContinueOnError)
	o.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	net, err := o.network()
	if err != nil {
		return err
	}
	if err := o.apply(&o.cfg); err != nil {
		return err
	}
	if o.data == "" {
		return errors.New("gotrain: --data is required")
	}
	d, err := dataset.Load(o.data)
	if err != nil {
		return err
	}
	r, err := goTrain(ctx, net, d, o.cfg)
	if err != nil {
		return err
	}
	return writeJSON(stdout, r)
}
