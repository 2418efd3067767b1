// Command pareto compares one multi-objective search with several
// single-limit ones at the same budget of trainings: for each seed it runs
// one `splitnas search --strategy nsga2` (no energy limit) and, for each
// of K energy limits, one `--strategy joint` search at that limit, the
// nsga2 search given as many generations as the K joint runs together
// (population · generations equal to the sum of theirs). It prints a
// Markdown table: the hypervolume (validation accuracy A × energy, to
// maximise and minimise, from the reference point of accuracy 0 and the
// energy of sending the raw input) of the nsga2 search's candidates
// against the union of the K runs' candidates; at each limit the model
// each approach would deploy, as validation-B / test accuracy (nsga2
// through search.PickMember, as `splitnas pick` chooses; each joint run
// its own result); the architectures trained; and the wall time.
//
// On the embedded sample, in under a minute on 2 cores:
//
//	go run ./bench/pareto --seeds 1,2 --limits 0.03mJ,0.05mJ,0.1mJ --population 6 --generations 2 --epochs 1 --slots 4
//
// A README-sized run (MIT-BIH as in "Results: joint vs sequential vs random"):
//
//	go run ./bench/pareto --data /tmp/mitdb-balanced.snds --seeds 1,2,3 --limits 0.03mJ,0.05mJ,0.1mJ \
//	    --population 20 --generations 10 --epochs 20
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/stat"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/sample"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/partition"
	"github.com/splitnas/splitnas/search"
)

// options are the command line's settings.
type options struct {
	data, profile, scenario string
	seeds                   []uint64
	limits                  []float64 // mJ
	population, generations int       // of each single-limit run
	epochs, slots, workers  int
	paretoMax               int
	refEnergy               float64 // mJ; 0: the raw input's radio cost
}

func main() {
	var o options
	var seeds, limits string
	flag.StringVar(&o.data, "data", "", "dataset file (default: the embedded MIT-BIH sample)")
	flag.StringVar(&o.profile, "profile", "stm32l476", "device profile")
	flag.StringVar(&o.scenario, "scenario", "edge", "edge or total")
	flag.StringVar(&seeds, "seeds", "1", "comma-separated search seeds")
	flag.StringVar(&limits, "limits", "0.03mJ,0.05mJ,0.1mJ", "comma-separated energy limits of the single-limit runs (mJ, or with a mJ/uJ suffix)")
	flag.IntVar(&o.population, "population", 6, "population of every search")
	flag.IntVar(&o.generations, "generations", 2, "generations of each single-limit run; nsga2 runs K times as many")
	flag.IntVar(&o.epochs, "epochs", 1, "training epochs per candidate")
	flag.IntVar(&o.slots, "slots", 4, "hidden layer slots per genome")
	flag.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "trainings at once (the results do not depend on it)")
	flag.IntVar(&o.paretoMax, "pareto-max", search.DefaultParetoMax, "cap on the nsga2 search's finished Pareto set")
	flag.Float64Var(&o.refEnergy, "ref-energy", 0, "reference energy of the hypervolume, mJ (default: the radio cost of sending the raw input)")
	flag.Parse()
	var err error
	if o.seeds, err = parseList(seeds, func(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) }); err != nil {
		fail(2, fmt.Errorf("--seeds: %w", err))
	}
	if o.limits, err = parseList(limits, parseMJ); err != nil {
		fail(2, fmt.Errorf("--limits: %w", err))
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := run(context.Background(), os.Stdout, o); err != nil {
		fail(1, err)
	}
}

func fail(code int, err error) {
	fmt.Fprintln(os.Stderr, "pareto:", err)
	os.Exit(code)
}

// row is one line of the table: one approach at one seed.
type row struct {
	seed    uint64
	method  string
	hv      float64
	atLimit []string // "val B / test" at each limit
	trained int
	wall    time.Duration
}

