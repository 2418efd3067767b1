package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/internal/stats"
	"github.com/splitnas/splitnas/internal/trainbench"
	"github.com/splitnas/splitnas/nn"
)

// pyEnv pins PyTorch (and the BLAS/OpenMP under it) to one thread; ref.py
// also calls torch.set_num_threads(1) and torch.set_num_interop_threads(1).
var pyEnv = []string{"OMP_NUM_THREADS=1", "MKL_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1"}

// findScript returns ref.py: the flag's value if set, else ref.py beside the
// working directory (go test, or run from bench/pytorch) or under
// bench/pytorch (run from the repository root).
func findScript(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	for _, p := range []string{"ref.py", filepath.Join("bench", "pytorch", "ref.py")} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("cannot find ref.py: run from the repository root or bench/pytorch, or give --script")
}

// python runs ref.py with args on one thread and decodes its JSON output
// into v.
func python(ctx context.Context, py, script string, v any, args ...string) error {
	cmd := exec.CommandContext(ctx, py, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), pyEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s %s: %w\n%s", py, script, strings.Join(args, " "), err, errb.String())
	}
	if err := json.Unmarshal(out.Bytes(), v); err != nil {
		return fmt.Errorf("ref.py %s: output is not JSON: %w\n%s", args[0], err, out.String())
	}
	return nil
}

// self runs this program's subcommand in a child process (GOMAXPROCS=1) and
// decodes its JSON output into v.
func self(ctx context.Context, v any, args ...string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", exe, strings.Join(args, " "), err, errb.String())
	}
	return json.Unmarshal(out.Bytes(), v)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// pyTime is what `ref.py time` prints.
type pyTime struct {
	Torch             string    `json:"torch"`
	Threads           int       `json:"threads"`
	Params            int       `json:"params"`
	EpochSeconds      float64   `json:"epoch_seconds"` // median, Adam in nn's form (ref.py's KerasAdam)
	EpochSecondsAll   []float64 `json:"epoch_seconds_all"`
	TorchAdamSeconds  float64   `json:"torch_adam_epoch_seconds"` // median, torch.optim.Adam(eps=1e-7)
	TorchAdamAll      []float64 `json:"torch_adam_epoch_seconds_all"`
	FirstEpochSeconds float64   `json:"first_epoch_seconds"`
}

// timingRound is one Go run and one PyTorch run, back to back.
type timingRound struct {
	GoSeconds        float64   `json:"splitnas_epoch_seconds"`
	GoAll            []float64 `json:"splitnas_epoch_seconds_all"`
	TorchSeconds     float64   `json:"pytorch_epoch_seconds"`
	TorchAll         []float64 `json:"pytorch_epoch_seconds_all"`
	TorchAdamSeconds float64   `json:"pytorch_torch_adam_epoch_seconds"`
	Ratio            float64   `json:"ratio"` // PyTorch ÷ splitnas
	LoadBefore       string    `json:"loadavg_before"`
	LoadAfter        string    `json:"loadavg_after"`
}

type timingReport struct {
	Arch         string        `json:"arch"`
	Params       int           `json:"params"`
	Samples      int           `json:"samples"`
	Batch        int           `json:"batch"`
	Epochs       int           `json:"epochs_per_round"`
	Torch        string        `json:"torch"`
	Rounds       []timingRound `json:"rounds"`
	GoSeconds    float64       `json:"splitnas_epoch_seconds"` // median over rounds
	TorchSeconds float64       `json:"pytorch_epoch_seconds"`
	TorchAdam    float64       `json:"pytorch_torch_adam_epoch_seconds"`
	Ratio        float64       `json:"ratio"` // median of the rounds' ratios
}

