// Package mitbih turns the MIT-BIH Arrhythmia Database into a beat dataset:
// every annotated beat is mapped to its AAMI EC57 class, a window around its R
// peak is cut from one lead, resampled to a fixed length and z-scored
// (optionally followed by RR-interval channels, see Options.RR); then the
// classes are balanced and the beats split into train, validation and test
// sets, at random (as Huang et al.) or inter-patient (de Chazal et al.).
package mitbih

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/splitnas/splitnas/dataset/wfdb"
)

// Classes are the five AAMI EC57 heartbeat classes, in label order.
func Classes() []string { return []string{"N", "S", "V", "F", "Q"} }

// AAMIClass maps a MIT annotation mnemonic to its AAMI class index:
// N: N L R e j · S: A a J S · V: V E · F: F · Q: / f Q.
// ok is false for non-beat annotations (rhythm changes, noise, comments).
func AAMIClass(symbol string) (class int, ok bool) {
	switch symbol {
	case "N", "L", "R", "e", "j":
		return 0, true
	case "A", "a", "J", "S":
		return 1, true
	case "V", "E":
		return 2, true
	case "F":
		return 3, true
	case "/", "f", "Q":
		return 4, true
	}
	return 0, false
}

// The de Chazal et al. (2004) inter-patient division of the 44 non-paced
// records; the four paced records are left out, as AAMI recommends.
var (
	ds1 = []string{"101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122",
		"124", "201", "203", "205", "207", "208", "209", "215", "220", "223", "230"}
	ds2 = []string{"100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210",
		"212", "213", "214", "219", "221", "222", "228", "231", "232", "233", "234"}
	paced = []string{"102", "104", "107", "217"}
)

// DS1 returns de Chazal's training records; DS2 his test records; Paced the
// records with a pacemaker.
func DS1() []string   { return slices.Clone(ds1) }
func DS2() []string   { return slices.Clone(ds2) }
func Paced() []string { return slices.Clone(paced) }

// Attribution is the licence and citation of the source data.
const Attribution = "MIT-BIH Arrhythmia Database (Moody GB, Mark RG, IEEE EMB Mag 20(3):45-50, 2001), " +
	"from PhysioNet (Goldberger AL et al., Circulation 101(23):e215-e220, 2000), " +
	"doi:10.13026/C2F305, Open Data Commons Attribution License v1.0 (ODC-By 1.0)."

// Options control Build. An option that cannot be used is reported as a
// *dataset.OptionError naming the field.
type Options struct {
	Length   int             // samples per window after resampling (≥ 64)
	Before   float64         // seconds of signal before the R peak (≥ 0)
	After    float64         // seconds of signal after the R peak (> 0; Before + After at most 10)
	Lead     string          // signal to use; records without it use their first signal
	Balance  dataset.Balance // PerClass (same count per class), NoBalance, or EvalOnly (random split: validation and test balanced, training whole)
	PerClass int             // samples kept per class when balancing; 0 = the smallest class
	Split    dataset.SplitBy // one of SplitMethods: SplitRandom (stratified 70/15/15) or SplitInterPatient (DS1 → train and, as whole records, val; DS2 → test)
	Seed     uint64          // for balancing and splitting
	Classes  []string        // AAMI classes to keep, e.g. N,S,V,F; empty = all five
	Records  []string        // records to use; empty = every record listed in src/RECORDS
	Workers  int             // records read at once; 0 = GOMAXPROCS
	RR       bool            // add the RR channels (RRChannels) after the ECG window; beats without a previous and a next beat are dropped
	// RRRelative (with RR) gives pre-rr and post-rr as fractions of
	// local-rr: how premature or late the beat is against the patient's
	// own recent rhythm, the cue of S beats (Chazal et al. 2004 and later
	// inter-patient work normalise RR features so); local-rr stays in
	// seconds.
	RRRelative bool
}

// LocalRRBeats is the number of RR intervals the local mean RR channel
// averages: those ending at the beat (its previous RR and the ones before).
const LocalRRBeats = 10

