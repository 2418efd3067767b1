package dataset

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// NewRand returns the deterministic random source used for every seeded choice
// in this package (balancing, splits), so a seed means the same thing
// everywhere.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
}

// BalancePerClass keeps perClass samples of every class, chosen at random with
// the seed; perClass 0 means the size of the smallest class. Kept samples stay
// in their original order. It is an error to ask for more samples than the
// smallest class has, or to balance a dataset with an empty class.
func BalancePerClass(d *Dataset, perClass int, seed uint64) (*Dataset, error) {
	keep, err := BalanceIndices(d.Labels, d.Classes, perClass, seed)
	if err != nil {
		return nil, err
	}
	return d.Subset(keep), nil
}

// BalanceIndices is BalancePerClass on labels alone: it returns the sorted
// indices of the items to keep. Builders use it to plan which windows to cut
// before reading any signal.
func BalanceIndices(labels []uint8, classes []string, perClass int, seed uint64) ([]int, error) {
	byClass, err := groupByClass(labels, classes)
	if err != nil {
		return nil, err
	}
	smallest := 0
	for c, idx := range byClass {
		if len(idx) < len(byClass[smallest]) {
			smallest = c
		}
	}
	if len(byClass) == 0 || len(byClass[smallest]) == 0 {
		name := "(none)"
		if len(classes) > 0 {
			name = classes[smallest]
		}
		return nil, fmt.Errorf("dataset: cannot balance: class %q has no samples", name)
	}
	if perClass == 0 {
		perClass = len(byClass[smallest])
	}
	if perClass < 0 || perClass > len(byClass[smallest]) {
		return nil, fmt.Errorf("dataset: cannot keep %d samples per class: class %q has only %d", perClass, classes[smallest], len(byClass[smallest]))
	}
	rng := NewRand(seed)
	var keep []int
	for _, idx := range byClass {
		idx = slices.Clone(idx)
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		keep = append(keep, idx[:perClass]...)
	}
	slices.Sort(keep)
	return keep, nil
}

// BalanceSplit is BalanceIndices on split s of d alone: it returns the
// sorted indices in d of the items of s to keep, perClass of every class (0:
// as many as the split's smallest class has), and leaves the other splits to
// the caller.
func (d *Dataset) BalanceSplit(s Split, perClass int, seed uint64) ([]int, error) {
	idx := d.Indices(s)
	labels := make([]uint8, len(idx))
	for j, i := range idx {
		labels[j] = d.Labels[i]
	}
	keep, err := BalanceIndices(labels, d.Classes, perClass, seed)
	if err != nil {
		return nil, err
	}
	for j, k := range keep {
		keep[j] = idx[k]
	}
	return keep, nil
}

// BalanceEval keeps every training item of d and, of the validation and
// the test items, as many of every class as that split's smallest class
// has (seeded, BalanceSplit): the EvalOnly method. It returns the sorted
// indices in d to keep and the number kept per class in the validation
// and in the test split.
func (d *Dataset) BalanceEval(seed uint64) (keep []int, perClass [2]int, err error) {
	keep = d.Indices(Train)
	for k, s := range []Split{Val, Test} {
		idx, err := d.BalanceSplit(s, 0, seed)
		if err != nil {
			return nil, perClass, fmt.Errorf("dataset: balancing the %s split: %w", s, err)
		}
		keep = append(keep, idx...)
		perClass[k] = len(idx) / max(len(d.Classes), 1)
	}
	slices.Sort(keep)
	return keep, perClass, nil
}

// groupByClass returns the indices of the labels of each class. A label
// that names no class is an error wrapping ErrInvalid.
func groupByClass(labels []uint8, classes []string) ([][]int, error) {
	byClass := make([][]int, len(classes))
	for i, l := range labels {
		if int(l) >= len(classes) {
			return nil, fmt.Errorf("dataset: %w: label %d of item %d names none of the %d classes", ErrInvalid, l, i, len(classes))
		}
		byClass[l] = append(byClass[l], i)
	}
	return byClass, nil
}
