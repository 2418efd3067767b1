// Package search finds, for a dataset and a device profile, the most
// accurate network of the search space and the layer at which to split it
// that fit the edge's Flash, RAM and energy budget, as in Huang, Abtahi,
// Aminifar (IEEE TCASAI 2024).
//
// The default strategy is the paper's genetic algorithm over genomes of
// two chromosomes (lengths, channels): a random initial population;
// tournament selection; one-point crossover on each chromosome separately;
// per-gene mutation; elitism. Each new architecture is first split
// optimally (package partition); one that fits Flash and RAM at no split
// point is abandoned without training. The others are trained (Adam) and
// scored on half A of the validation split; those over the energy limit
// stay in the population with a penalised fitness (Fitness). At the end
// the valid candidate with the best accuracy on validation half B is the
// result, and only it is scored on the test split.
//
// The NSGA2 strategy (nsga2.go) is multi-objective instead: NSGA-II
// (Deb et al. 2002) over validation accuracy A, energy and optionally
// Flash and RAM, with the same genome, crossover, mutation, training and
// caching; the energy limit, if any, is a constraint. It ends with the
// Pareto set of the feasible candidates, each finished as a winner is
// (paretoset.go), from which PickMember chooses a model for a budget.
//
// Every architecture is trained with a seed derived from the search seed
// and its text form, and generation results are gathered in a fixed order,
// so a search gives the same result for any number of workers, and a
// resumed search the same result as an uninterrupted one.
package search

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/internal/stats"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/partition"
	"github.com/splitnas/splitnas/quant"
)

// Strategy is how candidates are proposed and split.
type Strategy string

const (
	// Joint is the paper's method: the genetic algorithm, each candidate
	// split at its own optimal point.
	Joint Strategy = "joint"
	// Sequential runs the same genetic algorithm with every candidate
	// entirely on the edge (no split), then splits the winner optimally.
	Sequential Strategy = "sequential"
	// Random draws every generation's candidates at random (no selection),
	// each split at its optimal point: the same evaluation budget as Joint.
	Random Strategy = "random"
	// NSGA2 is multi-objective: NSGA-II (Deb et al. 2002) over validation
	// accuracy, energy and optionally Flash and RAM (Config.Objectives),
	// each candidate split at its optimal point as in Joint; the result
	// holds the Pareto set (Result.Pareto). See nsga2.go.
	NSGA2 Strategy = "nsga2"
)

// ParseStrategy reads "joint", "sequential", "random" or "nsga2".
func ParseStrategy(s string) (Strategy, error) {
	switch st := Strategy(s); st {
	case Joint, Sequential, Random, NSGA2:
		return st, nil
	}
	return "", fmt.Errorf("unknown strategy %q (want joint, sequential, random or nsga2)", s)
}

