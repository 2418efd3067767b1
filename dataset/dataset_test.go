package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// synthetic returns a dataset with perClass[c] samples of class c, spread
// over records "r0".."r9", with values that identify each sample.
func synthetic(perClass []int, channels, length int) *Dataset {
	classes := []string{"N", "S", "V", "F", "Q"}[:len(perClass)]
	d := New(classes, channels, length)
	x := make([]float32, channels*length)
	k := 0
	for c, n := range perClass {
		for range n {
			for j := range x {
				x[j] = float32(math.Sin(float64(k*31+j)) * 3)
			}
			if err := d.Add(x, c, "r"+string(rune('0'+k%10))); err != nil {
				panic(err)
			}
			k++
		}
	}
	d.Source = Source{Kind: "synthetic", Settings: map[string]string{"seed": "1"}, Attribution: "test"}
	return d
}

func TestFormatRoundTripF32(t *testing.T) {
	d := synthetic([]int{7, 3, 5}, 2, 33)
	if err := SplitStratified(d, PaperFractions(), 9); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, d, F32); err != nil {
		t.Fatal(err)
	}
	got, err := Read(&buf, "mem")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.X, d.X) || !slices.Equal(got.Labels, d.Labels) || !slices.Equal(got.Splits, d.Splits) ||
		!slices.Equal(got.Records, d.Records) || !slices.Equal(got.Classes, d.Classes) ||
		got.Length != d.Length || got.Channels != d.Channels || got.Source.Settings["seed"] != "1" {
		t.Fatalf("round trip changed the dataset")
	}
}

func TestFormatRoundTripF16(t *testing.T) {
	d := synthetic([]int{4, 4}, 1, 100)
	var buf bytes.Buffer
	if err := Write(&buf, d, F16); err != nil {
		t.Fatal(err)
	}
	if want := 16 + 6*8 + 8*100*2 + 4; buf.Len() < want {
		t.Fatalf("f16 file is %d bytes, want at least %d", buf.Len(), want)
	}
	got, err := Decode(buf.Bytes(), "mem")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range d.X {
		// half precision: 11 significant bits → relative error ≤ 2^-11.
		if diff := math.Abs(float64(got.X[i] - v)); diff > math.Abs(float64(v))/2048+1e-7 {
			t.Fatalf("value %d: %g became %g", i, v, got.X[i])
		}
	}
}

func TestDecodeRejectsCorruptFiles(t *testing.T) {
	d := synthetic([]int{3, 3}, 1, 16)
	var buf bytes.Buffer
	if err := Write(&buf, d, F32); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flipped := slices.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	wrongVersion := slices.Clone(good)
	wrongVersion[8] = 7
	cases := []struct {
		name     string
		b        []byte
		checksum bool // the error wraps ErrChecksum
		want     string
	}{
		{"truncated", good[:len(good)-10], true, "checksum mismatch"},
		{"flipped byte", flipped, true, "checksum mismatch"},
		{"empty", nil, false, "not a splitnas dataset file"},
		{"other file", []byte("PK\x03\x04 this is a zip file, not a dataset"), false, "not a splitnas dataset file"},
		{"short", good[:12], false, "truncated"},
		{"version", wrongVersion, false, "format version 7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.b, "some/file.snds")
			if err == nil {
				t.Fatal("no error")
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != "some/file.snds" {
				t.Fatalf("error %v (%T) is not a *FormatError naming some/file.snds", err, err)
			}
			if got := errors.Is(err, ErrChecksum); got != c.checksum {
				t.Errorf("errors.Is(%q, ErrChecksum) = %v, want %v", err, got, c.checksum)
			}
			// The words users read.
			if !strings.Contains(err.Error(), "some/file.snds") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name the file and %q", err, c.want)
			}
		})
	}
}

func TestSaveLoadAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.snds")
	d := synthetic([]int{2, 2}, 1, 8)
	if err := Save(path, d, F32); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("Save left %d files, want 1", len(entries))
	}
	got, err := Load(path)
	if err != nil || got.Len() != 4 {
		t.Fatalf("Load: %v, %d samples", err, got.Len())
	}
	if _, err := Load(filepath.Join(dir, "missing.snds")); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing.snds") {
		t.Fatalf("missing file error %v does not name it", err)
	}
}

