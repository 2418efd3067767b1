package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/internal/atomicfile"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/prune"
	"github.com/splitnas/splitnas/report"
	"github.com/splitnas/splitnas/search"
)

// Files a search writes to its output directory, beside search.CheckpointFile
// and search.ModelFile.
const (
	resultFile = "result.json"
	reportFile = "report.html"
	flagsFile  = "flags.json" // the flags of the original run, for --resume
)

func newSearchCmd() *cobra.Command {
	var (
		hf                          hwFlags
		data, out, resume, strategy string
		energyLimit                 string
		overlaps, lrs               string
		objectives                  string
		lengths, channels           string
		quantMethod                 string
		ties                        string
		pickBy                      string
		recipe                      = recipeFlags{autoSelect: true}
		same                        int
		progress                    bool
		nf                          natsFlags
		pruning                     search.Pruning
	)
	cfg := search.DefaultConfig(0)
	// A budget that finishes in a few minutes on 2 cores on the embedded
	// sample; the paper's is --population 20 --generations 10 --epochs 20.
	cfg.Population, cfg.Generations, cfg.Train.Epochs = 16, 8, 15
	cmd := &cobra.Command{
		Use:   "search",
		Short: "Search the most accurate network and its split point within the device's budgets",
		Long: `search runs the joint architecture and split-point search (a genetic algorithm) on a dataset —
the embedded MIT-BIH sample without --data — for a device profile and budgets, and writes to
--out: result.json (the best model and every candidate), best.model, report.html, and a
checkpoint after every generation. Ctrl-C stops after saving the checkpoint; --resume DIR
continues with the original flags and ends with the same result as an uninterrupted run.

--strategy sequential searches with every network entirely on the edge and splits the winner
afterwards; --strategy random draws every candidate at random. Both use the same budget.

--strategy nsga2 is multi-objective (NSGA-II): it optimises validation accuracy and energy (and,
with --objectives, Flash and RAM) at once, with --energy-limit as a constraint, and writes the
Pareto set (at most --pareto-max members, each finished and saved as pareto-<id>.model) to
result.json; "splitnas pick" then chooses the member for a budget without training.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if resume != "" {
				if cmd.Flags().Changed("out") && out != resume {
					return fmt.Errorf("--out %s and --resume %s: give only --resume", out, resume)
				}
				out = resume
				if err := restoreFlags(cmd.Flags(), filepath.Join(resume, flagsFile)); err != nil {
					return fmt.Errorf("--resume %s: %w", resume, err)
				}
			} else if _, err := os.Stat(filepath.Join(out, search.CheckpointFile)); err == nil {
				return fmt.Errorf("--out %s already holds a search (%s): continue it with --resume %s, or choose another --out",
					out, search.CheckpointFile, out)
			}
			st, err := search.ParseStrategy(strategy)
			if err != nil {
				return fmt.Errorf("--strategy: %w", err)
			}
			prof, sc, lim, err := hf.resolve(cmd)
			if err != nil {
				return err
			}
			if energyLimit != "" {
				if cfg.EnergyLimitMJ, err = parseEnergyMJ("energy-limit", energyLimit); err != nil {
					return err
				}
			}
			if err := recipe.apply(cmd, &cfg.Train); err != nil {
				return err
			}
			if err := recipe.checkTeacher(); err != nil {
				return err
			}
			d, err := loadDataset(data)
			if err != nil {
				return err
			}
			if recipe.selectBy == selectAuto {
				cfg.Train.Select = search.SelectFor(d)
			}
			if recipe.teacher != "" {
				if cfg.Teacher, err = nn.LoadFile(recipe.teacher); err != nil {
					return fmt.Errorf("--teacher: %w", err)
				}
				cfg.Temperature = recipe.temperature
			}
			cfg.Strategy, cfg.Profile, cfg.Scenario, cfg.Limits = st, prof, sc, lim
			if cmd.Flags().Changed("objectives") {
				if st != search.NSGA2 {
					return fmt.Errorf("--objectives %s: only --strategy nsga2 has several objectives", objectives)
				}
				if cfg.Objectives, err = search.ParseObjectives(objectives); err != nil {
					return fmt.Errorf("--objectives: %w", err)
				}
			}
			if cmd.Flags().Changed("cv-top") && cfg.CVFolds == 0 {
				return fmt.Errorf("--cv-top %d goes with --cv-folds", cfg.CVTop)
			}
			if cfg.FinalEMA != 0 && cfg.FinalEpochs == 0 {
				return fmt.Errorf("--final-ema %g goes with --final-epochs: it averages the weights of the final training", cfg.FinalEMA)
			}
			if cmd.Flags().Changed("pareto-max") && st != search.NSGA2 {
				return fmt.Errorf("--pareto-max %d: only --strategy nsga2 has a Pareto set", cfg.ParetoMax)
			}
			cfg.Space.InputLength, cfg.Space.InputChannels, cfg.Space.Classes = d.Length, d.Channels, len(d.Classes)
			cfg.Space.Kernel.Same = same
			if err := searchedGenes(&cfg, overlaps, lrs); err != nil {
				return err
			}
			if cfg.Ties, err = search.ParseTies(ties); err != nil {
				return fmt.Errorf("--ties: %w", err)
			}
			if cfg.PickBy, err = search.ParsePickBy(pickBy); err != nil {
				return fmt.Errorf("--pick-by: %w", err)
			}
			if cmd.Flags().Changed("quant") {
				if cfg.Quant, err = search.ParseQuantMethod(quantMethod); err != nil {
					return fmt.Errorf("--quant: %w", err)
				}
				if !prof.Edge.Precision().Integer() {
					return fmt.Errorf("--quant %s: the profile %s is float32; quantization needs an integer one (bytes_per_weight 1 or 0.5, bytes_per_activation 1), e.g. --profile stm32l476-int8", quantMethod, prof.Name)
				}
			}
			if cfg.Space.Lengths, err = parseList("lengths", lengths, strconv.Atoi); err != nil {
				return err
			}
			if cfg.Space.Channels, err = parseList("channels", channels, strconv.Atoi); err != nil {
				return err
			}
			cfg.Dir, cfg.Resume, cfg.DataName = out, resume != "", dataName(data)
			// Nothing is written before the whole configuration is known to
			// be one a search can run with.
			if cmd.Flags().Changed("prune") {
				cfg.Prune = &pruning
			} else if cmd.Flags().Changed("prune-sparsity") || cmd.Flags().Changed("prune-epochs") || cmd.Flags().Changed("prune-stages") || cmd.Flags().Changed("prune-scope") {
				return errors.New("--prune-sparsity, --prune-epochs, --prune-stages and --prune-scope go with --prune channel|magnitude")
			}
			if err := cfg.Validate(d); err != nil {
				return searchError(err)
			}
			if nf.url != "" {
				e, stop, err := nf.remoteEngine(cmd.Context(), 10*time.Second)
				if err != nil {
					return err
				}
				defer stop()
				cfg.Engine = e
				if !cmd.Flags().Changed("workers") {
					// Each training only waits for a worker: let a whole
					// generation (or final training, or Pareto set) queue.
					cfg.Workers = max(cfg.Population, cfg.FinalSeeds, cfg.ParetoMax)
				}
			} else if nf.tokenFile != "" || nf.creds != "" || nf.tlsCA != "" {
				return errors.New("--token-file, --creds and --tls-ca go with --nats")
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			if resume == "" {
				if err := saveFlags(cmd.Flags(), filepath.Join(out, flagsFile)); err != nil {
					return fmt.Errorf("--out: %w", err)
				}
			}
			return runSearch(cmd, cfg, d, progress && isTerminal(cmd.ErrOrStderr()))
		},
	}
	nf.register(cmd, "train the candidates on workers (splitnas worker) through the NATS JetStream server at this URL, e.g. nats://host:4222; the result is the same")
	hf.register(cmd)
	recipe.register(cmd, &cfg.Train)
	recipe.registerEpoch(cmd, &cfg.Train)
	f := cmd.Flags()
	f.StringVar(&data, "data", "", "dataset file (default: the embedded MIT-BIH sample)")
	f.StringVar(&out, "out", "out/search", "output directory")
	f.StringVar(&resume, "resume", "", "continue the search whose output directory is DIR, with its flags")
	f.StringVar(&strategy, "strategy", string(search.Joint), "joint, sequential, random or nsga2 (multi-objective: a Pareto set)")
	f.StringVar(&objectives, "objectives", "accuracy,energy", "with --strategy nsga2: what to optimise, comma-separated: accuracy and energy, and optionally flash and ram")
	f.IntVar(&cfg.ParetoMax, "pareto-max", search.DefaultParetoMax, "with --strategy nsga2: finish at most this many Pareto members (a larger set is thinned by crowding distance)")
	f.StringVar(&energyLimit, "energy-limit", "", "energy budget per inference for the scenario, e.g. 0.05mJ or 50uJ (default: none)")
	f.IntVar(&cfg.Population, "population", cfg.Population, "candidates per generation")
	f.IntVar(&cfg.Generations, "generations", cfg.Generations, "generations")
	f.IntVar(&cfg.Elite, "elite", cfg.Elite, "best members kept unchanged each generation")
	f.IntVar(&cfg.Tournament, "tournament", cfg.Tournament, "tournament size")
	f.Float64Var(&cfg.CrossoverRate, "crossover", cfg.CrossoverRate, "crossover probability")
	f.Float64Var(&cfg.MutationRate, "mutation", 0, "per-gene mutation probability (default 1/slots)")
	f.IntVar(&cfg.Space.Slots, "slots", cfg.Space.Slots, "hidden layer slots per genome")
	f.StringVar(&lengths, "lengths", joinInts(cfg.Space.Lengths), "output lengths a layer slot may take, comma-separated; 0 skips the slot")
	f.StringVar(&channels, "channels", joinInts(cfg.Space.Channels), "output channel counts a layer slot may take, comma-separated")
	f.StringVar(&quantMethod, "quant", string(search.QAT), "on an integer profile (e.g. stm32l476-int8), how candidates become integer networks: qat (quantization-aware training) or ptq (calibrated after training)")
	f.IntVar(&cfg.Train.Epochs, "epochs", cfg.Train.Epochs, "training epochs per candidate")
	f.IntVar(&cfg.Train.Batch, "batch", cfg.Train.Batch, "mini-batch size")
	f.StringVar(&lrs, "lr", strconv.FormatFloat(cfg.Train.LR, 'g', -1, 64), "Adam learning rate; a comma-separated list (e.g. 1e-3,3e-3) makes it a gene the search chooses per candidate")
	f.Float64Var(&cfg.Train.Dropout, "dropout", cfg.Train.Dropout, "dropout rate after each hidden layer")
	f.IntVar(&cfg.Halving.Rungs, "halving-rungs", 0, "successive halving: train new candidates at this many rungs of growing epochs, keeping the best 1/eta at each (0 or 1: off)")
	f.IntVar(&cfg.Halving.Eta, "halving-eta", 3, "successive halving: reduction factor between rungs")
	f.IntVar(&cfg.FinalEpochs, "final-epochs", 0, "after the search, train the chosen architecture again from scratch for this many epochs (0: keep the search-time model)")
	f.StringVar(&ties, "ties", string(search.TiesEnergy), "how candidates of equal validation score are ordered (fitness, final pick, final runs): energy (lower energy first) or loss (lower validation cross-entropy first, then lower energy)")
	f.StringVar(&pickBy, "pick-by", string(search.PickB), "which validation score picks the final model among the searched candidates: b (half B alone, the paper's) or ab (the mean of both halves)")
	f.IntVar(&cfg.CVFolds, "cv-folds", 0, "pick the final model by cross-validation: the first --cv-top candidates of the pick order, each trained once without each of this many folds of the training and validation samples (whole records when the data is split by record) and scored on it (0 = off)")
	f.IntVar(&cfg.CVTop, "cv-top", 5, "with --cv-folds: how many candidates are cross-validated")
	f.Float64Var(&cfg.FinalEMA, "final-ema", 0, "with --final-epochs: the final runs keep an exponential moving average of their weights with this decay per step (e.g. 0.999) and deploy it (0 = off)")
	f.IntVar(&cfg.FinalSeeds, "final-seeds", 3, "runs of the final training, each with its own seed; the best on validation half B is kept")
	f.StringVar(&overlaps, "overlap", strconv.Itoa(cfg.Space.Kernel.Overlap), "kernel of a strided layer, in strides; a comma-separated list (e.g. 1,2) makes it a gene the search chooses per network")
	f.IntVar(&same, "same-kernel", cfg.Space.Kernel.Same, "kernel of a length-keeping convolution (odd)")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the whole search")
	f.IntVar(&cfg.Workers, "workers", 0, "candidates trained in parallel (default: all cores); the result does not depend on it")
	f.BoolVar(&progress, "progress", true, "show a progress bar on a terminal")
	f.StringVar((*string)(&pruning.Method), "prune", "", "after the search, prune the winner: channel (whole channels) or magnitude (single weights); result.json and the output report both networks")
	f.Float64Var(&pruning.Sparsity, "prune-sparsity", 0.5, "with --prune: fraction of each layer's channels or weights to remove")
	f.IntVar(&pruning.Epochs, "prune-epochs", 10, "with --prune: fine-tuning epochs after pruning")
	f.IntVar(&pruning.Stages, "prune-stages", 5, "with --prune magnitude: steps of the gradual schedule")
	f.StringVar((*string)(&pruning.Scope), "prune-scope", string(prune.Global), "with --prune magnitude: rank weights across the network (global) or within each layer (layer)")
	return cmd
}

// searchedGenes sets the kernel overlap and the learning rate from their
// flags: one value fixes it for every candidate, a comma-separated list
// makes it a gene of the search.
func searchedGenes(cfg *search.Config, overlaps, lrs string) error {
	ov, err := parseList("overlap", overlaps, strconv.Atoi)
	if err != nil {
		return err
	}
	ls, err := parseList("lr", lrs, func(v string) (float64, error) { return strconv.ParseFloat(v, 64) })
	if err != nil {
		return err
	}
	cfg.Space.Kernel.Overlap, cfg.Space.Overlaps = ov[0], nil
	if len(ov) > 1 {
		cfg.Space.Overlaps = ov
	}
	cfg.Train.LR, cfg.LearningRates = ls[0], nil
	if len(ls) > 1 {
		cfg.LearningRates = ls
	}
	return nil
}

// joinInts writes v as a comma-separated list, the form parseList reads.
func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// parseList reads a comma-separated list of one or more values of --flag.
func parseList[T any](flag, s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		v, err := parse(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("--%s %q: %q is not a number", flag, s, f)
		}
		out = append(out, v)
	}
	return out, nil
}

func runSearch(cmd *cobra.Command, cfg search.Config, d *dataset.Dataset, showBar bool) error {
	total := cfg.Population * cfg.Generations
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(cmd.ErrOrStderr()), progressbar.OptionSetVisibility(showBar),
		progressbar.OptionSetDescription("search"), progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish(),
	)
	cfg.OnTrained = func(search.Candidate) { bar.Add(1) }
	cfg.OnGeneration = func(g search.Generation) {
		bar.Set((g.Index + 1) * cfg.Population) // repeats and elites count as done
		if showBar {
			bar.Clear()
		}
		attrs := []any{"best_fitness", round4(g.BestFitness), "median_fitness", round4(g.MedianFitness),
			"valid", fmt.Sprintf("%.0f%%", 100*g.ValidShare), "trained", g.Trained, "abandoned", g.Abandoned,
			"seconds", round4(g.Seconds), "best", g.BestArch}
		if g.TrainedPerRung != nil {
			attrs = append(attrs, "trained_per_rung", g.TrainedPerRung)
		}
		slog.Info(fmt.Sprintf("generation %d/%d", g.Index+1, cfg.Generations), attrs...)
	}
	r, err := search.Run(cmd.Context(), cfg, d)
	bar.Finish()
	err = searchError(err)
	if r == nil {
		return err
	}
	// Whatever happened, a result is written, so no training is lost.
	if werr := writeResult(cfg.Dir, r); werr != nil {
		return errors.Join(err, werr)
	}
	if err != nil {
		return fmt.Errorf("%w (candidates in %s)", err, filepath.Join(cfg.Dir, resultFile))
	}
	printBest(cmd.OutOrStdout(), cfg.Dir, r)
	return nil
}

func writeResult(dir string, r *search.Result) error {
	err := atomicfile.Write(filepath.Join(dir, resultFile), func(w io.Writer) error { return writeJSON(w, r) })
	if err != nil {
		return err
	}
	return report.WriteFile(filepath.Join(dir, reportFile), r)
}

func printBest(w io.Writer, dir string, r *search.Result) {
	b := r.Best
	fmt.Fprintf(w, "best:    %s split at P = %d of %d (sends %s, %d B)\n", b.Arch, b.Partition, len(b.Layers),
		b.Partitions[b.Partition].Tensor, b.Partitions[b.Partition].SendBytes)
	if cv := b.CV; cv != nil {
		ch := cv.Candidates[cv.Chosen]
		fmt.Fprintf(w, "         chosen by %d-fold cross-validation (by %s) of the first %d in the pick order: #%d, mean %s %.4f\n",
			cv.Folds, cv.By, len(cv.Candidates), cv.Chosen+1, cv.Metric, ch.Mean)
	}
	if f := b.Final; f != nil {
		run := f.Runs[f.Chosen]
		fmt.Fprintf(w, "         search: validation A %.4f, B %.4f; final training (%d runs of %d epochs, run %d kept): A %.4f, B %.4f\n",
			b.ValAccuracy, b.ValBAccuracy, len(f.Runs), f.Epochs, f.Chosen+1, run.ValAccuracy, run.ValBAccuracy)
		fmt.Fprintf(w, "         test %.4f (macro-F1 %.4f)\n", b.TestAccuracy, b.TestMacroF1)
	} else {
		fmt.Fprintf(w, "         validation A %.4f, B %.4f; test %.4f (macro-F1 %.4f)\n", b.ValAccuracy, b.ValBAccuracy, b.TestAccuracy, b.TestMacroF1)
	}
	if len(b.TestPerClass) > 0 {
		parts := make([]string, len(b.TestPerClass))
		for i, c := range b.TestPerClass {
			parts[i] = fmt.Sprintf("%s Se %.3f +P %.3f", c.Class, c.Sensitivity, c.PositivePredictivity)
		}
		fmt.Fprintf(w, "         test balanced accuracy %.4f; %s\n", b.TestBalancedAccuracy, strings.Join(parts, " · "))
	}
	fmt.Fprintf(w, "         %d params, %d MACs; Flash %d B, RAM %d B; E_edge %.4f mJ, E_total %.4f mJ\n",
		b.Params, b.MACs, b.FlashBytes, b.RAMBytes, b.EEdge, b.ETotal)
	trained := 0
	for _, c := range r.Candidates {
		if c.BestEpoch > 0 {
			trained++
		}
	}
	fmt.Fprintf(w, "search:  %s, %d generations, %d architectures trained in %.0f s\n", r.Settings.Strategy, len(r.History), trained, r.Seconds)
	if p := r.Pareto; p != nil {
		fmt.Fprintf(w, "pareto:  %d members on %s", len(p.Members), strings.Join(p.Objectives, ", "))
		if p.Capped {
			fmt.Fprintf(w, " (of %d found, capped at --pareto-max %d by crowding distance)", p.Found, p.Max)
		}
		fmt.Fprintf(w, "; choose one for a budget with: splitnas pick --result %s --energy-limit …\n", dir)
		for _, m := range p.Members {
			fmt.Fprintf(w, "         %.4f mJ  val A %.4f B %.4f test %.4f  Flash %d B RAM %d B  %s\n",
				m.EnergyMJ, m.ValAccuracy, m.ValBAccuracy, m.TestAccuracy, m.FlashBytes, m.RAMBytes, m.Arch)
		}
	}
	if p := b.Pruned; p != nil {
		fmt.Fprintf(w, "pruned:  %s (%s, sparsity %g, fine-tuned %d epochs) split at P = %d; %d of %d weights non-zero\n",
			p.Arch, p.Method, p.Sparsity, p.Epochs, p.Split, p.NonZero, p.Weights)
		fmt.Fprintf(w, "         validation A %.4f, B %.4f; test %.4f\n", p.ValAccuracy, p.ValBAccuracy, p.TestAccuracy)
		fmt.Fprintf(w, "         %d params, %d MACs; Flash %d B (all dense: %d B; sparse layers %s), RAM %d B; E_edge %.4f mJ, E_total %.4f mJ; model %s\n",
			p.Params, p.MACs, p.Flash, p.FlashDense, layerList(p.Sparse), p.RAM, p.EEdge, p.ETotal, filepath.Join(dir, p.Model))
	}
	fmt.Fprintf(w, "results: %s, model %s\n", filepath.Join(dir, resultFile), filepath.Join(dir, b.Model))
	fmt.Fprintf(w, "report:  %s\n", filepath.Join(dir, reportFile))
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// searchFlag names the flag that sets a search.Config field, as a
// *search.ConfigError names it.
func searchFlag(field string) (string, bool) {
	switch field {
	case "Population", "Generations", "Elite", "Tournament", "Workers", "Strategy", "Scenario", "Profile":
		return strings.ToLower(field), true
	case "CrossoverRate":
		return "crossover", true
	case "MutationRate":
		return "mutation", true
	case "EnergyLimitMJ":
		return "energy-limit", true
	case "Space.Slots":
		return "slots", true
	case "Quant":
		return "quant", true
	case "Ties":
		return "ties", true
	case "PickBy":
		return "pick-by", true
	case "Space.Lengths":
		return "lengths", true
	case "Space.Channels":
		return "channels", true
	case "Space.Overlaps", "Space.Kernel.Overlap":
		return "overlap", true
	case "Space.Kernel.Same":
		return "same-kernel", true
	case "LearningRates":
		return "lr", true
	case "Halving.Rungs":
		return "halving-rungs", true
	case "Halving.Eta":
		return "halving-eta", true
	case "FinalEpochs":
		return "final-epochs", true
	case "FinalSeeds":
		return "final-seeds", true
	case "FinalEMA":
		return "final-ema", true
	case "CVFolds":
		return "cv-folds", true
	case "CVTop":
		return "cv-top", true
	case "Objectives":
		return "objectives", true
	case "ParetoMax":
		return "pareto-max", true
	case "Prune", "Prune.Method":
		return "prune", true
	case "Prune.Sparsity":
		return "prune-sparsity", true
	case "Prune.Epochs":
		return "prune-epochs", true
	case "Prune.Stages":
		return "prune-stages", true
	case "Prune.Scope":
		return "prune-scope", true
	case "data":
		return "data", true
	}
	return "", false
}

// searchError words the search package's errors for the command line: the
// flag behind a configuration error, and what to do after an interrupted
// search, a changed resume or a search that found nothing within budget.
func searchError(err error) error {
	var (
		ce  *search.ConfigError
		ie  *search.InterruptedError
		nve *search.NoValidError
		sce *search.SettingsChangedError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		if ce.Field == "Train" {
			return trainFlagError(ce.Err)
		}
		if ce.Field == "Temperature" {
			return fmt.Errorf("--temperature: %w", ce.Err)
		}
		flag, ok := searchFlag(ce.Field)
		if !ok {
			return err
		}
		if ce.Err != nil {
			return fmt.Errorf("--%s: %w", flag, ce.Err)
		}
		return fmt.Errorf("--%s %v: %s", flag, ce.Value, ce.Problem)
	case errors.As(err, &ie) && ie.Dir != "":
		return fmt.Errorf("%w; resume with --resume %s", err, ie.Dir)
	case errors.As(err, &nve) && nve.LowestArch != "":
		return fmt.Errorf("%w — raise --energy-limit or search longer", err)
	case errors.As(err, &sce):
		return fmt.Errorf("%w; resume with the original flags, or start a new search in another --out", err)
	}
	return err
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// notSaved are flags that do not change a search's result, so --resume
// neither restores nor checks them.
var notSaved = []string{"resume", "out", "workers", "progress", "verbose", "nats", "token-file", "creds", "tls-ca"}

// saveFlags records the flags the user set, for --resume.
func saveFlags(fs *pflag.FlagSet, path string) error {
	set := map[string]string{}
	fs.Visit(func(f *pflag.Flag) {
		if !slices.Contains(notSaved, f.Name) {
			set[f.Name] = f.Value.String()
		}
	})
	return atomicfile.Write(path, func(w io.Writer) error { return writeJSON(w, set) })
}

// restoreFlags sets the flags recorded by saveFlags that the user did not
// set now; flags set now keep their value (the search then refuses the
// checkpoint if they change its result).
func restoreFlags(fs *pflag.FlagSet, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var set map[string]string
	if err := json.Unmarshal(b, &set); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// In name order, so that of several bad entries the same one is named
	// every time.
	for _, name := range slices.Sorted(maps.Keys(set)) {
		v := set[name]
		if fs.Changed(name) {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return fmt.Errorf("%s: flag --%s: %w", path, name, err)
		}
	}
	return nil
}
