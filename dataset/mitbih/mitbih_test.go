package mitbih

import (
	"context"
	"errors"
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

func TestInterPatientSplit(t *testing.T) {
	src := testenv.SharedData(t, "mitdb")
	if testing.Short() {
		t.Skip("reads all 44 non-paced records")
	}
	opt := DefaultOptions()
	opt.Length = 64
	opt.Split = dataset.SplitInterPatient
	opt.Balance = dataset.NoBalance
	d, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	splitsOf := map[string]map[dataset.Split]bool{}
	for i, r := range d.Records {
		if splitsOf[r] == nil {
			splitsOf[r] = map[dataset.Split]bool{}
		}
		splitsOf[r][d.Splits[i]] = true
	}
	for _, r := range slices.Sorted(maps.Keys(splitsOf)) {
		s := splitsOf[r]
		if slices.Contains(Paced(), r) {
			t.Errorf("paced record %s included", r)
		}
		if s[dataset.Test] && (s[dataset.Train] || s[dataset.Val]) {
			t.Errorf("record %s is in test and in train/val", r)
		}
		if s[dataset.Test] != slices.Contains(DS2(), r) {
			t.Errorf("record %s: in test = %v, in DS2 = %v", r, s[dataset.Test], slices.Contains(DS2(), r))
		}
	}
	if len(splitsOf) != 44 {
		t.Errorf("%d records, want 44", len(splitsOf))
	}

	// Balanced with all five classes would keep 8 beats of each (Q has 8
	// in DS1): refused, with the way out.
	opt.Balance = dataset.PerClass
	_, err = Build(context.Background(), src, opt)
	var oe *dataset.OptionError
	if !errors.As(err, &oe) || oe.Option != "Balance" || oe.With != "Split" || !strings.Contains(oe.Problem, "class Q has only 8 beats in DS1") ||
		!strings.Contains(oe.Problem, "leave class Q out") {
		t.Errorf("inter-patient balanced with Q: %v", err)
	}
	opt.Classes = []string{"N", "S", "V", "F"}
	d, err = Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	in := d.Info()
	// DS1 has 414 F beats (one dropped at an edge of 208); DS2 is kept whole.
	for _, c := range []string{"N", "S", "V", "F"} {
		if n := in.PerSplit["train"][c] + in.PerSplit["val"][c]; n != 414 {
			t.Errorf("class %s: %d DS1 beats, want 414", c, n)
		}
	}
	if in.PerSplit["test"]["N"] != 44208 || in.PerSplit["test"]["F"] != 388 || len(in.Classes) != 4 {
		t.Errorf("test split %v, classes %v: want DS2 whole (44208 N … 388 F) and 4 classes", in.PerSplit["test"], in.Classes)
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
		{"invalid balance", func(o *Options) { o.Balance = dataset.Balance(7) }, "Balance", "", "want per-class or none"},
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
