package bonn

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/dsp"
)

// rms is the root mean square of x.
func rms(x []float32) float64 {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	return math.Sqrt(ss / float64(len(x)))
}

// twoRecordings writes sets A and E of two segments each: in every segment
// a 10 Hz rhythm of amplitude 100 for 256 samples and then 300 for 256;
// segment 2 of each set is segment 1 times 5.
func twoRecordings(t *testing.T) string {
	src := t.TempDir()
	gen := func(i, j int) float64 {
		a := 100.0
		if j >= 256 {
			a = 300
		}
		if i == 2 {
			a *= 5
		}
		return a * math.Sin(2*math.Pi*10*float64(j)/Fs)
	}
	writeSet(t, src, "A_Z", "Z", "txt", 2, 512, gen)
	writeSet(t, src, "E_S", "S", "txt", 2, 512, gen)
	return src
}

// TestBuildNormalize checks the three normalisations on two synthetic
// recordings whose second is the first amplified five times, each with a
// quiet first window and a loud (×3) second one.
func TestBuildNormalize(t *testing.T) {
	src := twoRecordings(t)
	for _, tt := range []struct {
		normalize dataset.Normalize
		within    float64 // RMS of window 2 / window 1 of a recording
		between   float64 // RMS of a window of recording 2 / the same window of recording 1
	}{
		{dataset.NormalizeWindow, 1, 1},
		{dataset.NormalizeRecording, 3, 1},
		{dataset.NormalizeGlobal, 3, 5},
	} {
		t.Run(tt.normalize.String(), func(t *testing.T) {
			opt := DefaultOptions()
			opt.Task, opt.Length, opt.Balance, opt.Split = "A-vs-E", 256, dataset.NoBalance, dataset.SplitRandom
			opt.Normalize = tt.normalize
			d, err := Build(context.Background(), src, opt)
			if err != nil {
				t.Fatal(err)
			}
			if d.Source.Settings["normalize"] != tt.normalize.String() ||
				!slices.ContainsFunc(d.Source.Notes, func(n string) bool { return strings.Contains(n, "(normalize "+tt.normalize.String()) }) {
				t.Errorf("settings %v, notes %q: want normalize %s in both", d.Source.Settings, d.Source.Notes, tt.normalize)
			}
			// Windows: A/Z001 0 and 1, A/Z002 0 and 1, then E likewise.
			if !slices.Equal(d.Records[:4], []string{"A/Z001", "A/Z001", "A/Z002", "A/Z002"}) {
				t.Fatalf("records %v", d.Records)
			}
			// The band-pass blurs the step between the windows a little.
			for _, set := range []int{0, 4} {
				r1w1, r1w2, r2w1, r2w2 := rms(d.Sample(set)), rms(d.Sample(set+1)), rms(d.Sample(set+2)), rms(d.Sample(set+3))
				if got := r1w2 / r1w1; math.Abs(got-tt.within) > 0.05*tt.within {
					t.Errorf("within a recording: RMS ratio %.3f, want %g", got, tt.within)
				}
				for _, got := range []float64{r2w1 / r1w1, r2w2 / r1w2} {
					if math.Abs(got-tt.between) > 0.01*tt.between {
						t.Errorf("between recordings: RMS ratio %.4f, want %g", got, tt.between)
					}
				}
			}
		})
	}
}

// TestBuildNormalizeExact checks the values against the definitions: window
// as today (dsp.ZScore of the band-passed window, also the zero value of the
// option), recording with the moments of the whole band-passed segment.
func TestBuildNormalizeExact(t *testing.T) {
	src := syntheticSrc(t, 3, 300)
	opt := DefaultOptions()
	opt.Length, opt.Balance = 128, dataset.NoBalance
	x, err := ReadFile(filepath.Join(src, "S", "S002.txt"))
	if err != nil {
		t.Fatal(err)
	}
	bp, err := dsp.NewBandpass(opt.Low, opt.High, Fs)
	if err != nil {
		t.Fatal(err)
	}
	seg := bp.Apply(x)
	mean, std := dsp.MeanStd(seg)
	for _, tt := range []struct {
		normalize dataset.Normalize
		want      func(w []float64) []float32
		tol       float64
	}{
		{dataset.NormalizeWindow, func(w []float64) []float32 {
			z := make([]float32, len(w))
			dsp.ZScore(z, w)
			return z
		}, 0},
		{dataset.NormalizeRecording, func(w []float64) []float32 {
			z := make([]float32, len(w))
			for j, v := range w {
				z[j] = float32((v - mean) / std)
			}
			return z
		}, 1e-6},
	} {
		t.Run(tt.normalize.String(), func(t *testing.T) {
			o := opt
			o.Normalize = tt.normalize
			d, err := Build(context.Background(), src, o)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.Index(d.Records, "E/S002")
			if i < 0 || d.Records[i+1] != "E/S002" {
				t.Fatal("windows of E/S002 not found together")
			}
			want := tt.want(seg[128:256])
			for j, v := range d.Sample(i + 1) {
				if math.Abs(float64(v-want[j])) > tt.tol {
					t.Fatalf("value %d of the second window: %g, want %g", j, v, want[j])
				}
			}
			if tt.normalize == dataset.NormalizeWindow {
				o.Normalize = 0 // the zero value: today's behaviour
				z, err := Build(context.Background(), src, o)
				if err != nil || !slices.Equal(z.X, d.X) {
					t.Errorf("the zero value differs from window normalisation (%v)", err)
				}
			}
		})
	}
}

