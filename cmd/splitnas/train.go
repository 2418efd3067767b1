package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/sample"
	"github.com/splitnas/splitnas/internal/trainbench"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/prune"
	"github.com/splitnas/splitnas/quant"
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
	Data                 string           `json:"data"`
	Arch                 string           `json:"arch"`
	Params               int              `json:"params"`
	MACs                 int              `json:"macs"`
	FlashBytes           int              `json:"flash_bytes"` // whole network on the edge, float32
	RAMBytes             int              `json:"ram_bytes"`
	Recipe               trainRecipe      `json:"recipe"`
	Epochs               int              `json:"epochs"`
	BestEpoch            int              `json:"best_epoch"` // 1-based
	ValAccuracy          float64          `json:"val_accuracy"`
	ValBalancedAccuracy  float64          `json:"val_balanced_accuracy"`
	ValMacroF1           float64          `json:"val_macro_f1"`
	TestAccuracy         float64          `json:"test_accuracy"`
	TestBalancedAccuracy float64          `json:"test_balanced_accuracy"` // mean sensitivity over the classes present
	TestMacroF1          float64          `json:"test_macro_f1"`
	TestConfusion        [][]int          `json:"test_confusion"`
	TestPerClass         []nn.ClassScores `json:"test_per_class"` // AAMI EC57 style: Se, +P, support
	Classes              []string         `json:"classes"`
	History              []nn.Epoch       `json:"history"`
	Seconds              float64          `json:"seconds"`
	Model                string           `json:"model,omitempty"`
	// Quantized, with --qat, scores the int8 network the training ends in
	// (package quant, integer arithmetic) — what would be deployed; the
	// scores above are then those of its float weights, unquantized.
	Quantized *quantScores `json:"quantized,omitempty"`
	Init      string       `json:"init,omitempty"` // --init: the model training started from
}

// quantScores are a quantized model's costs and scores.
type quantScores struct {
	Bits                 int              `json:"bits"` // weight bits; activations int8
	FlashBytes           int              `json:"flash_bytes"`
	RAMBytes             int              `json:"ram_bytes"`
	ValAccuracy          float64          `json:"val_accuracy"`
	ValBalancedAccuracy  float64          `json:"val_balanced_accuracy"`
	TestAccuracy         float64          `json:"test_accuracy"`
	TestBalancedAccuracy float64          `json:"test_balanced_accuracy"`
	TestPerClass         []nn.ClassScores `json:"test_per_class"`
}

// trainRecipe records the training options of a run beyond epochs, batch,
// learning rate and dropout.
type trainRecipe struct {
	ClassBalance  nn.ClassBalance `json:"class_balance"`
	Select        nn.SelectBy     `json:"select"`
	Schedule      nn.Schedule     `json:"schedule"`
	WarmupEpochs  int             `json:"warmup_epochs"`
	WeightDecay   float64         `json:"weight_decay"`
	AugmentShift  int             `json:"augment_shift"`
	AugmentScale  float64         `json:"augment_scale"`
	AugmentWander float64         `json:"augment_wander"`
	AugmentNoise  float64         `json:"augment_noise"`
	Teacher       string          `json:"teacher,omitempty"`
	Temperature   float64         `json:"temperature,omitempty"`
	Alpha         float64         `json:"alpha,omitempty"`
	BatchNorm     bool            `json:"batch_norm"`
	EMA           float64         `json:"ema"`
	// SamplesPerEpoch is --samples-per-epoch as given, 0 for the whole
	// training split (without the sampler an epoch draws at most the split).
	SamplesPerEpoch int `json:"samples_per_epoch"`
}

// recipeFlags are the training-recipe flags of train, parsed into an
// nn.Config by apply.
type recipeFlags struct {
	classBalance, selectBy, schedule string
	teacher                          string
	temperature                      float64
	// autoSelect lets --select be "auto" (its default): apply then leaves
	// Select for the caller to choose from the data.
	autoSelect bool
}

// selectAuto is the --select value that lets search choose the metric.
const selectAuto = "auto"

