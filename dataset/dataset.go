// Package dataset holds labelled 1-D signal windows ready for training: the
// in-memory Dataset, its train/validation/test splits, class balancing, and a
// compact, versioned, checksummed file format (see format.go).
//
// Readers of the raw sources live in sub-packages (wfdb, edf) and the builders
// that turn them into a Dataset in mitbih, bonn and chbmit. The embedded
// default sample is in package dataset/sample.
package dataset

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/splitnas/splitnas/dataset/internal/size"
)

// Split says which part of the experiment a sample belongs to.
type Split uint8

// The three splits. The test split is meant to be touched once, at the end.
const (
	Train Split = iota
	Val
	Test
	numSplits
)

// String returns "train", "val" or "test".
func (s Split) String() string {
	switch s {
	case Train:
		return "train"
	case Val:
		return "val"
	case Test:
		return "test"
	}
	return fmt.Sprintf("split(%d)", uint8(s))
}

// Splits lists the splits in order.
func Splits() []Split { return []Split{Train, Val, Test} }

// Source records where a dataset came from and how it was made, so a file is
// self-describing and can be regenerated.
type Source struct {
	Kind        string            `json:"kind"`                  // "mitdb", "bonn", "chbmit", ...
	Settings    map[string]string `json:"settings,omitempty"`    // the options it was built with
	Attribution string            `json:"attribution,omitempty"` // licence and citation of the raw data
	Notes       []string          `json:"notes,omitempty"`       // e.g. what was dropped and why
}

// Dataset is a set of fixed-size windows with a class label, a split and the
// record (patient, file) each one was cut from.
//
// Sample i occupies X[i*Channels*Length : (i+1)*Channels*Length], channel by
// channel (channel-major), so a single-channel window is simply Length values.
type Dataset struct {
	Classes  []string // class names in label order
	Length   int      // samples per channel
	Channels int      // channels per sample
	X        []float32
	Labels   []uint8  // index into Classes
	Splits   []Split  // split of each sample
	Records  []string // record or subject id of each sample
	Source   Source
}

// New returns an empty dataset with the given shape and class names.
func New(classes []string, channels, length int) *Dataset {
	return &Dataset{Classes: append([]string(nil), classes...), Channels: channels, Length: length}
}

// Len returns the number of samples.
func (d *Dataset) Len() int { return len(d.Labels) }

// SampleSize returns the number of values in one sample (Channels × Length).
func (d *Dataset) SampleSize() int { return d.Channels * d.Length }

// Sample returns the values of sample i (a view, not a copy).
func (d *Dataset) Sample(i int) []float32 {
	n := d.SampleSize()
	return d.X[i*n : (i+1)*n : (i+1)*n]
}

// Add appends one sample in the Train split. x must hold SampleSize values.
func (d *Dataset) Add(x []float32, label int, record string) error {
	if len(x) != d.SampleSize() {
		return fmt.Errorf("dataset: sample has %d values, want %d (%d channels × %d)", len(x), d.SampleSize(), d.Channels, d.Length)
	}
	if label < 0 || label >= len(d.Classes) {
		return fmt.Errorf("dataset: label %d out of range for %d classes", label, len(d.Classes))
	}
	d.X = append(d.X, x...)
	d.Labels = append(d.Labels, uint8(label))
	d.Splits = append(d.Splits, Train)
	d.Records = append(d.Records, record)
	return nil
}

// Append adds every sample of o (which must have the same shape and classes)
// keeping its splits.
func (d *Dataset) Append(o *Dataset) error {
	if o.Length != d.Length || o.Channels != d.Channels || !slices.Equal(o.Classes, d.Classes) {
		return fmt.Errorf("dataset: cannot append %d×%d %v to %d×%d %v", o.Channels, o.Length, o.Classes, d.Channels, d.Length, d.Classes)
	}
	d.X = append(d.X, o.X...)
	d.Labels = append(d.Labels, o.Labels...)
	d.Splits = append(d.Splits, o.Splits...)
	d.Records = append(d.Records, o.Records...)
	return nil
}

