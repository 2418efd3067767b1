// Package chbmit turns the CHB-MIT Scalp EEG Database (PhysioNet) into a
// seizure / non-seizure window dataset.
//
// The database has one folder per patient, chbNN/, holding chbNN-summary.txt
// (which lists every EDF file and its seizures) and the recordings
// chbNN_MM.edf: 23-odd bipolar channels at 256 Hz, mostly one hour each.
// Build band-passes the chosen channels of each recording, cuts fixed
// windows, labels a window "seizure" when it lies inside an annotated seizure
// and "non-seizure" when it touches none (windows across a boundary are
// dropped), normalises each channel's window (by default a z-score of the
// window itself; see Options.Normalize) and concatenates the channels into
// one sample.
//
// The database is about 1000 hours and non-seizure windows outnumber seizure
// ones by hundreds to one, so Build plans first: the summaries and the EDF
// headers give every window and its class without reading a signal; the
// plan is balanced and split; then only the recordings that contribute a
// window are read, and only the chosen channels.
package chbmit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/dsp"
	"github.com/splitnas/splitnas/dataset/edf"
)

// Rate is the sampling rate of every CHB-MIT recording, in Hz.
const Rate = 256

// Classes are the class names in label order.
func Classes() []string { return []string{"non-seizure", "seizure"} }

const (
	nonSeizure uint8 = 0
	seizure    uint8 = 1
)

// Attribution is the licence and citation of the source data.
const Attribution = "CHB-MIT Scalp EEG Database v1.0.0 (Guttag J, PhysioNet 2010, doi:10.13026/C2K01R; " +
	"Shoeb AH, Application of Machine Learning to Epileptic Seizure Onset Detection and Treatment, PhD thesis, MIT, 2009), " +
	"from PhysioNet (Goldberger AL et al., Circulation 101(23):e215-e220, 2000), " +
	"Open Data Commons Attribution License v1.0 (ODC-By 1.0)."

// Options control Build. An option that cannot be used is reported as a
// *dataset.OptionError naming the field.
type Options struct {
	Channels  []string          // EEG channels, concatenated in this order in each sample (labels match case-insensitively)
	Window    float64           // seconds per window
	Stride    float64           // seconds between window starts; 0 = Window (no overlap)
	Length    int               // values per sample, all channels together (≥ 64, a multiple of the channel count); each channel's window is resampled to Length/len(Channels) unless it already has that many samples
	Exclude   []int             // patient numbers to leave out (chb06, chb14 and chb16 by default)
	Patients  []int             // patient numbers to use; empty = every chbNN folder in src
	Balance   dataset.Balance   // PerClass (same count per class, seeded) or NoBalance
	PerClass  int               // windows kept per class when balancing; 0 = the smallest class
	Split     dataset.SplitBy   // one of SplitMethods: SplitRandom (stratified 70/15/15) or SplitPatient (whole patients to one split)
	Seed      uint64            // for balancing and splitting
	Normalize dataset.Normalize // how each channel's window is scaled: NormalizeWindow (z-scored on its own; the zero value), NormalizeRecording (with the mean and std of that channel over its whole band-passed recording) or NormalizeGlobal (of that channel over the training split's windows)
	Low       float64           // band-pass low cut-off, Hz
	High      float64           // band-pass high cut-off, Hz
	Workers   int               // recordings read at once; 0 = min(4, number of CPUs), as each may hold 100 MB of a 4-hour file
	// Logger receives a warning, as it happens, for each recording or
	// summary line that is skipped; nil discards them. The dataset's
	// Source.Notes record the same facts.
	Logger *slog.Logger
}

// DefaultOptions are the paper's settings: 4 s windows of F7-T7 and F8-T8
// (1024 samples each, 2048 per sample), 1–30 Hz band-pass, patients 6, 14
// and 16 left out, balanced per class and split 70/15/15 at random.
func DefaultOptions() Options {
	return Options{
		Channels: []string{"F7-T7", "F8-T8"}, Window: 4, Length: 2048, Exclude: []int{6, 14, 16},
		Balance: dataset.PerClass, Split: dataset.SplitRandom, Seed: 1, Low: 1, High: 30,
	}
}

