package main

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/bonn"
	"github.com/splitnas/splitnas/dataset/chbmit"
	"github.com/splitnas/splitnas/dataset/mitbih"
	"github.com/splitnas/splitnas/internal/testenv"
)

// writeHugeDataset writes a dataset file whose checksum is right but whose
// header promises one sample of 2^32 channels × 2^32 values, which an
// unchecked product wraps around to an empty sample.
func writeHugeDataset(t *testing.T) string {
	t.Helper()
	header := `{"classes":["N"],"length":4294967296,"channels":4294967296,"samples":1,"encoding":"f32","records":["r"],"source":{"kind":"x"}}`
	b := []byte("SPLITNDS")
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(header)))
	b = append(b, header...)
	b = append(b, 0, 0, 0, 0, 0, 0) // label, split, record index
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	path := filepath.Join(t.TempDir(), "huge.snds")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDatasetRefusesImpossibleFile checks that info and export refuse a
// file whose sizes overflow, and that export writes nothing.
func TestDatasetRefusesImpossibleFile(t *testing.T) {
	huge := writeHugeDataset(t)
	npz := filepath.Join(t.TempDir(), "huge.npz")
	for _, args := range [][]string{
		{"dataset", "export", huge, "--npz", npz},
		{"dataset", "info", huge},
	} {
		t.Run(args[1], func(t *testing.T) {
			_, err := run(t, args...)
			var fe *dataset.FormatError
			if !errors.As(err, &fe) || fe.File != huge || !errors.Is(err, dataset.ErrInvalid) {
				t.Fatalf("error %v, want a *dataset.FormatError for %s wrapping dataset.ErrInvalid", err, huge)
			}
			if !strings.Contains(err.Error(), huge) || !strings.Contains(err.Error(), "4294967296×4294967296 values per sample") {
				t.Errorf("message %q does not name the file and the sizes", err)
			}
		})
	}
	entries, err := os.ReadDir(filepath.Dir(npz))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("export left %d files behind, e.g. %s", len(entries), entries[0].Name())
	}
}

// TestPrepareOptionErrorsNameFlags checks that the builders' option errors,
// which name the fields of their Options, reach the user worded with the
// flags, and still unwrap to the *dataset.OptionError. Options are checked
// before the source folder is read, so an empty folder does.
func TestPrepareOptionErrorsNameFlags(t *testing.T) {
	src := t.TempDir()
	out := filepath.Join(t.TempDir(), "out.snds")
	for _, c := range []struct {
		name   string
		args   []string
		option string // the field the *dataset.OptionError names
		want   string // the whole message
	}{
		{"mitdb length", []string{"mitdb", "--length", "10"}, "Length", "mitbih: --length 10: must be at least 64"},
		{"mitdb balance", []string{"mitdb", "--balance", "over"}, "Balance", `mitbih: --balance "over": want per-class, none or eval`},
		{"chbmit balance eval", []string{"chbmit", "--balance", "eval"}, "Balance", `chbmit: --balance "eval": want per-class or none`},
		{"mitdb split", []string{"mitdb", "--split", "by-age"}, "Split", `mitbih: --split "by-age": want random or inter-patient`},
		{"mitdb split of another builder", []string{"mitdb", "--split", "patient"}, "Split", `mitbih: --split "patient": want random or inter-patient`},
		{"mitdb per-class", []string{"mitdb", "--balance", "none", "--per-class", "3"}, "PerClass",
			`mitbih: --per-class 3 / --balance "none": a count per class needs per-class balancing`},
		{"mitdb rr-relative", []string{"mitdb", "--rr-relative"}, "RRRelative", "mitbih: --rr-relative true / --rr false: relative RR intervals need the RR channels"},
		{"mitdb window", []string{"mitdb", "--before", "6", "--after", "5"}, "Before", "mitbih: --before 6 / --after 5: the window is longer than 10 s"},
		{"mitdb classes", []string{"mitdb", "--classes", "N,X"}, "Classes", `mitbih: --classes "N,X": "X" is not an AAMI class (want some of N,S,V,F,Q)`},
		{"bonn task", []string{"bonn", "--task", "B-vs-C"}, "Task", `bonn: --task "B-vs-C": want E-vs-ABCD or A-vs-E`},
		{"bonn split", []string{"bonn", "--split", "patient"}, "Split", `bonn: --split "patient": want record or random`},
		{"bonn stride", []string{"bonn", "--stride", "-4"}, "Stride", "bonn: --stride -4: must be positive (or 0 for the window length)"},
		{"bonn band", []string{"bonn", "--low", "30", "--high", "1"}, "Low", "bonn: --low 30 / --high 1: dsp: "},
		{"chbmit channels", []string{"chbmit", "--channels", "F7-T7,f7-t7"}, "Channels", `chbmit: --channels "F7-T7,f7-t7": f7-t7 is named twice`},
		{"chbmit window", []string{"chbmit", "--window", "1.001"}, "Window", "chbmit: --window 1.001: want a positive whole number of samples at 256 Hz"},
		{"chbmit patients", []string{"chbmit", "--patients", "6"}, "Patients", "chbmit: --patients 6 / --exclude 6,14,16: patient 6 is both used and excluded"},
		{"chbmit split", []string{"chbmit", "--split", "inter-patient"}, "Split", `chbmit: --split "inter-patient": want random or patient`},
		{"bonn normalize", []string{"bonn", "--normalize", "minmax"}, "Normalize", `bonn: --normalize "minmax": want window, recording or global`},
		{"chbmit normalize", []string{"chbmit", "--normalize", "Global"}, "Normalize", `chbmit: --normalize "Global": want window, recording or global`},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"prepare"}, c.args...)
			_, err := run(t, append(args, "--src", src, "--out", out)...)
			var oe *dataset.OptionError
			if !errors.As(err, &oe) || oe.Option != c.option {
				t.Fatalf("error %v, want one wrapping a *dataset.OptionError for %s", err, c.option)
			}
			if !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("message\n%q\nwant it to start with\n%q", err, c.want)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a refused prepare wrote %s", out)
	}
}