func (r *recipeFlags) register(cmd *cobra.Command, cfg *nn.Config) {
	f := cmd.Flags()
	f.StringVar(&r.classBalance, "class-balance", cfg.ClassBalance.String(),
		"imbalanced training data: none, weights (loss weighted by inverse class frequency of the training split) or sampler (each class drawn equally often)")
	if r.autoSelect {
		f.StringVar(&r.selectBy, "select", selectAuto, "validation score that picks the best epoch and is the search's fitness: accuracy, balanced (mean recall over classes) or auto (balanced when the training or validation split is imbalanced)")
	} else {
		f.StringVar(&r.selectBy, "select", cfg.Select.String(), "validation score that picks the best epoch: accuracy or balanced (mean recall over classes)")
	}
	f.StringVar(&r.schedule, "schedule", cfg.Schedule.String(), "learning-rate schedule, stepped per batch: constant or cosine (to 0 at the end)")
	f.IntVar(&cfg.WarmupEpochs, "warmup", cfg.WarmupEpochs, "epochs of linear learning-rate warm-up (0 = none)")
	f.Float64Var(&cfg.WeightDecay, "weight-decay", cfg.WeightDecay, "AdamW decoupled weight decay of the weights, not the biases (0 = off)")
	f.Float64Var(&cfg.EMA, "ema", cfg.EMA, "keep an exponential moving average of the weights with this decay per step (e.g. 0.999); validation scores it and the model is it (0 = off)")
	f.IntVar(&cfg.AugmentShift, "augment-shift", cfg.AugmentShift, "augment training samples: largest circular time shift, in samples (0 = off)")
	f.Float64Var(&cfg.AugmentScale, "augment-scale", cfg.AugmentScale, "augment training samples: amplitude factor drawn from [1-s, 1+s] (0 = off)")
	f.Float64Var(&cfg.AugmentWander, "augment-wander", cfg.AugmentWander, "augment training samples: largest amplitude of an added baseline wander of up to 2 cycles per window (0 = off)")
	f.Float64Var(&cfg.AugmentNoise, "augment-noise", cfg.AugmentNoise, "augment training samples: standard deviation of added Gaussian noise (0 = off)")
	f.StringVar(&r.teacher, "teacher", "", "distil from this model file (e.g. one written by train --out): its softened outputs on the training split")
	f.Float64Var(&r.temperature, "temperature", 4, "distillation temperature T (with --teacher)")
	f.Float64Var(&cfg.Alpha, "alpha", cfg.Alpha, "weight of the teacher's term in the loss, (1-α)·CE + α·T²·KL (with --teacher)")
}

// registerEpoch registers the flags that change how an epoch trains,
// --batch-norm and --samples-per-epoch, into cfg.
func (r *recipeFlags) registerEpoch(cmd *cobra.Command, cfg *nn.Config) {
	f := cmd.Flags()
	f.BoolVar(&cfg.BatchNorm, "batch-norm", cfg.BatchNorm,
		"train with batch normalisation after every hidden convolution, folded into its weights and bias afterwards (the model is the same size; needs --batch ≥ 2)")
	f.IntVar(&cfg.SamplesPerEpoch, "samples-per-epoch", cfg.SamplesPerEpoch,
		"training samples drawn per epoch, class-balanced with --class-balance sampler, otherwise distinct and at most the training split (0 = the whole training split)")
}

// apply parses the enumerations into cfg and checks the flags that only
// make sense together and the temperature; it reads no file.
func (r *recipeFlags) apply(cmd *cobra.Command, cfg *nn.Config) error {
	var err error
	if cfg.ClassBalance, err = nn.ParseClassBalance(r.classBalance); err != nil {
		return trainFlagError(err)
	}
	if !(r.autoSelect && r.selectBy == selectAuto) {
		if cfg.Select, err = nn.ParseSelectBy(r.selectBy); err != nil {
			return trainFlagError(err)
		}
	}
	if cfg.Schedule, err = nn.ParseSchedule(r.schedule); err != nil {
		return trainFlagError(err)
	}
	if r.teacher == "" {
		for _, name := range []string{"temperature", "alpha"} {
			if cmd.Flags().Changed(name) {
				return fmt.Errorf("--%s needs --teacher", name)
			}
		}
		return nil
	}
	if err := nn.CheckTemperature(r.temperature); err != nil {
		return trainFlagError(err)
	}
	return nil
}

// checkTeacher refuses a --teacher that is not a file; it reads nothing.
func (r *recipeFlags) checkTeacher() error {
	if r.teacher == "" {
		return nil
	}
	if fi, err := os.Stat(r.teacher); err != nil || fi.IsDir() {
		return fmt.Errorf("--teacher %s: not a model file", r.teacher)
	}
	return nil
}