// pyTrain is what `ref.py train` prints (the fields the table uses).
type pyTrain struct {
	Torch        string    `json:"torch"`
	Params       int       `json:"params"`
	Seed         uint64    `json:"seed"`
	Epochs       int       `json:"epochs"`
	BestEpoch    int       `json:"best_epoch"`
	ValAccuracy  float64   `json:"val_accuracy"`
	ValLoss      float64   `json:"val_loss"`
	TestAccuracy float64   `json:"test_accuracy"`
	TestMacroF1  float64   `json:"test_macro_f1"`
	EpochSeconds []float64 `json:"epoch_seconds"`
	Seconds      float64   `json:"seconds"`
}

type accCase struct {
	Name    string  `json:"name"`
	Data    string  `json:"data"`
	Arch    string  `json:"arch"`
	Overlap int     `json:"overlap"`
	LR      float64 `json:"lr"`
}

type accReport struct {
	accCase
	Params    int           `json:"params"`
	Epochs    int           `json:"epochs"`
	Seeds     []uint64      `json:"seeds"`
	Init      string        `json:"pytorch_init"` // nn, go or torch (see --init)
	Recipe    string        `json:"recipe"`
	Go        []trainResult `json:"splitnas"`
	Torch     []pyTrain     `json:"pytorch"`
	GoMean    float64       `json:"splitnas_mean_test_accuracy"`
	TorchMean float64       `json:"pytorch_mean_test_accuracy"`
	GoSD      float64       `json:"splitnas_sd_test_accuracy"` // sample standard deviation over the seeds
	TorchSD   float64       `json:"pytorch_sd_test_accuracy"`
	Diff      float64       `json:"diff_points"`    // (splitnas − PyTorch) × 100
	DiffSE    float64       `json:"diff_se_points"` // standard error of Diff, √(sd²/n + sd²/n) × 100
	Load      string        `json:"loadavg_after"`
}

type compareReport struct {
	Started  string        `json:"started"`
	Host     string        `json:"host"`
	CPUs     int           `json:"cpus"`
	Timing   *timingReport `json:"timing,omitempty"`
	Accuracy []accReport   `json:"accuracy,omitempty"`
}

