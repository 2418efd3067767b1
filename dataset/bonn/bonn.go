// Package bonn turns the University of Bonn epilepsy EEG data sets A–E
// (Andrzejak et al. 2001) into a seizure-detection dataset.
//
// The data are five sets of 100 single-channel segments, 4097 samples at
// 173.61 Hz (23.6 s) each, stored as ASCII files with one integer a line:
//
//	A (Z001.txt …)  healthy volunteers, surface EEG, eyes open
//	B (O001.txt …)  healthy volunteers, surface EEG, eyes closed
//	C (N001.TXT …)  patients, seizure-free, hippocampus of the opposite side
//	D (F001.txt …)  patients, seizure-free, epileptogenic zone
//	E (S001.txt …)  patients, seizure (ictal) activity
//
// Build reads one folder per set, band-passes each whole segment, cuts it
// into fixed-length windows, normalises them (by default each window
// z-scored on its own; see Options.Normalize), balances the classes and
// splits the windows into train, validation and test sets — by default whole
// segments to one split, because windows of one segment are correlated.
package bonn

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/dsp"
)

const (
	// Fs is the sampling rate of every segment, in Hz.
	Fs = 173.61
	// SegmentLength is the number of samples in a published segment.
	SegmentLength = 4097
)

// Attribution is the citation and licence status of the source data.
const Attribution = "Bonn University epilepsy EEG data sets A-E: Andrzejak RG, Lehnertz K, Mormann F, Rieke C, " +
	"David P, Elger CE, \"Indications of nonlinear deterministic and finite-dimensional structures in time " +
	"series of brain electrical activity: Dependence on recording region and brain state\", " +
	"Phys. Rev. E 64, 061907 (2001). Originally distributed by the Dept. of Epileptology, University of Bonn. " +
	"Licence / terms of use NOT verified: the files carry no licence text; users are asked to cite the paper " +
	"above. Check the terms before redistributing."

// Tasks lists the classification tasks Build knows.
func Tasks() []string { return []string{"E-vs-ABCD", "A-vs-E"} }

// TaskClasses returns the class names of a task, in label order, and the
// sets that make up each class.
//
//	E-vs-ABCD  non-seizure = A B C D, seizure = E
//	A-vs-E     healthy = A,           seizure = E
func TaskClasses(task string) (classes, sets []string, err error) {
	switch task {
	case "E-vs-ABCD":
		return []string{"non-seizure", "seizure"}, []string{"ABCD", "E"}, nil
	case "A-vs-E":
		return []string{"healthy", "seizure"}, []string{"A", "E"}, nil
	}
	return nil, nil, fmt.Errorf("bonn: %w", &dataset.OptionError{Option: "Task", Value: task, Problem: "want " + strings.Join(Tasks(), " or ")})
}

// Options control Build. An option that cannot be used is reported as a
// *dataset.OptionError naming the field.
type Options struct {
	Task      string            // one of Tasks: "E-vs-ABCD" (seizure vs everything else) or "A-vs-E" (seizure vs healthy, eyes open)
	Length    int               // samples per window (≥ 64, at most the segment length)
	Stride    int               // samples between window starts; 0 = Length (non-overlapping)
	Balance   dataset.Balance   // PerClass (keep as many windows of each class as the smallest has), NoBalance, or EvalOnly (validation and test balanced, training whole)
	Split     dataset.SplitBy   // one of SplitMethods: SplitRecord (whole segments to one split, 70/15/15 of the segments of each class) or SplitRandom (stratified 70/15/15 of the windows)
	Seed      uint64            // for balancing and splitting
	Normalize dataset.Normalize // NormalizeWindow (each window z-scored on its own; the zero value), NormalizeRecording (with the mean and std of its whole band-passed segment) or NormalizeGlobal (of the training split's windows)
	Low       float64           // band-pass low corner in Hz (≥ 0.01)
	High      float64           // band-pass high corner in Hz (below Fs/2)
	Workers   int               // files read at once; 0 = GOMAXPROCS. Does not change the result.
}

// DefaultOptions are seizure (E) against all other sets, 2048-sample
// non-overlapping windows band-passed 1–30 Hz, balanced per class and split
// by segment.
func DefaultOptions() Options {
	return Options{Task: "E-vs-ABCD", Length: 2048, Balance: dataset.PerClass, Split: dataset.SplitRecord, Seed: 1, Low: 1, High: 30}
}

// BalanceMethods lists the values of Options.Balance that Build supports.
func BalanceMethods() []dataset.Balance {
	return []dataset.Balance{dataset.PerClass, dataset.NoBalance, dataset.EvalOnly}
}

// SplitMethods lists the values of Options.Split that Build supports.
func SplitMethods() []dataset.SplitBy {
	return []dataset.SplitBy{dataset.SplitRecord, dataset.SplitRandom}
}

// ErrNoData is wrapped by the error of Build when the source folder cannot
// be read, lacks the folder of a set the task needs, or a set folder holds
// no segment files.
var ErrNoData = errors.New("no Bonn EEG data")

