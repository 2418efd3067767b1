package search

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/quant"
)

// CrossValidation is how the final model was picked with Config.CVFolds:
// the CVTop candidates first in the pick order, each trained once per fold
// on the training and validation samples outside the fold and scored on
// the fold at its best epoch there, the highest mean score chosen.
type CrossValidation struct {
	Folds int `json:"folds"`
	// By is "records" (whole records to each fold: the data was split by
	// record or patient, so each fold measures networks on people they
	// were not trained on) or "samples" (stratified by class).
	By string `json:"by"`
	// FoldSizes is the number of samples in each fold.
	FoldSizes  []int         `json:"fold_sizes"`
	Candidates []CVCandidate `json:"candidates"` // in the pick order
	Chosen     int           `json:"chosen"`     // index into Candidates
	Metric     string        `json:"metric"`     // as Settings.Metric
}

// CVCandidate is one shortlisted candidate's cross-validation.
type CVCandidate struct {
	ID     int       `json:"id"`
	Arch   string    `json:"arch"`
	Scores []float64 `json:"scores"` // per fold, of the network as deployed, at its best epoch on the fold
	Mean   float64   `json:"mean"`
}

// cvFolds splits the training and validation samples (pool, with
// byRecord whole records) into k folds drawn with seed, and returns the
// indices into pool of each fold. By record, records are taken in a
// shuffled order, each into the fold with the fewest samples so far (the
// first such fold on a tie); by sample, each class's samples are shuffled
// and dealt round the folds in turn.
func cvFolds(pool *dataset.Dataset, k int, byRecord bool, seed uint64) ([][]int, error) {
	rng := rand.New(rand.NewPCG(seed, 0xcf))
	folds := make([][]int, k)
	if byRecord {
		ids := pool.RecordIDs()
		if len(ids) < k {
			return nil, fmt.Errorf("%d folds of whole records, but the training and validation splits hold %d records", k, len(ids))
		}
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		members := map[string][]int{}
		for i, r := range pool.Records {
			members[r] = append(members[r], i)
		}
		for _, r := range ids {
			f := 0
			for j := range folds {
				if len(folds[j]) < len(folds[f]) {
					f = j
				}
			}
			folds[f] = append(folds[f], members[r]...)
		}
	} else {
		if pool.Len() < k {
			return nil, fmt.Errorf("%d folds, but the training and validation splits hold %d samples", k, pool.Len())
		}
		byClass := make([][]int, len(pool.Classes))
		for i, l := range pool.Labels {
			byClass[l] = append(byClass[l], i)
		}
		turn := 0
		for _, idx := range byClass {
			rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
			for n, i := range idx {
				f := (n + turn) % k
				folds[f] = append(folds[f], i)
			}
			turn += len(idx)
		}
	}
	for _, f := range folds {
		slices.Sort(f)
	}
	return folds, nil
}

// cvData is the data of each fold: what it trains on (every other fold),
// what it is scored on, and with a teacher its soft targets on the
// training part.
type cvData struct {
	train, held []*dataset.Dataset
	soft        []*nn.SoftTargets
	sizes       []int
	by          string
}

// prepareCV builds the folds from the training and validation splits;
// called when the searcher is made, so that impossible folds are refused
// before the search runs.
func (s *searcher) prepareCV(val *dataset.Dataset) error {
	k := s.cfg.CVFolds
	pool := s.train.Subset(nil)
	if err := pool.Append(s.train); err != nil {
		return err
	}
	if err := pool.Append(val); err != nil {
		return err
	}
	byRecord := recordDisjoint(s.train, val)
	folds, err := cvFolds(pool, k, byRecord, s.cfg.Seed)
	if err != nil {
		return &ConfigError{Field: "CVFolds", Value: k, Err: err}
	}
	cv := &cvData{by: halvesBySample}
	if byRecord {
		cv.by = halvesByRec
	}
	inFold := make([]int, pool.Len())
	for f, idx := range folds {
		for _, i := range idx {
			inFold[i] = f
		}
	}
	for f, idx := range folds {
		var rest []int
		for i := range pool.Len() {
			if inFold[i] != f {
				rest = append(rest, i)
			}
		}
		cv.train = append(cv.train, pool.Subset(rest))
		cv.held = append(cv.held, pool.Subset(idx))
		cv.sizes = append(cv.sizes, len(idx))
	}
	if s.cfg.Teacher != nil {
		for _, tr := range cv.train {
			soft, err := nn.TeacherTargets(s.cfg.Teacher, tr, s.cfg.Temperature)
			if err != nil {
				return fmt.Errorf("search: teacher on a cross-validation fold: %w", err)
			}
			cv.soft = append(cv.soft, soft)
		}
	}
	s.cv = cv
	return nil
}

// crossValidate trains the CVTop candidates first in the pick order once
// per fold, in parallel, and returns the ID of the one with the highest
// mean fold score (the earlier in the pick order on a tie), and the
// record of it all. Each training's seed is derived from the search seed,
// the candidate and the fold, so the outcome does not depend on the number
// of workers.
func (s *searcher) crossValidate(ctx context.Context, order []int) (int, *CrossValidation, error) {
	top := order[:min(len(order), s.cfg.CVTop)]
	k := len(s.cv.train)
	cv := &CrossValidation{Folds: k, By: s.cv.by, FoldSizes: s.cv.sizes, Metric: s.cfg.Train.Select.String(),
		Candidates: make([]CVCandidate, len(top))}
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(s.cfg.Workers)
	for n, id := range top {
		c := s.cands[id]
		cv.Candidates[n] = CVCandidate{ID: id, Arch: c.Arch, Scores: make([]float64, k)}
		net, err := s.cfg.Space.Decode(c.Genome)
		if err != nil {
			return 0, nil, err
		}
		for f := range k {
			eg.Go(func() error {
				cfg := s.trainConfig(c, fmt.Sprintf("%s/cv/%d", c.Key(), f))
				if s.cv.soft != nil {
					cfg.Teacher = s.cv.soft[f]
				}
				// The fold is the validation data: its best epoch is
				// scored, as the search scores candidates on half A.
				res, err := s.cfg.Engine.Train(ectx, net, s.cv.train[f], s.cv.held[f], cfg)
				if err != nil {
					return fmt.Errorf("search: cross-validating %s on fold %d: %w", c.Arch, f+1, err)
				}
				met, err := s.evaluateDeployed(res, s.cv.held[f])
				if err != nil {
					return fmt.Errorf("search: cross-validating %s on fold %d: %w", c.Arch, f+1, err)
				}
				cv.Candidates[n].Scores[f] = s.metric(met)
				return nil
			})
		}
	}
	if err := eg.Wait(); err != nil {
		return 0, nil, err
	}
	for n := range cv.Candidates {
		var sum float64
		for _, v := range cv.Candidates[n].Scores {
			sum += v
		}
		cv.Candidates[n].Mean = sum / float64(k)
		if cv.Candidates[n].Mean > cv.Candidates[cv.Chosen].Mean {
			cv.Chosen = n
		}
	}
	return top[cv.Chosen], cv, nil
}

// evaluateDeployed scores a training run's network as it would be
// deployed: the float model, or on an integer profile its integer network.
func (s *searcher) evaluateDeployed(res *nn.Result, d *dataset.Dataset) (nn.Metrics, error) {
	if s.bits == 0 {
		return nn.Evaluate(res.Model, d)
	}
	qm, err := s.deploy(res)
	if err != nil {
		return nn.Metrics{}, err
	}
	return quant.Evaluate(qm, d)
}
