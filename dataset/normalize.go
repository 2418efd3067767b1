package dataset

import (
	"errors"
	"fmt"
	"math"
)

// ErrEmptySplit is wrapped by the errors of functions that need samples in
// a split that has none (TrainMoments without training samples).
var ErrEmptySplit = errors.New("empty split")

// Moments are the mean and standard deviation that Standardize uses to
// scale one channel.
type Moments struct {
	Mean, Std float64
}

// minStd is the smallest standard deviation a value is divided by; below
// it (a flat channel) values are only centred, as dsp.ZScore does.
const minStd = 1e-12

// TrainMoments returns the mean and (population) standard deviation of the
// values of the training split's samples, one pair per block: a sample is
// cut into blocks equal consecutive parts (its channels; a builder that
// concatenates several signals into one channel passes their number). The
// samples of the validation and test splits are not read, so they cannot
// change the result. blocks must divide the sample size; a dataset without
// training samples is an error wrapping ErrEmptySplit.
func TrainMoments(d *Dataset, blocks int) ([]Moments, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	n := d.SampleSize()
	if blocks < 1 || n%blocks != 0 {
		return nil, fmt.Errorf("dataset: %w: %d blocks do not divide a sample of %d values", ErrInvalid, blocks, n)
	}
	train := d.Indices(Train)
	if len(train) == 0 {
		return nil, fmt.Errorf("dataset: %w: no training samples to compute the normalisation from", ErrEmptySplit)
	}
	per := n / blocks
	m := make([]Moments, blocks)
	count := float64(len(train) * per)
	for b := range m {
		// Two passes in float64: the sum of a few million float32 values
		// keeps its precision, and the variance does not cancel.
		var sum float64
		for _, i := range train {
			for _, v := range d.Sample(i)[b*per : (b+1)*per] {
				sum += float64(v)
			}
		}
		mean := sum / count
		var ss float64
		for _, i := range train {
			for _, v := range d.Sample(i)[b*per : (b+1)*per] {
				dv := float64(v) - mean
				ss += dv * dv
			}
		}
		m[b] = Moments{Mean: mean, Std: math.Sqrt(ss / count)}
	}
	return m, nil
}

// Standardize replaces every value v of block b of every sample, in every
// split, by (v − m[b].Mean) / m[b].Std, where the blocks are len(m) equal
// consecutive parts of a sample, as in TrainMoments. A standard deviation
// below 1e-12 counts as 1 (the values are only centred). It is an error if
// len(m) does not divide the sample size or a moment is not finite.
func Standardize(d *Dataset, m []Moments) error {
	if err := d.Validate(); err != nil {
		return err
	}
	n := d.SampleSize()
	if len(m) < 1 || n%len(m) != 0 {
		return fmt.Errorf("dataset: %w: %d moments do not divide a sample of %d values", ErrInvalid, len(m), n)
	}
	for b, mb := range m {
		if math.IsNaN(mb.Mean) || math.IsInf(mb.Mean, 0) || math.IsNaN(mb.Std) || math.IsInf(mb.Std, 0) || mb.Std < 0 {
			return fmt.Errorf("dataset: %w: moments %d are mean %g, std %g", ErrInvalid, b, mb.Mean, mb.Std)
		}
	}
	per := n / len(m)
	for i := range d.Len() {
		x := d.Sample(i)
		for b, mb := range m {
			std := mb.Std
			if std < minStd {
				std = 1
			}
			for j, v := range x[b*per : (b+1)*per] {
				x[b*per+j] = float32((float64(v) - mb.Mean) / std)
			}
		}
	}
	return nil
}