// Config sets up a search.
type Config struct {
	Strategy      Strategy
	Space         arch.Space
	Profile       hw.Profile
	Scenario      partition.Scenario
	Limits        partition.Limits // zero fields: the profile's sizes
	EnergyLimitMJ float64          // 0: no energy limit

	// Objectives are what the NSGA2 strategy optimises: accuracy and
	// energy always, Flash and RAM if listed; nil means
	// DefaultObjectives. Other strategies ignore them. With NSGA2 the
	// energy limit, if any, is a constraint (violation E − E_limit), not a
	// penalty; Elite and Tournament are unused (binary tournaments, and
	// the (μ+λ) survival keeps the best).
	Objectives []Objective
	// ParetoMax caps the Pareto set an NSGA2 search finishes (trains
	// finally, scores on the test split, saves): a larger set is thinned
	// by crowding distance (ParetoCap). 0 means DefaultParetoMax.
	ParetoMax int

	Population  int // candidates per generation, ≥ 2
	Generations int // ≥ 1
	Elite       int // best members copied unchanged into the next generation
	Tournament  int // tournament size, ≥ 1
	// CrossoverRate is the probability that two parents are crossed (else
	// the children are copies); MutationRate the probability that one gene
	// is redrawn. MutationRate 0 means 1/Slots.
	CrossoverRate, MutationRate float64

	Train nn.Config // Epochs, Batch, LR, Dropout; Seed is set per candidate
	// Teacher, if set, is distilled into every candidate (Hinton et al.
	// 2015): its outputs on the training split at Temperature are
	// computed once per search and shared by all trainings, with
	// Train.Alpha weighting them in the loss. Train.Teacher must be nil.
	Teacher     *nn.Model
	Temperature float64

	// Ties orders candidates of equal validation score (fitness, the
	// final pick, successive halving's promotion, the final training's
	// runs); "" means TiesEnergy.
	Ties Ties
	// PickBy is the validation score that picks the final model among the
	// searched candidates; "" means PickB. The final training's runs are
	// always chosen on half B (half A picked each run's best epoch).
	PickBy PickBy

	// LearningRates, if not empty, makes the learning rate part of the
	// genome: one gene per candidate, one of these values, replacing
	// Train.LR. (The kernel overlap is searched through Space.Overlaps.)
	LearningRates []float64

	// Halving, if on, trains each generation's new candidates by
	// successive halving (see Halving) instead of all for Train.Epochs.
	Halving Halving

	// FinalEpochs, if positive, retrains the chosen architecture from
	// scratch after the search, FinalSeeds times (different seeds) for
	// FinalEpochs epochs each (epoch chosen by validation half A, as in the
	// search); the run with the best validation-half-B accuracy is the
	// model scored on the test split and saved. 0 keeps the search-time
	// model. FinalSeeds 0 means 3.
	FinalEpochs, FinalSeeds int
	// FinalEMA, if not 0, is the decay of the moving average of the
	// weights (nn.Config.EMA) in the final training's runs only: the
	// weights deployed are the average, the search's trainings stay as
	// Train says. 0 ≤ FinalEMA < 1.
	FinalEMA float64

	// CVFolds, if not 0 (then ≥ 2), picks the final model by
	// cross-validation instead of by the validation halves alone: the
	// CVTop candidates first in the pick order (Config.PickBy) are each
	// trained CVFolds times with the recipe of the search, once without
	// each fold of the training and validation samples (whole records when
	// the data was split by record), and scored on that fold at the epoch
	// best on it, as the search scores candidates on half A; the highest
	// mean score wins. CVTop 0 means 5. It costs CVTop × CVFolds trainings
	// and measures each network on every training and validation sample
	// instead of on half the validation split. Not for the NSGA2 strategy.
	CVFolds, CVTop int

	// Prune, if not nil, prunes the winner after its final training and
	// fine-tunes it (package prune); the result reports both networks
	// (Best.Pruned). Float profiles and single-winner strategies only:
	// on an integer profile prune after the search, then quantize.
	Prune *Pruning

	// Quant is how candidates are quantized when the profile's edge
	// precision is an integer one (bytes_per_weight 1 or 0.5,
	// bytes_per_activation 1): every candidate is then scored as its
	// integer network (package quant), and Flash, RAM and the split
	// tensor follow the profile's bit widths. "" means QAT. Ignored on a
	// float32 profile.
	Quant QuantMethod

	Engine  nn.Engine // nil: nn.Native()
	Seed    uint64
	Workers int // parallel trainings; 0: GOMAXPROCS

	// Dir, if set, receives a checkpoint after every generation; with
	// Resume, a search continues from the checkpoint there.
	Dir    string
	Resume bool

	DataName string // recorded in the result

	// Optional observers: OnTrained after each trained candidate (from the
	// worker goroutines, serialised), OnGeneration after each generation.
	OnTrained    func(Candidate)
	OnGeneration func(Generation)
}

// DefaultConfig is the joint strategy on the default profile, edge
// scenario, population 20 × 10 generations × 20 epochs, elite 2,
// tournaments of 3, crossover 0.9, mutation 1/slots.
func DefaultConfig(classes int) Config {
	train := nn.DefaultConfig()
	return Config{
		Strategy: Joint, Space: arch.DefaultSpace(classes), Scenario: partition.Edge,
		Population: 20, Generations: 10, Elite: 2, Tournament: 3, CrossoverRate: 0.9,
		Train: train, Seed: 1,
	}
}

