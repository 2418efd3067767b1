package wfdb

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/internal/testenv"
)

// header100 is the header of MIT-BIH record 100 (the file has CRLF line
// ends).
const header100 = "100 2 360 650000\r\n" +
	"100.dat 212 200 11 1024 995 -22131 0 MLII\r\n" +
	"100.dat 212 200 11 1024 1011 20052 0 V5\r\n" +
	"# 69 M 1085 1629 x1\r\n" +
	"# Aldomet, Inderal\r\n"

// mitdbRecords returns the directory of the MIT-BIH Arrhythmia Database and
// the names in its RECORDS file, skipping the test when the data are absent.
func mitdbRecords(tb testing.TB) (dir string, records []string) {
	tb.Helper()
	dir = testenv.SharedData(tb, "mitdb")
	data, err := os.ReadFile(filepath.Join(dir, "RECORDS"))
	if err != nil {
		tb.Fatal(err)
	}
	records = strings.Fields(string(data))
	if len(records) != 48 {
		tb.Fatalf("RECORDS lists %d records, want 48", len(records))
	}
	return dir, records
}

func TestMITDBAllRecords(t *testing.T) {
	dir, records := mitdbRecords(t)
	for _, name := range records {
		rec, err := ReadRecord(dir, name) // verifies initial values and checksums
		if err != nil {
			t.Errorf("record %s: %v", name, err)
			continue
		}
		if rec.NumSignals != 2 || len(rec.Samples) != 2 || rec.Freq != 360 {
			t.Errorf("record %s: %d signals (%d decoded) at %v Hz, want 2 at 360 Hz",
				name, rec.NumSignals, len(rec.Samples), rec.Freq)
			continue
		}
		for i, s := range rec.Samples {
			if len(s) != 650000 {
				t.Errorf("record %s signal %d: %d samples, want 650000", name, i, len(s))
			}
			if !rec.Signals[i].HasChecksum || !rec.Signals[i].HasInitValue {
				t.Errorf("record %s signal %d: header lacks checksum or initial value", name, i)
			}
		}
	}
}

func TestMITDBRecord100(t *testing.T) {
	dir, _ := mitdbRecords(t)
	rec, err := ReadRecord(dir, "100")
	if err != nil {
		t.Fatal(err)
	}
	want := &Header{
		Record:     "100",
		NumSignals: 2,
		Freq:       360,
		NumSamples: 650000,
		Signals: []Signal{
			{File: "100.dat", Format: 212, SamplesPerFrame: 1, Gain: 200, Baseline: 1024, ADCRes: 11, ADCZero: 1024,
				InitValue: 995, HasInitValue: true, Checksum: -22131, HasChecksum: true, Description: "MLII"},
			{File: "100.dat", Format: 212, SamplesPerFrame: 1, Gain: 200, Baseline: 1024, ADCRes: 11, ADCZero: 1024,
				InitValue: 1011, HasInitValue: true, Checksum: 20052, HasChecksum: true, Description: "V5"},
		},
		Comments: []string{" 69 M 1085 1629 x1", " Aldomet, Inderal"},
	}
	if !reflect.DeepEqual(rec.Header, want) {
		t.Errorf("header:\n got %+v\nwant %+v", rec.Header, want)
	}
	mlii, v5 := rec.SignalIndex("MLII"), rec.SignalIndex("V5")
	if mlii != 0 || v5 != 1 || rec.SignalIndex("V1") != -1 {
		t.Fatalf("SignalIndex: MLII %d, V5 %d, V1 %d; want 0, 1, -1", mlii, v5, rec.SignalIndex("V1"))
	}
	if got := []int{rec.Samples[mlii][0], rec.Samples[v5][0]}; !reflect.DeepEqual(got, []int{995, 1011}) {
		t.Errorf("first samples %v, want [995 1011]", got)
	}
	if got, want := rec.Signals[mlii].Physical(rec.Samples[mlii][0]), (995.0-1024)/200; got != want {
		t.Errorf("first MLII sample is %v mV, want %v", got, want)
	}

	// The header, written back, is the original apart from line ends.
	var b strings.Builder
	if err := WriteHeader(&b, rec.Header); err != nil {
		t.Fatal(err)
	}
	if want := strings.ReplaceAll(header100, "\r\n", "\n"); b.String() != want {
		t.Errorf("WriteHeader:\n%s\nwant\n%s", b.String(), want)
	}
}

