package mitbih

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/wfdb"
	"github.com/splitnas/splitnas/internal/testenv"
)

// aamiTotals are the published beat counts of the 48 records, grouped into
// the AAMI classes (MIT-BIH Arrhythmia Database Directory, table of beats):
// N = 75052 N + 8075 L + 7259 R + 16 e + 229 j; S = 2546 A + 150 a + 83 J + 2 S;
// V = 7130 V + 106 E; F = 803 F; Q = 7028 / + 982 f + 33 Q.
var aamiTotals = []int{90631, 2781, 7236, 803, 8043}

func options(length int) Options {
	o := DefaultOptions()
	o.Length = length
	o.Balance = dataset.NoBalance
	return o
}

func TestAAMIClass(t *testing.T) {
	for _, tt := range []struct {
		sym  string
		want int
	}{
		{"N", 0}, {"L", 0}, {"R", 0}, {"e", 0}, {"j", 0}, {"A", 1}, {"a", 1}, {"J", 1}, {"S", 1},
		{"V", 2}, {"E", 2}, {"F", 3}, {"/", 4}, {"f", 4}, {"Q", 4},
	} {
		if c, ok := AAMIClass(tt.sym); !ok || c != tt.want {
			t.Errorf("AAMIClass(%q) = %d, %v; want %d", tt.sym, c, ok, tt.want)
		}
	}
	for _, sym := range []string{"+", "~", "|", "x", "!", "\"", "n", "B", "[", "]"} {
		if _, ok := AAMIClass(sym); ok {
			t.Errorf("non-beat %q mapped to a class", sym)
		}
	}
}

// TestAllRecordsUnbalanced checks the census: with --balance none every beat
// is kept except those whose window does not fit in the record, and the
// kept ones plus the dropped ones are the published AAMI totals.
func TestAllRecordsUnbalanced(t *testing.T) {
	src := testenv.SharedData(t, "mitdb")
	if testing.Short() {
		t.Skip("reads all 48 records")
	}
	opt := options(64)
	d, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	got := d.ClassCounts()
	// Count independently, straight from the annotation files, which beats
	// the window rule drops.
	var dropped [5]int
	for _, rec := range d.RecordIDs() {
		h, err := wfdb.ReadHeader(filepath.Join(src, rec+".hea"))
		if err != nil {
			t.Fatal(err)
		}
		anns, err := wfdb.ReadAnnotations(filepath.Join(src, rec+".atr"))
		if err != nil {
			t.Fatal(err)
		}
		pre, post := int(math.Round(opt.Before*h.Freq)), int(math.Round(opt.After*h.Freq))
		for _, a := range anns {
			if c, ok := AAMIClass(a.Code.String()); ok && (int(a.Sample) < pre || int(a.Sample)+post > h.NumSamples) {
				dropped[c]++
			}
		}
	}
	for c := range got {
		if got[c]+dropped[c] != aamiTotals[c] {
			t.Errorf("class %s: %d kept + %d dropped, want the published total %d", Classes()[c], got[c], dropped[c], aamiTotals[c])
		}
	}
	// Only beats within 1 s of either end can be dropped: at most ~3 a
	// record at the database's heart rates.
	if n := dropped[0] + dropped[1] + dropped[2] + dropped[3] + dropped[4]; n == 0 || n > 3*48 {
		t.Errorf("%d beats dropped, want between 1 and %d", n, 3*48)
	}
	t.Logf("kept %v, dropped %v", got, dropped)
	if len(d.RecordIDs()) != 48 {
		t.Errorf("%d records, want 48", len(d.RecordIDs()))
	}
	if !slices.ContainsFunc(d.Source.Notes, func(n string) bool { return strings.Contains(n, "record 102 has no MLII lead; used V5") }) {
		t.Errorf("notes %q do not say record 102 lacks MLII", d.Source.Notes)
	}
}

