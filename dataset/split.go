package dataset

import (
	"fmt"
	"math"
	"slices"
)

// Fractions gives the share of samples (or groups) for train, val and test.
type Fractions [3]float64

// PaperFractions is the 70/15/15 random split of Huang et al.
func PaperFractions() Fractions { return Fractions{0.70, 0.15, 0.15} }

func (f Fractions) check() error {
	sum := f[0] + f[1] + f[2]
	for _, x := range f {
		if x < 0 || math.IsNaN(x) {
			return fmt.Errorf("dataset: split fractions %v must not be negative", f)
		}
	}
	if math.Abs(sum-1) > 1e-9 {
		return fmt.Errorf("dataset: split fractions %v sum to %g, want 1", f, sum)
	}
	return nil
}

// cut assigns the first round(n·f0) items to Train, the next round(n·f1) to
// Val and the rest to Test.
func (f Fractions) cut(n int) (nTrain, nVal int) {
	nTrain = int(math.Round(float64(n) * f[0]))
	nVal = int(math.Round(float64(n) * f[1]))
	if nTrain+nVal > n {
		nVal = n - nTrain
	}
	return nTrain, nVal
}

// SplitStratified assigns every sample a split at random, class by class, so
// each split has the classes in the proportions of the whole.
func SplitStratified(d *Dataset, f Fractions, seed uint64) error {
	if err := f.check(); err != nil {
		return err
	}
	byClass, err := splittable(d)
	if err != nil {
		return err
	}
	rng := NewRand(seed)
	for _, idx := range byClass {
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		nTrain, nVal := f.cut(len(idx))
		for k, i := range idx {
			d.Splits[i] = splitAt(k, nTrain, nVal)
		}
	}
	return nil
}

// SplitByRecord assigns whole records to splits at random, so that no record
// contributes samples to two splits (windows cut from one recording are
// correlated). Records are stratified by the label of their first sample.
func SplitByRecord(d *Dataset, f Fractions, seed uint64) error {
	if err := f.check(); err != nil {
		return err
	}
	if _, err := splittable(d); err != nil {
		return err
	}
	first := map[string]uint8{}
	for i, r := range d.Records {
		if _, ok := first[r]; !ok {
			first[r] = d.Labels[i]
		}
	}
	byClass := make([][]string, len(d.Classes))
	for _, r := range d.RecordIDs() {
		byClass[first[r]] = append(byClass[first[r]], r)
	}
	rng := NewRand(seed)
	assign := map[string]Split{}
	for _, recs := range byClass {
		recs = slices.Clone(recs)
		rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
		nTrain, nVal := f.cut(len(recs))
		for k, r := range recs {
			assign[r] = splitAt(k, nTrain, nVal)
		}
	}
	for i, r := range d.Records {
		d.Splits[i] = assign[r]
	}
	return nil
}

func splitAt(k, nTrain, nVal int) Split {
	switch {
	case k < nTrain:
		return Train
	case k < nTrain+nVal:
		return Val
	}
	return Test
}

// splittable checks what the split functions index, which is less than
// Validate asks: builders split a plan of labels and records before any
// sample is cut. It returns the sample indices of each class.
func splittable(d *Dataset) ([][]int, error) {
	if len(d.Splits) != len(d.Labels) || len(d.Records) != len(d.Labels) {
		return nil, fmt.Errorf("dataset: %w: %d labels, %d splits, %d records (want one of each per sample)",
			ErrInvalid, len(d.Labels), len(d.Splits), len(d.Records))
	}
	return groupByClass(d.Labels, d.Classes)
}