// Validate reports the first setting a search cannot run with on d, as a
// *ConfigError naming the Config field (or an error wrapping
// ErrImpossibleBudget for budgets no candidate can meet), so that callers
// can refuse a configuration before writing anything. Run calls it first.
// Zero MutationRate and Workers mean their defaults and are accepted.
func (c Config) Validate(d *dataset.Dataset) error {
	if d == nil {
		return &ConfigError{Field: "data", Value: nil, Problem: "no dataset"}
	}
	if err := d.Validate(); err != nil {
		return &ConfigError{Field: "data", Value: c.DataName, Err: err}
	}
	bad := func(field string, v any, problem string) error {
		return &ConfigError{Field: field, Value: v, Problem: problem}
	}
	switch {
	case c.Population < 2:
		return bad("Population", c.Population, "want at least 2")
	case c.Generations < 1:
		return bad("Generations", c.Generations, "want at least 1")
	case c.Elite < 0 || c.Elite >= c.Population:
		return bad("Elite", c.Elite, fmt.Sprintf("want 0 ≤ elite < population %d", c.Population))
	case c.Tournament < 1:
		return bad("Tournament", c.Tournament, "want at least 1")
	case !(c.CrossoverRate >= 0 && c.CrossoverRate <= 1):
		return bad("CrossoverRate", c.CrossoverRate, "want 0…1")
	case !(c.MutationRate >= 0 && c.MutationRate <= 1):
		return bad("MutationRate", c.MutationRate, "want 0…1 (0: 1/slots)")
	case c.Workers < 0:
		return bad("Workers", c.Workers, "want ≥ 0 (0: GOMAXPROCS)")
	case math.IsNaN(c.EnergyLimitMJ) || math.IsInf(c.EnergyLimitMJ, 0) || c.EnergyLimitMJ < 0:
		return bad("EnergyLimitMJ", c.EnergyLimitMJ, "want a finite energy ≥ 0 mJ (0: no limit)")
	case c.Space.Slots < 1:
		return bad("Space.Slots", c.Space.Slots, "want at least 1")
	case c.FinalEpochs < 0:
		return bad("FinalEpochs", c.FinalEpochs, "want ≥ 0 (0: keep the search-time model)")
	case c.FinalSeeds < 0:
		return bad("FinalSeeds", c.FinalSeeds, "want ≥ 0 (0: 3 when FinalEpochs > 0)")
	case !(c.FinalEMA >= 0 && c.FinalEMA < 1):
		return bad("FinalEMA", c.FinalEMA, "want a decay 0 ≤ d < 1 (0: off)")
	case c.CVFolds == 1 || c.CVFolds < 0:
		return bad("CVFolds", c.CVFolds, "want 0 (off) or at least 2 folds")
	case c.CVTop < 0:
		return bad("CVTop", c.CVTop, "want ≥ 0 candidates (0: 5)")
	case c.CVFolds > 0 && c.Strategy == NSGA2:
		return bad("CVFolds", c.CVFolds, "the nsga2 strategy keeps a Pareto set: there is no single pick to cross-validate")
	case c.FinalEMA > 0 && c.FinalEpochs == 0:
		return bad("FinalEMA", c.FinalEMA, "averages the final training's weights: needs FinalEpochs")
	case c.Resume && c.Dir == "":
		return bad("Resume", c.Resume, "needs Dir, the directory holding the checkpoint")
	case c.ParetoMax < 0:
		return bad("ParetoMax", c.ParetoMax, "want ≥ 1 (0: the default)")
	}
	if c.Prune != nil {
		if err := c.Prune.check(); err != nil {
			return err
		}
		if c.Strategy == NSGA2 {
			return bad("Prune", c.Prune.Method, "prunes a single winner: prune a Pareto member after the search (splitnas prune)")
		}
		if c.Profile.Edge.Precision().Integer() {
			return bad("Prune", c.Prune.Method, fmt.Sprintf("the profile %s is an integer one: prune the float model after the search, then quantize it (prune → fine-tune → quantize)", c.Profile.Name))
		}
	}
	if err := checkObjectives(c.objectives()); err != nil {
		return &ConfigError{Field: "Objectives", Value: c.Objectives, Err: err}
	}
	for i, lr := range c.LearningRates {
		if !(lr > 0) || math.IsInf(lr, 0) || slices.Contains(c.LearningRates[:i], lr) {
			return bad("LearningRates", c.LearningRates, fmt.Sprintf("value %d (%v): want distinct positive, finite learning rates", i+1, lr))
		}
	}
	if _, err := ParseStrategy(string(c.Strategy)); err != nil {
		return &ConfigError{Field: "Strategy", Value: c.Strategy, Err: err}
	}
	if c.Ties != "" {
		if _, err := ParseTies(string(c.Ties)); err != nil {
			return &ConfigError{Field: "Ties", Value: c.Ties, Err: err}
		}
	}
	if c.PickBy != "" {
		if _, err := ParsePickBy(string(c.PickBy)); err != nil {
			return &ConfigError{Field: "PickBy", Value: c.PickBy, Err: err}
		}
	}
	if c.Scenario != partition.Edge && c.Scenario != partition.Total {
		return bad("Scenario", c.Scenario, "want edge or total")
	}
	if err := c.Space.Validate(); err != nil {
		field := "Space"
		if se := (*arch.SpaceError)(nil); errors.As(err, &se) {
			field += "." + se.Field
		}
		return &ConfigError{Field: field, Value: c.Space, Err: err}
	}
	if c.Space.InputLength != d.Length || c.Space.InputChannels != d.Channels || c.Space.Classes != len(d.Classes) {
		return &ConfigError{Field: "Space", Value: c.Space, Problem: fmt.Sprintf(
			"search space input %dx%d with %d classes does not match the data (%dx%d, %d classes)",
			c.Space.InputLength, c.Space.InputChannels, c.Space.Classes, d.Length, d.Channels, len(d.Classes))}
	}
	if _, err := c.weightBits(); err != nil {
		return &ConfigError{Field: "Profile", Value: c.Profile.Name, Err: err}
	}
	if c.Quant != "" {
		if _, err := ParseQuantMethod(string(c.Quant)); err != nil {
			return &ConfigError{Field: "Quant", Value: c.Quant, Err: err}
		}
	}
	if err := c.Profile.Validate(); err != nil {
		return &ConfigError{Field: "Profile", Value: c.Profile.Name, Err: err}
	}
	if err := c.Train.Validate(); err != nil {
		return &ConfigError{Field: "Train", Value: c.Train, Err: err}
	}
	if err := c.Halving.check(c.Train.Epochs); err != nil {
		return err
	}
	if c.Train.Teacher != nil {
		return bad("Train.Teacher", "soft targets", "set Teacher instead: the search computes the targets on its training split")
	}
	if c.Teacher != nil {
		if err := nn.CheckTemperature(c.Temperature); err != nil {
			return &ConfigError{Field: "Temperature", Value: c.Temperature, Err: err}
		}
	}
	for _, s := range dataset.Splits() {
		if len(d.Indices(s)) == 0 {
			return &ConfigError{Field: "data", Value: c.DataName, Problem: fmt.Sprintf("no %s samples", s)}
		}
	}
	if len(d.Indices(dataset.Val)) < 2 {
		return &ConfigError{Field: "data", Value: c.DataName, Problem: "the validation split needs at least 2 samples (it is halved)"}
	}
	return checkBudgets(c, resolveLimits(c))
}