// BalanceMethods lists the values of Options.Balance that Build supports.
func BalanceMethods() []dataset.Balance {
	return []dataset.Balance{dataset.PerClass, dataset.NoBalance}
}

// SplitMethods lists the values of Options.Split that Build supports.
func SplitMethods() []dataset.SplitBy {
	return []dataset.SplitBy{dataset.SplitRandom, dataset.SplitPatient}
}

// ErrNoPatients is wrapped by the error of Build when the source folder
// cannot be read or holds no patient folder (chb01 … chb24) to use.
var ErrNoPatients = errors.New("no CHB-MIT patient folders")

// ErrNoSignals is wrapped by the error of Build when none of the EDF files
// the patient summaries list is present (a download of the annotations
// alone).
var ErrNoSignals = errors.New("no CHB-MIT .edf signal files found")

// logger returns the logger for warnings: Options.Logger or one that
// discards.
func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// samples converts seconds to a whole number of samples at 256 Hz; ok is
// false when sec is not one.
func samples(sec float64) (n int, ok bool) {
	x := sec * Rate
	r := math.Round(x)
	return int(r), math.Abs(x-r) < 1e-6 && r >= 1 && r <= math.MaxInt32
}

func (o Options) stride() float64 {
	if o.Stride == 0 {
		return o.Window
	}
	return o.Stride
}

// optionError returns a *dataset.OptionError with the package prefix.
func optionError(option string, value any, problem string) error {
	return fmt.Errorf("chbmit: %w", &dataset.OptionError{Option: option, Value: value, Problem: problem})
}

func (o Options) validate() error {
	if len(o.Channels) == 0 {
		return optionError("Channels", o.Channels, "name at least one channel")
	}
	for i, c := range o.Channels {
		if strings.TrimSpace(c) == "" {
			return optionError("Channels", o.Channels, fmt.Sprintf("channel %d is empty", i+1))
		}
		for _, d := range o.Channels[:i] {
			if strings.EqualFold(c, d) {
				return optionError("Channels", o.Channels, c+" is named twice")
			}
		}
	}
	if n, ok := samples(o.Window); !ok || n < 2 {
		return optionError("Window", o.Window, fmt.Sprintf("want a positive whole number of samples at %d Hz (a multiple of 1/%d s)", Rate, Rate))
	}
	if _, ok := samples(o.stride()); !ok || o.Stride < 0 {
		return optionError("Stride", o.Stride, fmt.Sprintf("want 0 (the window) or a positive whole number of samples at %d Hz", Rate))
	}
	switch {
	case o.Length < 64:
		return optionError("Length", o.Length, "must be at least 64")
	case o.Length%len(o.Channels) != 0:
		return optionError("Length", o.Length, fmt.Sprintf("must be a multiple of the %d channels", len(o.Channels)))
	case !slices.Contains(BalanceMethods(), o.Balance):
		return optionError("Balance", o.Balance, "want "+dataset.OrList(BalanceMethods()))
	case o.PerClass < 0:
		return optionError("PerClass", o.PerClass, "must not be negative")
	case o.PerClass > 0 && o.Balance != dataset.PerClass:
		return fmt.Errorf("chbmit: %w", &dataset.OptionError{Option: "PerClass", Value: o.PerClass, With: "Balance", WithValue: o.Balance,
			Problem: "a count per class needs per-class balancing"})
	case !slices.Contains(SplitMethods(), o.Split):
		return optionError("Split", o.Split, "want "+dataset.OrList(SplitMethods()))
	case !o.Normalize.Valid():
		return optionError("Normalize", o.Normalize, "want "+dataset.OrList(dataset.Normalizes()))
	}
	for _, p := range o.Exclude {
		if p < 1 || p > 99 {
			return optionError("Exclude", p, "want a patient number from 1 to 99 (as in chb01 … chb24)")
		}
	}
	for _, p := range o.Patients {
		if p < 1 || p > 99 {
			return optionError("Patients", p, "want a patient number from 1 to 99 (as in chb01 … chb24)")
		}
		if slices.Contains(o.Exclude, p) {
			return fmt.Errorf("chbmit: %w", &dataset.OptionError{Option: "Patients", Value: p, With: "Exclude", WithValue: o.Exclude,
				Problem: fmt.Sprintf("patient %d is both used and excluded", p)})
		}
	}
	if _, err := dsp.NewBandpass(o.Low, o.High, Rate); err != nil {
		return fmt.Errorf("chbmit: %w", &dataset.OptionError{Option: "Low", Value: o.Low, With: "High", WithValue: o.High, Err: err})
	}
	return nil
}