// TestSingleRecordCounts pins the beat counts of a few records: the
// published MIT-BIH directory counts less the beats within 1 s of the record's
// start or end (their 2 s window does not fit), listed beside each.
func TestSingleRecordCounts(t *testing.T) {
	src := testenv.SharedData(t, "mitdb")
	for _, tt := range []struct {
		rec  string
		want []int
	}{
		{"100", []int{2239 - 3, 33, 1, 0, 0}},            // 2239 N, 33 A, 1 V; N at samples 77, 649734, 649991 dropped
		{"208", []int{1586 - 2, 2, 992 - 1, 373 - 1, 2}}, // 1586 N, 2 S, 992 V, 373 F, 2 Q; F at 46, V at 209, N at 649704, 649935 dropped
		{"217", []int{244, 0, 162, 0, 1542 + 260 - 2}},   // 244 N, 162 V, 1542 /, 260 f; / at 205 and 649738 dropped
		{"232", []int{397 + 1, 1382, 0, 0, 0}},           // 397 R, 1 j, 1382 A
	} {
		rec, want := tt.rec, tt.want
		opt := options(64)
		opt.Records = []string{rec}
		d, err := Build(context.Background(), src, opt)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.ClassCounts(); !slices.Equal(got, want) {
			t.Errorf("record %s: counts %v, want %v", rec, got, want)
		}
	}
}

func TestBalancedRandomSplit(t *testing.T) {
	src := testenv.SharedData(t, "mitdb")
	if testing.Short() {
		t.Skip("reads all 48 records")
	}
	opt := DefaultOptions()
	opt.Length = 128
	d, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	counts := d.ClassCounts()
	for c := range counts {
		if counts[c] != counts[0] {
			t.Fatalf("balanced counts %v are not equal", counts)
		}
	}
	if counts[0] < 780 || counts[0] > 803 {
		t.Errorf("per-class count %d, want the F class size (803 less edge beats)", counts[0])
	}
	sc := d.SplitCounts()
	n := d.Len()
	if math.Abs(float64(sc[dataset.Train])/float64(n)-0.70) > 0.01 || math.Abs(float64(sc[dataset.Val])/float64(n)-0.15) > 0.01 {
		t.Errorf("split counts %v of %d, want 70/15/15", sc, n)
	}
	for i := range d.Len() {
		x := d.Sample(i)
		var mean, sq float64
		for _, v := range x {
			mean += float64(v)
		}
		mean /= float64(len(x))
		for _, v := range x {
			sq += (float64(v) - mean) * (float64(v) - mean)
		}
		if math.Abs(mean) > 1e-4 || math.Abs(math.Sqrt(sq/float64(len(x)))-1) > 1e-3 {
			t.Fatalf("sample %d: mean %g, std %g; want z-scored", i, mean, math.Sqrt(sq/float64(len(x))))
		}
	}
	again, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.X, d.X) || !slices.Equal(again.Splits, d.Splits) {
		t.Error("the same seed gave a different dataset")
	}
}

// TestEvalBalancedRandomSplit checks --balance eval on the real records:
// the training split is exactly the unbalanced build's (every beat kept),
// validation and test hold the same count of every class, each a subset of
// the unbalanced build's validation and test.
func TestEvalBalancedRandomSplit(t *testing.T) {
	src := testenv.SharedData(t, "mitdb")
	if testing.Short() {
		t.Skip("reads all 48 records")
	}
	all, err := Build(context.Background(), src, options(64))
	if err != nil {
		t.Fatal(err)
	}
	opt := options(64)
	opt.Balance = dataset.EvalOnly
	d, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	byClass := func(d *dataset.Dataset, s dataset.Split) []int {
		n := make([]int, len(d.Classes))
		for i, si := range d.Splits {
			if si == s {
				n[d.Labels[i]]++
			}
		}
		return n
	}
	if got, want := byClass(d, dataset.Train), byClass(all, dataset.Train); !slices.Equal(got, want) {
		t.Errorf("training split per class %v, want every training beat of the unbalanced build %v", got, want)
	}
	for _, s := range []dataset.Split{dataset.Val, dataset.Test} {
		got, whole := byClass(d, s), byClass(all, s)
		if got[0] < 100 || slices.Min(got) != slices.Max(got) || got[0] != slices.Min(whole) {
			t.Errorf("%s split per class %v, want every class at %d (the smallest class of %v)", s, got, slices.Min(whole), whole)
		}
	}
	// Each kept validation or test window is one of the unbalanced build's,
	// in the same split (windows are unique: each is a z-scored beat).
	where := make(map[string]dataset.Split, all.Len())
	for i := range all.Len() {
		where[fmt.Sprint(all.Sample(i))] = all.Splits[i]
	}
	for i := range d.Len() {
		if s, ok := where[fmt.Sprint(d.Sample(i))]; !ok || s != d.Splits[i] {
			t.Fatalf("sample %d (%s) is not a %s sample of the unbalanced build", i, d.Splits[i], d.Splits[i])
		}
	}
}