// TestPrepareSourceHints checks that a folder without the data is reported
// with the builder's sentinel error and a hint naming --src.
func TestPrepareSourceHints(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.snds")
	for _, c := range []struct {
		builder  string
		sentinel error
		hint     string
	}{
		{"mitdb", mitbih.ErrNoRecords, "(is --src a MIT-BIH Arrhythmia Database folder?)"},
		{"bonn", bonn.ErrNoData, "(is --src the Bonn folder holding A_Z … E_S?)"},
		{"chbmit", chbmit.ErrNoPatients, "(is --src the CHB-MIT folder holding chb01 … chb24?)"},
	} {
		t.Run(c.builder, func(t *testing.T) {
			empty := t.TempDir()
			for _, src := range []string{empty, filepath.Join(empty, "missing")} {
				_, err := run(t, "prepare", c.builder, "--src", src, "--out", out)
				if !errors.Is(err, c.sentinel) || !strings.Contains(err.Error(), src) || !strings.HasSuffix(err.Error(), c.hint) {
					t.Errorf("error %v, want one wrapping %v, naming %s and ending with %q", err, c.sentinel, src, c.hint)
				}
			}
		})
	}
}

// TestPrepareCHBMITWarnsThroughItsLogger checks that the warnings of the
// CHB-MIT builder reach the command's log (stderr), and its notes the
// summary it prints.
func TestPrepareCHBMITWarnsThroughItsLogger(t *testing.T) {
	root := writeCHBMIT(t)
	sum := filepath.Join(root, "chb01", "chb01-summary.txt")
	f, err := os.OpenFile(sum, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\nFile Name: chb01_02.edf\nNumber of Seizures in File: 0\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(t.TempDir(), "chb.snds")
	stdout, stderr, err := runBoth(t, "prepare", "chbmit", "--src", root, "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "WARN") || !strings.Contains(stderr, "summary-listed EDF files are missing") || !strings.Contains(stderr, "chb01_02.edf") {
		t.Errorf("stderr has no warning about the missing chb01_02.edf:\n%s", stderr)
	}
	if !strings.Contains(stdout, "note:     1 summary-listed EDF files missing, skipped: chb01_02.edf") {
		t.Errorf("stdout has no note about the missing chb01_02.edf:\n%s", stdout)
	}
}

// writeCHBMITPatients writes the one-patient tree of writeCHBMIT and copies
// its patient to chb02 … chb<n>, so that a patient split has patients for
// every split.
func writeCHBMITPatients(t *testing.T, n int) string {
	t.Helper()
	root := writeCHBMIT(t)
	summary, err := os.ReadFile(filepath.Join(root, "chb01", "chb01-summary.txt"))
	if err != nil {
		t.Fatal(err)
	}
	edfFile, err := os.ReadFile(filepath.Join(root, "chb01", "chb01_01.edf"))
	if err != nil {
		t.Fatal(err)
	}
	for p := 2; p <= n; p++ {
		id := "chb0" + string(rune('0'+p))
		dir := filepath.Join(root, id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, id+"-summary.txt"), []byte(strings.ReplaceAll(string(summary), "chb01", id)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, id+"_01.edf"), edfFile, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestPrepareRecordSplitsAreDisjoint runs each record- or patient-wise
// split through the command and checks, on the file it writes, that no
// record (MIT-BIH record, Bonn segment, CHB-MIT patient) has samples in two
// splits and that validation is not empty. MIT-BIH and Bonn use the real
// data (skipped when absent), CHB-MIT a synthetic tree of seven patients (chb01 … chb08, chb06
// excluded by default).
func TestPrepareRecordSplitsAreDisjoint(t *testing.T) {
	for _, c := range []struct {
		name string
		args func(t *testing.T) []string
	}{
		{"mitdb inter-patient", func(t *testing.T) []string {
			if testing.Short() {
				t.Skip("reads 44 MIT-BIH records")
			}
			return []string{"mitdb", "--src", testenv.SharedData(t, "mitdb"), "--split", "inter-patient", "--length", "64",
				"--classes", "N,S,V,F", "--balance", "none", "--rr"}
		}},
		{"mitdb inter-patient balanced", func(t *testing.T) []string {
			if testing.Short() {
				t.Skip("reads 44 MIT-BIH records")
			}
			return []string{"mitdb", "--src", testenv.SharedData(t, "mitdb"), "--split", "inter-patient", "--length", "64",
				"--classes", "N,S,V,F", "--seed", "3"}
		}},
		{"bonn record", func(t *testing.T) []string {
			return []string{"bonn", "--src", testenv.SharedData(t, "bonn_eeg"), "--split", "record", "--normalize", "global"}
		}},
		{"chbmit patient", func(t *testing.T) []string {
			return []string{"chbmit", "--src", writeCHBMITPatients(t, 8), "--split", "patient", "--balance", "none",
				"--normalize", "recording"}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := c.args(t)
			out := filepath.Join(t.TempDir(), "out.snds")
			if _, err := run(t, append(append([]string{"prepare"}, args...), "--out", out)...); err != nil {
				t.Fatal(err)
			}
			d, err := dataset.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			splitOf := map[string]dataset.Split{}
			for i, r := range d.Records {
				if s, ok := splitOf[r]; ok && s != d.Splits[i] {
					t.Fatalf("record %s is in the %v and %v splits", r, s, d.Splits[i])
				}
				splitOf[r] = d.Splits[i]
			}
			if sc := d.SplitCounts(); sc[dataset.Train] == 0 || sc[dataset.Val] == 0 || sc[dataset.Test] == 0 {
				t.Errorf("split counts %v: want samples in every split", sc)
			}
		})
	}
}

// TestPrepareRRAndNormalize checks that --rr and --normalize reach the
// builders and are recorded in the dataset's settings.
func TestPrepareRRAndNormalize(t *testing.T) {
	for _, c := range []struct {
		name     string
		args     func(t *testing.T) []string
		channels int
		settings map[string]string
	}{
		{"mitdb --rr", func(t *testing.T) []string {
			return []string{"mitdb", "--src", testenv.SharedData(t, "mitdb"), "--records", "100", "--length", "64", "--balance", "none", "--rr"}
		}, 4, map[string]string{"rr": "pre-rr,post-rr,local-rr (s; local-rr over 10 intervals)"}},
		{"mitdb without --rr", func(t *testing.T) []string {
			return []string{"mitdb", "--src", testenv.SharedData(t, "mitdb"), "--records", "100", "--length", "64", "--balance", "none"}
		}, 1, map[string]string{"rr": "none"}},
		{"chbmit default", func(t *testing.T) []string {
			return []string{"chbmit", "--src", writeCHBMIT(t)}
		}, 1, map[string]string{"normalize": "window"}},
		{"chbmit --normalize global", func(t *testing.T) []string {
			return []string{"chbmit", "--src", writeCHBMIT(t), "--normalize", "global"}
		}, 1, map[string]string{"normalize": "global"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.snds")
			stdout, err := run(t, append(append([]string{"prepare"}, c.args(t)...), "--out", out)...)
			if err != nil {
				t.Fatal(err)
			}
			d, err := dataset.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			if d.Channels != c.channels {
				t.Errorf("%d channels, want %d", d.Channels, c.channels)
			}
			for k, v := range c.settings {
				if d.Source.Settings[k] != v {
					t.Errorf("setting %s = %q, want %q", k, d.Source.Settings[k], v)
				}
				if !strings.Contains(stdout, k+"="+v) {
					t.Errorf("summary does not show %s=%s:\n%s", k, v, stdout)
				}
			}
		})
	}
}