func (o Options) settings() map[string]string {
	ints := func(v []int) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = strconv.Itoa(x)
		}
		return strings.Join(s, ",")
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	return map[string]string{
		"channels": strings.Join(o.Channels, ","), "window": f(o.Window), "stride": f(o.stride()),
		"length": strconv.Itoa(o.Length), "exclude": ints(o.Exclude), "patients": ints(o.Patients),
		"balance": o.Balance.String(), "per-class": strconv.Itoa(o.PerClass), "split": o.Split.String(),
		"seed": strconv.FormatUint(o.Seed, 10), "low": f(o.Low), "high": f(o.High), "normalize": o.Normalize.String(),
	}
}

// recording is a summary-listed EDF file that is present, as planned.
type recording struct {
	patient string // "chb01"
	path    string
	signals []int // indices of the chosen channels in the file
}

// window is one planned window.
type window struct {
	rec   int32 // index into the recordings
	start int32 // first sample
	label uint8
}

// missingFiles are the summary-listed EDF files absent from one folder.
type missingFiles struct {
	dir   string
	files []string
}

// plan is what the summaries and EDF headers give, before any signal is read.
type plan struct {
	recs      []recording
	windows   []window
	patients  []string // used, in order
	excluded  []string // found under src but left out
	missing   []string // summary-listed EDF files that are absent
	missingBy []missingFiles
	unlisted  int      // .edf files no summary lists
	noChannel []error  // recordings skipped because they lack a chosen channel
	straddle  int      // windows dropped across a seizure boundary
	summaries []string // summary paths read
	unknown   []string // summary lines not understood, as "path: line N: text"
	late      []string // seizures that start after the end of their recording, as "file at N s"
	log       *slog.Logger
}

// Build reads the CHB-MIT database under src (folders chbNN/ holding
// chbNN-summary.txt and the .edf files) and returns the window dataset:
// Channels 1, Length opt.Length (the chosen channels' z-scored windows one
// after the other), classes Classes(), Records the patient ids ("chb01").
func Build(ctx context.Context, src string, opt Options) (*dataset.Dataset, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	p, err := makePlan(ctx, src, opt)
	if err != nil {
		return nil, err
	}
	keep, splits, err := choose(p, opt)
	if err != nil {
		return nil, err
	}
	ds := dataset.New(Classes(), 1, opt.Length)
	notes := p.notes(opt, len(keep))
	if opt.Split == dataset.SplitPatient {
		notes = append(notes, patientSplitNote(p, keep, splits))
	}
	ds.Source = dataset.Source{Kind: "chbmit", Settings: opt.settings(), Attribution: Attribution, Notes: notes}
	if err := cut(ctx, ds, p, keep, splits, opt); err != nil {
		return nil, err
	}
	note, err := normalizeGlobal(ds, opt)
	if err != nil {
		return nil, err
	}
	ds.Source.Notes = append(ds.Source.Notes, note)
	return ds, ds.Validate()
}