// TestInterPatientSplit checks the inter-patient protocol on the real
// records: DS2 whole in test, validation made of whole DS1 records (never a
// record in two splits) holding 15–20 % of the DS1 beats and every class,
// and per-class balancing that thins the training split alone.
func TestInterPatientSplit(t *testing.T) {
	src := testenv.SharedData(t, "mitdb")
	if testing.Short() {
		t.Skip("reads all 44 non-paced records")
	}
	opt := DefaultOptions()
	opt.Length = 64
	opt.Split = dataset.SplitInterPatient
	opt.Balance = dataset.NoBalance
	opt.Classes = []string{"N", "S", "V", "F"}
	all, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	splitOf := recordSplits(t, all)
	var valRecords []string
	for _, r := range slices.Sorted(maps.Keys(splitOf)) {
		s := splitOf[r]
		if slices.Contains(Paced(), r) {
			t.Errorf("paced record %s included", r)
		}
		if (s == dataset.Test) != slices.Contains(DS2(), r) {
			t.Errorf("record %s: in %v, in DS2 = %v", r, s, slices.Contains(DS2(), r))
		}
		if s == dataset.Val {
			valRecords = append(valRecords, r)
		}
	}
	if len(splitOf) != 44 {
		t.Errorf("%d records, want 44", len(splitOf))
	}
	in := all.Info()
	ds1 := in.Splits["train"] + in.Splits["val"]
	if share := float64(in.Splits["val"]) / float64(ds1); share < 0.15 || share > 0.20 {
		t.Errorf("validation holds %d of %d DS1 beats (%.1f %%), want 15–20 %%", in.Splits["val"], ds1, 100*share)
	}
	for _, c := range all.Classes {
		n := in.PerSplit["train"][c] + in.PerSplit["val"][c]
		if v := in.PerSplit["val"][c]; v == 0 || float64(v) > 0.5*float64(n) {
			t.Errorf("class %s: %d of %d DS1 beats in validation, want some and at most half", c, v, n)
		}
	}
	// DS1 has 414 F beats (one dropped at an edge of 208); DS2 is kept whole.
	if n := in.PerSplit["train"]["F"] + in.PerSplit["val"]["F"]; n != 414 {
		t.Errorf("%d DS1 F beats, want 414", n)
	}
	if in.PerSplit["test"]["N"] != 44208 || in.PerSplit["test"]["F"] != 388 || in.Splits["test"] != 49652 {
		t.Errorf("test split %v: want DS2 whole (49,652 beats: 44208 N … 388 F)", in.PerSplit["test"])
	}
	if !slices.ContainsFunc(all.Source.Notes, func(n string) bool {
		return strings.Contains(n, "validation: whole DS1 records "+strings.Join(valRecords, ", ")+", chosen with the seed")
	}) {
		t.Errorf("notes %q do not list the validation records %v", all.Source.Notes, valRecords)
	}
	t.Logf("validation records %v; per split %v", valRecords, in.PerSplit)

	// Balanced: the same records in the same splits, validation and test
	// exactly as unbalanced, training a subset of the unbalanced training
	// split with the same count of every class.
	opt.Balance = dataset.PerClass
	bal, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	for r, s := range recordSplits(t, bal) {
		if splitOf[r] != s {
			t.Errorf("balanced: record %s moved from %v to %v", r, splitOf[r], s)
		}
	}
	for _, s := range []dataset.Split{dataset.Val, dataset.Test} {
		a, b := all.Part(s), bal.Part(s)
		if !slices.Equal(a.X, b.X) || !slices.Equal(a.Labels, b.Labels) || !slices.Equal(a.Records, b.Records) {
			t.Errorf("balanced: the %v split differs from the unbalanced one", s)
		}
	}
	unbalancedTrain := map[string]bool{}
	tr := all.Part(dataset.Train)
	for i := range tr.Len() {
		unbalancedTrain[sampleKey(tr, i)] = true
	}
	btr := bal.Part(dataset.Train)
	for i := range btr.Len() {
		if !unbalancedTrain[sampleKey(btr, i)] {
			t.Fatalf("balanced training beat %d of %s is not an unbalanced training beat", i, btr.Records[i])
		}
	}
	if counts := btr.ClassCounts(); slices.Min(counts) != slices.Max(counts) || counts[0] != in.PerSplit["train"]["F"] {
		t.Errorf("balanced training counts %v, want %d of each (the training split's F beats)", counts, in.PerSplit["train"]["F"])
	}

	// Balanced with all five classes would keep a handful of beats of
	// each (Q has 8 in DS1): refused, with the way out.
	opt.Classes = nil
	_, err = Build(context.Background(), src, opt)
	var oe *dataset.OptionError
	if !errors.As(err, &oe) || oe.Option != "Balance" || oe.With != "Split" || !strings.Contains(oe.Problem, "class Q has only") ||
		!strings.Contains(oe.Problem, "beats in the DS1 training records") || !strings.Contains(oe.Problem, "leave class Q out") {
		t.Errorf("inter-patient balanced with Q: %v", err)
	}
}

