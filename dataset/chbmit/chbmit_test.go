package chbmit

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/edf"
	"github.com/splitnas/splitnas/internal/testenv"
)

// zeroCrossings counts sign changes in x.
func zeroCrossings(x []float32) int {
	n := 0
	for i := 1; i < len(x); i++ {
		if (x[i-1] < 0) != (x[i] < 0) {
			n++
		}
	}
	return n
}

// meanStd returns the mean and (population) standard deviation of x.
func meanStd(x []float32) (mean, std float64) {
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	for _, v := range x {
		std += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, math.Sqrt(std / float64(len(x)))
}

// checkWindows checks that every channel half of every sample is z-scored
// and carries its class's rhythm: in 4 s, 3 Hz (F7-T7) and 5 Hz (F8-T8)
// in a seizure, 10 Hz outside, i.e. about 24, 40 and 80 zero crossings.
func checkWindows(t *testing.T, ds *dataset.Dataset) {
	t.Helper()
	half := ds.Length / 2
	for i := range ds.Len() {
		x := ds.Sample(i)
		for c := range 2 {
			part := x[c*half : (c+1)*half]
			if m, s := meanStd(part); math.Abs(m) > 1e-3 || math.Abs(s-1) > 1e-3 {
				t.Fatalf("sample %d channel %d: mean %g, std %g; want 0 and 1", i, c, m, s)
			}
		}
		zc := [2]int{zeroCrossings(x[:half]), zeroCrossings(x[half:])}
		if ds.Labels[i] == seizure {
			if zc[0] < 20 || zc[0] > 28 || zc[1] < 36 || zc[1] > 44 {
				t.Fatalf("seizure sample %d of %s: %v zero crossings, want about 24 (3 Hz) and 40 (5 Hz)", i, ds.Records[i], zc)
			}
		} else if zc[0] < 60 || zc[1] < 60 || zc[0] > 90 || zc[1] > 90 {
			t.Fatalf("non-seizure sample %d of %s: %v zero crossings, want about 80 (10 Hz)", i, ds.Records[i], zc)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func classSplitCounts(ds *dataset.Dataset) (counts [3][2]int) {
	for i, l := range ds.Labels {
		counts[ds.Splits[i]][l]++
	}
	return counts
}

func hasNote(ds *dataset.Dataset, note string) bool {
	return slices.ContainsFunc(ds.Source.Notes, func(n string) bool { return strings.Contains(n, note) })
}

func TestBuildSynthetic(t *testing.T) {
	root := writeDB(t, standardPatients())
	if !strings.Contains(readFile(t, filepath.Join(root, "chb03", "chb03-summary.txt")), "Channels changed:") {
		t.Fatal("the fixture's chb03 summary has no channel change")
	}
	opt := DefaultOptions()
	opt.Workers = 2
	var log bytes.Buffer
	opt.Logger = slog.New(slog.NewTextHandler(&log, nil))
	ds, err := Build(context.Background(), root, opt)
	if err != nil {
		t.Fatal(err)
	}
	if w := log.String(); !strings.Contains(w, "WARN") || !strings.Contains(w, "summary-listed EDF files are missing") || !strings.Contains(w, "chb01_03.edf") {
		t.Errorf("no warning about the missing chb01_03.edf in the log:\n%s", w)
	}
	if ds.Channels != 1 || ds.Length != 2048 || !slices.Equal(ds.Classes, []string{"non-seizure", "seizure"}) {
		t.Fatalf("shape %d×%d, classes %v", ds.Channels, ds.Length, ds.Classes)
	}
	// 16 seizure windows: chb01_01 4, chb02_01 4, chb02_02 1 + 2, chb03_01 5;
	// the missing chb01_03 and the excluded chb06 give none.
	if got := ds.ClassCounts(); !slices.Equal(got, []int{16, 16}) {
		t.Errorf("class counts %v, want [16 16]", got)
	}
	if got := ds.RecordIDs(); !slices.Equal(got, []string{"chb01", "chb02", "chb03"}) {
		t.Errorf("records %v, want chb01–chb03 (chb06 excluded)", got)
	}
	// 70/15/15 of 16 per class: 11, 2, 3.
	if got := classSplitCounts(ds); got != [3][2]int{{11, 11}, {2, 2}, {3, 3}} {
		t.Errorf("split × class counts %v", got)
	}
	checkWindows(t, ds)
	for _, n := range []string{
		"planned windows: 158 non-seizure, 16 seizure; 32 kept",
		"6 windows dropped because they straddle a seizure boundary",
		"patients excluded: chb06",
		"1 summary-listed EDF files missing, skipped: chb01_03.edf",
		"1 .edf files not listed",
		"6 recordings of 3 patients (chb01, chb02, chb03)",
	} {
		if !hasNote(ds, n) {
			t.Errorf("no note %q in %q", n, ds.Source.Notes)
		}
	}
	s := ds.Source
	if s.Kind != "chbmit" || s.Settings["channels"] != "F7-T7,F8-T8" || s.Settings["exclude"] != "6,14,16" ||
		s.Settings["window"] != "4" || s.Settings["stride"] != "4" || s.Settings["length"] != "2048" || s.Settings["split"] != "random" ||
		s.Settings["low"] != "1" || s.Settings["high"] != "30" || s.Settings["seed"] != "1" || !strings.Contains(s.Attribution, "10.13026/C2K01R") {
		t.Errorf("source %+v", s)
	}

	// Unbalanced, every planned window is there; without a logger the
	// warnings are dropped, the notes stay.
	opt.Balance = dataset.NoBalance
	opt.Logger = nil
	all, err := Build(context.Background(), root, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := all.ClassCounts(); !slices.Equal(got, []int{158, 16}) {
		t.Errorf("unbalanced class counts %v, want [158 16]", got)
	}
	if !hasNote(all, "1 summary-listed EDF files missing, skipped: chb01_03.edf") {
		t.Errorf("notes %q", all.Source.Notes)
	}
	checkWindows(t, all)
}

func TestBuildStrideAndLength(t *testing.T) {
	root := writeDB(t, standardPatients())
	opt := DefaultOptions()
	opt.Balance = dataset.NoBalance
	opt.Stride = 2
	opt.Length = 512 // 4 s × 256 Hz = 1024 samples per channel, resampled to 256
	ds, err := Build(context.Background(), root, opt)
	if err != nil {
		t.Fatal(err)
	}
	// 59 windows per 120 s recording; worked out by hand per seizure.
	if got := ds.ClassCounts(); !slices.Equal(got, []int{311, 31}) {
		t.Errorf("class counts %v, want [311 31]", got)
	}
	if !hasNote(ds, "12 windows dropped because they straddle") {
		t.Errorf("notes %q", ds.Source.Notes)
	}
	if ds.Length != 512 || ds.Source.Settings["stride"] != "2" {
		t.Errorf("length %d, settings %v", ds.Length, ds.Source.Settings)
	}
	checkWindows(t, ds) // resampling keeps the rhythms and the z-scores
}

func TestBuildPatientSplit(t *testing.T) {
	root := writeDB(t, standardPatients())
	opt := DefaultOptions()
	opt.Split = dataset.SplitPatient
	ds, err := Build(context.Background(), root, opt)
	if err != nil {
		t.Fatal(err)
	}
	splitOf := map[string]dataset.Split{}
	used := map[dataset.Split]bool{}
	for i, r := range ds.Records {
		if s, ok := splitOf[r]; ok && s != ds.Splits[i] {
			t.Fatalf("patient %s is in both %v and %v", r, s, ds.Splits[i])
		}
		splitOf[r] = ds.Splits[i]
		used[ds.Splits[i]] = true
	}
	if len(splitOf) != 3 || len(used) < 2 {
		t.Errorf("patients per split %v", splitOf)
	}
	if !hasNote(ds, "patients per split: train: ") {
		t.Errorf("notes %q", ds.Source.Notes)
	}
}

func TestBuildDeterministic(t *testing.T) {
	root := writeDB(t, standardPatients())
	opt := DefaultOptions()
	a, err := Build(context.Background(), root, opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.Workers = 1
	b, err := Build(context.Background(), root, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.X, b.X) || !slices.Equal(a.Labels, b.Labels) || !slices.Equal(a.Splits, b.Splits) || !slices.Equal(a.Records, b.Records) {
		t.Error("same seed, different datasets")
	}
	opt.Seed = 2
	c, err := Build(context.Background(), root, opt)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a.X, c.X) || !slices.Equal(a.ClassCounts(), c.ClassCounts()) {
		t.Error("seed 2 picked the same windows as seed 1, or other counts")
	}
}

func TestBuildPatientsOption(t *testing.T) {
	root := writeDB(t, standardPatients())
	opt := DefaultOptions()
	opt.Patients = []int{2}
	opt.Balance = dataset.NoBalance
	ds, err := Build(context.Background(), root, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := ds.RecordIDs(); !slices.Equal(got, []string{"chb02"}) || !slices.Equal(ds.ClassCounts(), []int{49, 7}) {
		t.Errorf("records %v, counts %v; want chb02 with [49 7]", got, ds.ClassCounts())
	}
	opt.Patients = []int{6}
	var oe *dataset.OptionError
	if _, err := Build(context.Background(), root, opt); !errors.As(err, &oe) || oe.Option != "Patients" || oe.Value != 6 || oe.With != "Exclude" {
		t.Errorf("patients ∩ exclude: %v", err)
	}
	opt.Exclude = nil
	if ds, err := Build(context.Background(), root, opt); err != nil || !slices.Equal(ds.RecordIDs(), []string{"chb06"}) {
		t.Errorf("chb06 alone: %v", err)
	}
	opt.Patients = []int{5}
	if _, err := Build(context.Background(), root, opt); !errors.As(err, &oe) || oe.Option != "Patients" || oe.Value != 5 ||
		oe.Problem != "no folder chb05 in "+root {
		t.Errorf("absent patient: %v", err)
	}
}

func TestBuildRealFolderNeedsEDF(t *testing.T) {
	src := testenv.SharedData(t, "chbmit")
	_, err := Build(context.Background(), src, DefaultOptions())
	if !errors.Is(err, ErrNoSignals) {
		t.Fatalf("error %v on a folder without .edf files, want ErrNoSignals", err)
	}
	for _, want := range []string{
		"no CHB-MIT .edf signal files found under " + src,
		"looked for the 42 EDF files listed in chb01-summary.txt (e.g. " + filepath.Join(src, "chb01", "chb01_01.edf") + ")",
		"The .edf signal files are needed",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\ndoes not say %q", err, want)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	ctx := context.Background()
	one := func(f fakeFile) string {
		return writeDB(t, []fakePatient{{num: 1, files: []fakeFile{f}}})
	}

	t.Run("header length", func(t *testing.T) {
		root := one(fakeFile{name: "chb01_01.edf", seconds: 8})
		path := filepath.Join(root, "chb01", "chb01_01.edf")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		copy(b[184:192], "9999    ")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = Build(ctx, root, DefaultOptions())
		if want := "edf: " + path + ": header length field says 9999 bytes, but 4 signals need 1280"; err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		root := one(fakeFile{name: "chb01_01.edf", seconds: 8})
		path := filepath.Join(root, "chb01", "chb01_01.edf")
		if err := os.Truncate(path, 1280+3*4*512+100); err != nil {
			t.Fatal(err)
		}
		_, err := Build(ctx, root, DefaultOptions())
		var fe *edf.FormatError
		if !errors.As(err, &fe) || fe.File != path || !strings.Contains(err.Error(), path+": data ends in data record 4 of 8") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("channel", func(t *testing.T) {
		root := one(fakeFile{name: "chb01_01.edf", seconds: 8, labels: []string{"FP1-F7", "F7-T7", "-"}})
		path := filepath.Join(root, "chb01", "chb01_01.edf")
		want := "chbmit: " + path + `: no channel "F8-T8"; the file has FP1-F7, F7-T7, -`
		if _, err := Build(ctx, root, DefaultOptions()); err == nil || err.Error() != want {
			t.Errorf("got %v\nwant %s", err, want)
		}
	})
	t.Run("channel in some files", func(t *testing.T) {
		root := writeDB(t, []fakePatient{{num: 1, files: []fakeFile{
			{name: "chb01_01.edf", seconds: 120, seizures: []Interval{{42, 62}}},
			{name: "chb01_02.edf", seconds: 120, labels: []string{"FP1-F7", "F7-T7", "-"}},
		}}})
		d, err := Build(ctx, root, DefaultOptions())
		if err != nil {
			t.Fatalf("a recording without F8-T8 stopped the build: %v", err)
		}
		path := filepath.Join(root, "chb01", "chb01_02.edf")
		want := "1 recordings skipped because they lack a chosen channel, e.g. chbmit: " + path + `: no channel "F8-T8"`
		if !slices.ContainsFunc(d.Source.Notes, func(n string) bool { return strings.HasPrefix(n, want) }) {
			t.Errorf("notes %q do not say %q", d.Source.Notes, want)
		}
		if slices.Contains(d.Records, "chb01_02") || d.Len() != 8 {
			t.Errorf("%d samples, want 4 seizure windows (44–60 s) + 4 non-seizure of chb01_01", d.Len())
		}
	})
	t.Run("rate", func(t *testing.T) {
		root := one(fakeFile{name: "chb01_01.edf", seconds: 8, rate: 128})
		path := filepath.Join(root, "chb01", "chb01_01.edf")
		want := "chbmit: " + path + ": channel F7-T7 is sampled at 128 Hz; CHB-MIT data is 256 Hz"
		if _, err := Build(ctx, root, DefaultOptions()); err == nil || err.Error() != want {
			t.Errorf("got %v\nwant %s", err, want)
		}
	})
	t.Run("no seizures", func(t *testing.T) {
		root := one(fakeFile{name: "chb01_01.edf", seconds: 8})
		if _, err := Build(ctx, root, DefaultOptions()); err == nil || !strings.Contains(err.Error(), `class "seizure" has no samples`) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("no summary", func(t *testing.T) {
		root := t.TempDir()
		if err := os.Mkdir(filepath.Join(root, "chb01"), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := Build(ctx, root, DefaultOptions()); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), filepath.Join(root, "chb01", "chb01-summary.txt")) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("no patients", func(t *testing.T) {
		root := t.TempDir()
		if _, err := Build(ctx, root, DefaultOptions()); !errors.Is(err, ErrNoPatients) || !strings.Contains(err.Error(), root) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("header length wraps edf.FormatError", func(t *testing.T) {
		root := one(fakeFile{name: "chb01_01.edf", seconds: 8})
		path := filepath.Join(root, "chb01", "chb01_01.edf")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		copy(b[184:192], "9999    ")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = Build(ctx, root, DefaultOptions())
		var fe *edf.FormatError
		if !errors.As(err, &fe) || fe.File != path || fe.Offset != 184 {
			t.Errorf("got %v, want an *edf.FormatError for %s at byte 184", err, path)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		root := writeDB(t, standardPatients())
		c, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := Build(c, root, DefaultOptions()); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v", err)
		}
	})
}

func TestOptionErrors(t *testing.T) {
	for _, c := range []struct {
		name         string
		edit         func(*Options)
		option, with string // the fields the *dataset.OptionError names
		problem      string
		cause        bool // the error wraps a cause (a dsp error)
	}{
		{"short length", func(o *Options) { o.Length = 32 }, "Length", "", "must be at least 64", false},
		{"odd length", func(o *Options) { o.Length = 2049 }, "Length", "", "must be a multiple of the 2 channels", false},
		{"zero window", func(o *Options) { o.Window = 0 }, "Window", "", "want a positive whole number of samples", false},
		{"fractional window", func(o *Options) { o.Window = 1.001 }, "Window", "", "want a positive whole number of samples", false},
		{"negative stride", func(o *Options) { o.Stride = -1 }, "Stride", "", "want 0 (the window)", false},
		{"no channels", func(o *Options) { o.Channels = nil }, "Channels", "", "name at least one channel", false},
		{"empty channel", func(o *Options) { o.Channels = []string{"F7-T7", " "} }, "Channels", "", "channel 2 is empty", false},
		{"channel twice", func(o *Options) { o.Channels = []string{"F7-T7", "f7-t7"} }, "Channels", "", "f7-t7 is named twice", false},
		{"invalid balance", func(o *Options) { o.Balance = dataset.Balance(7) }, "Balance", "", "want per-class or none", false},
		{"eval balance", func(o *Options) { o.Balance = dataset.EvalOnly }, "Balance", "", "want per-class or none", false},
		{"inter-patient split", func(o *Options) { o.Split = dataset.SplitInterPatient }, "Split", "", "want random or patient", false},
		{"invalid normalize", func(o *Options) { o.Normalize = dataset.Normalize(3) }, "Normalize", "", "want window, recording or global", false},
		{"per-class unbalanced", func(o *Options) { o.Balance, o.PerClass = dataset.NoBalance, 5 }, "PerClass", "Balance", "needs per-class balancing", false},
		{"high above Nyquist", func(o *Options) { o.High = 200 }, "Low", "High", "", true},
		{"patient 0 excluded", func(o *Options) { o.Exclude = []int{0} }, "Exclude", "", "want a patient number from 1 to 99", false},
		{"patient 100", func(o *Options) { o.Patients = []int{100} }, "Patients", "", "want a patient number from 1 to 99", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			opt := DefaultOptions()
			c.edit(&opt)
			_, err := Build(context.Background(), t.TempDir(), opt)
			var oe *dataset.OptionError
			if !errors.As(err, &oe) {
				t.Fatalf("error %v (%T) is not a *dataset.OptionError", err, err)
			}
			if oe.Option != c.option || oe.With != c.with || !strings.Contains(oe.Problem, c.problem) || (oe.Err != nil) != c.cause {
				t.Errorf("got option %q with %q, problem %q, cause %v; want %q with %q, %q, a cause: %v",
					oe.Option, oe.With, oe.Problem, oe.Err, c.option, c.with, c.problem, c.cause)
			}
			if !strings.HasPrefix(err.Error(), "chbmit: option "+c.option) || strings.Contains(err.Error(), "--") {
				t.Errorf("message %q: want it to start with chbmit: option %s and name no command-line flag", err, c.option)
			}
		})
	}
}

// BenchmarkBuildHour builds the default dataset from one patient with one
// CHB-MIT-sized recording: an hour of 23 channels at 256 Hz (42 MB) with a
// 100 s seizure, so 25 windows of each class are cut.
func BenchmarkBuildHour(b *testing.B) {
	labels := []string{"FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4", "F4-C4",
		"C4-P4", "P4-O2", "FP2-F8", "F8-T8", "T8-P8", "P8-O2", "FZ-CZ", "CZ-PZ", "P7-T7", "T7-FT9", "FT9-FT10", "FT10-T8", "T8-P8"}
	start := time.Now()
	root := writeDB(b, []fakePatient{{num: 1, files: []fakeFile{
		{name: "chb01_03.edf", seconds: 3600, seizures: []Interval{{2996, 3096}}, labels: labels},
	}}})
	b.Logf("writing the 1-hour fixture took %v", time.Since(start))
	b.ResetTimer()
	for b.Loop() {
		ds, err := Build(context.Background(), root, DefaultOptions())
		if err != nil {
			b.Fatal(err)
		}
		if ds.Len() != 50 {
			b.Fatalf("%d samples, want 50", ds.Len())
		}
	}
}

// TestBuildWarningsAreNotesAndLogged checks where the facts a build skips
// over go: into the dataset's notes, and as warnings to Options.Logger —
// never to the process-wide logger, which a library does not own. (The test
// swaps that logger only to watch it; no test in this package runs in
// parallel.)
func TestBuildWarningsAreNotesAndLogged(t *testing.T) {
	root := writeDB(t, []fakePatient{{num: 1, files: []fakeFile{
		{name: "chb01_01.edf", seconds: 120, seizures: []Interval{{42, 62}, {300, 310}}},
		{name: "chb01_02.edf", seconds: 120, labels: []string{"FP1-F7", "F7-T7", "-"}},
	}}})
	sum := filepath.Join(root, "chb01", "chb01-summary.txt")
	f, err := os.OpenFile(sum, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("Something else entirely\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var global, own bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&global, nil)))
	opt := DefaultOptions()
	opt.Logger = slog.New(slog.NewTextHandler(&own, nil))
	ds, err := Build(context.Background(), root, opt)
	if err != nil {
		t.Fatal(err)
	}
	if global.Len() > 0 {
		t.Errorf("Build logged through the global logger:\n%s", global.String())
	}
	for _, w := range []string{
		"seizure starts after the end of its recording",
		"summary line not understood",
		"recording lacks a chosen channel",
	} {
		if !strings.Contains(own.String(), w) {
			t.Errorf("Options.Logger got no warning %q:\n%s", w, own.String())
		}
	}
	for _, n := range []string{
		"1 seizures start after the end of their recording, ignored: chb01_01.edf at 300 s (the recording lasts 120 s)",
		"1 summary lines not understood, ignored: " + sum + ": line ",
		"1 recordings skipped because they lack a chosen channel",
	} {
		if !hasNote(ds, n) {
			t.Errorf("no note %q in %q", n, ds.Source.Notes)
		}
	}
}