// stride is the effective stride.
func (o Options) stride() int {
	if o.Stride == 0 {
		return o.Length
	}
	return o.Stride
}

func (o Options) validate() (*dsp.Bandpass, error) {
	bad := func(option string, value any, problem string) error {
		return fmt.Errorf("bonn: %w", &dataset.OptionError{Option: option, Value: value, Problem: problem})
	}
	if _, _, err := TaskClasses(o.Task); err != nil {
		return nil, err
	}
	switch {
	case o.Length < 64:
		return nil, bad("Length", o.Length, "must be at least 64")
	case o.Stride < 0:
		return nil, bad("Stride", o.Stride, "must be positive (or 0 for the window length)")
	case !slices.Contains(BalanceMethods(), o.Balance):
		return nil, bad("Balance", o.Balance, "want "+dataset.OrList(BalanceMethods()))
	case !slices.Contains(SplitMethods(), o.Split):
		return nil, bad("Split", o.Split, "want "+dataset.OrList(SplitMethods()))
	case !o.Normalize.Valid():
		return nil, bad("Normalize", o.Normalize, "want "+dataset.OrList(dataset.Normalizes()))
	case !(o.Low >= 0.01):
		// A lower corner has under one period in a 23.6 s segment.
		return nil, bad("Low", o.Low, "must be at least 0.01 Hz")
	}
	bp, err := dsp.NewBandpass(o.Low, o.High, Fs)
	if err != nil {
		return nil, fmt.Errorf("bonn: %w", &dataset.OptionError{Option: "Low", Value: o.Low, With: "High", WithValue: o.High, Err: err})
	}
	return bp, nil
}

func (o Options) settings() map[string]string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return map[string]string{
		"task": o.Task, "length": strconv.Itoa(o.Length), "stride": strconv.Itoa(o.stride()),
		"balance": o.Balance.String(), "split": o.Split.String(), "seed": strconv.FormatUint(o.Seed, 10),
		"low": f(o.Low), "high": f(o.High), "normalize": o.Normalize.String(),
	}
}

// window is one planned window.
type window struct {
	seg   int // index into the segment list
	start int
	label uint8
}