func cmdCompare(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	py := fs.String("python", "/usr/bin/python3", "Python with torch (Debian's python3-torch)")
	script := fs.String("script", "", "ref.py (default: found beside or under bench/pytorch)")
	work := fs.String("work", "", "directory for the .npz and JSON files (default: a temporary one, removed)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of the tables")
	jsonOut := fs.String("out", "", "also write the JSON report to this file")
	var ta archFlags
	ta.register(fs)
	fs.Lookup("arch").DefValue = "2048x1-128x2-8x4-64x2-5"
	ta.arch = "2048x1-128x2-8x4-64x2-5"
	samples := fs.Int("samples", 4000, "timing: random training samples")
	batch := fs.Int("batch", 32, "mini-batch size (timing and accuracy)")
	timeEpochs := fs.Int("time-epochs", 5, "timing: epochs per run (the median is taken)")
	rounds := fs.Int("rounds", 3, "timing: runs of each side, alternating (0 skips timing)")
	mitdb := accCase{Name: "MIT-BIH", Arch: "2048x1-256x4-32x4-5", Overlap: 2, LR: 0.003}
	bonn := accCase{Name: "Bonn", Arch: "2048x1-256x4-32x4-2", Overlap: 2, LR: 0.003}
	for _, c := range []*accCase{&mitdb, &bonn} {
		p := map[string]string{"MIT-BIH": "mitdb", "Bonn": "bonn"}[c.Name]
		fs.StringVar(&c.Data, p, "", c.Name+": dataset file (.snds); empty skips this case")
		fs.StringVar(&c.Arch, p+"-arch", c.Arch, c.Name+": architecture")
		fs.IntVar(&c.Overlap, p+"-overlap", c.Overlap, c.Name+": --overlap")
		fs.Float64Var(&c.LR, p+"-lr", c.LR, c.Name+": learning rate")
	}
	epochs := fs.Int("epochs", 20, "accuracy: training epochs")
	var recipe recipeFlags
	recipe.register(fs, nn.DefaultConfig())
	initMode := fs.String("init", "go", "accuracy: PyTorch's initial weights: go (the very weights nn.NewModel draws for the seed), nn (nn's distributions, drawn by torch's generator), torch (PyTorch's default init)")
	seedList := fs.String("seeds", "1,2,3", "accuracy: seeds, comma-separated")
	if err := parse(fs, args); err != nil {
		return err
	}
	check := nn.DefaultConfig()
	check.Epochs, check.Batch = *epochs, *batch
	if err := recipe.apply(&check); err != nil { // before any work; again per run with its learning rate
		return err
	}
	if *initMode != "nn" && *initMode != "go" && *initMode != "torch" {
		return fmt.Errorf("--init %q: want nn, go or torch", *initMode)
	}
	ref, err := findScript(*script)
	if err != nil {
		return err
	}
	var seeds []uint64
	for s := range strings.SplitSeq(*seedList, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("--seeds %q: %w", *seedList, err)
		}
		seeds = append(seeds, v)
	}
	dir := *work
	if dir == "" {
		if dir, err = os.MkdirTemp("", "splitnas-pytorch-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	host, _ := os.Hostname()
	rep := compareReport{Started: time.Now().Format(time.RFC3339), Host: host, CPUs: runtime.NumCPU()}

	if *rounds > 0 {
		if rep.Timing, err = compareTiming(ctx, *py, ref, dir, ta, *samples, *batch, *timeEpochs, *rounds, stdout, *asJSON); err != nil {
			return err
		}
	}
	for _, c := range []accCase{mitdb, bonn} {
		if c.Data == "" {
			continue
		}
		a, err := compareAccuracy(ctx, *py, ref, dir, c, *epochs, *batch, seeds, *initMode, recipe, stdout, *asJSON)
		if err != nil {
			return err
		}
		rep.Accuracy = append(rep.Accuracy, a)
	}
	if *jsonOut != "" {
		if err := writeJSONFile(*jsonOut, nil, rep); err != nil {
			return err
		}
	}
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	return nil
}

func writeNet(dir, name string, net arch.Network, rule arch.KernelRule) (string, netJSON, error) {
	d, err := describe(net, rule)
	if err != nil {
		return "", d, err
	}
	path := filepath.Join(dir, name)
	return path, d, writeJSONFile(path, nil, d)
}

func compareTiming(ctx context.Context, py, ref, dir string, a archFlags, samples, batch, epochs, rounds int, w io.Writer, quiet bool) (*timingReport, error) {
	net, err := a.network()
	if err != nil {
		return nil, err
	}
	netPath, d, err := writeNet(dir, "time-net.json", net, a.rule)
	if err != nil {
		return nil, err
	}
	// The data `splitnas bench train` (trainbench.Run, seed 1) trains on.
	npz := filepath.Join(dir, "time-data.npz")
	if err := writeNPZFile(npz, trainbench.RandomData(net, samples, 1)); err != nil {
		return nil, err
	}
	tr := &timingReport{Arch: net.String(), Params: d.Params, Samples: samples, Batch: batch, Epochs: epochs}
	goArgs := []string{"gotime", "--arch", a.arch, "--overlap", fmt.Sprint(a.rule.Overlap), "--same-kernel", fmt.Sprint(a.rule.Same),
		"--samples", fmt.Sprint(samples), "--batch", fmt.Sprint(batch), "--epochs", fmt.Sprint(epochs), "--seed", "1"}
	pyArgs := []string{"time", "--net", netPath, "--npz", npz, "--batch", fmt.Sprint(batch), "--epochs", fmt.Sprint(epochs), "--threads", "1"}
	var ratios, goS, ptS, ptA []float64
	for range rounds {
		r := timingRound{LoadBefore: loadAvg()}
		var g trainbench.Report
		if err := self(ctx, &g, goArgs...); err != nil {
			return nil, err
		}
		var p pyTime
		if err := python(ctx, py, ref, &p, pyArgs...); err != nil {
			return nil, err
		}
		if p.Params != d.Params || g.Params != d.Params {
			return nil, fmt.Errorf("parameter counts differ: nn %d, splitnas bench %d, PyTorch %d", d.Params, g.Params, p.Params)
		}
		tr.Torch = p.Torch
		r.GoSeconds, r.GoAll = g.EpochSeconds, g.EpochSecondsAll
		r.TorchSeconds, r.TorchAll, r.TorchAdamSeconds = p.EpochSeconds, p.EpochSecondsAll, p.TorchAdamSeconds
		r.Ratio = r.TorchSeconds / r.GoSeconds
		r.LoadAfter = loadAvg()
		tr.Rounds = append(tr.Rounds, r)
		ratios, goS, ptS, ptA = append(ratios, r.Ratio), append(goS, r.GoSeconds), append(ptS, r.TorchSeconds), append(ptA, r.TorchAdamSeconds)
	}
	tr.Ratio, tr.GoSeconds, tr.TorchSeconds, tr.TorchAdam = stats.Median(ratios), stats.Median(goS), stats.Median(ptS), stats.Median(ptA)
	if !quiet {
		fmt.Fprintf(w, "Epoch time on one core: %s (%d params), %d random samples, batch %d, Adam; median of %d epochs per run; torch %s\n",
			tr.Arch, tr.Params, samples, batch, epochs, tr.Torch)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "run\tsplitnas s/epoch\tPyTorch s/epoch\tPyTorch ÷ splitnas\t(torch.optim.Adam s/epoch)\tloadavg before → after\t")
		for i, r := range tr.Rounds {
			fmt.Fprintf(tw, "%d\t%.4f\t%.4f\t%.2f×\t%.4f\t%s → %s\t\n", i+1, r.GoSeconds, r.TorchSeconds, r.Ratio, r.TorchAdamSeconds, r.LoadBefore, r.LoadAfter)
		}
		fmt.Fprintf(tw, "median\t%.4f\t%.4f\t%.2f×\t%.4f\t\t\n", tr.GoSeconds, tr.TorchSeconds, tr.Ratio, tr.TorchAdam)
		tw.Flush()
		fmt.Fprintln(w)
	}
	return tr, nil
}

