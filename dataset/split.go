package dataset

import (
	"fmt"
	"maps"
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

// Holdout says how HoldOutRecords chooses the records of the validation
// split.
type Holdout struct {
	// Min and Max bound the share of the training samples the chosen
	// records hold: records are added until Min is reached, and never
	// beyond Max.
	Min, Max float64
	// MaxClassShare is the largest share of any class's training samples
	// that may move to validation, so that training keeps most of a class
	// concentrated in a few records.
	MaxClassShare float64
}

// ValidationHoldout is 15–20 % of the samples, at most half of any class.
func ValidationHoldout() Holdout { return Holdout{Min: 0.15, Max: 0.20, MaxClassShare: 0.5} }

func (h Holdout) check() error {
	ok := func(x float64) bool { return x >= 0 && x <= 1 }
	if !ok(h.Min) || !ok(h.Max) || !ok(h.MaxClassShare) || h.Min > h.Max {
		return fmt.Errorf("dataset: holdout %+v: want 0 ≤ Min ≤ Max ≤ 1 and 0 ≤ MaxClassShare ≤ 1", h)
	}
	return nil
}

// HoldOutRecords moves whole records of the training split to the
// validation split, so that validation measures performance on records
// (patients) the training split never sees. Samples of the other splits
// are left alone. It returns the records moved, sorted.
//
// The rule, with the records of the training split in an order shuffled
// with the seed: a record fits when adding it keeps the validation split
// within h.Max of the training samples and every class within
// h.MaxClassShare of that class's training samples. First, for each class
// from the rarest to the most common that has no validation sample yet,
// the fitting record holding most samples of that class is moved (the
// first in the shuffled order among equals); then fitting
// records are moved in order until validation holds h.Min of the samples
// (or no record is left that fits).
// A class no fitting record holds stays absent from validation. When no
// record fits at all, the one with the fewest samples is moved (first in
// the shuffled order among equals), so validation is never empty. There
// must be at least two records in the training split.
func HoldOutRecords(d *Dataset, h Holdout, seed uint64) ([]string, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	if _, err := splittable(d); err != nil {
		return nil, err
	}
	count := map[string][]int{} // per record: samples of each class
	var total int
	classTotal := make([]int, len(d.Classes))
	for i, r := range d.Records {
		if d.Splits[i] != Train {
			continue
		}
		if count[r] == nil {
			count[r] = make([]int, len(d.Classes))
		}
		count[r][d.Labels[i]]++
		classTotal[d.Labels[i]]++
		total++
	}
	records := slices.Sorted(maps.Keys(count))
	if len(records) < 2 {
		return nil, fmt.Errorf("dataset: cannot hold out whole records for validation: the training split has %d record(s), want at least 2", len(records))
	}
	rng := NewRand(seed)
	rng.Shuffle(len(records), func(i, j int) { records[i], records[j] = records[j], records[i] })

	held := map[string]bool{}
	valTotal := 0
	valClass := make([]int, len(d.Classes))
	fits := func(r string) bool {
		n := 0
		for c, k := range count[r] {
			if float64(valClass[c]+k) > h.MaxClassShare*float64(classTotal[c]) {
				return false
			}
			n += k
		}
		return float64(valTotal+n) <= h.Max*float64(total)
	}
	hold := func(r string) {
		held[r] = true
		for c, k := range count[r] {
			valClass[c] += k
			valTotal += k
		}
	}
	rarest := make([]int, len(d.Classes))
	for c := range rarest {
		rarest[c] = c
	}
	slices.SortStableFunc(rarest, func(a, b int) int { return classTotal[a] - classTotal[b] })
	for _, c := range rarest {
		if valClass[c] > 0 || classTotal[c] == 0 {
			continue
		}
		best := ""
		for _, r := range records {
			if !held[r] && count[r][c] > 0 && fits(r) && (best == "" || count[r][c] > count[best][c]) {
				best = r
			}
		}
		if best != "" {
			hold(best)
		}
	}
	for _, r := range records {
		if float64(valTotal) >= h.Min*float64(total) {
			break
		}
		if !held[r] && fits(r) {
			hold(r)
		}
	}
	if len(held) == 0 {
		smallest := records[0]
		for _, r := range records[1:] {
			if sum(count[r]) < sum(count[smallest]) {
				smallest = r
			}
		}
		hold(smallest)
	}
	for i, r := range d.Records {
		if d.Splits[i] == Train && held[r] {
			d.Splits[i] = Val
		}
	}
	return slices.Sorted(maps.Keys(held)), nil
}

func sum(x []int) int {
	s := 0
	for _, v := range x {
		s += v
	}
	return s
}