// patientDirs returns the chbNN folders of src to use, sorted by number, and
// the names of those left out by Options.Exclude.
func patientDirs(src string, opt Options) (use, excluded []string, err error) {
	entries, err := os.ReadDir(src)
	if err != nil {
		return nil, nil, fmt.Errorf("chbmit: %w: %w", ErrNoPatients, err)
	}
	found := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		num, ok := strings.CutPrefix(name, "chb")
		n, err := strconv.Atoi(num)
		if !e.IsDir() || !ok || err != nil || len(num) != 2 {
			continue
		}
		found[n] = name
	}
	for _, n := range opt.Patients {
		if _, ok := found[n]; !ok {
			return nil, nil, optionError("Patients", n, fmt.Sprintf("no folder chb%02d in %s", n, src))
		}
	}
	nums := make([]int, 0, len(found))
	for n := range found {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	for _, n := range nums {
		switch {
		case slices.Contains(opt.Exclude, n):
			excluded = append(excluded, found[n])
		case len(opt.Patients) == 0 || slices.Contains(opt.Patients, n):
			use = append(use, found[n])
		}
	}
	if len(use) == 0 {
		return nil, nil, fmt.Errorf("chbmit: %w (chb01 … chb24) to use in %s (found %d, excluded %v)", ErrNoPatients, src, len(found), excluded)
	}
	return use, excluded, nil
}

// makePlan reads every summary and the header of every listed EDF file and
// lists the windows.
func makePlan(ctx context.Context, src string, opt Options) (*plan, error) {
	use, excluded, err := patientDirs(src, opt)
	if err != nil {
		return nil, err
	}
	p := &plan{excluded: excluded, log: opt.logger()}
	listed := 0
	for _, patient := range use {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dir := filepath.Join(src, patient)
		sumPath := filepath.Join(dir, patient+"-summary.txt")
		sum, err := readSummary(sumPath)
		if err != nil {
			return nil, err
		}
		for _, u := range sum.Unknown {
			p.log.Warn("chbmit: summary line not understood; ignored", "file", sumPath, "line", u)
			p.unknown = append(p.unknown, sumPath+": "+u)
		}
		p.summaries = append(p.summaries, sumPath)
		names := map[string]bool{}
		var missing []string
		for _, r := range sum.Recordings {
			listed++
			names[r.Name] = true
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			path := filepath.Join(dir, r.Name)
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				missing = append(missing, r.Name)
				continue
			}
			err := p.addRecording(patient, path, r.Seizures, opt)
			var nc *noChannelError
			switch {
			case errors.As(err, &nc):
				// The montage changes within some patients (chb12 has files
				// without bipolar labels): skip such files, but fail below if
				// no file has the channels (then Options.Channels is wrong).
				p.log.Warn("chbmit: recording lacks a chosen channel; skipped", "file", path, "channel", nc.channel)
				p.noChannel = append(p.noChannel, err)
			case err != nil:
				return nil, err
			}
		}
		if len(missing) > 0 {
			p.missingBy = append(p.missingBy, missingFiles{dir, missing})
			p.missing = append(p.missing, missing...)
		}
		if len(missing) < len(sum.Recordings) {
			p.patients = append(p.patients, patient)
		}
		edfs, _ := filepath.Glob(filepath.Join(dir, "*.edf"))
		for _, e := range edfs {
			if !names[filepath.Base(e)] {
				p.unlisted++
			}
		}
	}
	if len(p.recs) == 0 && len(p.noChannel) > 0 {
		return nil, p.noChannel[0]
	}
	if len(p.recs) == 0 {
		example := filepath.Join(src, use[0], "<file>.edf")
		if len(p.missingBy) > 0 {
			example = filepath.Join(p.missingBy[0].dir, p.missingBy[0].files[0])
		}
		sums := make([]string, len(p.summaries))
		for i, s := range p.summaries {
			sums[i] = filepath.Base(s)
		}
		if len(sums) > 3 {
			sums = append(sums[:3], "…")
		}
		return nil, fmt.Errorf("chbmit: %w under %s: looked for the %d EDF files listed in %s (e.g. %s) and none is there. "+
			"The .edf signal files are needed, not only the annotations: download them from https://physionet.org/content/chbmit/1.0.0/ into %s/chbNN/",
			ErrNoSignals, src, listed, strings.Join(sums, ", "), example, src)
	}
	for _, m := range p.missingBy {
		p.log.Warn("chbmit: summary-listed EDF files are missing; skipped", "dir", m.dir, "missing", len(m.files), "files", m.files)
	}
	return p, nil
}