func TestBalancePerClass(t *testing.T) {
	d := synthetic([]int{50, 7, 20}, 1, 4)
	b, err := BalancePerClass(d, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.ClassCounts(); !slices.Equal(got, []int{7, 7, 7}) {
		t.Fatalf("balanced counts %v, want 7 each", got)
	}
	again, _ := BalancePerClass(d, 0, 3)
	if !slices.Equal(again.X, b.X) {
		t.Fatal("same seed gave a different selection")
	}
	other, _ := BalancePerClass(d, 0, 4)
	if slices.Equal(other.X, b.X) {
		t.Fatal("different seeds gave the same selection of 7 out of 50")
	}
	if _, err := BalancePerClass(d, 8, 3); err == nil || !strings.Contains(err.Error(), `class "S" has only 7`) {
		t.Fatalf("asking for too many: %v", err)
	}
	four, err := BalancePerClass(d, 4, 3)
	if err != nil || !slices.Equal(four.ClassCounts(), []int{4, 4, 4}) {
		t.Fatalf("perClass 4: %v %v", err, four.ClassCounts())
	}
}

// TestBalanceSplit checks that balancing one split keeps perClass items of
// every class from that split only, as indices into the whole dataset, and
// that an item's class and split are the ones it had.
func TestBalanceSplit(t *testing.T) {
	d := synthetic([]int{100, 40}, 1, 4)
	if err := SplitStratified(d, PaperFractions(), 1); err != nil {
		t.Fatal(err)
	}
	for _, s := range Splits() {
		want := slices.Min(d.Part(s).ClassCounts())
		keep, err := d.BalanceSplit(s, 0, 5)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(keep) {
			t.Errorf("%s: indices %v are not sorted", s, keep)
		}
		counts := make([]int, len(d.Classes))
		for _, i := range keep {
			if d.Splits[i] != s {
				t.Fatalf("%s: kept item %d of split %s", s, i, d.Splits[i])
			}
			counts[d.Labels[i]]++
		}
		if !slices.Equal(counts, []int{want, want}) {
			t.Errorf("%s: kept %v per class, want %d each", s, counts, want)
		}
	}
	if _, err := d.BalanceSplit(Val, 1000, 5); err == nil || !strings.Contains(err.Error(), "cannot keep 1000 samples per class") {
		t.Errorf("asking for too many: %v", err)
	}
}

func TestSplitStratified(t *testing.T) {
	d := synthetic([]int{100, 40}, 1, 4)
	if err := SplitStratified(d, PaperFractions(), 1); err != nil {
		t.Fatal(err)
	}
	in := d.Info()
	if in.PerSplit["train"]["N"] != 70 || in.PerSplit["val"]["N"] != 15 || in.PerSplit["test"]["N"] != 15 ||
		in.PerSplit["train"]["S"] != 28 || in.PerSplit["val"]["S"] != 6 || in.PerSplit["test"]["S"] != 6 {
		t.Fatalf("per-split counts %v", in.PerSplit)
	}
	if err := SplitStratified(d, Fractions{0.5, 0.6, 0}, 1); err == nil {
		t.Fatal("fractions summing to 1.1 accepted")
	}
}

func TestSplitByRecordKeepsRecordsTogether(t *testing.T) {
	d := synthetic([]int{60, 60}, 1, 4)
	if err := SplitByRecord(d, Fractions{0.6, 0.2, 0.2}, 5); err != nil {
		t.Fatal(err)
	}
	where := map[string]Split{}
	for i, r := range d.Records {
		if s, ok := where[r]; ok && s != d.Splits[i] {
			t.Fatalf("record %s in %v and %v", r, s, d.Splits[i])
		}
		where[r] = d.Splits[i]
	}
	if c := d.SplitCounts(); c[Train] == 0 || c[Val] == 0 || c[Test] == 0 {
		t.Fatalf("split counts %v: a split is empty", c)
	}
}

// TestNPZReadByNumPy checks the export with NumPy itself, the tool users load
// it with. CI installs python3-numpy.
func TestNPZReadByNumPy(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err == nil && exec.Command(py, "-c", "import numpy").Run() != nil {
		py, err = "/usr/bin/python3", exec.Command("/usr/bin/python3", "-c", "import numpy").Run()
	}
	if err != nil {
		t.Skip("python3 with numpy is not installed (apt-get install python3-numpy)")
	}
	d := synthetic([]int{3, 2}, 2, 5)
	d.Splits[1] = Test
	path := filepath.Join(t.TempDir(), "d.npz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteNPZ(f, d); err != nil {
		t.Fatal(err)
	}
	f.Close()
	script := `
import numpy as np, sys
z = np.load(sys.argv[1])
x = z["x"]
print(x.dtype, x.shape, z["y"].tolist(), z["split"].tolist(), z["record"].tolist(), z["classes"].tolist())
print(int(x[4, 1, 3].view(np.uint32)))
`
	out, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy could not read the file: %v\n%s", err, out)
	}
	want := fmt.Sprintf("float32 (5, 2, 5) [0, 0, 0, 1, 1] [0, 2, 0, 0, 0] ['r0', 'r1', 'r2', 'r3', 'r4'] ['N', 'S']\n%d\n",
		math.Float32bits(d.Sample(4)[1*5+3]))
	if string(out) != want {
		t.Fatalf("numpy read\n%s\nwant\n%s", out, want)
	}
}