// RRChannels names the channels Options.RR adds after the ECG window, in
// order. Each is constant over the window and holds seconds, computed from
// the annotated R-peak times of every beat of the record (of any class, kept
// or not):
//
//	pre-rr    time from the previous beat's R peak to this one's
//	post-rr   time from this R peak to the next beat's (known one beat later)
//	local-rr  mean of the LocalRRBeats RR intervals ending at this beat
//	          (pre-rr and the ones before it; fewer at a record's start)
//
// With relative (Options.RRRelative) the first two are divided by
// local-rr (no unit): "pre-rr/local-rr", "post-rr/local-rr".
func RRChannels(relative bool) []string {
	if relative {
		return []string{"pre-rr/local-rr", "post-rr/local-rr", "local-rr"}
	}
	return []string{"pre-rr", "post-rr", "local-rr"}
}

// DefaultOptions are the paper's settings: 2,048-sample windows of lead
// MLII, balanced per class, split 70/15/15 at random.
func DefaultOptions() Options {
	return Options{Length: 2048, Before: 1.0, After: 1.0, Lead: "MLII", Balance: dataset.PerClass, Split: dataset.SplitRandom, Seed: 1}
}

// BalanceMethods lists the values of Options.Balance that Build supports.
func BalanceMethods() []dataset.Balance {
	return []dataset.Balance{dataset.PerClass, dataset.NoBalance, dataset.EvalOnly}
}

// SplitMethods lists the values of Options.Split that Build supports.
func SplitMethods() []dataset.SplitBy {
	return []dataset.SplitBy{dataset.SplitRandom, dataset.SplitInterPatient}
}

// ErrNoRecords is wrapped by the error of Build when the source folder has
// no record list (RECORDS) or the list names no record: the folder is not
// the MIT-BIH Arrhythmia Database.
var ErrNoRecords = errors.New("no MIT-BIH record list")

func (o Options) validate() error {
	bad := func(option string, value any, problem string) error {
		return fmt.Errorf("mitbih: %w", &dataset.OptionError{Option: option, Value: value, Problem: problem})
	}
	switch {
	case o.Length < 64:
		return bad("Length", o.Length, "must be at least 64")
	case !(o.Before >= 0) || math.IsInf(o.Before, 0):
		return bad("Before", o.Before, "must be a number of seconds ≥ 0")
	case !(o.After > 0) || math.IsInf(o.After, 0):
		return bad("After", o.After, "must be a positive number of seconds")
	case o.Before+o.After > 10:
		return fmt.Errorf("mitbih: %w", &dataset.OptionError{Option: "Before", Value: o.Before, With: "After", WithValue: o.After,
			Problem: "the window is longer than 10 s"})
	case !slices.Contains(BalanceMethods(), o.Balance):
		return bad("Balance", o.Balance, "want "+dataset.OrList(BalanceMethods()))
	case o.Balance == dataset.EvalOnly && o.Split != dataset.SplitRandom:
		return fmt.Errorf("mitbih: %w", &dataset.OptionError{Option: "Balance", Value: o.Balance, With: "Split", WithValue: o.Split,
			Problem: "balancing only validation and test needs the random split (the inter-patient protocol scores DS2 whole)"})
	case !slices.Contains(SplitMethods(), o.Split):
		return bad("Split", o.Split, "want "+dataset.OrList(SplitMethods()))
	case o.PerClass < 0:
		return bad("PerClass", o.PerClass, "must not be negative")
	case o.RRRelative && !o.RR:
		return fmt.Errorf("mitbih: %w", &dataset.OptionError{Option: "RRRelative", Value: o.RRRelative, With: "RR", WithValue: o.RR,
			Problem: "relative RR intervals need the RR channels"})
	case o.PerClass > 0 && o.Balance != dataset.PerClass:
		return fmt.Errorf("mitbih: %w", &dataset.OptionError{Option: "PerClass", Value: o.PerClass, With: "Balance", WithValue: o.Balance,
			Problem: "a count per class needs per-class balancing"})
	}
	for i, c := range o.Classes {
		if !slices.Contains(Classes(), c) {
			return bad("Classes", o.Classes, fmt.Sprintf("%q is not an AAMI class (want some of %s)", c, strings.Join(Classes(), ",")))
		}
		if slices.Contains(o.Classes[:i], c) {
			return bad("Classes", o.Classes, c+" is named twice")
		}
	}
	return nil
}

