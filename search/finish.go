package search

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/partition"
	"github.com/splitnas/splitnas/quant"
)

// ModelFile is the name of the best model's file in the output directory.
const ModelFile = "best.model"

// QuantModelFile is the file name of the chosen network's integer form, on
// an integer profile (package quant's format).
const QuantModelFile = "best.snqm"

// settings records the configuration; a checkpoint must match it to be
// resumed.
func (s *searcher) settings() Settings {
	c := s.cfg
	st := Settings{
		Strategy: string(c.Strategy), Data: c.DataName, DataSHA256: s.dataHash, Classes: s.train.Classes,
		Profile: c.Profile.Name, ProfileSHA256: s.profileHash, Scenario: c.Scenario.String(), FogFactor: c.Profile.Fog.Factor,
		FlashLimit: s.limits.FlashBytes, RAMLimit: s.limits.RAMBytes, EnergyLimitMJ: c.EnergyLimitMJ,
		Population: c.Population, Generations: c.Generations, Epochs: c.Train.Epochs, Batch: c.Train.Batch,
		LR: c.Train.LR, Dropout: c.Train.Dropout, Patience: c.Train.Patience,
		FinalEpochs: c.FinalEpochs, FinalSeeds: c.FinalSeeds, FinalEMA: c.FinalEMA, CVFolds: c.CVFolds, CVTop: c.CVTop, Elite: c.Elite, Tournament: c.Tournament,
		CrossoverRate: c.CrossoverRate, MutationRate: c.MutationRate, Seed: c.Seed,
		Space: fmt.Sprintf("input %dx%d, %d slots, lengths %v, channels %v, kernel same %d overlap %d",
			c.Space.InputLength, c.Space.InputChannels, c.Space.Slots, c.Space.Lengths, c.Space.Channels,
			c.Space.Kernel.Same, c.Space.Kernel.Overlap),
		LearningRates: c.LearningRates, ValHalves: s.halvesBy,
		Precision: c.Profile.Edge.Precision().Name,
		Metric:    c.Train.Select.String(), Ties: string(c.Ties), PickBy: string(c.PickBy),
		Recipe: Recipe{
			ClassBalance: c.Train.ClassBalance.String(), Schedule: c.Train.Schedule.String(),
			WarmupEpochs: c.Train.WarmupEpochs, WeightDecay: c.Train.WeightDecay,
			AugmentShift: c.Train.AugmentShift, AugmentScale: c.Train.AugmentScale,
			AugmentWander: c.Train.AugmentWander, AugmentNoise: c.Train.AugmentNoise,
			BatchNorm: c.Train.BatchNorm, SamplesPerEpoch: c.Train.SamplesPerEpoch, EMA: c.Train.EMA,
		},
	}
	if d := c.Profile.Fog.Device; d != nil {
		st.FogDevice = d.Name
	}
	if len(c.Space.Overlaps) > 0 {
		st.Space += fmt.Sprintf(", overlaps searched %v", c.Space.Overlaps)
	}
	if s.bits != 0 {
		st.Quant = string(s.quant)
	}
	if c.Halving.on() {
		st.RungEpochs, st.Eta = c.Halving.RungEpochs(c.Train.Epochs), c.Halving.Eta
	}
	if c.Strategy == NSGA2 {
		for _, o := range c.objectives() {
			st.Objectives = append(st.Objectives, string(o))
		}
		st.ParetoMax = c.ParetoMax
	}
	st.Prune = c.Prune
	if c.Teacher != nil {
		st.Recipe.Teacher, st.Recipe.TeacherSHA256 = c.Teacher.String(), s.teacherHash
		st.Recipe.Temperature, st.Recipe.Alpha = c.Temperature, c.Train.Alpha
	}
	return st
}