// searcher is one search's state. Everything a checkpoint holds is here;
// the rest is derived from the config and the data.
type searcher struct {
	cfg               Config
	train, valA, valB *dataset.Dataset
	test              *dataset.Dataset
	limits            partition.Limits
	// Content hashes of the data and the profile, recorded in Settings
	// so that a resume on other data or another profile is refused.
	dataHash, profileHash string
	halvesBy              string  // how the validation split was halved
	cv                    *cvData // with Config.CVFolds: the folds
	teacherHash           string  // of the teacher model, if any

	pcg *rand.PCG
	rng *rand.Rand

	cands   []Candidate          // by ID
	byArch  map[string]int       // candidate Key → candidate ID
	models  map[int]*nn.Model    // trained this run (a resumed run retrains the winner if needed)
	qmodels map[int]*quant.Model // their integer networks, on an integer profile

	// On an integer profile: the weight bits (0 on a float one), the
	// quantization method, and PTQ's calibration samples.
	bits  int
	quant QuantMethod
	calib *dataset.Dataset
	pop   []int // current population, candidate IDs
	hist  []Generation
	start time.Time
	prior float64 // seconds spent before a resume

	mu sync.Mutex // serialises OnTrained
}

// Run searches. It returns the result, which it also keeps current in
// cfg.Dir's checkpoint. If ctx is cancelled, Run saves a checkpoint of the
// last finished generation and returns an error wrapping ctx.Err() that
// says how to resume. A result whose Best is nil is never returned: a
// search that ends with no candidate within every budget is an error
// (ErrNoValid) naming the budgets, returned with the partial result.
func Run(ctx context.Context, cfg Config, d *dataset.Dataset) (*Result, error) {
	// Defaults are derived only from a configuration known to be valid
	// (a zero slot count would make the default mutation rate +Inf).
	err := cfg.Validate(d)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	if cfg.Engine == nil {
		cfg.Engine = nn.Native()
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.MutationRate == 0 {
		cfg.MutationRate = 1 / float64(cfg.Space.Slots)
	}
	if cfg.FinalEpochs > 0 && cfg.FinalSeeds == 0 {
		cfg.FinalSeeds = 3
	}
	if cfg.ParetoMax == 0 {
		cfg.ParetoMax = DefaultParetoMax
	}
	if cfg.Ties == "" {
		cfg.Ties = TiesEnergy
	}
	if cfg.PickBy == "" {
		cfg.PickBy = PickB
	}
	if cfg.CVFolds > 0 && cfg.CVTop == 0 {
		cfg.CVTop = 5
	}
	s := &searcher{cfg: cfg, byArch: map[string]int{}, models: map[int]*nn.Model{}, qmodels: map[int]*quant.Model{}, start: time.Now()}
	s.bits, _ = cfg.weightBits() // checked by Validate
	if s.quant = cfg.Quant; s.quant == "" {
		s.quant = QAT
	}
	s.limits = resolveLimits(cfg)
	s.dataHash = d.Hash()
	if s.profileHash, err = profileHash(cfg.Profile); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	s.train, s.test = d.Part(dataset.Train), d.Part(dataset.Test)
	if s.bits != 0 && s.quant == PTQ {
		s.calib = quant.CalibrationSamples(s.train, PTQSamples, cfg.Seed)
	}
	val := d.Part(dataset.Val)
	if recordDisjoint(s.train, val) {
		s.valA, s.valB, s.halvesBy = halvesByRecord(val, cfg.Seed)
	}
	if s.valA == nil {
		s.valA, s.valB, s.halvesBy = halves(val, cfg.Seed)
	}
	if cfg.CVFolds > 0 {
		if err := s.prepareCV(val); err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
	}
	if cfg.Teacher != nil {
		// Computed once, shared read-only by every training.
		if s.cfg.Train.Teacher, err = nn.TeacherTargets(cfg.Teacher, s.train, cfg.Temperature); err != nil {
			return nil, fmt.Errorf("search: teacher: %w", err)
		}
		if s.teacherHash, err = modelHash(cfg.Teacher); err != nil {
			return nil, fmt.Errorf("search: teacher: %w", err)
		}
	}
	s.pcg = rand.NewPCG(cfg.Seed, 0x5eed)
	s.rng = rand.New(s.pcg)

	next := 0
	if cfg.Resume {
		n, err := s.loadCheckpoint()
		if err != nil {
			return nil, fmt.Errorf("search: resume: %w", err)
		}
		next = n
	}
	for g := next; g < cfg.Generations; g++ {
		snap, err := s.pcg.MarshalBinary() // the generator as generation g starts
		if err != nil {
			return nil, err
		}
		if err := s.generation(ctx, g); err != nil {
			if ctx.Err() != nil {
				if cerr := s.saveCheckpoint(g, snap); cerr != nil {
					return nil, errors.Join(err, cerr)
				}
				return nil, &InterruptedError{Generation: g, Finished: g, Dir: cfg.Dir, Err: ctx.Err()}
			}
			return nil, fmt.Errorf("search: generation %d: %w", g, err)
		}
		rng, err := s.pcg.MarshalBinary()
		if err != nil {
			return nil, err
		}
		if err := s.saveCheckpoint(g+1, rng); err != nil {
			return nil, err
		}
	}
	return s.finish(ctx)
}

func resolveLimits(cfg Config) partition.Limits {
	l := cfg.Limits
	if l.FlashBytes <= 0 {
		l.FlashBytes = cfg.Profile.Edge.FlashBytes
	}
	if l.RAMBytes <= 0 {
		l.RAMBytes = cfg.Profile.Edge.RAMBytes
	}
	return l
}

// checkBudgets rejects budgets no candidate can meet before any training.
func checkBudgets(c Config, limits partition.Limits) error {
	prec := c.Profile.Edge.Precision()
	sp := c.Space
	in := arch.ByteSize(sp.InputLength*sp.InputChannels, prec.ActBits)
	if int64(in) > limits.RAMBytes {
		return fmt.Errorf("%w: the RAM limit (%d B) is below the input buffer (%d B = %dx%d at %s): no split point fits, not even sending the raw input",
			ErrImpossibleBudget, limits.RAMBytes, in, sp.InputLength, sp.InputChannels, prec.Name)
	}
	if c.EnergyLimitMJ > 0 {
		// The least any candidate can cost the edge is sending its smallest
		// possible tensor, with no computation at all.
		minVals := sp.Classes
		for _, l := range sp.Lengths {
			if l > 0 {
				minVals = min(minVals, l*slices.Min(sp.Channels))
			}
		}
		floor := c.Profile.Radio.EnergyMJ(arch.ByteSize(minVals, prec.ActBits))
		if c.EnergyLimitMJ < floor {
			return fmt.Errorf("%w: the energy limit (%g mJ) is below the radio cost of the smallest tensor any candidate can send (%d values: %.4g mJ)",
				ErrImpossibleBudget, c.EnergyLimitMJ, minVals, floor)
		}
	}
	return nil
}

// The ways the validation split is halved (Settings.ValHalves).
const (
	halvesBySample = "samples" // stratified by class, sample by sample
	halvesByRec    = "records" // whole records to each half
)

// recordDisjoint reports whether no record of val appears in train: the
// data was split by record or patient (e.g. the inter-patient protocol), so
// validation measures how a network does on people it was not trained on.
func recordDisjoint(train, val *dataset.Dataset) bool {
	seen := map[string]bool{}
	for _, r := range train.Records {
		seen[r] = true
	}
	for _, r := range val.Records {
		if seen[r] {
			return false
		}
	}
	return true
}

// halvesByRecord splits the validation set into halves A and B of whole
// records, so that the fitness (A) and the choice of the final model (B)
// are each measured on records the other never saw. Records are taken in
// an order drawn with the seed, each into the half where it leaves the
// per-class counts of the two halves most alike (Σ over classes of
// |A−B| / (count + 1)); on a tie, the half with fewer samples, then A. With
// fewer than two records, or if a half would hold less than a quarter of
// some class's samples (too few records to split them well), it returns
// nils, and the caller halves sample by sample: both halves then still
// hold only records no training sample comes from.
func halvesByRecord(val *dataset.Dataset, seed uint64) (a, b *dataset.Dataset, by string) {
	ids := val.RecordIDs()
	if len(ids) < 2 {
		return nil, nil, ""
	}
	rng := rand.New(rand.NewPCG(seed, 0x7a2))
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	members := map[string][]int{}
	for i, r := range val.Records {
		members[r] = append(members[r], i)
	}
	k := len(val.Classes)
	total := val.ClassCounts()
	var counts [2][]float64
	counts[0], counts[1] = make([]float64, k), make([]float64, k)
	var sizes [2]int
	var idx [2][]int
	for _, r := range ids {
		add := make([]float64, k)
		for _, i := range members[r] {
			add[val.Labels[i]]++
		}
		cost := func(h int) float64 {
			c := 0.0
			for j := range k {
				x, y := counts[h][j]+add[j], counts[1-h][j]
				c += math.Abs(x-y) / float64(total[j]+1)
			}
			return c
		}
		h := 0
		if c0, c1 := cost(0), cost(1); c1 < c0 || (c1 == c0 && sizes[1] < sizes[0]) {
			h = 1
		}
		for j := range k {
			counts[h][j] += add[j]
		}
		sizes[h] += len(members[r])
		idx[h] = append(idx[h], members[r]...)
	}
	// Each half must hold a quarter of every class's samples at least, or
	// its score (above all balanced accuracy) rests on a handful of beats:
	// with few records, whole records cannot make two such halves.
	for j := range k {
		if counts[0][j] < float64(total[j])/4 || counts[1][j] < float64(total[j])/4 {
			return nil, nil, ""
		}
	}
	slices.Sort(idx[0])
	slices.Sort(idx[1])
	return val.Subset(idx[0]), val.Subset(idx[1]), halvesByRec
}

// halves splits the validation set into two stratified halves, A and B,
// drawn with the seed.
func halves(val *dataset.Dataset, seed uint64) (a, b *dataset.Dataset, by string) {
	rng := rand.New(rand.NewPCG(seed, 0x7a1))
	byClass := make([][]int, len(val.Classes))
	for i, l := range val.Labels {
		byClass[l] = append(byClass[l], i)
	}
	var ia, ib []int
	turn := 0 // alternate which half gets a class's odd sample
	for _, idx := range byClass {
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		for k, i := range idx {
			if (k+turn)%2 == 0 {
				ia = append(ia, i)
			} else {
				ib = append(ib, i)
			}
		}
		turn += len(idx)
	}
	slices.Sort(ia)
	slices.Sort(ib)
	return val.Subset(ia), val.Subset(ib), halvesBySample
}

// candidateSeed is the training seed of a candidate: fixed by the search
// seed and the candidate's Key, whatever order candidates run in.
func candidateSeed(seed uint64, key string) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", seed, key)
	return h.Sum64()
}