// classes returns the kept class names in AAMI order, and for each AAMI
// class its label in the dataset (-1 when dropped).
func (o Options) classes() (names []string, label [5]int) {
	for i, c := range Classes() {
		label[i] = -1
		if len(o.Classes) == 0 || slices.Contains(o.Classes, c) {
			label[i] = len(names)
			names = append(names, c)
		}
	}
	return names, label
}

func (o Options) settings() map[string]string {
	s := map[string]string{
		"length": strconv.Itoa(o.Length), "before": fmt.Sprint(o.Before), "after": fmt.Sprint(o.After),
		"lead": o.Lead, "balance": o.Balance.String(), "per-class": strconv.Itoa(o.PerClass), "split": o.Split.String(),
		"seed": strconv.FormatUint(o.Seed, 10),
	}
	if len(o.Classes) > 0 {
		s["classes"] = strings.Join(o.Classes, ",")
	}
	if len(o.Records) > 0 {
		s["records"] = strings.Join(o.Records, ",")
	}
	s["rr"] = "none"
	if o.RR {
		unit := "s"
		if o.RRRelative {
			unit = "local-rr in s, the others as fractions of it"
		}
		s["rr"] = fmt.Sprintf("%s (%s; local-rr over %d intervals)", strings.Join(RRChannels(o.RRRelative), ","), unit, LocalRRBeats)
	}
	return s
}

// beat is one planned window: where to cut it and its class.
type beat struct {
	record int        // index into the record list
	peak   int        // R-peak sample
	class  uint8      // label in the dataset
	rr     [3]float32 // the RRChannels values (Options.RR)
}

// recordPlan is what the annotation pass learns of one record.
type recordPlan struct {
	name    string
	lead    int    // index of the signal used
	leadErr string // set when the record lacks the requested lead
	beats   []beat
	dropped [5]int // beats whose window does not fit, per AAMI class
	noRR    [5]int // beats without a previous or a next beat (Options.RR), per AAMI class
}