// readSummary parses the summary at path and checks its sampling rate.
func readSummary(path string) (*Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("chbmit: patient summary: %w", err)
	}
	defer f.Close()
	sum, err := ParseSummary(f, path)
	if err != nil {
		return nil, err
	}
	if sum.SamplingRate != 0 && sum.SamplingRate != Rate {
		return nil, fmt.Errorf("chbmit: %s: data sampling rate %g Hz; CHB-MIT is %d Hz", path, sum.SamplingRate, Rate)
	}
	return sum, nil
}

// addRecording reads the header of the EDF file at path, finds the chosen
// channels and lists its windows.
func (p *plan) addRecording(patient, path string, seizures []Interval, opt Options) error {
	f, err := edf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if f.Discontinuous() {
		return fmt.Errorf("chbmit: %s: discontinuous EDF+ (EDF+D) recordings are not supported", path)
	}
	rec := recording{patient: patient, path: path}
	n := -1
	for _, c := range opt.Channels {
		i := channelIndex(&f.Header, c)
		if i < 0 {
			return &noChannelError{path: path, channel: c, labels: f.Labels()}
		}
		s := f.Signals[i]
		if r := s.Rate(f.RecordDuration); math.Abs(r-Rate) > 1e-9 {
			return fmt.Errorf("chbmit: %s: channel %s is sampled at %g Hz; CHB-MIT data is %d Hz", path, s.Label, r, Rate)
		}
		rec.signals = append(rec.signals, i)
		n = f.NumRecords * s.SamplesPerRecord
	}
	duration := float64(n) / Rate
	for _, z := range seizures {
		if z.Start >= duration {
			p.log.Warn("chbmit: seizure starts after the end of its recording; ignored", "file", path, "start", z.Start, "seconds", duration)
			p.late = append(p.late, fmt.Sprintf("%s at %g s (the recording lasts %g s)", filepath.Base(path), z.Start, duration))
		}
	}
	win, _ := samples(opt.Window)
	step, _ := samples(opt.stride())
	idx := int32(len(p.recs))
	for s := 0; s+win <= n; s += step {
		t0, t1 := float64(s)/Rate, float64(s+win)/Rate
		inside, across := false, false
		for _, z := range seizures {
			switch {
			case t1 <= z.Start || t0 >= z.End: // no overlap
			case t0 >= z.Start && t1 <= z.End:
				inside = true
			default:
				across = true
			}
		}
		switch {
		case across:
			p.straddle++
		case inside:
			p.windows = append(p.windows, window{idx, int32(s), seizure})
		default:
			p.windows = append(p.windows, window{idx, int32(s), nonSeizure})
		}
	}
	p.recs = append(p.recs, rec)
	return nil
}

// noChannelError says a recording lacks one of the chosen channels.
type noChannelError struct {
	path, channel string
	labels        []string
}

func (e *noChannelError) Error() string {
	return fmt.Sprintf("chbmit: %s: no channel %q; the file has %s", e.path, e.channel, strings.Join(e.labels, ", "))
}

// channelIndex finds the ordinary signal labelled c, exactly or else
// ignoring case; the first of duplicates wins.
func channelIndex(h *edf.Header, c string) int {
	if i := h.Index(c); i >= 0 {
		return i
	}
	for i, s := range h.Signals {
		if !s.IsAnnotation() && strings.EqualFold(s.Label, c) {
			return i
		}
	}
	return -1
}