func run(ctx context.Context, w io.Writer, o options) error {
	d, err := load(o.data)
	if err != nil {
		return err
	}
	prof, err := hw.Load(o.profile)
	if err != nil {
		return err
	}
	sc, err := partition.ParseScenario(o.scenario)
	if err != nil {
		return err
	}
	base := search.DefaultConfig(len(d.Classes))
	base.Profile, base.Scenario = prof, sc
	base.Space.InputLength, base.Space.InputChannels, base.Space.Slots = d.Length, d.Channels, o.slots
	base.Population, base.Generations, base.Train.Epochs = o.population, o.generations, o.epochs
	base.Elite = min(base.Elite, o.population-1)
	base.Train.Select = search.SelectFor(d)
	base.Workers, base.DataName = o.workers, o.data
	ref := o.refEnergy
	if ref == 0 {
		prec := prof.Edge.Precision()
		ref = prof.Radio.EnergyMJ(arch.ByteSize(d.Length*d.Channels, prec.ActBits))
	}
	k := len(o.limits)

	var rows []row
	for _, seed := range o.seeds {
		cfg := base
		cfg.Seed, cfg.Strategy = seed, search.NSGA2
		cfg.Generations = k * o.generations
		cfg.ParetoMax = o.paretoMax
		t0 := time.Now()
		r, err := search.Run(ctx, cfg, d)
		if err != nil {
			return fmt.Errorf("nsga2, seed %d: %w", seed, err)
		}
		nsga := row{seed: seed, method: fmt.Sprintf("nsga2 (%d × %d)", cfg.Population, cfg.Generations),
			hv: search.Hypervolume(points(r.Candidates), search.AccEnergy{EnergyMJ: ref}), trained: trained(r), wall: time.Since(t0)}
		for _, lim := range o.limits {
			m, err := search.PickMember(r, search.Budget{EnergyMJ: lim})
			if err != nil {
				nsga.atLimit = append(nsga.atLimit, "none within")
				continue
			}
			nsga.atLimit = append(nsga.atLimit, scores(m.ValBAccuracy, m.TestAccuracy))
		}

		single := row{seed: seed, method: fmt.Sprintf("%d joint runs (%d × %d each)", k, o.population, o.generations)}
		var union []search.Candidate
		for _, lim := range o.limits {
			cfg := base
			cfg.Seed, cfg.Strategy, cfg.EnergyLimitMJ = seed, search.Joint, lim
			t0 := time.Now()
			r, err := search.Run(ctx, cfg, d)
			single.wall += time.Since(t0)
			switch {
			case r == nil:
				return fmt.Errorf("joint at %g mJ, seed %d: %w", lim, seed, err)
			case err != nil: // nothing within the limit: the candidates still count
				single.atLimit = append(single.atLimit, "none within")
			default:
				single.atLimit = append(single.atLimit, scores(r.Best.ValBAccuracy, r.Best.TestAccuracy))
			}
			union = append(union, r.Candidates...)
			single.trained += trained(r)
		}
		single.hv = search.Hypervolume(points(union), search.AccEnergy{EnergyMJ: ref})
		rows = append(rows, nsga, single)
	}
	printTable(w, o, ref, rows)
	return nil
}

// points are the trained candidates as (validation accuracy A, energy).
func points(cands []search.Candidate) []search.AccEnergy {
	var out []search.AccEnergy
	for _, c := range cands {
		if c.HasScores() {
			out = append(out, search.AccEnergy{Accuracy: c.ValAccuracy, EnergyMJ: c.Energy})
		}
	}
	return out
}

// trained counts the architectures a search trained.
func trained(r *search.Result) int {
	n := 0
	for _, c := range r.Candidates {
		if c.BestEpoch > 0 {
			n++
		}
	}
	return n
}

func scores(valB, test float64) string { return fmt.Sprintf("%.1f / %.1f %%", 100*valB, 100*test) }

func printTable(w io.Writer, o options, ref float64, rows []row) {
	fmt.Fprintf(w, "Hypervolume: validation accuracy A × energy (mJ), reference (0, %.4g mJ); at each limit: validation B / test accuracy of the model deployed.\n\n", ref)
	head := "| seed | method | hypervolume |"
	sep := "|---|---|---|"
	for _, l := range o.limits {
		head += fmt.Sprintf(" ≤ %.4g mJ |", l)
		sep += "---|"
	}
	fmt.Fprintln(w, head+" trained | wall time |")
	fmt.Fprintln(w, sep+"---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %d | %s | %.5f | %s | %d | %s |\n", r.seed, r.method, r.hv, strings.Join(r.atLimit, " | "), r.trained, r.wall.Round(100*time.Millisecond))
	}
	if len(o.seeds) > 1 {
		var a, b []float64
		for i, r := range rows {
			if i%2 == 0 {
				a = append(a, r.hv)
			} else {
				b = append(b, r.hv)
			}
		}
		ma, sa := stat.MeanStdDev(a, nil) // sample standard deviation
		mb, sb := stat.MeanStdDev(b, nil)
		fmt.Fprintf(w, "\nMean hypervolume over %d seeds: nsga2 %.5f ± %.5f, joint runs %.5f ± %.5f (± standard deviation).\n",
			len(o.seeds), ma, sa, mb, sb)
	}
}

func load(path string) (*dataset.Dataset, error) {
	if path == "" {
		return sample.Load()
	}
	return dataset.Load(path)
}

// parseMJ reads an energy in mJ: a bare number, or with a mJ or uJ suffix.
func parseMJ(s string) (float64, error) {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "mJ"):
		s = strings.TrimSuffix(s, "mJ")
	case strings.HasSuffix(s, "uJ"):
		s, mult = strings.TrimSuffix(s, "uJ"), 1e-3
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a positive energy", s)
	}
	return v * mult, nil
}

func parseList[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		v, err := parse(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