// generation fills generation g's population and evaluates it.
func (s *searcher) generation(ctx context.Context, g int) error {
	t0 := time.Now()
	propose := s.propose
	if s.cfg.Strategy == NSGA2 {
		propose = s.proposeNSGA2
	}
	ids, abandoned, err := propose(g)
	if err != nil {
		return err
	}
	trained, err := s.trainNew(ctx, ids)
	if err != nil {
		return err
	}
	if s.cfg.Strategy == NSGA2 && g > 0 {
		s.pop = s.survive(s.pop, ids) // (μ+λ): parents and offspring compete
	} else {
		s.pop = ids
	}
	gen := s.summarise(g, trained[0], abandoned, time.Since(t0).Seconds())
	if s.cfg.Halving.on() {
		gen.TrainedPerRung = trained
	}
	s.hist = append(s.hist, gen)
	if s.cfg.OnGeneration != nil {
		s.cfg.OnGeneration(gen)
	}
	return nil
}

// maxAttempts bounds how many abandoned genomes a generation may draw
// before the budget is declared impossible.
const maxAttemptsPerMember = 200

// propose returns generation g's population (candidate IDs, in order) and
// how many proposed genomes were abandoned. New architectures are added to
// s.cands (untrained, or abandoned).
func (s *searcher) propose(g int) (ids []int, abandoned int, err error) {
	var fit []float64
	if g > 0 && s.cfg.Strategy != Random {
		fit = s.fitness(s.pop)
		order := s.ranked(s.pop, fit)
		for _, k := range order[:s.cfg.Elite] {
			ids = append(ids, s.pop[k])
		}
	}
	var parent func() int // nil: random genomes
	if fit != nil {
		parent = func() int { return s.tournament(fit) }
	}
	return s.fill(g, ids, parent)
}