// TestInterPatientFewRecords checks the validation rule at its edge: with
// two DS1 records neither fits in 20 % of the beats, so the smaller one is
// validation; with one there is nothing to hold out, which is an error on
// the Split option.
func TestInterPatientFewRecords(t *testing.T) {
	src := testenv.SharedData(t, "mitdb")
	for _, tt := range []struct {
		name    string
		records []string
		wantVal string // the validation record, or "" for an error
	}{
		{"two DS1 records", []string{"101", "106", "100"}, "101"}, // 101 has fewer beats than 106
		{"one DS1 record", []string{"101", "100"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opt := options(64)
			opt.Split, opt.Records = dataset.SplitInterPatient, tt.records
			d, err := Build(context.Background(), src, opt)
			if tt.wantVal == "" {
				var oe *dataset.OptionError
				if !errors.As(err, &oe) || oe.Option != "Split" || oe.Err == nil || !strings.Contains(err.Error(), "at least 2") {
					t.Fatalf("error %v, want a *dataset.OptionError for Split saying validation needs two records", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			splitOf := recordSplits(t, d)
			if splitOf[tt.wantVal] != dataset.Val || splitOf["100"] != dataset.Test || len(splitOf) != len(tt.records) {
				t.Errorf("splits %v, want %s in validation and 100 in test", splitOf, tt.wantVal)
			}
		})
	}
}

// recordSplits returns the split of every record of d, failing the test
// when a record has samples in two splits.
func recordSplits(t *testing.T, d *dataset.Dataset) map[string]dataset.Split {
	t.Helper()
	splitOf := map[string]dataset.Split{}
	for i, r := range d.Records {
		if s, ok := splitOf[r]; ok && s != d.Splits[i] {
			t.Fatalf("record %s is in the %v and %v splits", r, s, d.Splits[i])
		}
		splitOf[r] = d.Splits[i]
	}
	return splitOf
}

// sampleKey identifies a sample by its record, label and values.
func sampleKey(d *dataset.Dataset, i int) string {
	return fmt.Sprint(d.Records[i], d.Labels[i], d.Sample(i))
}

// TestRRChannels checks the RR-interval channels on the first beats of
// record 100, worked out by hand from the R-peak samples of 100.atr at
// 360 Hz: N at 77, 370, 662, 946, 1231, 1515, 1809, A at 2044, N at 2402.
func TestRRChannels(t *testing.T) {
	src := testenv.SharedData(t, "mitdb")
	peaks := []int64{77, 370, 662, 946, 1231, 1515, 1809, 2044, 2402}
	anns, err := wfdb.ReadAnnotations(filepath.Join(src, "100.atr"))
	if err != nil {
		t.Fatal(err)
	}
	var beats []int64
	for _, a := range anns {
		if _, ok := AAMIClass(a.Code.String()); ok && len(beats) < len(peaks) {
			beats = append(beats, a.Sample)
		}
	}
	if !slices.Equal(beats, peaks) {
		t.Fatalf("first beats of 100.atr at %v, want %v", beats, peaks)
	}
	opt := options(64)
	opt.Records = []string{"100"}
	plain, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.RR = true
	d, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	if d.Channels != 4 || d.Length != 64 || d.Len() != plain.Len() {
		t.Fatalf("shape %d×%d, %d beats; want 4×64 and the %d beats without RR", d.Channels, d.Length, d.Len(), plain.Len())
	}
	if got := d.Source.Settings["rr"]; got != "pre-rr,post-rr,local-rr (s; local-rr over 10 intervals)" || plain.Source.Settings["rr"] != "none" {
		t.Errorf("settings rr %q (without: %q)", got, plain.Source.Settings["rr"])
	}
	// The beat at 77 has no 1 s before it: the first sample is the beat at
	// 370, the eighth the A beat at 2044.
	for _, tt := range []struct {
		name   string
		sample int
		label  uint8
		rr     [3]float64 // pre, post, local in seconds
	}{
		{"beat at 370", 0, 0, [3]float64{(370 - 77) / 360.0, (662 - 370) / 360.0, (370 - 77) / 360.0}},
		{"beat at 662", 1, 0, [3]float64{(662 - 370) / 360.0, (946 - 662) / 360.0, (662 - 77) / 2.0 / 360}},
		{"S beat at 2044", 6, 1, [3]float64{(2044 - 1809) / 360.0, (2402 - 2044) / 360.0, (2044 - 77) / 7.0 / 360}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			x := d.Sample(tt.sample)
			if d.Labels[tt.sample] != tt.label {
				t.Errorf("label %d, want %d", d.Labels[tt.sample], tt.label)
			}
			if !slices.Equal(x[:64], plain.Sample(tt.sample)) {
				t.Error("channel 0 is not the ECG window of the dataset without RR")
			}
			for c, want := range tt.rr {
				ch := x[(c+1)*64 : (c+2)*64]
				if math.Abs(float64(ch[0])-want) > 1e-5 || slices.Min(ch) != slices.Max(ch) {
					t.Errorf("%s: %g … %g, want %.5f s throughout", RRChannels(false)[c], slices.Min(ch), slices.Max(ch), want)
				}
			}
		})
	}
	// Relative: pre-rr and post-rr divided by local-rr, for every beat.
	opt.RRRelative = true
	rel, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := rel.Source.Settings["rr"]; got != "pre-rr/local-rr,post-rr/local-rr,local-rr (local-rr in s, the others as fractions of it; local-rr over 10 intervals)" {
		t.Errorf("relative: settings rr %q", got)
	}
	if rel.Len() != d.Len() {
		t.Fatalf("relative: %d beats, want %d", rel.Len(), d.Len())
	}
	for i := range d.Len() {
		x, r := d.Sample(i), rel.Sample(i)
		local := float64(x[3*64])
		for c, want := range []float64{float64(x[64]) / local, float64(x[2*64]) / local, local} {
			if got := float64(r[(c+1)*64+17]); math.Abs(got-want) > 1e-5*want || !slices.Equal(r[:64], x[:64]) {
				t.Fatalf("relative, beat %d: %s = %g, want %g", i, RRChannels(true)[c], got, want)
			}
		}
	}
	opt.RRRelative = false

	// The 10-interval mean: beat 12 onwards averages the 10 intervals
	// before it, so local-rr is (peak − peak 10 beats earlier) / 10.
	var all []int64
	for _, a := range anns {
		if _, ok := AAMIClass(a.Code.String()); ok {
			all = append(all, a.Sample)
		}
	}
	k := 20 // beat index in the record; sample k-1 (the beat at 77 is not a sample)
	want := float64(all[k]-all[k-10]) / 10 / 360
	if got := d.Sample(k - 1)[3*64]; math.Abs(float64(got)-want) > 1e-5 {
		t.Errorf("local-rr of beat %d: %g, want %g", k, got, want)
	}

	// With a short window the first beat (at 77) fits, but it has no
	// previous beat: dropped with --rr, and noted.
	opt.Before, opt.After = 0.1, 0.1
	short, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	if short.Sample(0)[64] != float32((370-77)/360.0) {
		t.Errorf("first sample's pre-rr %g: want the beat at 370's", short.Sample(0)[64])
	}
	if !slices.ContainsFunc(short.Source.Notes, func(n string) bool {
		return strings.Contains(n, "no previous or no next beat for their RR intervals (N S V F Q): [1 0 0 0 0]")
	}) {
		t.Errorf("notes %q do not count the beat without a previous one", short.Source.Notes)
	}
}

func TestBadOptions(t *testing.T) {
	for _, c := range []struct {
		name         string
		edit         func(*Options)
		option, with string // the fields the *dataset.OptionError names
		problem      string
	}{
		{"short length", func(o *Options) { o.Length = 10 }, "Length", "", "must be at least 64"},
		{"invalid balance", func(o *Options) { o.Balance = dataset.Balance(7) }, "Balance", "", "want per-class, none or eval"},
		{"eval inter-patient", func(o *Options) { o.Balance, o.Split = dataset.EvalOnly, dataset.SplitInterPatient }, "Balance", "Split", "needs the random split"},
		{"record split", func(o *Options) { o.Split = dataset.SplitRecord }, "Split", "", "want random or inter-patient"},
		{"invalid split", func(o *Options) { o.Split = dataset.SplitBy(9) }, "Split", "", "want random or inter-patient"},
		{"no after", func(o *Options) { o.After = 0 }, "After", "", "positive"},
		{"negative before", func(o *Options) { o.Before = -1 }, "Before", "", "≥ 0"},
		{"NaN before", func(o *Options) { o.Before = math.NaN() }, "Before", "", "≥ 0"},
		{"long window", func(o *Options) { o.Before, o.After = 6, 5 }, "Before", "After", "longer than 10 s"},
		{"per-class unbalanced", func(o *Options) { o.Balance = dataset.NoBalance; o.PerClass = 3 }, "PerClass", "Balance", "needs per-class balancing"},
		{"negative per-class", func(o *Options) { o.PerClass = -1 }, "PerClass", "", "must not be negative"},
		{"unknown class", func(o *Options) { o.Classes = []string{"N", "X"} }, "Classes", "", `"X" is not an AAMI class`},
		{"class twice", func(o *Options) { o.Classes = []string{"N", "N"} }, "Classes", "", "N is named twice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := DefaultOptions()
			c.edit(&o)
			_, err := Build(context.Background(), t.TempDir(), o)
			var oe *dataset.OptionError
			if !errors.As(err, &oe) {
				t.Fatalf("error %v (%T) is not a *dataset.OptionError", err, err)
			}
			if oe.Option != c.option || oe.With != c.with || !strings.Contains(oe.Problem, c.problem) {
				t.Errorf("got option %q with %q, problem %q; want %q with %q, %q", oe.Option, oe.With, oe.Problem, c.option, c.with, c.problem)
			}
			if !strings.HasPrefix(err.Error(), "mitbih: option "+c.option) || strings.Contains(err.Error(), "--") {
				t.Errorf("message %q: want it to start with mitbih: option %s and name no command-line flag", err, c.option)
			}
		})
	}
}

func TestNoRecordList(t *testing.T) {
	empty := t.TempDir()
	_, err := Build(context.Background(), empty, DefaultOptions())
	if !errors.Is(err, ErrNoRecords) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join(empty, "RECORDS")) {
		t.Errorf("folder without RECORDS: %v; want ErrNoRecords wrapping fs.ErrNotExist, naming the file", err)
	}
	blank := t.TempDir()
	if err := os.WriteFile(filepath.Join(blank, "RECORDS"), []byte("\n  \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), blank, DefaultOptions()); !errors.Is(err, ErrNoRecords) {
		t.Errorf("empty RECORDS: %v; want ErrNoRecords", err)
	}
}