// Build reads the records in src and returns the beat dataset.
//
// It works in two passes so memory stays proportional to the output: first
// headers and annotations give every beat (cheap), the beats are balanced
// and split; then each record's signal is read once and only the kept
// windows are cut.
func Build(ctx context.Context, src string, opt Options) (*dataset.Dataset, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	names := opt.Records
	if len(names) == 0 {
		var err error
		if names, err = readRecordList(filepath.Join(src, "RECORDS")); err != nil {
			return nil, err
		}
	}
	if opt.Split == dataset.SplitInterPatient {
		names = slices.DeleteFunc(slices.Clone(names), func(r string) bool { return slices.Contains(paced, r) })
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}

	// Pass 1: headers and annotations.
	plans := make([]recordPlan, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i, name := range names {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			p, err := planRecord(src, name, i, opt)
			plans[i] = p
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	var beats []beat
	var dropped, noRR [5]int
	var notes []string
	for _, p := range plans {
		beats = append(beats, p.beats...)
		for c := range dropped {
			dropped[c] += p.dropped[c]
			noRR[c] += p.noRR[c]
		}
		if p.leadErr != "" {
			notes = append(notes, p.leadErr)
		}
	}
	notes = append(notes, fmt.Sprintf("beats dropped because their %.2f s window does not fit in the record (N S V F Q): %v",
		opt.Before+opt.After, dropped))
	channels := 1
	if opt.RR {
		names := RRChannels(opt.RRRelative)
		channels += len(names)
		unit := "each in seconds"
		if opt.RRRelative {
			unit = "the first two as fractions of local-rr, local-rr in seconds; each"
		}
		notes = append(notes, fmt.Sprintf("channels: 0 the z-scored ECG window; 1 %s, 2 %s, 3 %s (local-rr: mean of the %d RR "+
			"intervals ending at the beat), %s constant over the window, from the annotated R peaks of "+
			"all beats of the record; post-rr needs the next beat, so an edge classifier has it one beat later",
			names[0], names[1], names[2], LocalRRBeats, unit),
			fmt.Sprintf("beats dropped because they have no previous or no next beat for their RR intervals (N S V F Q): %v", noRR))
	}

	keep, splits, splitNotes, err := chooseBeats(beats, names, opt)
	if err != nil {
		return nil, err
	}
	notes = append(notes, splitNotes...)

	// Pass 2: cut the kept windows, record by record.
	classes, _ := opt.classes()
	size := channels * opt.Length
	ds := dataset.New(classes, channels, opt.Length)
	ds.Source = dataset.Source{Kind: "mitdb", Settings: opt.settings(), Attribution: Attribution, Notes: notes}
	ds.X = make([]float32, len(keep)*size)
	ds.Labels = make([]uint8, len(keep))
	ds.Splits = splits
	ds.Records = make([]string, len(keep))
	byRecord := make([][]int, len(names)) // positions in keep, per record
	for k, bi := range keep {
		byRecord[beats[bi].record] = append(byRecord[beats[bi].record], k)
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for r, ks := range byRecord {
		if len(ks) == 0 {
			continue
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			rec, err := wfdb.ReadRecord(src, names[r])
			if err != nil {
				return err
			}
			sig := rec.Samples[plans[r].lead]
			s := rec.Signals[plans[r].lead]
			win := windowSamples(opt, rec.Freq)
			pre := int(math.Round(opt.Before * rec.Freq))
			buf := make([]float64, win)
			for _, k := range ks {
				b := beats[keep[k]]
				for j := range buf {
					buf[j] = s.Physical(sig[b.peak-pre+j])
				}
				x := ds.X[k*size : (k+1)*size]
				dsp.ZScore(x[:opt.Length], dsp.Resample(buf, opt.Length))
				if opt.RR {
					for c, v := range b.rr {
						rr := x[(c+1)*opt.Length : (c+2)*opt.Length]
						for j := range rr {
							rr[j] = v
						}
					}
				}
				ds.Labels[k] = b.class
				ds.Records[k] = names[r]
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return ds, ds.Validate()
}

// windowSamples is the length of the raw window at sampling rate fs.
func windowSamples(opt Options, fs float64) int {
	return int(math.Round(opt.Before*fs)) + int(math.Round(opt.After*fs))
}

// planRecord lists the beats of one record whose window fits in it.
func planRecord(src, name string, idx int, opt Options) (recordPlan, error) {
	p := recordPlan{name: name}
	h, err := wfdb.ReadHeader(filepath.Join(src, name+".hea"))
	if err != nil {
		return p, err
	}
	p.lead = -1
	for i, s := range h.Signals {
		if s.Description == opt.Lead {
			p.lead = i
			break
		}
	}
	if p.lead < 0 {
		if len(h.Signals) == 0 {
			return p, fmt.Errorf("mitbih: record %s has no signals", name)
		}
		p.lead = 0
		p.leadErr = fmt.Sprintf("record %s has no %s lead; used %s", name, opt.Lead, h.Signals[0].Description)
	}
	anns, err := wfdb.ReadAnnotations(filepath.Join(src, name+".atr"))
	if err != nil {
		return p, err
	}
	pre := int(math.Round(opt.Before * h.Freq))
	win := windowSamples(opt, h.Freq)
	_, label := opt.classes()
	// The R peaks of every beat, of any class: the RR intervals are those
	// a beat detector on the wearable would measure.
	var peaks []int64
	for _, a := range anns {
		if _, ok := AAMIClass(a.Code.String()); ok {
			peaks = append(peaks, a.Sample)
		}
	}
	k := -1 // index of a in peaks
	for _, a := range anns {
		c, ok := AAMIClass(a.Code.String())
		if !ok {
			continue
		}
		k++
		if label[c] < 0 {
			continue
		}
		// In int64, so that a time near the int64 limit cannot wrap
		// around into the record.
		if a.Sample < int64(pre) || a.Sample-int64(pre) > int64(h.NumSamples)-int64(win) {
			p.dropped[c]++
			continue
		}
		b := beat{record: idx, peak: int(a.Sample), class: uint8(label[c])}
		if opt.RR {
			// (A damaged annotation file could put beats at one sample:
			// no interval to divide by.)
			if k == 0 || k == len(peaks)-1 || peaks[k] <= peaks[k-min(k, LocalRRBeats)] {
				p.noRR[c]++
				continue
			}
			b.rr = rrFeatures(peaks, k, h.Freq, opt.RRRelative)
		}
		p.beats = append(p.beats, b)
	}
	return p, nil
}

// rrFeatures returns pre-rr, post-rr and local-rr (RRChannels) in seconds,
// or with relative pre-rr and post-rr as fractions of local-rr, for the
// beat at peaks[k], which must have a beat before and after it and a
// positive local-rr.
func rrFeatures(peaks []int64, k int, fs float64, relative bool) [3]float32 {
	n := min(k, LocalRRBeats)                          // intervals ending at beat k
	local := float64(peaks[k]-peaks[k-n]) / float64(n) // samples; > 0, peaks ascend
	unit := fs
	if relative {
		unit = local
	}
	return [3]float32{
		float32(float64(peaks[k]-peaks[k-1]) / unit),
		float32(float64(peaks[k+1]-peaks[k]) / unit),
		float32(local / fs),
	}
}

// minInterPatient is the fewest training beats of a class that per-class
// balancing accepts in the inter-patient split when PerClass is 0: below it
// the whole training set would shrink to a handful of beats per class (Q
// has 8 in DS1).
const minInterPatient = 50

// chooseBeats balances the planned beats and assigns their splits. It
// returns the indices of the kept beats in record order, their splits, and
// notes on how the split was made.
func chooseBeats(beats []beat, names []string, opt Options) (keep []int, splits []dataset.Split, notes []string, err error) {
	labels := make([]uint8, len(beats))
	for i, b := range beats {
		labels[i] = b.class
	}
	// A throw-away dataset of labels and records lets us reuse the
	// package dataset split logic without cutting any window.
	classes, _ := opt.classes()
	plan := &dataset.Dataset{Classes: classes, Labels: labels, Splits: make([]dataset.Split, len(beats)), Records: make([]string, len(beats))}
	for i, b := range beats {
		plan.Records[i] = names[b.record]
	}
	if len(beats) == 0 {
		return nil, nil, nil, fmt.Errorf("mitbih: no beats found in records %v", names)
	}

	if opt.Split == dataset.SplitRandom {
		keep = allIndices(len(beats))
		if opt.Balance == dataset.PerClass {
			if keep, err = dataset.BalanceIndices(labels, classes, opt.PerClass, opt.Seed); err != nil {
				return nil, nil, nil, fmt.Errorf("mitbih: %w", err)
			}
		}
		sub := plan.Subset(keep)
		if err := dataset.SplitStratified(sub, dataset.PaperFractions(), opt.Seed); err != nil {
			return nil, nil, nil, err
		}
		if opt.Balance == dataset.EvalOnly {
			return balanceEval(sub, keep, opt.Seed)
		}
		return keep, sub.Splits, nil, nil
	}

	// SplitInterPatient: DS2 → test, kept whole (the standard protocol
	// scores all of it); DS1 → whole records to validation
	// (dataset.HoldOutRecords), the rest to training. Only the training
	// split is balanced, after the records are assigned, so balancing
	// never moves a beat from one split to another, and validation is
	// scored on whole records as the test split is.
	// Beats of records in neither DS1 nor DS2 are left out.
	var used []int
	var nDS1, nDS2 int
	for i, b := range beats {
		switch {
		case slices.Contains(ds1, names[b.record]):
			used = append(used, i)
			nDS1++
		case slices.Contains(ds2, names[b.record]):
			used = append(used, i)
			nDS2++
		}
	}
	if nDS1 == 0 || nDS2 == 0 {
		return nil, nil, nil, fmt.Errorf("mitbih: %w", &dataset.OptionError{Option: "Split", Value: opt.Split,
			Problem: fmt.Sprintf("needs records of both DS1 and DS2, got %v", names)})
	}
	plan = plan.Subset(used)
	for j, r := range plan.Records {
		if slices.Contains(ds2, r) {
			plan.Splits[j] = dataset.Test
		}
	}
	val, err := dataset.HoldOutRecords(plan, dataset.ValidationHoldout(), opt.Seed)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("mitbih: %w", &dataset.OptionError{Option: "Split", Value: opt.Split, Err: err})
	}
	h := dataset.ValidationHoldout()
	notes = append(notes, fmt.Sprintf("validation: whole DS1 records %s, chosen with the seed (%.0f–%.0f %% of the DS1 beats, "+
		"every class if a record allows, at most %.0f %% of any class); the other DS1 records are the training split, DS2 the test split",
		strings.Join(val, ", "), 100*h.Min, 100*h.Max, 100*h.MaxClassShare))
	train := plan.Indices(dataset.Train) // positions in plan
	if opt.Balance == dataset.PerClass {
		for c, n := range plan.Part(dataset.Train).ClassCounts() {
			if n < minInterPatient && opt.PerClass == 0 {
				return nil, nil, nil, fmt.Errorf("mitbih: %w", &dataset.OptionError{Option: "Balance", Value: opt.Balance, With: "Split", WithValue: opt.Split,
					Problem: fmt.Sprintf("class %s has only %d beats in the DS1 training records, so every class would keep %d; "+
						"leave class %s out (N,S,V,F is the usual inter-patient set) or do not balance", classes[c], n, n, classes[c])})
			}
		}
		if train, err = plan.BalanceSplit(dataset.Train, opt.PerClass, opt.Seed); err != nil {
			return nil, nil, nil, fmt.Errorf("mitbih: balancing the DS1 training records: %w", err)
		}
		notes = append(notes, "balanced: the training split only; the validation records and DS2 are kept whole")
	}
	keep, splits = pick(plan, used, train, plan.Indices(dataset.Val), plan.Indices(dataset.Test))
	return keep, splits, notes, nil
}

// pick returns, in plan order, the beats (used maps plan's items to beats)
// and the splits of the items of plan at the given positions.
func pick(plan *dataset.Dataset, used []int, positions ...[]int) (beats []int, splits []dataset.Split) {
	all := slices.Concat(positions...)
	slices.Sort(all)
	beats = make([]int, len(all))
	splits = make([]dataset.Split, len(all))
	for k, j := range all {
		beats[k], splits[k] = used[j], plan.Splits[j]
	}
	return beats, splits
}

// balanceEval keeps every training beat of split and, of the validation and
// the test beats, as many of every class as the split's smallest class has
// (seeded, dataset's BalanceEval). keep maps split's items to beats.
func balanceEval(split *dataset.Dataset, keep []int, seed uint64) ([]int, []dataset.Split, []string, error) {
	idx, perClass, err := split.BalanceEval(seed)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("mitbih: %w", err)
	}
	beats, splits := pick(split, keep, idx)
	return beats, splits, []string{
		fmt.Sprintf("balanced: the val split, %d beats of each class", perClass[0]),
		fmt.Sprintf("balanced: the test split, %d beats of each class", perClass[1]),
		"the training split keeps every beat (train with --class-balance sampler or weights)"}, nil
}

func allIndices(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// readRecordList reads a PhysioNet RECORDS file: one record name a line.
func readRecordList(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mitbih: %w: %w", ErrNoRecords, err)
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			names = append(names, line)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("mitbih: %w: %s lists no records", ErrNoRecords, path)
	}
	return names, nil
}