// countCodes counts annotations by mnemonic.
func countCodes(anns []Annotation) map[string]int {
	n := make(map[string]int)
	for _, a := range anns {
		n[a.Code.String()]++
	}
	return n
}

func TestMITDBAnnotations100(t *testing.T) {
	dir, _ := mitdbRecords(t)
	anns, err := ReadAnnotations(filepath.Join(dir, "100.atr"))
	if err != nil {
		t.Fatal(err)
	}
	// MIT-BIH directory: 2239 normal beats, 33 APCs, 1 PVC; one rhythm
	// annotation, "(N" at the start.
	want := map[string]int{"N": 2239, "A": 33, "V": 1, "+": 1}
	if got := countCodes(anns); !reflect.DeepEqual(got, want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	first := Annotation{Sample: 18, Code: 28, Aux: "(N"}
	if anns[0] != first {
		t.Errorf("first annotation %+v, want %+v", anns[0], first)
	}
	if anns[1].Sample != 77 || anns[1].Code.String() != "N" {
		t.Errorf("second annotation %+v, want N at sample 77", anns[1])
	}
	for i := 1; i < len(anns); i++ {
		if anns[i].Sample < anns[i-1].Sample || anns[i].Sample >= 650000 {
			t.Fatalf("annotation %d at sample %d out of order or past the end", i, anns[i].Sample)
		}
	}
}

func TestMITDBAnnotations208(t *testing.T) {
	dir, _ := mitdbRecords(t)
	anns, err := ReadAnnotations(filepath.Join(dir, "208.atr"))
	if err != nil {
		t.Fatal(err)
	}
	got := countCodes(anns)
	for _, tt := range []struct {
		code string
		want int
	}{{"N", 1586}, {"V", 992}, {"F", 373}, {"S", 2}} {
		if got[tt.code] != tt.want {
			t.Errorf("%s: %d, want %d", tt.code, got[tt.code], tt.want)
		}
	}
}

func TestMITDBBeatTotals(t *testing.T) {
	dir, records := mitdbRecords(t)
	got := make(map[string]int)
	rhythms := make(map[string]int)
	for _, name := range records {
		anns, err := ReadAnnotations(filepath.Join(dir, name+".atr"))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range anns {
			got[a.Code.String()]++
			if a.Code.String() == "+" {
				rhythms[a.Aux]++
			}
		}
	}
	// Published MIT-BIH beat totals.
	want := map[string]int{
		"N": 75052, "L": 8075, "R": 7259, "a": 150, "V": 7130, "F": 803, "J": 83, "A": 2546,
		"S": 2, "E": 106, "j": 229, "/": 7028, "e": 16, "f": 982, "Q": 33,
	}
	for _, code := range slices.Sorted(maps.Keys(want)) {
		if got[code] != want[code] {
			t.Errorf("%s: %d beats, want %d", code, got[code], want[code])
		}
	}
	for _, aux := range slices.Sorted(maps.Keys(rhythms)) {
		n := rhythms[aux]
		if !strings.HasPrefix(aux, "(") {
			t.Errorf("rhythm annotation with aux %q (%d times)", aux, n)
		}
	}
	if rhythms["(N"] == 0 || rhythms["(AFIB"] == 0 {
		t.Errorf("rhythms %v lack (N or (AFIB", rhythms)
	}
}

// TestMITDBAnnotationsRoundTrip rewrites every reference annotation file and
// reads it back.
func TestMITDBAnnotationsRoundTrip(t *testing.T) {
	dir, records := mitdbRecords(t)
	for _, name := range records {
		anns, err := ReadAnnotations(filepath.Join(dir, name+".atr"))
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := WriteAnnotations(&b, anns); err != nil {
			t.Fatalf("record %s: %v", name, err)
		}
		back, err := ParseAnnotations(strings.NewReader(b.String()), name+".atr")
		if err != nil {
			t.Fatalf("record %s: %v", name, err)
		}
		if !reflect.DeepEqual(back, anns) {
			t.Errorf("record %s: annotations differ after writing and reading", name)
		}
	}
}

func BenchmarkReadRecord(b *testing.B) {
	dir := testenv.SharedData(b, "mitdb")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadRecord(dir, "100"); err != nil {
			b.Fatal(err)
		}
	}
}