// fill adds candidates to ids until the population is full and returns
// them with the number of abandoned genomes drawn on the way: random
// genomes when parent is nil, otherwise two children at a time, crossed
// over and mutated from the members of s.pop that parent picks (an index
// into s.pop). Abandoned children (no split point fits Flash and RAM) are
// dropped and others drawn, up to maxAttemptsPerMember per member.
func (s *searcher) fill(g int, ids []int, parent func() int) ([]int, int, error) {
	abandoned := 0
	for len(ids) < s.cfg.Population {
		var children []genome
		if parent == nil {
			children = []genome{s.random()}
		} else {
			p1, p2 := parent(), parent()
			c1, c2 := s.crossover(s.cands[s.pop[p1]].genome(), s.cands[s.pop[p2]].genome())
			children = []genome{s.mutate(c1), s.mutate(c2)}
		}
		for _, child := range children {
			if len(ids) == s.cfg.Population {
				break
			}
			id, err := s.candidate(g, child)
			if err != nil {
				return nil, 0, err
			}
			if s.cands[id].Status == Abandoned {
				abandoned++
				if abandoned > maxAttemptsPerMember*s.cfg.Population {
					return nil, 0, s.impossible(abandoned)
				}
				continue
			}
			ids = append(ids, id)
		}
	}
	return ids, abandoned, nil
}

