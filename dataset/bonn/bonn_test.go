package bonn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/dsp"
	"github.com/splitnas/splitnas/internal/testenv"
)

func TestReadSegment(t *testing.T) {
	tests := []struct {
		name, in string
		want     []float64
	}{
		{"crlf", "12\r\n22\r\n35\r\n", []float64{12, 22, 35}},
		{"lf no final newline", "1\n-2\n3", []float64{1, -2, 3}},
		{"spaces and tabs", "  7 \r\n\t-8\t\r\n", []float64{7, -8}},
		{"trailing blank lines", "1\r\n2\r\n\r\n  \r\n\n", []float64{1, 2}},
		{"decimals and exponents", "1.5\n-2e2\n+3\n", []float64{1.5, -200, 3}},
		{"byte-order mark", "\ufeff4\r\n5\r\n", []float64{4, 5}},
	}
	for _, tt := range tests {
		got, err := ReadSegment(strings.NewReader(tt.in), "/x/t.txt")
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestReadSegmentErrors(t *testing.T) {
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprint(i*3-7))
	}
	bad := slices.Clone(lines)
	bad[16] = "abc"
	tests := []struct{ name, in, want string }{
		{"text", strings.Join(bad, "\r\n"), `bonn: /x/Z001.txt: line 17: "abc" is not a number`},
		{"empty", "", "bonn: /x/Z001.txt: no samples (empty file)"},
		{"only blank lines", "\r\n \r\n\r\n", "bonn: /x/Z001.txt: no samples (empty file)"},
		{"blank line inside", "1\r\n\r\n\r\n2\r\n", "bonn: /x/Z001.txt: line 2: blank line inside the data"},
		{"nan", "1\nNaN\n", `bonn: /x/Z001.txt: line 2: "NaN" is not a number`},
		{"inf", "1\n2\n+Inf\n", `bonn: /x/Z001.txt: line 3: "+Inf" is not a number`},
		{"hex float", "0x1p3\n", `bonn: /x/Z001.txt: line 1: "0x1p3" is not a number`},
		{"two numbers", "1 2\n", `bonn: /x/Z001.txt: line 1: "1 2" is not a number`},
		{"comma decimal", "3,5\n", `bonn: /x/Z001.txt: line 1: "3,5" is not a number`},
		{"long text clipped", "1\n" + strings.Repeat("z", 100), `bonn: /x/Z001.txt: line 2: "` + strings.Repeat("z", 40) + `…" is not a number`},
		{"line too long", strings.Repeat("9", maxLine+10), "bonn: /x/Z001.txt: line 1: longer than 65536 bytes, not a number"},
	}
	for _, tt := range tests {
		x, err := ReadSegment(strings.NewReader(tt.in), "/x/Z001.txt")
		if err == nil {
			t.Errorf("%s: no error, read %d samples", tt.name, len(x))
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("%s: error %q, want %q", tt.name, err, tt.want)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestReadSegmentReadError(t *testing.T) {
	_, err := ReadSegment(failingReader{}, "/x/S001.txt")
	if err == nil || !strings.Contains(err.Error(), "/x/S001.txt") || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("error %v, want one naming the file and the cause", err)
	}
}

func TestSetLetter(t *testing.T) {
	for _, tt := range [][2]string{
		{"A_Z", "A"}, {"B_O", "B"}, {"C_N", "C"}, {"D_F", "D"}, {"E_S", "E"}, {"e_s", "E"}, {"A_anything", "A"},
		{"A", "A"}, {"E", "E"}, {"c", "C"},
		{"Z", "A"}, {"O", "B"}, {"N", "C"}, {"F", "D"}, {"S", "E"}, {"s", "E"},
		{"Extra", ""}, {"F_x", ""}, {"AB", ""}, {"", ""}, {"G", ""}, {"setA", ""}, {"_A", ""},
	} {
		if got := setLetter(tt[0]); got != tt[1] {
			t.Errorf("setLetter(%q) = %q, want %q", tt[0], got, tt[1])
		}
	}
}

// writeSet writes n files of samples values each into src/folder, named
// <prefix>001.<ext> …, with CRLF line ends. Sample j of file i is gen(i, j).
func writeSet(t *testing.T, src, folder, prefix, ext string, n, samples int, gen func(i, j int) float64) {
	t.Helper()
	dir := filepath.Join(src, folder)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		var b strings.Builder
		for j := range samples {
			fmt.Fprintf(&b, "%d\r\n", int(math.Round(gen(i, j))))
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s%03d.%s", prefix, i, ext)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// syntheticSrc makes a small five-set folder with the single-letter folder
// names of the original files (Z O N F S) and noisy 10 Hz-ish signals.
func syntheticSrc(t *testing.T, files, samples int) string {
	src := t.TempDir()
	for s, l := range fileLetters {
		ext := "txt"
		if l == 'N' {
			ext = "TXT"
		}
		writeSet(t, src, string(l), string(l), ext, files, samples, func(i, j int) float64 {
			return 100*math.Sin(2*math.Pi*float64(5+s)*float64(j)/Fs+float64(i)) + 30*math.Sin(float64(j*j%97+i))
		})
	}
	// Folders that are not sets are ignored.
	if err := os.MkdirAll(filepath.Join(src, "Extra"), 0o755); err != nil {
		t.Fatal(err)
	}
	return src
}

func sameDataset(a, b *dataset.Dataset) bool {
	return slices.Equal(a.X, b.X) && slices.Equal(a.Labels, b.Labels) &&
		slices.Equal(a.Splits, b.Splits) && slices.Equal(a.Records, b.Records)
}

func TestBuildSynthetic(t *testing.T) {
	src := syntheticSrc(t, 4, 300)
	opt := DefaultOptions()
	opt.Length, opt.Stride, opt.Balance = 64, 32, dataset.NoBalance
	opt.Workers = 1
	d, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	// (300-64)/32 + 1 = 8 windows per segment, 4 segments per set.
	if got, want := d.ClassCounts(), []int{4 * 4 * 8, 4 * 8}; !slices.Equal(got, want) {
		t.Fatalf("class counts %v, want %v", got, want)
	}
	if got := d.RecordIDs(); len(got) != 20 || got[0] != "A/Z001" || got[8] != "C/N001" || got[19] != "E/S004" {
		t.Fatalf("records %v", got)
	}
	for i, r := range d.Records {
		want := uint8(0)
		if strings.HasPrefix(r, "E/") {
			want = 1
		}
		if d.Labels[i] != want {
			t.Fatalf("sample %d of %s has label %d, want %d", i, r, d.Labels[i], want)
		}
	}
	if s := d.Source.Settings; s["stride"] != "32" || s["length"] != "64" || s["task"] != "E-vs-ABCD" || s["low"] != "1" || s["high"] != "30" {
		t.Fatalf("settings %v", s)
	}
	if d.Source.Kind != "bonn" || !strings.Contains(d.Source.Attribution, "Andrzejak") || !strings.Contains(d.Source.Attribution, "NOT verified") {
		t.Fatalf("source %+v", d.Source)
	}
	// (300-64) % 32 = 12 samples at the end of each of 20 segments are unused.
	if !slices.ContainsFunc(d.Source.Notes, func(n string) bool { return strings.Contains(n, "240 segment samples fall outside") }) {
		t.Fatalf("notes %q lack the unused-sample count", d.Source.Notes)
	}

	// Windows overlap by half: the second half of window 0 of a segment is
	// the first half of window 1 before z-scoring, so after z-scoring they
	// are related by an affine map. Check it to see the windows are cut
	// where the plan says.
	w0, w1 := d.Sample(0), d.Sample(1)
	a, b := fitAffine(w0[32:], w1[:32])
	for j := range 32 {
		if math.Abs(float64(w0[32+j])*a+b-float64(w1[j])) > 1e-4 {
			t.Fatalf("window 1 does not start 32 samples after window 0 (j=%d)", j)
		}
	}

	// With a stride beyond the length the gaps are unused too:
	// windows at 0, 100, 200 cover 3·64 of 300 samples in each segment.
	gap := opt
	gap.Stride = 100
	dg, err := Build(context.Background(), src, gap)
	if err != nil {
		t.Fatal(err)
	}
	if dg.Len() != 20*3 || !slices.ContainsFunc(dg.Source.Notes, func(n string) bool { return strings.Contains(n, "2160 segment samples fall outside") }) {
		t.Fatalf("stride 100: %d windows, notes %q", dg.Len(), dg.Source.Notes)
	}

	opt.Workers = 7
	d7, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !sameDataset(d, d7) {
		t.Fatal("the result depends on the number of workers")
	}
}

// EvalOnly keeps every training window of the unbalanced dataset and, in
// validation and test, the same number of windows of each class, each
// taken from the unbalanced dataset's same split.
func TestBuildEvalOnly(t *testing.T) {
	src := syntheticSrc(t, 8, 300)
	opt := DefaultOptions()
	opt.Length, opt.Stride, opt.Balance, opt.Workers = 64, 32, dataset.NoBalance, 2
	all, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.Balance = dataset.EvalOnly
	d, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !sameDataset(all.Part(dataset.Train), d.Part(dataset.Train)) {
		t.Fatal("the training split differs from --balance none's")
	}
	type key struct {
		record string
		sample string
	}
	in := map[key]dataset.Split{}
	for i := range all.Len() {
		in[key{all.Records[i], fmt.Sprint(all.Sample(i))}] = all.Splits[i]
	}
	for _, s := range []dataset.Split{dataset.Val, dataset.Test} {
		c := d.Part(s).ClassCounts()
		if c[0] != c[1] || c[0] == 0 || c[0] != all.Part(s).ClassCounts()[1] {
			t.Errorf("%s split: class counts %v, want the seizure count %d of each", s, c, all.Part(s).ClassCounts()[1])
		}
	}
	for i := range d.Len() {
		if sp, ok := in[key{d.Records[i], fmt.Sprint(d.Sample(i))}]; !ok || sp != d.Splits[i] {
			t.Fatalf("window %d of %s (%s): not a window of that split without balancing", i, d.Records[i], d.Splits[i])
		}
	}
	if !slices.ContainsFunc(d.Source.Notes, func(n string) bool { return strings.Contains(n, "the training split keeps every window") }) {
		t.Errorf("notes %q do not say how it was balanced", d.Source.Notes)
	}
}

// fitAffine returns a, b minimising Σ (a·x + b − y)².
func fitAffine(x, y []float32) (a, b float64) {
	var sx, sy, sxx, sxy float64
	n := float64(len(x))
	for i := range x {
		sx += float64(x[i])
		sy += float64(y[i])
		sxx += float64(x[i]) * float64(x[i])
		sxy += float64(x[i]) * float64(y[i])
	}
	a = (n*sxy - sx*sy) / (n*sxx - sx*sx)
	return a, (sy - a*sx) / n
}

func TestBuildFolderNames(t *testing.T) {
	src := t.TempDir()
	gen := func(i, j int) float64 { return float64((i*7+j*13)%50) - 25 }
	writeSet(t, src, "a", "Z", "txt", 2, 200, gen)
	writeSet(t, src, "E_S", "S", "txt", 3, 200, gen)
	opt := DefaultOptions()
	opt.Task, opt.Length, opt.Balance = "A-vs-E", 64, dataset.NoBalance
	d, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.ClassCounts(); !slices.Equal(got, []int{2 * 3, 3 * 3}) {
		t.Fatalf("class counts %v, want [6 9]", got)
	}

	// A second folder for set A is ambiguous.
	writeSet(t, src, "Z", "Z", "txt", 1, 200, gen)
	if _, err := Build(context.Background(), src, opt); err == nil || !strings.Contains(err.Error(), "both hold set A") {
		t.Fatalf("duplicate set folders: error %v", err)
	}

	// E-vs-ABCD needs sets B, C and D, which are missing.
	if err := os.RemoveAll(filepath.Join(src, "Z")); err != nil {
		t.Fatal(err)
	}
	opt.Task = "E-vs-ABCD"
	if _, err := Build(context.Background(), src, opt); !errors.Is(err, ErrNoData) || !strings.Contains(err.Error(), "no folder for set B (name it B_O, B or O)") {
		t.Fatalf("missing set: error %v", err)
	}

	if _, err := Build(context.Background(), filepath.Join(src, "nowhere"), opt); !errors.Is(err, ErrNoData) || !errors.Is(err, fs.ErrNotExist) ||
		!strings.Contains(err.Error(), "nowhere") {
		t.Fatalf("missing src: error %v", err)
	}

	// A set folder without segment files.
	empty := t.TempDir()
	for _, dir := range []string{"A_Z", "E_S"} {
		if err := os.Mkdir(filepath.Join(empty, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opt.Task = "A-vs-E"
	if _, err := Build(context.Background(), empty, opt); !errors.Is(err, ErrNoData) || !strings.Contains(err.Error(), "no .txt files for set A") {
		t.Fatalf("empty set folder: error %v", err)
	}
}

func TestBuildOptionErrors(t *testing.T) {
	src := syntheticSrc(t, 1, 100)
	for _, tt := range []struct {
		name         string
		change       func(*Options)
		option, with string // the fields the *dataset.OptionError names
		value        any
		problem      string
		cause        bool // the error wraps the cause, a dsp error
	}{
		{"short length", func(o *Options) { o.Length = 10 }, "Length", "", 10, "must be at least 64", false},
		{"unknown task", func(o *Options) { o.Task = "B-vs-E" }, "Task", "", "B-vs-E", "want E-vs-ABCD or A-vs-E", false},
		{"negative stride", func(o *Options) { o.Stride = -4 }, "Stride", "", -4, "must be positive", false},
		{"invalid balance", func(o *Options) { o.Balance = dataset.Balance(9) }, "Balance", "", dataset.Balance(9), "want per-class, none or eval", false},
		{"patient split", func(o *Options) { o.Split = dataset.SplitPatient }, "Split", "", dataset.SplitPatient, "want record or random", false},
		{"invalid normalize", func(o *Options) { o.Normalize = dataset.Normalize(7) }, "Normalize", "", dataset.Normalize(7), "want window, recording or global", false},
		{"zero low", func(o *Options) { o.Low = 0 }, "Low", "", 0.0, "at least 0.01 Hz", false},
		{"NaN low", func(o *Options) { o.Low = math.NaN() }, "Low", "", nil, "at least 0.01 Hz", false},
		{"tiny low", func(o *Options) { o.Low = 1e-300 }, "Low", "", 1e-300, "at least 0.01 Hz", false},
		{"high above Nyquist", func(o *Options) { o.High = 90 }, "Low", "High", 1.0, "", true},
		{"corners swapped", func(o *Options) { o.Low, o.High = 30, 1 }, "Low", "High", 30.0, "", true},
		{"longer than segments", func(o *Options) { o.Length = 101 }, "Length", "", 101, "no segment in " + src + " is that long", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opt := DefaultOptions()
			tt.change(&opt)
			_, err := Build(context.Background(), src, opt)
			var oe *dataset.OptionError
			if !errors.As(err, &oe) {
				t.Fatalf("error %v (%T) is not a *dataset.OptionError", err, err)
			}
			if oe.Option != tt.option || oe.With != tt.with || !strings.Contains(oe.Problem, tt.problem) {
				t.Errorf("got option %q with %q, problem %q; want %q with %q, %q", oe.Option, oe.With, oe.Problem, tt.option, tt.with, tt.problem)
			}
			if tt.value != nil && oe.Value != tt.value {
				t.Errorf("value %#v, want %#v", oe.Value, tt.value)
			}
			if (oe.Err != nil) != tt.cause {
				t.Errorf("cause %v, want one: %v", oe.Err, tt.cause)
			}
			if !strings.HasPrefix(err.Error(), "bonn: option "+tt.option) || strings.Contains(err.Error(), "--") {
				t.Errorf("message %q: want it to start with bonn: option %s and name no command-line flag", err, tt.option)
			}
		})
	}
}

// TestBuildNotesOddSegments checks that segments of an unexpected length
// are recorded in the notes, where the caller sees them, and not logged
// through the process-wide logger, which a library does not own. (The test
// swaps that logger only to watch it; no test in this package runs in
// parallel.)
func TestBuildNotesOddSegments(t *testing.T) {
	src := syntheticSrc(t, 2, 300)
	opt := DefaultOptions()
	opt.Length, opt.Balance = 64, dataset.NoBalance
	var global bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&global, nil)))
	d, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	if global.Len() > 0 {
		t.Errorf("Build logged through the global logger:\n%s", global.String())
	}
	if !slices.ContainsFunc(d.Source.Notes, func(n string) bool { return strings.Contains(n, "10 segments do not have the published 4097 samples") }) {
		t.Errorf("notes %q do not count the 10 short segments", d.Source.Notes)
	}
}

func TestBuildCancelled(t *testing.T) {
	src := syntheticSrc(t, 2, 100)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	opt := DefaultOptions()
	opt.Length = 64
	if _, err := Build(ctx, src, opt); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// Tests on the real data.

func realData(t testing.TB) string { return testenv.SharedData(t, "bonn_eeg") }

func TestRealFiles(t *testing.T) {
	src := realData(t)
	dirs, err := findSets(src, setLetters)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, l := range setLetters {
		files, err := listFiles(dirs[string(l)], string(l))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != 100 {
			t.Errorf("set %c: %d files, want 100", l, len(files))
		}
		for _, f := range files {
			x, err := ReadFile(f.path)
			if err != nil {
				t.Fatal(err)
			}
			if len(x) != SegmentLength {
				t.Errorf("%s: %d samples, want %d", f.path, len(x), SegmentLength)
			}
			total++
		}
	}
	if total != 500 {
		t.Fatalf("read %d files, want 500", total)
	}
	for _, tt := range []struct {
		path string
		want []float64
	}{
		{"E_S/S001.txt", []float64{100, 124, 153}},
		{"A_Z/Z001.txt", []float64{12, 22, 35}},
	} {
		path, want := tt.path, tt.want
		x, err := ReadFile(filepath.Join(src, path))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(x[:3], want) {
			t.Errorf("%s begins %v, want %v", path, x[:3], want)
		}
	}
}

func buildReal(t *testing.T, change func(*Options)) *dataset.Dataset {
	t.Helper()
	opt := DefaultOptions()
	change(&opt)
	d, err := Build(context.Background(), realData(t), opt)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRealCounts(t *testing.T) {
	for _, tt := range []struct {
		task    string
		balance dataset.Balance
		want    []int
	}{
		{"E-vs-ABCD", dataset.NoBalance, []int{800, 200}},
		{"E-vs-ABCD", dataset.PerClass, []int{200, 200}},
		{"A-vs-E", dataset.NoBalance, []int{200, 200}},
		{"A-vs-E", dataset.PerClass, []int{200, 200}},
	} {
		d := buildReal(t, func(o *Options) { o.Task, o.Balance = tt.task, tt.balance })
		if got := d.ClassCounts(); !slices.Equal(got, tt.want) {
			t.Errorf("%s, balance %s: class counts %v, want %v", tt.task, tt.balance, got, tt.want)
		}
		if d.Length != 2048 || d.Channels != 1 {
			t.Errorf("shape %d×%d", d.Channels, d.Length)
		}
	}
}

func TestRealRecordSplit(t *testing.T) {
	for _, balance := range []dataset.Balance{dataset.NoBalance, dataset.PerClass} {
		d := buildReal(t, func(o *Options) { o.Balance = balance })
		splitOf := map[string]dataset.Split{}
		for i, r := range d.Records {
			if s, ok := splitOf[r]; ok && s != d.Splits[i] {
				t.Fatalf("balance %s: record %s is in %v and %v", balance, r, s, d.Splits[i])
			}
			splitOf[r] = d.Splits[i]
		}
		c := d.SplitCounts()
		n := float64(d.Len())
		if math.Abs(float64(c[dataset.Train])/n-0.70) > 0.05 || math.Abs(float64(c[dataset.Test])/n-0.15) > 0.05 {
			t.Errorf("balance %s: split counts %v of %d, want about 70/15/15", balance, c, d.Len())
		}
		// Each class is present in every split.
		for _, s := range dataset.Splits() {
			if got := d.Part(s).ClassCounts(); slices.Contains(got, 0) {
				t.Errorf("balance %s: split %v has class counts %v", balance, s, got)
			}
		}
	}
	// With 2 windows per record, a random split puts some record in two splits.
	d := buildReal(t, func(o *Options) { o.Split, o.Balance = dataset.SplitRandom, dataset.NoBalance })
	straddle := 0
	first := map[string]dataset.Split{}
	for i, r := range d.Records {
		if s, ok := first[r]; ok && s != d.Splits[i] {
			straddle++
		}
		first[r] = d.Splits[i]
	}
	if straddle == 0 {
		t.Error("random split: no record straddles splits; is it really per window?")
	}
}

func TestRealZScoreAndFilter(t *testing.T) {
	src := realData(t)
	d := buildReal(t, func(o *Options) { o.Balance = dataset.NoBalance })
	for i := range d.Len() {
		var sum, ss float64
		w := d.Sample(i)
		for _, v := range w {
			sum += float64(v)
		}
		mean := sum / float64(len(w))
		for _, v := range w {
			ss += (float64(v) - mean) * (float64(v) - mean)
		}
		std := math.Sqrt(ss / float64(len(w)))
		if math.Abs(mean) > 1e-4 || math.Abs(std-1) > 1e-4 {
			t.Fatalf("window %d (%s): mean %g std %g", i, d.Records[i], mean, std)
		}
	}

	// The second window of E/S001 is samples 2048..4095 of the band-passed
	// segment, z-scored.
	x, err := ReadFile(filepath.Join(src, "E_S", "S001.txt"))
	if err != nil {
		t.Fatal(err)
	}
	bp, err := dsp.NewBandpass(1, 30, Fs)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 2048)
	dsp.ZScore(want, bp.Apply(x)[2048:4096])
	i := slices.Index(d.Records, "E/S001")
	if i < 0 || d.Records[i+1] != "E/S001" {
		t.Fatalf("E/S001 windows not found together")
	}
	if got := d.Sample(i + 1); !slices.Equal(got, want) {
		t.Fatal("second window of E/S001 is not the z-scored band-passed samples 2048..4095")
	}
	// The band-pass really changed the signal: the raw window differs.
	raw := make([]float32, 2048)
	dsp.ZScore(raw, x[2048:4096])
	if slices.Equal(raw, want) {
		t.Fatal("band-pass left the window unchanged")
	}
}

func TestRealDeterministic(t *testing.T) {
	a := buildReal(t, func(o *Options) { o.Seed = 42; o.Workers = 1 })
	b := buildReal(t, func(o *Options) { o.Seed = 42; o.Workers = 16 })
	if !sameDataset(a, b) {
		t.Fatal("same seed gave different datasets")
	}
	c := buildReal(t, func(o *Options) { o.Seed = 43 })
	if slices.Equal(a.Splits, c.Splits) && slices.Equal(a.Records, c.Records) {
		t.Fatal("seeds 42 and 43 gave the same balance and split")
	}
}

func TestRealCorruptFile(t *testing.T) {
	src := realData(t)
	tmp := t.TempDir()
	for _, folder := range []string{"A_Z", "E_S"} {
		if err := os.CopyFS(filepath.Join(tmp, folder), os.DirFS(filepath.Join(src, folder))); err != nil {
			t.Fatal(err)
		}
	}
	bad := filepath.Join(tmp, "E_S", "S050.txt")
	b, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\r\n")
	lines[16] = "abc"
	if err := os.WriteFile(bad, []byte(strings.Join(lines, "\r\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	opt := DefaultOptions()
	opt.Task = "A-vs-E"
	_, err = Build(context.Background(), tmp, opt)
	want := fmt.Sprintf("bonn: %s: line 17: \"abc\" is not a number", bad)
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	// The untouched copy builds.
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), tmp, opt); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkBuild(b *testing.B) {
	src := realData(b)
	opt := DefaultOptions()
	for b.Loop() {
		if _, err := Build(context.Background(), src, opt); err != nil {
			b.Fatal(err)
		}
	}
}