// Build reads the Bonn set folders in src and returns the windowed dataset.
//
// src holds one folder per set; a folder is recognised by its name (case
// does not matter): "A_Z"-style (set letter, underscore, anything), the set
// letter alone ("A".."E"), or the original file letter alone ("Z", "O", "N",
// "F", "S"). Other folders are ignored; only the sets the task needs must be
// present. Within a folder every *.txt file (any case) is a segment; files
// are read in name order, in parallel, and the result does not depend on the
// number of workers.
func Build(ctx context.Context, src string, opt Options) (*dataset.Dataset, error) {
	bp, err := opt.validate()
	if err != nil {
		return nil, err
	}
	classes, members, _ := TaskClasses(opt.Task)
	dirs, err := findSets(src, strings.Join(members, ""))
	if err != nil {
		return nil, err
	}
	var files []segmentFile
	labelOf := map[string]uint8{}
	var notes []string
	for c, m := range members {
		for _, l := range m {
			set := string(l)
			labelOf[set] = uint8(c)
			list, err := listFiles(dirs[set], set)
			if err != nil {
				return nil, err
			}
			files = append(files, list...)
			notes = append(notes, fmt.Sprintf("set %s (%s): %d segments from %s", set, classes[c], len(list), dirs[set]))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	segs, err := readAll(ctx, files, bp, opt.Workers)
	if err != nil {
		return nil, err
	}

	// Plan the windows of every segment.
	length, stride := opt.Length, opt.stride()
	var wins []window
	unused, short, odd := 0, 0, 0
	for i, x := range segs {
		if len(x) != SegmentLength {
			odd++
		}
		n := 0
		for start := 0; start+length <= len(x); start += stride {
			wins = append(wins, window{seg: i, start: start, label: labelOf[files[i].set]})
			n++
		}
		if n == 0 {
			short++
			unused += len(x)
			continue
		}
		unused += len(x) - ((n-1)*min(stride, length) + length) // gaps too when stride > length
	}
	if len(wins) == 0 {
		return nil, fmt.Errorf("bonn: %w", &dataset.OptionError{Option: "Length", Value: length,
			Problem: fmt.Sprintf("no segment in %s is that long", src)})
	}
	labels := make([]uint8, len(wins))
	records := make([]string, len(wins))
	for k, w := range wins {
		labels[k] = w.label
		records[k] = files[w.seg].record
	}
	plan := &dataset.Dataset{Classes: classes, Labels: labels, Records: records, Splits: make([]dataset.Split, len(wins))}
	notes = append(notes, fmt.Sprintf("windows of %d samples every %d: %d windows (per class %v) from %d segments; "+
		"%d segment samples fall outside every window; %d segments are shorter than a window",
		length, stride, len(wins), plan.ClassCounts(), len(segs), unused, short))
	if odd > 0 {
		notes = append(notes, fmt.Sprintf("%d segments do not have the published %d samples", odd, SegmentLength))
	}

	keep := make([]int, len(wins))
	for k := range keep {
		keep[k] = k
	}
	if opt.Balance == dataset.PerClass {
		if keep, err = dataset.BalanceIndices(labels, classes, 0, opt.Seed); err != nil {
			return nil, fmt.Errorf("bonn: %w", &dataset.OptionError{Option: "Balance", Value: opt.Balance, Err: err})
		}
		notes = append(notes, fmt.Sprintf("balanced: kept %d windows of each class, chosen at random", len(keep)/len(classes)))
	}
	plan = plan.Subset(keep)
	if opt.Split == dataset.SplitRecord {
		err = dataset.SplitByRecord(plan, dataset.PaperFractions(), opt.Seed)
		notes = append(notes, "split by segment: 70/15/15 of the segments of each class, all windows of a segment in one split")
	} else {
		err = dataset.SplitStratified(plan, dataset.PaperFractions(), opt.Seed)
		notes = append(notes, "split at random: 70/15/15 of the windows of each class; windows of one segment "+
			"(correlated) can fall in different splits")
	}
	if err != nil {
		return nil, fmt.Errorf("bonn: %w", err)
	}
	if opt.Balance == dataset.EvalOnly {
		// Split first, then balance the validation and test windows: every
		// training window stays, and no window changes split.
		idx, perClass, err := plan.BalanceEval(opt.Seed)
		if err != nil {
			return nil, fmt.Errorf("bonn: %w", err)
		}
		plan = plan.Subset(idx)
		for j, i := range idx {
			idx[j] = keep[i]
		}
		keep = idx
		notes = append(notes, fmt.Sprintf("balanced: the val split %d and the test split %d windows of each class, "+
			"chosen at random; the training split keeps every window (train with --class-balance sampler or weights)",
			perClass[0], perClass[1]))
	}
	notes = append(notes, fmt.Sprintf("each whole segment band-passed %g-%g Hz (zero-phase Butterworth, fs %g Hz) "+
		"before windowing", opt.Low, opt.High, Fs))

	ds := dataset.New(classes, 1, length)
	ds.Labels = plan.Labels
	ds.Splits = plan.Splits
	ds.Records = plan.Records
	ds.X = make([]float32, len(keep)*length)
	note, err := normalize(ds, keep, wins, segs, opt)
	if err != nil {
		return nil, err
	}
	ds.Source = dataset.Source{Kind: "bonn", Settings: opt.settings(), Attribution: Attribution, Notes: append(notes, note)}
	return ds, ds.Validate()
}

// normalize fills ds.X with the kept windows, scaled as opt.Normalize says,
// and returns a note saying how.
func normalize(ds *dataset.Dataset, keep []int, wins []window, segs [][]float64, opt Options) (string, error) {
	length := opt.Length
	var moments []dataset.Moments // of each segment, for NormalizeRecording
	if opt.Normalize == dataset.NormalizeRecording {
		moments = make([]dataset.Moments, len(segs))
		for i, x := range segs {
			moments[i].Mean, moments[i].Std = dsp.MeanStd(x)
		}
	}
	for k, i := range keep {
		w := wins[i]
		x, dst := segs[w.seg][w.start:w.start+length], ds.X[k*length:(k+1)*length]
		switch opt.Normalize {
		case dataset.NormalizeWindow:
			dsp.ZScore(dst, x)
		case dataset.NormalizeRecording:
			dsp.Scale(dst, x, moments[w.seg].Mean, moments[w.seg].Std)
		default: // NormalizeGlobal: raw values now, scaled below
			for j, v := range x {
				dst[j] = float32(v)
			}
		}
	}
	switch opt.Normalize {
	case dataset.NormalizeWindow:
		return "each window z-scored with its own mean and standard deviation (normalize window)", nil
	case dataset.NormalizeRecording:
		return "each window z-scored with the mean and standard deviation of its whole band-passed segment " +
			"(normalize recording)", nil
	}
	m, err := dataset.TrainMoments(ds, 1)
	if err == nil {
		err = dataset.Standardize(ds, m)
	}
	if err != nil {
		return "", fmt.Errorf("bonn: normalising: %w", err)
	}
	return fmt.Sprintf("every window z-scored with the mean %.6g and standard deviation %.6g of the training split's "+
		"windows (normalize global; validation and test values not used)", m[0].Mean, m[0].Std), nil
}

// readAll reads and band-passes every file with at most workers at once.
// On failure it returns the error of the first failing file in list order,
// so the error does not depend on scheduling either.
func readAll(ctx context.Context, files []segmentFile, bp *dsp.Bandpass, workers int) ([][]float64, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	segs := make([][]float64, len(files))
	errs := make([]error, len(files))
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i, f := range files {
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			x, err := ReadFile(f.path)
			if err != nil {
				errs[i] = err
				return
			}
			segs[i] = bp.Apply(x)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return segs, nil
}