// impossible explains a generation that found no genome within Flash and
// RAM.
func (s *searcher) impossible(attempts int) error {
	why := ""
	for i := len(s.cands) - 1; i >= 0; i-- {
		if s.cands[i].Status == Abandoned {
			why = fmt.Sprintf(" (last: %s: %s)", s.cands[i].Arch, s.cands[i].Why)
			break
		}
	}
	return fmt.Errorf("%w: %d genomes in a row fit Flash %d B and RAM %d B at no allowed split point%s",
		ErrImpossibleBudget, attempts, s.limits.FlashBytes, s.limits.RAMBytes, why)
}

// scores are a trained network's validation scores under the search's
// metric (Train.Select: accuracy, or balanced accuracy, the mean recall)
// on halves A and B, and its mean cross-entropy on each, which orders
// candidates of equal score (Config.Ties).
type scores struct{ a, b, lossA, lossB float64 }

// metric is the search's metric of met.
func (s *searcher) metric(met nn.Metrics) float64 {
	if s.cfg.Train.Select == nn.SelectBalanced {
		return met.BalancedAccuracy
	}
	return met.Accuracy
}

// scores returns a float training run's scores: on half A at the chosen
// epoch, and on half B.
func (s *searcher) scores(res *nn.Result) (scores, error) {
	met, err := nn.Evaluate(res.Model, s.valB)
	if err != nil {
		return scores{}, err
	}
	ep := res.History[res.Best]
	a := ep.ValAcc
	if s.cfg.Train.Select == nn.SelectBalanced {
		a = ep.ValBalancedAccuracy
	}
	return scores{a: a, b: s.metric(met), lossA: ep.ValLoss, lossB: met.Loss}, nil
}