// profileHash is the SHA-256 (hex) of everything in a profile that can
// change a search's result: its canonical TOML form (hw's WriteTOML: floats
// that round-trip exactly, tables sorted) without the free-text
// description.
func profileHash(p hw.Profile) (string, error) {
	p.Description = ""
	h := sha256.New()
	if err := p.WriteTOML(h, ""); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// modelHash is the SHA-256 (hex) of a model's file form: its layers,
// classes and weights.
func modelHash(m *nn.Model) (string, error) {
	h := sha256.New()
	if err := nn.Save(h, m); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// result assembles the result so far.
func (s *searcher) result() *Result {
	return &Result{
		Settings: s.settings(), History: s.hist, Candidates: s.cands,
		Seconds: s.prior + time.Since(s.start).Seconds(),
	}
}

// pickOrder returns the IDs of the valid trained candidates, best first:
// the higher validation score of Config.PickBy (half B, or the mean of
// both halves); then, with Config.Ties loss, the lower loss on the same
// halves; then the higher validation-A score, then the lower energy, then
// the earlier candidate. With successive halving only candidates trained
// for the full epochs take part, if any is valid: scores after fewer
// epochs are not comparable.
func (s *searcher) pickOrder() []int {
	full := false
	for _, c := range s.cands {
		full = full || (c.Status == Valid && c.BestEpoch > 0 && c.Epochs == s.cfg.Train.Epochs)
	}
	score, loss := func(c Candidate) float64 { return c.ValBAccuracy }, func(c Candidate) float64 { return c.ValBLoss }
	if s.cfg.PickBy == PickAB {
		score = func(c Candidate) float64 { return (c.ValAccuracy + c.ValBAccuracy) / 2 }
		loss = func(c Candidate) float64 { return (c.ValLoss + c.ValBLoss) / 2 }
	}
	var ids []int
	for i, c := range s.cands {
		if c.Status == Valid && c.BestEpoch > 0 && (!full || c.Epochs == s.cfg.Train.Epochs) {
			ids = append(ids, i)
		}
	}
	slices.SortStableFunc(ids, func(i, j int) int {
		a, b := s.cands[i], s.cands[j]
		switch {
		case score(a) != score(b):
			return cmp.Compare(score(b), score(a))
		case s.cfg.Ties == TiesLoss && loss(a) != loss(b):
			return cmp.Compare(loss(a), loss(b))
		case a.ValAccuracy != b.ValAccuracy:
			return cmp.Compare(b.ValAccuracy, a.ValAccuracy)
		case a.Energy != b.Energy:
			return cmp.Compare(a.Energy, b.Energy)
		}
		return cmp.Compare(i, j)
	})
	return ids
}

// finish extracts the best model, scores it once on the test split, and
// saves it. For the NSGA2 strategy it finishes the Pareto set instead
// (finishPareto).
func (s *searcher) finish(ctx context.Context) (*Result, error) {
	r := s.result()
	if s.cfg.Strategy == NSGA2 {
		return s.finishPareto(ctx, r)
	}
	order := s.pickOrder()
	if len(order) == 0 {
		return r, s.noValid()
	}
	id := order[0]
	var cv *CrossValidation
	if s.cv != nil {
		var err error
		if id, cv, err = s.crossValidate(ctx, order); err != nil {
			return r, err
		}
	}
	b, model, _, err := s.finishCandidate(ctx, id, ModelFile, QuantModelFile)
	if err != nil {
		return r, err
	}
	b.CV = cv
	if s.cfg.Prune != nil {
		if err := s.prunePoint(ctx, b, model, s.cands[id].Key()); err != nil {
			return r, err
		}
	}
	r.Best = b
	return r, nil
}

// finishCandidate turns candidate id into a final model: its search-time
// model (retrained if it was trained before a resume), or with
// FinalEpochs the best of the final trainings; scored once on the test
// split and, with a Dir, saved there as modelFile (and, on an integer
// profile, its integer network as qmodelFile).
func (s *searcher) finishCandidate(ctx context.Context, id int, modelFile, qmodelFile string) (*Best, *nn.Model, *quant.Model, error) {
	c := s.cands[id]
	net, err := s.cfg.Space.Decode(c.Genome)
	if err != nil {
		return nil, nil, nil, err
	}
	model, qm := s.models[id], s.qmodels[id]
	if model == nil {
		// Trained before a resume: training is deterministic, so this
		// gives the same weights.
		cfg := s.trainConfig(c, c.Key())
		res, err := s.cfg.Engine.Train(ctx, net, s.train, s.valA, cfg)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("search: retraining candidate %s: %w", c.Arch, err)
		}
		model = res.Model
		if qm, err = s.deploy(res); err != nil {
			return nil, nil, nil, fmt.Errorf("search: quantizing candidate %s: %w", c.Arch, err)
		}
	}
	var final *Final
	if s.cfg.FinalEpochs > 0 {
		if final, model, qm, err = s.finalTraining(ctx, c, net); err != nil {
			return nil, nil, nil, err
		}
	}
	tab, err := partition.Evaluate(net, s.cfg.Profile, s.cfg.Scenario, s.limits)
	if err != nil {
		return nil, nil, nil, err
	}
	pt := tab.Points[c.Partition]
	if s.cfg.Strategy == Sequential {
		// Searched without a split; now split the winner optimally.
		pt, _ = tab.BestPoint()
	}
	test, err := nn.Evaluate(model, s.test)
	if err != nil {
		return nil, nil, nil, err
	}
	var q *Quantized
	if qm != nil {
		// The float weights' score is kept for comparison; the integer
		// network is what is deployed, so it gives the test scores.
		q = &Quantized{Precision: qm.Precision().Name, Method: string(s.quant), WeightBits: qm.Bits,
			FloatTestAccuracy: test.Accuracy, FloatTestBalancedAccuracy: test.BalancedAccuracy}
		if test, err = quant.Evaluate(qm, s.test); err != nil {
			return nil, nil, nil, err
		}
	}
	b := &Best{
		Arch: c.Arch, Partition: pt.P, ValAccuracy: c.ValAccuracy, ValBAccuracy: c.ValBAccuracy,
		TestAccuracy: test.Accuracy, TestMacroF1: test.MacroF1, TestConfusion: test.Confusion,
		TestBalancedAccuracy: test.BalancedAccuracy, TestPerClass: test.PerClass,
		Params: c.Params, MACs: c.MACs, FlashBytes: pt.FlashBytes, RAMBytes: pt.RAMBytes,
		EEdge: pt.EEdge, ETotal: pt.ETotal, Layers: tab.Layers, Partitions: tab.Points, Final: final,
		Precision: s.cfg.Profile.Edge.Precision().Name, Quantized: q,
	}
	if err := s.saveModels(b, model, qm, modelFile, qmodelFile); err != nil {
		return nil, nil, nil, err
	}
	return b, model, qm, nil
}

// saveModels writes a final model (and its integer network, if any) to
// Dir under the given names and records the names in b; without a Dir it
// does nothing.
func (s *searcher) saveModels(b *Best, model *nn.Model, qm *quant.Model, modelFile, qmodelFile string) error {
	if s.cfg.Dir == "" {
		return nil
	}
	if err := nn.SaveFile(filepath.Join(s.cfg.Dir, modelFile), model); err != nil {
		return err
	}
	b.Model = modelFile
	if qm != nil {
		if err := quant.SaveFile(filepath.Join(s.cfg.Dir, qmodelFile), qm); err != nil {
			return err
		}
		q := *b.Quantized // b may share it with another Best
		q.Model = qmodelFile
		b.Quantized = &q
	}
	return nil
}

// finalTraining trains the chosen candidate's architecture FinalSeeds
// times from scratch for FinalEpochs epochs, in parallel, and returns the
// runs and the model of the one with the best validation-B score (on a
// tie, Config.Ties: the lower validation-B loss, else the first). Each
// run's seed is derived from the search seed, the architecture and the run
// index, so the outcome does not depend on the number of workers.
func (s *searcher) finalTraining(ctx context.Context, c Candidate, net arch.Network) (*Final, *nn.Model, *quant.Model, error) {
	f := &Final{Epochs: s.cfg.FinalEpochs, Runs: make([]FinalRun, s.cfg.FinalSeeds)}
	models := make([]*nn.Model, s.cfg.FinalSeeds)
	qmodels := make([]*quant.Model, s.cfg.FinalSeeds)
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(s.cfg.Workers)
	for k := range f.Runs {
		eg.Go(func() error {
			cfg := s.trainConfig(c, fmt.Sprintf("%s/final/%d", c.Key(), k))
			cfg.Epochs, cfg.EMA = s.cfg.FinalEpochs, s.cfg.FinalEMA
			t0 := time.Now()
			res, err := s.cfg.Engine.Train(ectx, net, s.train, s.valA, cfg)
			if err != nil {
				return fmt.Errorf("search: final training %d of %s: %w", k+1, c.Arch, err)
			}
			sc, qm, err := s.assess(res)
			if err != nil {
				return fmt.Errorf("search: final training %d of %s: %w", k+1, c.Arch, err)
			}
			f.Runs[k] = FinalRun{Seed: cfg.Seed, BestEpoch: res.Best + 1, ValAccuracy: sc.a, ValBAccuracy: sc.b,
				ValLoss: sc.lossA, ValBLoss: sc.lossB, Seconds: time.Since(t0).Seconds()}
			models[k], qmodels[k] = res.Model, qm
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, nil, nil, err
	}
	f.Chosen = chooseRun(f.Runs, s.cfg.Ties)
	return f, models[f.Chosen], qmodels[f.Chosen], nil
}

// chooseRun returns the index of the final run with the best validation-B
// score; on a tie, with TiesLoss, the one with the lower validation-B
// loss; then the first.
func chooseRun(runs []FinalRun, ties Ties) int {
	chosen := 0
	for k, run := range runs {
		best := runs[chosen]
		if run.ValBAccuracy > best.ValBAccuracy ||
			(ties == TiesLoss && run.ValBAccuracy == best.ValBAccuracy && run.ValBLoss < best.ValBLoss) {
			chosen = k
		}
	}
	return chosen
}

// noValid says why no candidate was valid.
func (s *searcher) noValid() *NoValidError {
	e := &NoValidError{EnergyLimitMJ: s.cfg.EnergyLimitMJ, Scenario: s.cfg.Scenario.String(), LowestEnergyMJ: math.Inf(1)}
	for _, c := range s.cands {
		switch c.Status {
		case Abandoned:
			e.Abandoned++
		case OverEnergy:
			e.OverEnergy++
			if c.Energy < e.LowestEnergyMJ {
				e.LowestEnergyMJ, e.LowestArch = c.Energy, c.Arch
			}
		}
		if c.BestEpoch > 0 {
			e.Trained++
		}
	}
	if e.LowestArch == "" {
		e.LowestEnergyMJ = 0
	}
	return e
}