// Subset returns a new dataset holding the samples at idx, in that order.
// Every index must be in range and d must have one label, split and record
// per sample, as Validate checks; otherwise Subset panics.
func (d *Dataset) Subset(idx []int) *Dataset {
	s := &Dataset{Classes: d.Classes, Length: d.Length, Channels: d.Channels, Source: d.Source}
	n := d.SampleSize()
	s.X = make([]float32, 0, len(idx)*n)
	s.Labels = make([]uint8, 0, len(idx))
	s.Splits = make([]Split, 0, len(idx))
	s.Records = make([]string, 0, len(idx))
	for _, i := range idx {
		s.X = append(s.X, d.Sample(i)...)
		s.Labels = append(s.Labels, d.Labels[i])
		s.Splits = append(s.Splits, d.Splits[i])
		s.Records = append(s.Records, d.Records[i])
	}
	return s
}

// Indices returns the indices of the samples in split s.
func (d *Dataset) Indices(s Split) []int {
	var idx []int
	for i, sp := range d.Splits {
		if sp == s {
			idx = append(idx, i)
		}
	}
	return idx
}

// Part returns the samples of split s as a new dataset.
func (d *Dataset) Part(s Split) *Dataset { return d.Subset(d.Indices(s)) }

// ClassCounts returns the number of samples per class over all splits.
func (d *Dataset) ClassCounts() []int {
	c := make([]int, len(d.Classes))
	for _, l := range d.Labels {
		c[l]++
	}
	return c
}

// SplitCounts returns the number of samples in each split, indexed by Split.
func (d *Dataset) SplitCounts() [3]int {
	var c [3]int
	for _, s := range d.Splits {
		c[s]++
	}
	return c
}

// RecordIDs returns the distinct record ids, sorted.
func (d *Dataset) RecordIDs() []string {
	seen := map[string]bool{}
	var ids []string
	for _, r := range d.Records {
		if !seen[r] {
			seen[r] = true
			ids = append(ids, r)
		}
	}
	sort.Strings(ids)
	return ids
}

// ErrInvalid is wrapped by the errors of Validate, and by those of Decode
// for a file whose sizes or contents are impossible.
var ErrInvalid = errors.New("invalid")

// Validate checks everything a Dataset built by hand can get wrong: a
// positive shape whose sample size and total size fit in an int, 1 to 255
// distinct class names, as many labels, splits and records as samples, X
// holding exactly Len()·Channels·Length values, every label naming a class
// and every split being Train, Val or Test. Its errors wrap ErrInvalid. The
// methods of a Dataset that does not validate may panic.
func (d *Dataset) Validate() error {
	if err := d.validate(); err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	return nil
}

// validate is Validate without the package prefix on the error.
func (d *Dataset) validate() error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
	}
	if len(d.Classes) == 0 || len(d.Classes) > 255 {
		return invalid("%d classes (want 1..255)", len(d.Classes))
	}
	for i, c := range d.Classes {
		if slices.Contains(d.Classes[:i], c) {
			return invalid("class %q is named twice", c)
		}
	}
	n := d.Len()
	if len(d.Splits) != n || len(d.Records) != n {
		return invalid("%d labels, %d splits, %d records (want one of each per sample)", n, len(d.Splits), len(d.Records))
	}
	values, err := checkShape(d.Channels, d.Length, n)
	if err != nil {
		return err
	}
	if len(d.X) != values {
		return invalid("%d values for %d samples of %d×%d", len(d.X), n, d.Channels, d.Length)
	}
	for i, l := range d.Labels {
		if int(l) >= len(d.Classes) {
			return invalid("sample %d has label %d, only %d classes", i, l, len(d.Classes))
		}
		if d.Splits[i] >= numSplits {
			return invalid("sample %d has unknown split %d", i, d.Splits[i])
		}
	}
	return nil
}

// checkShape checks that channels and length are positive and that n
// samples of channels×length values can be counted in an int, and returns
// that count. Its errors wrap ErrInvalid.
func checkShape(channels, length, n int) (values int, err error) {
	if channels <= 0 || length <= 0 {
		return 0, fmt.Errorf("%w: shape %d×%d is not positive", ErrInvalid, channels, length)
	}
	per, ok := size.Mul(channels, length)
	if !ok {
		return 0, fmt.Errorf("%w: %d×%d values per sample is more than an int holds", ErrInvalid, channels, length)
	}
	values, ok = size.Mul(n, per)
	if !ok {
		return 0, fmt.Errorf("%w: %d samples of %d×%d values is more than an int holds", ErrInvalid, n, channels, length)
	}
	return values, nil
}
