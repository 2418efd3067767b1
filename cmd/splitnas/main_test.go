package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/dataset/edf"
	"github.com/splitnas/splitnas/internal/testenv"
)

// TestMain lets the test binary act as the splitnas command, so tests can
// check exit status and stderr of a real process.
func TestMain(m *testing.M) {
	if os.Getenv("SPLITNAS_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// run executes the command in-process and returns its standard output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, _, err := runBoth(t, args...)
	return out, err
}

// runProcess executes the command as a separate process.
func runProcess(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SPLITNAS_TEST_MAIN=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

type info struct {
	Classes  []string       `json:"classes"`
	Counts   map[string]int `json:"counts"`
	Splits   map[string]int `json:"splits"`
	Length   int            `json:"length"`
	Channels int            `json:"channels"`
}

func infoJSON(t *testing.T, args ...string) info {
	t.Helper()
	out, err := run(t, append([]string{"dataset", "info", "--json"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var in info
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatalf("dataset info --json printed no JSON object: %v\n%s", err, out)
	}
	return in
}

func TestDatasetInfoEmbedded(t *testing.T) {
	in := infoJSON(t)
	if strings.Join(in.Classes, ",") != "N,S,V,F,Q" || in.Length != 2048 || in.Channels != 1 {
		t.Errorf("embedded sample: classes %v, %d×%d", in.Classes, in.Channels, in.Length)
	}
	for _, c := range in.Classes {
		if in.Counts[c] != 280 {
			t.Errorf("class %s: %d samples, want 280", c, in.Counts[c])
		}
	}
	if in.Splits["train"] != 980 || in.Splits["val"] != 210 || in.Splits["test"] != 210 {
		t.Errorf("splits %v, want 980/210/210", in.Splits)
	}
}

func TestPrepareMITDBThenInfoAndExport(t *testing.T) {
	src := testenv.SharedData(t, "mitdb")
	dir := t.TempDir()
	out := filepath.Join(dir, "two.snds")
	if _, err := run(t, "prepare", "mitdb", "--src", src, "--out", out, "--records", "100,208", "--length", "128", "--balance", "none"); err != nil {
		t.Fatal(err)
	}
	in := infoJSON(t, out)
	// Record 100: 2236 N, 33 S, 1 V; record 208: 1584 N, 2 S, 991 V, 372 F, 2 Q (edge beats dropped).
	want := map[string]int{"N": 2236 + 1584, "S": 33 + 2, "V": 1 + 991, "F": 372, "Q": 2}
	for _, c := range slices.Sorted(maps.Keys(want)) {
		if n := want[c]; in.Counts[c] != n {
			t.Errorf("class %s: %d, want %d", c, in.Counts[c], n)
		}
	}
	if in.Length != 128 {
		t.Errorf("length %d, want 128", in.Length)
	}
	npz := filepath.Join(dir, "two.npz")
	if _, err := run(t, "dataset", "export", out, "--npz", npz); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(npz); err != nil || st.Size() < 5227*128*4 {
		t.Fatalf("npz export: %v", err)
	}
}

func TestPrepareBonn(t *testing.T) {
	src := testenv.SharedData(t, "bonn_eeg")
	out := filepath.Join(t.TempDir(), "bonn.snds")
	if _, err := run(t, "prepare", "bonn", "--src", src, "--out", out, "--task", "A-vs-E", "--balance", "none"); err != nil {
		t.Fatal(err)
	}
	in := infoJSON(t, out)
	if in.Counts["healthy"] != 200 || in.Counts["seizure"] != 200 {
		t.Errorf("A-vs-E counts %v, want 200/200", in.Counts)
	}
}

// copyRecord copies record 100 of the MIT-BIH database into a new folder.
func copyRecord(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	for _, ext := range []string{".hea", ".dat", ".atr"} {
		b, err := os.ReadFile(filepath.Join(src, "100"+ext))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "100"+ext), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func edit(t *testing.T, path string, change func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, change(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBadInputExitsNonZero runs the real process on corrupt files and wrong
// flags: each must exit with status 1 and a message naming the file or flag
// and the problem, and never panic.
func TestBadInputExitsNonZero(t *testing.T) {
	mitdb := testenv.SharedData(t, "mitdb")
	bonnSrc := testenv.SharedData(t, "bonn_eeg")
	out := filepath.Join(t.TempDir(), "out.snds")

	truncated := copyRecord(t, mitdb)
	edit(t, filepath.Join(truncated, "100.dat"), func(b []byte) []byte { return b[:len(b)/2] })
	badChecksum := copyRecord(t, mitdb)
	edit(t, filepath.Join(badChecksum, "100.hea"), func(b []byte) []byte {
		return bytes.Replace(b, []byte("-22131"), []byte("-22130"), 1)
	})
	garbageAtr := copyRecord(t, mitdb)
	edit(t, filepath.Join(garbageAtr, "100.atr"), func(b []byte) []byte { return []byte("this is not an annotation file\n") })

	bonnBad := t.TempDir()
	for _, set := range []string{"A_Z", "E_S"} {
		if err := os.CopyFS(filepath.Join(bonnBad, set), os.DirFS(filepath.Join(bonnSrc, set))); err != nil {
			t.Fatal(err)
		}
	}
	edit(t, filepath.Join(bonnBad, "E_S", "S010.txt"), func(b []byte) []byte {
		return bytes.Replace(b, []byte("\n"), []byte("\nhello\n"), 1)
	})

	chbBad := writeCHBMIT(t)
	edit(t, filepath.Join(chbBad, "chb01", "chb01_01.edf"), func(b []byte) []byte { copy(b[184:192], "9999    "); return b })

	corruptDataset := filepath.Join(t.TempDir(), "corrupt.snds")
	if _, err := run(t, "prepare", "mitdb", "--src", mitdb, "--out", corruptDataset, "--records", "100", "--length", "64", "--balance", "none"); err != nil {
		t.Fatal(err)
	}
	edit(t, corruptDataset, func(b []byte) []byte { return b[:len(b)-100] })

	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"truncated .dat", []string{"prepare", "mitdb", "--src", truncated, "--out", out, "--records", "100", "--balance", "none"},
			[]string{filepath.Join(truncated, "100.dat"), "byte"}},
		{".hea checksum", []string{"prepare", "mitdb", "--src", badChecksum, "--out", out, "--records", "100", "--balance", "none"},
			[]string{"100", "checksum mismatch"}},
		{"garbage .atr", []string{"prepare", "mitdb", "--src", garbageAtr, "--out", out, "--records", "100"},
			[]string{filepath.Join(garbageAtr, "100.atr"), "byte"}},
		{"Bonn text", []string{"prepare", "bonn", "--src", bonnBad, "--out", out, "--task", "A-vs-E"},
			[]string{filepath.Join(bonnBad, "E_S", "S010.txt"), "line 2", `"hello" is not a number`}},
		{"EDF header length", []string{"prepare", "chbmit", "--src", chbBad, "--out", out},
			[]string{filepath.Join(chbBad, "chb01", "chb01_01.edf"), "header length field says 9999 bytes"}},
		{"CHB-MIT without signals", []string{"prepare", "chbmit", "--src", testenv.SharedData(t, "chbmit"), "--out", out},
			[]string{"no CHB-MIT .edf signal files found", "The .edf signal files are needed"}},
		{"corrupt dataset", []string{"dataset", "info", corruptDataset}, []string{corruptDataset, "checksum mismatch"}},
		{"missing dataset", []string{"dataset", "info", out + ".none"}, []string{out + ".none", "no such file"}},
		{"bad length", []string{"prepare", "mitdb", "--src", mitdb, "--out", out, "--length", "10"}, []string{"--length 10", "at least 64"}},
		{"bad split", []string{"prepare", "mitdb", "--src", mitdb, "--out", out, "--split", "by-age"}, []string{`--split "by-age"`}},
		{"bad encoding", []string{"prepare", "mitdb", "--src", mitdb, "--out", out, "--encoding", "f8"}, []string{`--encoding "f8"`}},
		{"missing flag", []string{"prepare", "mitdb", "--src", mitdb}, []string{`"out" not set`}},
		{"not a number", []string{"prepare", "bonn", "--src", bonnSrc, "--out", out, "--length", "many"}, []string{`"many"`, "--length"}},
		{"unknown task", []string{"prepare", "bonn", "--src", bonnSrc, "--out", out, "--task", "B-vs-C"}, []string{`--task "B-vs-C"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := runProcess(t, c.args...)
			if code != 1 {
				t.Errorf("exit status %d, want 1\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
				t.Fatalf("panicked:\n%s", stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed prepare left %s behind", out)
	}
}

// writeCHBMIT writes a one-patient CHB-MIT tree with a 60 s recording.
func writeCHBMIT(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "chb01")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	summary := "Data Sampling Rate: 256 Hz\n\nFile Name: chb01_01.edf\nFile Start Time: 11:42:54\nFile End Time: 11:43:54\n" +
		"Number of Seizures in File: 1\nSeizure Start Time: 20 seconds\nSeizure End Time: 40 seconds\n"
	if err := os.WriteFile(filepath.Join(dir, "chb01-summary.txt"), []byte(summary), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &edf.Header{Patient: "test", Recording: "test", StartDate: "01.01.10", StartTime: "11.42.54", NumRecords: 60, RecordDuration: 1}
	data := make([][]int16, 2)
	for i, label := range []string{"F7-T7", "F8-T8"} {
		h.Signals = append(h.Signals, edf.Signal{Label: label, PhysicalDimension: "uV", PhysicalMin: -800, PhysicalMax: 800,
			DigitalMin: -32768, DigitalMax: 32767, SamplesPerRecord: 256})
		data[i] = make([]int16, 60*256)
		for j := range data[i] {
			data[i][j] = int16((j*37 + i*11) % 2000)
		}
	}
	var b bytes.Buffer
	if err := edf.Write(&b, h, data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "chb01_01.edf"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}