// SelectFor returns the metric a search on d should optimise by default:
// balanced accuracy (mean recall over classes) when the training or the
// validation split is imbalanced — some class more than 10 % away from
// the split's mean count, as on the inter-patient protocol, whose
// validation records are kept whole — and accuracy on balanced data.
func SelectFor(d *dataset.Dataset) nn.SelectBy {
	for _, sp := range []dataset.Split{dataset.Train, dataset.Val} {
		counts := make([]int, len(d.Classes))
		idx := d.Indices(sp)
		for _, i := range idx {
			counts[d.Labels[i]]++
		}
		mean := float64(len(idx)) / float64(len(counts))
		for _, n := range counts {
			if math.Abs(float64(n)-mean) > 0.1*mean {
				return nn.SelectBalanced
			}
		}
	}
	return nn.SelectAccuracy
}

// trainConfig is the training configuration of candidate c: the search's,
// with c's learning rate if the search chose one and c's epochs if set
// (successive halving), and the seed derived from seedKey.
func (s *searcher) trainConfig(c Candidate, seedKey string) nn.Config {
	cfg := s.cfg.Train
	if c.LR > 0 {
		cfg.LR = c.LR
	}
	if c.Epochs > 0 { // the fidelity it was (or is to be) trained at
		cfg.Epochs = c.Epochs
	}
	cfg.Seed = candidateSeed(s.cfg.Seed, seedKey)
	if s.bits != 0 && s.quant == QAT {
		cfg.QATBits = s.bits
	}
	return cfg
}

// candidate decodes a genome and returns its candidate's ID, creating the
// candidate — split, and abandoned if it fits nowhere — on first sight.
func (s *searcher) candidate(g int, gen genome) (int, error) {
	net, err := s.cfg.Space.Decode(gen.arch)
	if err != nil {
		return 0, err
	}
	text := net.String()
	key := candidateKey(text, gen.lr)
	if id, ok := s.byArch[key]; ok {
		return id, nil
	}
	c := Candidate{ID: len(s.cands), Generation: g, Arch: text, Genome: gen.arch, LR: gen.lr, Params: net.Params(), MACs: net.MACs()}
	tab, err := partition.Evaluate(net, s.cfg.Profile, s.cfg.Scenario, s.limits)
	if err != nil {
		return 0, err
	}
	pt, ok := tab.BestPoint()
	if s.cfg.Strategy == Sequential {
		// No split during the search: the whole network on the edge.
		pt = tab.Points[len(net.Layers)]
		ok = pt.Valid
	}
	if !ok {
		c.Status = Abandoned
		c.Why = tab.Points[len(net.Layers)].Why
		if s.cfg.Strategy != Sequential {
			c.Why = "no split point fits: " + tab.Points[0].Why
		}
	} else {
		c.setPoint(pt, s.cfg.Scenario)
		c.Status = Valid
		if lim := s.cfg.EnergyLimitMJ; lim > 0 && c.Energy > lim {
			c.Status = OverEnergy
			c.Why = fmt.Sprintf("%s energy %.4g mJ > limit %.4g mJ", s.cfg.Scenario, c.Energy, lim)
		}
	}
	s.cands = append(s.cands, c)
	s.byArch[key] = c.ID
	return c.ID, nil
}

func (c *Candidate) setPoint(pt partition.Point, sc partition.Scenario) {
	c.Partition, c.FlashBytes, c.RAMBytes = pt.P, pt.FlashBytes, pt.RAMBytes
	c.EEdge, c.ETotal, c.Energy = pt.EEdge, pt.ETotal, sc.Objective(pt)
}

// summarise computes generation g's record from the population.
func (s *searcher) summarise(g, trained, abandoned int, secs float64) Generation {
	fit := s.fitness(s.pop)
	order := s.ranked(s.pop, fit)
	gen := Generation{Index: g, Trained: trained, Abandoned: abandoned, Seconds: secs}
	gen.BestFitness = fit[order[0]]
	gen.BestArch = s.cands[s.pop[order[0]]].Arch
	gen.MedianFitness = stats.Median(fit)
	valid := 0
	for _, id := range s.pop {
		c := s.cands[id]
		gen.BestValAccuracy = max(gen.BestValAccuracy, c.ValAccuracy)
		gen.MeanValAccuracy += c.ValAccuracy / float64(len(s.pop))
		if c.Status == Valid {
			valid++
		}
	}
	gen.ValidShare = float64(valid) / float64(len(s.pop))
	return gen
}