func (r *recipeFlags) report(cfg nn.Config) trainRecipe {
	rec := trainRecipe{
		ClassBalance: cfg.ClassBalance, Select: cfg.Select, Schedule: cfg.Schedule,
		WarmupEpochs: cfg.WarmupEpochs, WeightDecay: cfg.WeightDecay,
		AugmentShift: cfg.AugmentShift, AugmentScale: cfg.AugmentScale,
		AugmentWander: cfg.AugmentWander, AugmentNoise: cfg.AugmentNoise,
		BatchNorm: cfg.BatchNorm, SamplesPerEpoch: cfg.SamplesPerEpoch, EMA: cfg.EMA,
	}
	if r.teacher != "" {
		rec.Teacher, rec.Temperature, rec.Alpha = r.teacher, r.temperature, cfg.Alpha
	}
	return rec
}

func newTrainCmd() *cobra.Command {
	var (
		a         archFlags
		recipe    recipeFlags
		data      string
		out       string
		init      string
		keepZeros bool
		asJSON    bool
	)
	cfg := nn.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "train --arch STRING [--data FILE]",
		Short: "Train one architecture and report validation and test accuracy, params, MACs, RAM and Flash",
		Long: `Trains the architecture on the train split with Adam, keeps the weights of the epoch with the
best validation accuracy (--select balanced: balanced accuracy), and scores them once on the
test split. Without --data it uses the embedded MIT-BIH sample. Flash and RAM are for the
whole network on the edge, in float32.

The recipe flags are off by default. --class-balance handles an imbalanced training split;
--schedule and --warmup shape the learning rate, stepped per batch; --weight-decay is AdamW's
decoupled decay; the --augment-* flags perturb every training sample afresh each epoch
(validation and test data never); --teacher distils from a model written by train --out, whose
outputs on the (un-augmented) training split are computed once. --batch-norm trains with batch
normalisation after every hidden convolution and folds it into the weights, so the saved model,
its Flash, RAM and energy are those of the plain network; --samples-per-epoch fixes the cost of
an epoch on a large training split. Scores include balanced accuracy and per-class sensitivity
(Se) and positive predictivity (+P), AAMI EC57 style.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Every flag is checked before the dataset is read, and the
			// dataset before the (long) training; --out is written last.
			net, err := a.network()
			if err != nil {
				return err
			}
			if err := recipe.apply(cmd, &cfg); err != nil {
				return err
			}
			if err := cfg.Validate(); err != nil {
				return trainFlagError(err)
			}
			if err := checkOutPath(out); err != nil {
				return err
			}
			if err := recipe.checkTeacher(); err != nil {
				return err
			}
			if init != "" {
				m, err := nn.LoadFile(init)
				if err != nil {
					return fmt.Errorf("--init: %w", err)
				}
				if m.String() != net.String() || !slices.Equal(m.Network().Layers, net.Layers) {
					return fmt.Errorf("--init %s is a model of %s, not of --arch %s", init, m, net)
				}
				cfg.Init = m
				if keepZeros {
					cfg.Mask = prune.ZeroMask(m)
				}
			} else if keepZeros {
				return errors.New("--keep-zeros needs --init: the model whose zero weights stay zero")
			}
			d, err := loadDataset(data)
			if err != nil {
				return err
			}
			if cfg.Patience > 0 && len(d.Indices(dataset.Val)) == 0 {
				return fmt.Errorf("--patience %d: %w: %s has no validation split (use --patience 0)", cfg.Patience, nn.ErrPatienceWithoutValidation, dataName(data))
			}
			if cfg.AugmentShift >= d.Length {
				return fmt.Errorf("--augment-shift %d: want a shift below the sample length %d of %s", cfg.AugmentShift, d.Length, dataName(data))
			}
			start := time.Now()
			train := d.Part(dataset.Train)
			if recipe.teacher != "" {
				teacher, err := nn.LoadFile(recipe.teacher)
				if err != nil {
					return fmt.Errorf("--teacher: %w", err)
				}
				if cfg.Teacher, err = nn.TeacherTargets(teacher, train, recipe.temperature); err != nil {
					return fmt.Errorf("--teacher %s: %w", recipe.teacher, err)
				}
			}
			res, err := nn.Native().Train(cmd.Context(), net, train, d.Part(dataset.Val), cfg)
			if err != nil {
				return trainFlagError(err)
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
				Recipe: recipe.report(cfg), Epochs: len(res.History), BestEpoch: res.Best + 1,
				ValAccuracy: val.Accuracy, ValBalancedAccuracy: val.BalancedAccuracy, ValMacroF1: val.MacroF1,
				TestAccuracy: test.Accuracy, TestBalancedAccuracy: test.BalancedAccuracy, TestMacroF1: test.MacroF1,
				TestConfusion: test.Confusion, TestPerClass: test.PerClass,
				Classes: d.Classes, History: res.History, Seconds: time.Since(start).Seconds(),
			}
			rep.Init = init
			var qm *quant.Model
			if cfg.QATBits != 0 {
				if qm, err = quant.FromFloat(res.Model, res.Ranges, cfg.QATBits); err != nil {
					return err
				}
				qm.Method, qm.Calibration = "qat", train.Len()
				qv, err := quant.Evaluate(qm, d.Part(dataset.Val))
				if err != nil {
					return err
				}
				qt, err := quant.Evaluate(qm, d.Part(dataset.Test))
				if err != nil {
					return err
				}
				prec := qm.Precision()
				rep.Quantized = &quantScores{Bits: cfg.QATBits, FlashBytes: net.Flash(last, prec), RAMBytes: net.RAM(last, prec),
					ValAccuracy: qv.Accuracy, ValBalancedAccuracy: qv.BalancedAccuracy,
					TestAccuracy: qt.Accuracy, TestBalancedAccuracy: qt.BalancedAccuracy, TestPerClass: qt.PerClass}
			}
			if out != "" {
				if qm != nil {
					err = quant.SaveFile(out, qm)
				} else {
					err = nn.SaveFile(out, res.Model)
				}
				if err != nil {
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
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed for initialisation, shuffling, dropout, sampling and augmentation")
	recipe.register(cmd, &cfg)
	recipe.registerEpoch(cmd, &cfg)
	f.IntVar(&cfg.QATBits, "qat", 0, "quantization-aware training for int8 activations and weights of 8 or 4 bits; scores the integer network and --out writes it (.snqm)")
	f.StringVar(&init, "init", "", "start from this model's weights (a float model of --arch, e.g. to fine-tune it with --qat)")
	f.BoolVar(&keepZeros, "keep-zeros", false, "with --init: hold the weights that are 0 in it at 0 (fine-tune or --qat a magnitude-pruned model)")
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
	return fmt.Errorf("--%s %v: %s", trainFlag(ce.Field), ce.Value, ce.Problem)
}

// trainFlagNames are the flags whose names are not their nn.Config field's
// name in kebab case.
var trainFlagNames = map[string]string{
	"WarmupEpochs": "warmup",
	"QATBits":      "qat",
}

// trainFlag returns the flag (without "--") that sets the nn.Config field:
// the field's words in lower case joined by hyphens ("LR" → "lr",
// "ClassBalance" → "class-balance", "AugmentShift" → "augment-shift"),
// unless trainFlagNames says otherwise.
func trainFlag(field string) string {
	if name, ok := trainFlagNames[field]; ok {
		return name
	}
	var b strings.Builder
	rs := []rune(field)
	for i, r := range rs {
		// A word starts at an upper-case letter after a lower-case one, or
		// before a lower-case one after an upper-case run ("LRSchedule").
		upper := unicode.IsUpper(r)
		if i > 0 && upper && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1])) {
			b.WriteByte('-')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
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
	fmt.Fprintf(w, "val:      accuracy %.4f, balanced accuracy %.4f, macro-F1 %.4f\n", r.ValAccuracy, r.ValBalancedAccuracy, r.ValMacroF1)
	fmt.Fprintf(w, "test:     accuracy %.4f, balanced accuracy %.4f, macro-F1 %.4f\n", r.TestAccuracy, r.TestBalancedAccuracy, r.TestMacroF1)
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
	fmt.Fprintln(w, "test per class (Se = sensitivity, +P = positive predictivity):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\tsupport\tSe\t+P\t\n")
	for _, c := range r.TestPerClass {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t\n", c.Class, c.Support, c.Sensitivity, c.PositivePredictivity)
	}
	tw.Flush()
	if q := r.Quantized; q != nil {
		fmt.Fprintf(w, "int%d:     (integer network, weights int%d per channel, activations int8) Flash %d B, RAM %d B\n", q.Bits, q.Bits, q.FlashBytes, q.RAMBytes)
		fmt.Fprintf(w, "          val accuracy %.4f (float weights %.4f), test accuracy %.4f (float weights %.4f)\n",
			q.ValAccuracy, r.ValAccuracy, q.TestAccuracy, r.TestAccuracy)
	}
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
	cmd.AddCommand(newBenchTrainCmd(), newBenchServeCmd(), newBenchNATSCmd())
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
