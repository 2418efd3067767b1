package chbmit

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/dataset/edf"
)

// fakeFile is a synthetic recording: background EEG is a 10 Hz rhythm; in a
// seizure F7-T7 carries a large 3 Hz rhythm and F8-T8 a 5 Hz one, so tests
// can tell the classes and the two channels apart by counting zero
// crossings. Other channels are noise.
type fakeFile struct {
	name     string
	seconds  int
	seizures []Interval
	labels   []string // default: FP1-F7, F7-T7, F8-T8, T8-P8
	rate     int      // default 256
	absent   bool     // listed in the summary but not written
}

type fakePatient struct {
	num      int
	numbered bool // "Seizure 1 Start Time:" style, as the later patients
	files    []fakeFile
	unlisted []string // .edf files written but not in the summary
}

func defaultLabels() []string { return []string{"FP1-F7", "F7-T7", "F8-T8", "T8-P8"} }

// standardPatients is the fixture most tests use. With 4 s windows every
// 4 s it gives 16 seizure windows, 158 non-seizure ones and 6 that straddle
// a seizure boundary (see TestBuildSynthetic), plus an excluded patient
// (chb06), a listed but missing file and an unlisted one.
func standardPatients() []fakePatient {
	return []fakePatient{
		{num: 1, files: []fakeFile{
			{name: "chb01_01.edf", seconds: 120, seizures: []Interval{{42, 62}}},
			{name: "chb01_02.edf", seconds: 120},
			{name: "chb01_03.edf", seconds: 120, seizures: []Interval{{10, 50}}, absent: true},
		}},
		{num: 2, numbered: true, files: []fakeFile{
			{name: "chb02_01.edf", seconds: 120, seizures: []Interval{{20, 36}}},
			{name: "chb02_02.edf", seconds: 120, seizures: []Interval{{10, 17}, {90, 101}}},
		}, unlisted: []string{"chb02_99.edf"}},
		{num: 3, numbered: true, files: []fakeFile{
			// Another channel order, and T8-P8 twice as in the real files.
			{name: "chb03_01.edf", seconds: 120, seizures: []Interval{{60, 80}}, labels: []string{"FP1-F7", "F8-T8", "T8-P8", "F7-T7", "T8-P8"}},
			{name: "chb03_02.edf", seconds: 120}, // under a "Channels changed:" block
		}},
		{num: 6, files: []fakeFile{
			{name: "chb06_01.edf", seconds: 120, seizures: []Interval{{0, 40}}},
		}},
	}
}

// writeDB writes the patients under a new temporary folder and returns it.
func writeDB(t testing.TB, patients []fakePatient) string {
	t.Helper()
	root := t.TempDir()
	for _, p := range patients {
		id := fmt.Sprintf("chb%02d", p.num)
		dir := filepath.Join(root, id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, id+"-summary.txt"), []byte(summaryText(p)), 0o644); err != nil {
			t.Fatal(err)
		}
		for i, f := range p.files {
			if !f.absent {
				writeEDF(t, filepath.Join(dir, f.name), f, uint64(p.num*100+i))
			}
		}
		for _, name := range p.unlisted {
			writeEDF(t, filepath.Join(dir, name), fakeFile{seconds: 8}, 1)
		}
	}
	return root
}

// summaryText writes a summary in the CHB-MIT format.
func summaryText(p fakePatient) string {
	var b strings.Builder
	b.WriteString("Data Sampling Rate: 256 Hz\n*************************\n\n")
	var channels []string
	for i, f := range p.files {
		labels := f.labels
		if labels == nil {
			labels = defaultLabels()
		}
		if strings.Join(labels, ",") != strings.Join(channels, ",") {
			if i == 0 {
				b.WriteString("Channels in EDF Files:\n**********************\n")
			} else {
				b.WriteString("Channels changed:\n*****************\n")
			}
			for k, l := range labels {
				fmt.Fprintf(&b, "Channel %d: %s\n", k+1, l)
			}
			b.WriteString("\n")
			channels = labels
		}
		fmt.Fprintf(&b, "File Name: %s\nFile Start Time: %02d:00:00\nFile End Time: %02d:02:00\nNumber of Seizures in File: %d\n",
			f.name, 10+i, 10+i, len(f.seizures))
		for k, z := range f.seizures {
			n := ""
			if p.numbered {
				n = fmt.Sprintf(" %d", k+1)
			}
			fmt.Fprintf(&b, "Seizure%s Start Time: %g seconds\nSeizure%s End Time: %g seconds\n", n, z.Start, n, z.End)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// writeEDF writes a synthetic recording (see fakeFile) as EDF.
func writeEDF(t testing.TB, path string, f fakeFile, seed uint64) {
	t.Helper()
	labels := f.labels
	if labels == nil {
		labels = defaultLabels()
	}
	rate := f.rate
	if rate == 0 {
		rate = Rate
	}
	h := &edf.Header{Version: "0", Patient: "synthetic", Recording: "chbmit test fixture", StartDate: "01.01.10",
		StartTime: "10.00.00", NumRecords: f.seconds, RecordDuration: 1}
	rng := rand.New(rand.NewPCG(seed, 3))
	digital := make([][]int16, len(labels))
	for i, l := range labels {
		s := edf.Signal{Label: l, PhysicalDimension: "uV", PhysicalMin: -1000, PhysicalMax: 1000,
			DigitalMin: -32767, DigitalMax: 32767, SamplesPerRecord: rate}
		h.Signals = append(h.Signals, s)
		phase := rng.Float64() * 2 * math.Pi
		digital[i] = make([]int16, f.seconds*rate)
		for j := range digital[i] {
			tm := float64(j) / float64(rate)
			in := false
			for _, z := range f.seizures {
				in = in || (tm >= z.Start && tm < z.End)
			}
			v := 3 * rng.NormFloat64()
			switch {
			case l != "F7-T7" && l != "F8-T8":
				v *= 10
			case !in:
				v += 30 * math.Sin(2*math.Pi*10*tm+phase)
			case l == "F7-T7":
				v += 150 * math.Sin(2*math.Pi*3*tm+phase)
			default:
				v += 150 * math.Sin(2*math.Pi*5*tm+phase)
			}
			digital[i][j] = s.Digital(v)
		}
	}
	var b bytes.Buffer
	if err := edf.Write(&b, h, digital); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