// choose balances the planned windows and assigns their splits. It returns
// the indices of the kept windows in plan order and their splits.
func choose(p *plan, opt Options) (keep []int, splits []dataset.Split, err error) {
	labels := make([]uint8, len(p.windows))
	records := make([]string, len(p.windows))
	for i, w := range p.windows {
		labels[i] = w.label
		records[i] = p.recs[w.rec].patient
	}
	if opt.Balance == dataset.PerClass {
		if keep, err = dataset.BalanceIndices(labels, Classes(), opt.PerClass, opt.Seed); err != nil {
			return nil, nil, fmt.Errorf("chbmit: balancing the windows of %s: %w", strings.Join(p.patients, ", "), err)
		}
	} else {
		keep = make([]int, len(p.windows))
		for i := range keep {
			keep[i] = i
		}
	}
	if len(keep) == 0 {
		return nil, nil, optionError("Window", opt.Window, "no window that long fits in the recordings of "+strings.Join(p.patients, ", "))
	}
	// A dataset of labels and records alone lets the package dataset split
	// logic run before any window is cut.
	sub := &dataset.Dataset{Classes: Classes(), Labels: make([]uint8, len(keep)), Records: make([]string, len(keep)), Splits: make([]dataset.Split, len(keep))}
	for j, i := range keep {
		sub.Labels[j], sub.Records[j] = labels[i], records[i]
	}
	if opt.Split == dataset.SplitPatient {
		err = dataset.SplitByRecord(sub, dataset.PaperFractions(), opt.Seed)
	} else {
		err = dataset.SplitStratified(sub, dataset.PaperFractions(), opt.Seed)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("chbmit: %w", err)
	}
	return keep, sub.Splits, nil
}

// notes describes how the dataset was made.
func (p *plan) notes(opt Options, kept int) []string {
	var counts [2]int
	for _, w := range p.windows {
		counts[w.label]++
	}
	notes := []string{
		fmt.Sprintf("%d recordings of %d patients (%s); %g s windows every %g s of %s, band-passed %g–%g Hz",
			len(p.recs), len(p.patients), strings.Join(p.patients, ", "), opt.Window, opt.stride(),
			strings.Join(opt.Channels, " + "), opt.Low, opt.High),
		fmt.Sprintf("planned windows: %d non-seizure, %d seizure; %d kept (balance %s)", counts[0], counts[1], kept, opt.Balance),
		fmt.Sprintf("%d windows dropped because they straddle a seizure boundary", p.straddle),
	}
	if len(p.excluded) > 0 {
		notes = append(notes, "patients excluded: "+strings.Join(p.excluded, ", "))
	}
	if len(p.missing) > 0 {
		notes = append(notes, fmt.Sprintf("%d summary-listed EDF files missing, skipped: %s", len(p.missing), shortList(p.missing)))
	}
	if len(p.noChannel) > 0 {
		notes = append(notes, fmt.Sprintf("%d recordings skipped because they lack a chosen channel, e.g. %v", len(p.noChannel), p.noChannel[0]))
	}
	if p.unlisted > 0 {
		notes = append(notes, fmt.Sprintf("%d .edf files not listed in their patient's summary were ignored", p.unlisted))
	}
	if len(p.late) > 0 {
		notes = append(notes, fmt.Sprintf("%d seizures start after the end of their recording, ignored: %s", len(p.late), shortList(p.late)))
	}
	if len(p.unknown) > 0 {
		notes = append(notes, fmt.Sprintf("%d summary lines not understood, ignored: %s", len(p.unknown), shortList(p.unknown)))
	}
	return notes
}

// shortList joins the first ten items of list for a note.
func shortList(list []string) string {
	const show = 10
	s := strings.Join(list[:min(show, len(list))], ", ")
	if len(list) > show {
		s += ", …"
	}
	return s
}