// TestBuildNormalizeGlobalFromTrainingOnly amplifies the file of a test
// segment a hundredfold: with global normalisation the training and
// validation windows, and the constants in the notes, stay exactly the
// same, and only that segment's windows change.
func TestBuildNormalizeGlobalFromTrainingOnly(t *testing.T) {
	src := syntheticSrc(t, 4, 300)
	opt := DefaultOptions()
	opt.Length, opt.Balance, opt.Normalize = 64, dataset.NoBalance, dataset.NormalizeGlobal
	before, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	test := before.Records[before.Indices(dataset.Test)[0]] // e.g. "C/N003"
	set, name, _ := strings.Cut(test, "/")
	ext := ".txt"
	if set == "C" {
		ext = ".TXT"
	}
	path := filepath.Join(src, name[:1], name+ext) // syntheticSrc names folders by file letter
	x, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, v := range x {
		b.WriteString(strconv.FormatFloat(100*v, 'f', -1, 64) + "\r\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	after, err := Build(context.Background(), src, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before.Splits, after.Splits) || !slices.Equal(before.Records, after.Records) {
		t.Fatal("the split changed with the values")
	}
	note := func(d *dataset.Dataset) string {
		for _, n := range d.Source.Notes {
			if strings.Contains(n, "normalize global") {
				return n
			}
		}
		return ""
	}
	if note(before) == "" || note(before) != note(after) {
		t.Errorf("constants changed: %q → %q", note(before), note(after))
	}
	changed := 0
	for i, r := range before.Records {
		same := slices.Equal(before.Sample(i), after.Sample(i))
		switch {
		case r == test && same:
			t.Errorf("window %d of the amplified %s did not change", i, r)
		case r == test:
			changed++
			// (100·x − mean)/std = 100·(x − mean)/std + 99·mean/std
			if a, _ := fitAffine(before.Sample(i), after.Sample(i)); math.Abs(a-100) > 0.01 {
				t.Errorf("window %d of %s: scaled ×%.4f, want ×100", i, r, a)
			}
		case !same:
			t.Errorf("window %d of %s (%v) changed", i, r, before.Splits[i])
		}
	}
	if changed == 0 {
		t.Errorf("no window of %s", test)
	}
	// On the training split the values are z-scored as a whole.
	tr := after.Part(dataset.Train)
	m, err := dataset.TrainMoments(tr, 1)
	if err != nil || math.Abs(m[0].Mean) > 1e-5 || math.Abs(m[0].Std-1) > 1e-5 {
		t.Errorf("training split after normalisation: %+v, %v; want mean 0 and std 1", m, err)
	}
}

// TestRealNormalizeKeepsSeizureAmplitude checks on the real sets that the
// global normalisation keeps what the window z-score removes: ictal EEG
// (set E) is several times larger than the rest.
func TestRealNormalizeKeepsSeizureAmplitude(t *testing.T) {
	for _, tt := range []struct {
		normalize dataset.Normalize
		lo, hi    float64 // bounds on the seizure / non-seizure mean RMS ratio
	}{
		{dataset.NormalizeWindow, 0.999, 1.001},
		{dataset.NormalizeRecording, 0.9, 1.1},
		{dataset.NormalizeGlobal, 4, 9}, // 6.3 measured
	} {
		t.Run(tt.normalize.String(), func(t *testing.T) {
			d := buildReal(t, func(o *Options) { o.Normalize = tt.normalize; o.Balance = dataset.NoBalance })
			var sum [2]float64
			var n [2]int
			for i := range d.Len() {
				sum[d.Labels[i]] += rms(d.Sample(i))
				n[d.Labels[i]]++
			}
			ratio := (sum[1] / float64(n[1])) / (sum[0] / float64(n[0]))
			t.Logf("seizure windows' RMS %.3f× the others'", ratio)
			if ratio < tt.lo || ratio > tt.hi {
				t.Errorf("seizure windows' RMS %.3f× the others', want %g–%g", ratio, tt.lo, tt.hi)
			}
		})
	}
}