func compareAccuracy(ctx context.Context, py, ref, dir string, c accCase, epochs, batch int, seeds []uint64, initMode string, recipe recipeFlags, w io.Writer, quiet bool) (accReport, error) {
	rule := arch.DefaultKernelRule()
	rule.Overlap = c.Overlap
	net, err := arch.Parse(c.Arch, rule)
	if err != nil {
		return accReport{}, err
	}
	d, err := dataset.Load(c.Data)
	if err != nil {
		return accReport{}, err
	}
	tag := strings.ToLower(strings.ReplaceAll(c.Name, "-", ""))
	netPath, nj, err := writeNet(dir, tag+"-net.json", net, rule)
	if err != nil {
		return accReport{}, err
	}
	npz := filepath.Join(dir, tag+".npz") // what `splitnas dataset export FILE --npz` writes
	if err := writeNPZFile(npz, d); err != nil {
		return accReport{}, err
	}
	ar := accReport{accCase: c, Params: nj.Params, Epochs: epochs, Seeds: seeds, Init: initMode, Recipe: recipe.String()}
	var goAcc, ptAcc []float64
	for _, seed := range seeds {
		cfg := nn.DefaultConfig()
		cfg.Epochs, cfg.Batch, cfg.LR, cfg.Seed = epochs, batch, c.LR, seed
		if err := recipe.apply(&cfg); err != nil {
			return accReport{}, err
		}
		g, err := goTrain(ctx, net, d, cfg)
		if err != nil {
			return accReport{}, err
		}
		pyArgs := []string{"train", "--net", netPath, "--npz", npz, "--epochs", fmt.Sprint(epochs),
			"--batch", fmt.Sprint(batch), "--lr", fmt.Sprint(c.LR), "--seed", fmt.Sprint(seed), "--threads", "1"}
		pyArgs = append(pyArgs, recipe.pyArgs()...)
		switch initMode {
		case "torch":
			pyArgs = append(pyArgs, "--init", "torch")
		case "go":
			// Train starts from nn.NewModel(net, cfg.Seed).
			m, err := nn.NewModel(net, seed)
			if err != nil {
				return accReport{}, err
			}
			path := filepath.Join(dir, fmt.Sprintf("%s-init-%d.json", tag, seed))
			if err := writeJSONFile(path, nil, modelWeights(m)); err != nil {
				return accReport{}, err
			}
			pyArgs = append(pyArgs, "--init-weights", path)
		}
		var p pyTrain
		if err := python(ctx, py, ref, &p, pyArgs...); err != nil {
			return accReport{}, err
		}
		if p.Params != nj.Params {
			return accReport{}, fmt.Errorf("%s: PyTorch model has %d parameters, nn %d", c.Name, p.Params, nj.Params)
		}
		ar.Go, ar.Torch = append(ar.Go, g), append(ar.Torch, p)
		goAcc, ptAcc = append(goAcc, g.TestAccuracy), append(ptAcc, p.TestAccuracy)
	}
	ar.GoMean, ar.TorchMean = mean(goAcc), mean(ptAcc)
	ar.GoSD, ar.TorchSD = sd(goAcc), sd(ptAcc)
	ar.Diff = 100 * (ar.GoMean - ar.TorchMean)
	n := float64(len(seeds))
	ar.DiffSE = 100 * math.Sqrt(ar.GoSD*ar.GoSD/n+ar.TorchSD*ar.TorchSD/n)
	ar.Load = loadAvg()
	if !quiet {
		fmt.Fprintf(w, "Test accuracy, %s: %s (overlap %d, lr %g, %d params), %d epochs, batch %d, %s; PyTorch init %s; data %s\n",
			c.Name, c.Arch, c.Overlap, c.LR, nj.Params, epochs, batch, recipe.String(), initMode, c.Data)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "seed\tsplitnas test acc.\t(best epoch)\tPyTorch test acc.\t(best epoch)\tsplitnas s/epoch\tPyTorch s/epoch\t")
		for i, s := range seeds {
			g, p := ar.Go[i], ar.Torch[i]
			fmt.Fprintf(tw, "%d\t%.2f %%\t%d\t%.2f %%\t%d\t%.4f\t%.4f\t\n", s, 100*g.TestAccuracy, g.BestEpoch, 100*p.TestAccuracy, p.BestEpoch,
				stats.Median(g.EpochSeconds), stats.Median(p.EpochSeconds))
		}
		fmt.Fprintf(tw, "mean\t%.2f %%\t\t%.2f %%\t\t\t\t\n", 100*ar.GoMean, 100*ar.TorchMean)
		fmt.Fprintf(tw, "sd\t%.2f\t\t%.2f\t\t\t\t\n", 100*ar.GoSD, 100*ar.TorchSD)
		tw.Flush()
		fmt.Fprintf(w, "splitnas − PyTorch: %+.2f points, standard error %.2f (loadavg %s)\n\n", ar.Diff, ar.DiffSE, ar.Load)
	}
	return ar, nil
}

// sd is the sample standard deviation (0 for fewer than two values).
func sd(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	m, s := mean(xs), 0.0
	for _, x := range xs {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(xs)-1))
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// String describes the recipe as the tables print it.
func (r recipeFlags) String() string {
	s := "schedule " + r.schedule
	if r.warmup > 0 {
		s += fmt.Sprintf(" after %d warm-up epochs", r.warmup)
	}
	if r.weightDecay > 0 {
		s += fmt.Sprintf(", weight decay %g", r.weightDecay)
	}
	if r.classBalance != "none" {
		s += ", class balance " + r.classBalance
	}
	return s + ", epoch chosen by validation " + r.selectBy
}