// patientSplitNote says which patients went to which split.
func patientSplitNote(p *plan, keep []int, splits []dataset.Split) string {
	var in [3][]string
	for j, i := range keep {
		s, pt := splits[j], p.recs[p.windows[i].rec].patient
		if !slices.Contains(in[s], pt) {
			in[s] = append(in[s], pt)
		}
	}
	var parts []string
	for _, s := range dataset.Splits() {
		list := strings.Join(in[s], ", ")
		if list == "" {
			list = "none"
		}
		parts = append(parts, s.String()+": "+list)
	}
	return "patients per split: " + strings.Join(parts, "; ")
}

// cut reads the recordings that hold kept windows and fills ds.
func cut(ctx context.Context, ds *dataset.Dataset, p *plan, keep []int, splits []dataset.Split, opt Options) error {
	n := len(keep)
	ds.X = make([]float32, n*opt.Length)
	ds.Labels = make([]uint8, n)
	ds.Splits = splits
	ds.Records = make([]string, n)
	byRec := make([][]int, len(p.recs)) // positions in keep, per recording
	for k, i := range keep {
		r := p.windows[i].rec
		byRec[r] = append(byRec[r], k)
	}
	bp, err := dsp.NewBandpass(opt.Low, opt.High, Rate)
	if err != nil {
		return fmt.Errorf("chbmit: %w", err)
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = min(4, runtime.GOMAXPROCS(0))
	}
	win, _ := samples(opt.Window)
	per := opt.Length / len(opt.Channels)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for r, ks := range byRec {
		if len(ks) == 0 {
			continue
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			rec := p.recs[r]
			f, err := edf.Open(rec.path)
			if err != nil {
				return err
			}
			sig, err := f.Read(rec.signals...)
			f.Close()
			if err != nil {
				return err
			}
			moments := make([]dataset.Moments, len(sig)) // of each whole channel, for NormalizeRecording
			for c := range sig {
				sig[c] = bp.Apply(sig[c])
				if opt.Normalize == dataset.NormalizeRecording {
					moments[c].Mean, moments[c].Std = dsp.MeanStd(sig[c])
				}
			}
			for _, k := range ks {
				w := p.windows[keep[k]]
				x := ds.X[k*opt.Length : (k+1)*opt.Length]
				for c, s := range sig {
					seg := s[w.start : int(w.start)+win]
					if per != win {
						seg = dsp.Resample(seg, per)
					}
					dst := x[c*per : (c+1)*per]
					switch opt.Normalize {
					case dataset.NormalizeWindow:
						dsp.ZScore(dst, seg)
					case dataset.NormalizeRecording:
						dsp.Scale(dst, seg, moments[c].Mean, moments[c].Std)
					default: // NormalizeGlobal: raw values, scaled by normalizeGlobal
						for j, v := range seg {
							dst[j] = float32(v)
						}
					}
				}
				ds.Labels[k] = w.label
				ds.Records[k] = rec.patient
			}
			return nil
		})
	}
	return g.Wait()
}

// normalizeGlobal scales the windows of ds with the moments of each
// channel over the training split when opt.Normalize is NormalizeGlobal
// (cut left them raw), and returns a note saying how the windows were
// normalised.
func normalizeGlobal(ds *dataset.Dataset, opt Options) (string, error) {
	switch opt.Normalize {
	case dataset.NormalizeWindow:
		return "each channel's window z-scored with its own mean and standard deviation (normalize window)", nil
	case dataset.NormalizeRecording:
		return "each channel's window z-scored with the mean and standard deviation of that channel over its whole " +
			"band-passed recording (normalize recording)", nil
	}
	m, err := dataset.TrainMoments(ds, len(opt.Channels))
	if err == nil {
		err = dataset.Standardize(ds, m)
	}
	if err != nil {
		return "", fmt.Errorf("chbmit: normalising: %w", err)
	}
	parts := make([]string, len(m))
	for c, mc := range m {
		parts[c] = fmt.Sprintf("%s mean %.6g std %.6g", opt.Channels[c], mc.Mean, mc.Std)
	}
	return "each channel's window z-scored with that channel's mean and standard deviation over the training split's " +
		"windows (normalize global; validation and test values not used): " + strings.Join(parts, ", "), nil
}
