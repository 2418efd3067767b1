package edf

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testHeader returns a header of ns EEG-like signals with spr samples per
// 1-second record.
func testHeader(ns, spr, records int) *Header {
	h := &Header{
		Version: "0", Patient: "X F 01-JAN-2001 test", Recording: "Startdate 01-JAN-2001 test",
		StartDate: "01.01.01", StartTime: "11.42.54", NumRecords: records, RecordDuration: 1,
	}
	for i := range ns {
		h.Signals = append(h.Signals, Signal{
			Label: fmt.Sprintf("S%d-T%d", i+1, i+2), PhysicalDimension: "uV",
			PhysicalMin: -3276.8, PhysicalMax: 3276.7, DigitalMin: -32768, DigitalMax: 32767,
			Prefiltering: "HP:0.1Hz LP:70Hz", SamplesPerRecord: spr,
		})
	}
	return h
}

// randomDigital returns random stored values for every signal of h.
func randomDigital(h *Header, seed uint64) [][]int16 {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := make([][]int16, len(h.Signals))
	for i, s := range h.Signals {
		d[i] = make([]int16, h.NumRecords*s.SamplesPerRecord)
		for j := range d[i] {
			d[i][j] = int16(rng.IntN(65536) - 32768)
		}
	}
	return d
}

// writeFile writes an EDF file in t's temporary folder and returns its path.
func writeFile(t testing.TB, h *Header, digital [][]int16) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, h, digital); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "test.edf")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// patch overwrites the field at off with s padded to width and returns a
// copy of b.
func patch(b []byte, off, width int, s string) []byte {
	c := slices.Clone(b)
	copy(c[off:off+width], s+strings.Repeat(" ", width-len(s)))
	return c
}

func formatError(t *testing.T, err error) *FormatError {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("got error %v, want a *FormatError", err)
	}
	return fe
}

func TestRoundTrip(t *testing.T) {
	// 23 signals of 256 samples (the CHB-MIT layout), 200 records: 2.4 MB,
	// more than two read chunks, the last one partial.
	h := testHeader(23, 256, 200)
	h.Signals[5].SamplesPerRecord = 128 // a slower signal shifts the later offsets
	dig := randomDigital(h, 7)
	path := writeFile(t, h, dig)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(256*24 + 200*(22*256+128)*2); st.Size() != want {
		t.Fatalf("file has %d bytes, want %d", st.Size(), want)
	}

	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.HeaderBytes != 256*24 || f.NumRecords != 200 || f.RecordDuration != 1 || f.StartTime != "11.42.54" {
		t.Errorf("header: %d bytes, %d records of %g s, start %q", f.HeaderBytes, f.NumRecords, f.RecordDuration, f.StartTime)
	}
	want := *h
	want.HeaderBytes = 256 * 24
	if fmt.Sprint(f.Header) != fmt.Sprint(want) {
		t.Errorf("header read back\n%+v\nwant\n%+v", f.Header, want)
	}
	if f.IsPlus() {
		t.Error("plain EDF reported as EDF+")
	}

	got, err := f.ReadDigital(22, 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	for k, i := range []int{22, 5, 0} {
		if !slices.Equal(got[k], dig[i]) {
			t.Errorf("signal %d: digital values differ from those written", i)
		}
	}

	x, err := f.Signal("S6-T7")
	if err != nil {
		t.Fatal(err)
	}
	if len(x) != 200*128 {
		t.Fatalf("S6-T7 has %d samples, want %d", len(x), 200*128)
	}
	for j, v := range x {
		// -3276.8 µV ↔ -32768, steps of 0.1 µV.
		if w := float64(dig[5][j]) / 10; math.Abs(v-w) > 1e-9 {
			t.Fatalf("sample %d = %g, want %g", j, v, w)
		}
	}
	if _, err := f.Signal("T8-P8"); err == nil || !strings.Contains(err.Error(), `no signal labelled "T8-P8"`) {
		t.Errorf("missing label: got %v", err)
	}
	if _, err := f.Read(23); err == nil {
		t.Error("index 23 of 23 signals: no error")
	}
}

func TestPhysical(t *testing.T) {
	s := Signal{PhysicalMin: -500, PhysicalMax: 500, DigitalMin: -2048, DigitalMax: 2047}
	for _, c := range []struct {
		d    int16
		want float64
	}{{-2048, -500}, {2047, 500}, {0, 1000.0*2048/4095 - 500}, {-1, 1000.0*2047/4095 - 500}} {
		if got := s.Physical(c.d); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Physical(%d) = %.15g, want %.15g", c.d, got, c.want)
		}
		if got := s.Digital(c.want); got != c.d {
			t.Errorf("Digital(%g) = %d, want %d", c.want, got, c.d)
		}
	}
	if got := s.Digital(1e9); got != 2047 {
		t.Errorf("Digital clamps to %d, want 2047", got)
	}
	if got := (Signal{SamplesPerRecord: 512}).Rate(2); got != 256 {
		t.Errorf("Rate = %g, want 256", got)
	}
}

func TestHeaderErrors(t *testing.T) {
	h := testHeader(3, 4, 2)
	var b bytes.Buffer
	if err := Write(&b, h, randomDigital(h, 1)); err != nil {
		t.Fatal(err)
	}
	good := b.Bytes()
	const ns = 3
	// Offset of field k (cumulative width before it) for signal i.
	sig := func(before, width, i int) int { return 256 + ns*before + i*width }
	for _, c := range []struct {
		name   string
		data   []byte
		offset int64
		msg    string
	}{
		{"header length", patch(good, 184, 8, "1000"), 184, "header length field says 1000 bytes, but 3 signals need 1024"},
		{"version", patch(good, 0, 8, "1"), 0, `version field "1       ": not an EDF file (want "0")`},
		{"records", patch(good, 236, 8, "ten"), 236, `number of data records "ten" is not an integer`},
		{"records -2", patch(good, 236, 8, "-2"), 236, "number of data records -2: want -1 (unknown) or more"},
		{"duration", patch(good, 244, 8, "1s"), 244, `duration of a data record "1s" is not a number`},
		{"duration 0", patch(good, 244, 8, "0"), 244, "duration of a data record 0 s: must be positive"},
		{"duration NaN", patch(good, 244, 8, "NaN"), 244, `duration of a data record "NaN" is not a number`},
		{"ns", patch(good, 252, 4, "x"), 252, `number of signals "x" is not an integer`},
		{"ns 0", patch(good, 252, 4, "0"), 252, "number of signals 0: want at least 1"},
		{"ns -1", patch(good, 252, 4, "-1"), 252, "number of signals -1: want at least 1"},
		{"physical min", patch(good, sig(104, 8, 1), 8, "0x10"), int64(sig(104, 8, 1)), `signal 2 ("S2-T3") physical minimum "0x10" is not a number`},
		{"digital min", patch(good, sig(120, 8, 2), 8, "12a"), int64(sig(120, 8, 2)), `signal 3 ("S3-T4") digital minimum "12a" is not an integer`},
		{"digital max", patch(good, sig(128, 8, 0), 8, "-32768"), int64(sig(128, 8, 0)), `signal 1 ("S1-T2"): digital maximum -32768 is not above digital minimum -32768`},
		{"samples", patch(good, sig(216, 8, 1), 8, "0"), int64(sig(216, 8, 1)), `signal 2 ("S2-T3") samples per data record 0: must be positive`},
		{"short fixed", good[:100], 100, "file ends after 100 bytes, inside the 256-byte fixed header"},
		{"short signals", good[:700], 700, "file ends inside the signal headers (444 of 768 bytes for 3 signals)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadHeader(bytes.NewReader(c.data), "dir/x.edf")
			fe := formatError(t, err)
			if fe.File != "dir/x.edf" || fe.Offset != c.offset || fe.Msg != c.msg {
				t.Errorf("got %q at offset %d in %s, want %q at %d", fe.Msg, fe.Offset, fe.File, c.msg, c.offset)
			}
			if !strings.HasPrefix(err.Error(), "edf: dir/x.edf: "+c.msg) {
				t.Errorf("Error() = %q", err)
			}
		})
	}
}

func TestTruncatedAndUnknownLength(t *testing.T) {
	h := testHeader(2, 256, 10)
	dig := randomDigital(h, 3)
	var b bytes.Buffer
	if err := Write(&b, h, dig); err != nil {
		t.Fatal(err)
	}
	full := b.Bytes()
	const hdr, rec = 768, 1024
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// 3½ records: the data runs out in the 4th.
	p := write("short.edf", full[:hdr+3*rec+rec/2])
	_, err := Open(p)
	fe := formatError(t, err)
	if fe.File != p || fe.Offset != hdr+3*rec+rec/2 || !strings.HasPrefix(fe.Msg, "data ends in data record 4 of 10") {
		t.Errorf("truncated file: %v", err)
	}

	// Unknown length: the file size gives 3 whole records.
	unknown := patch(full[:hdr+3*rec+rec/2], 236, 8, "-1")
	f, err := Open(write("unknown.edf", unknown))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.NumRecords != 3 || f.Duration() != 3 {
		t.Errorf("unknown length: %d records (%g s), want 3", f.NumRecords, f.Duration())
	}
	d, err := f.ReadDigital(1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d[0], dig[1][:3*256]) {
		t.Error("unknown length: signal 2 differs")
	}

	// Bytes after the last record (as chb17b_69.edf has) are ignored.
	f2, err := Open(write("long.edf", append(slices.Clone(full), make([]byte, 256)...)))
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	x, err := f2.Signal("S2-T3")
	if err != nil || len(x) != 2560 {
		t.Errorf("trailing bytes: %d samples, %v", len(x), err)
	}

	// Zero records is a valid, empty file.
	f3, err := Open(write("empty.edf", patch(full[:hdr], 236, 8, "0")))
	if err != nil {
		t.Fatal(err)
	}
	defer f3.Close()
	if x, err := f3.Signal("S1-T2"); err != nil || len(x) != 0 {
		t.Errorf("empty file: %d samples, %v", len(x), err)
	}
}

func TestEDFPlusAnnotations(t *testing.T) {
	h := testHeader(3, 8, 4)
	h.Reserved = "EDF+C"
	h.Signals[1] = Signal{Label: "EDF Annotations", DigitalMin: -32768, DigitalMax: 32767, PhysicalMin: -1, PhysicalMax: 1, SamplesPerRecord: 30}
	h.Signals[2].Label = h.Signals[0].Label // a duplicate label, as T8-P8 in CHB-MIT
	dig := randomDigital(h, 5)
	f, err := Open(writeFile(t, h, dig))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !f.IsPlus() || f.Discontinuous() {
		t.Errorf("EDF+C: IsPlus %v, Discontinuous %v", f.IsPlus(), f.Discontinuous())
	}
	if got := f.Labels(); !slices.Equal(got, []string{"S1-T2", "S1-T2"}) {
		t.Errorf("Labels = %q", got)
	}
	if i := f.Index("EDF Annotations"); i != -1 {
		t.Errorf("Index of the annotation signal = %d, want -1", i)
	}
	if i := f.Index("S1-T2"); i != 0 {
		t.Errorf("duplicate label resolves to signal %d, want the first (0)", i)
	}
	if _, err := f.Read(1); err == nil || !strings.Contains(err.Error(), "annotation signal") {
		t.Errorf("reading the annotation signal as samples: %v", err)
	}
	d, err := f.ReadDigital(1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d[0], dig[1]) || !slices.Equal(d[1], dig[2]) {
		t.Error("ReadDigital of an EDF+ file differs from what was written")
	}
}

func TestWriteErrors(t *testing.T) {
	h := testHeader(2, 4, 2)
	dig := randomDigital(h, 1)
	for _, c := range []struct {
		name string
		edit func(h *Header, d [][]int16) [][]int16
		msg  string
	}{
		{"count", func(h *Header, d [][]int16) [][]int16 { return d[:1] }, "1 sample slices for 2 signals"},
		{"ragged", func(h *Header, d [][]int16) [][]int16 { d[1] = d[1][:5]; return d }, "has 5 samples"},
		{"records", func(h *Header, d [][]int16) [][]int16 { h.NumRecords = 3; return d }, "header says 3 data records, the samples make 2"},
		{"label", func(h *Header, d [][]int16) [][]int16 { h.Signals[0].Label = strings.Repeat("x", 17); return d }, "longer than its 16-byte field"},
		{"digital", func(h *Header, d [][]int16) [][]int16 { h.Signals[1].DigitalMax = -40000; return d }, "digital maximum -40000 is not above"},
		{"physical", func(h *Header, d [][]int16) [][]int16 { h.Signals[1].PhysicalMax = math.Inf(1); return d }, "signal 2 physical maximum +Inf cannot be written"},
		{"duration", func(h *Header, d [][]int16) [][]int16 { h.RecordDuration = math.NaN(); return d }, "duration of a data record NaN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			hc := *h
			hc.Signals = slices.Clone(h.Signals)
			d := c.edit(&hc, slices.Clone(dig))
			if err := Write(&bytes.Buffer{}, &hc, d); err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("got %v, want an error containing %q", err, c.msg)
			}
		})
	}
}

func TestFormatNumber(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {-3276.8, "-3276.8"}, {1, "1"}, {0.5, "0.5"}, {1e6, "1e6"}, {12345678, "12345678"},
		{123456789, "1.2346e8"}, {-0.000012345, "-1.23e-5"}, {1.0 / 3, "0.333333"}, {-1.0 / 3, "-0.33333"},
		{2.5e-300, "2.5e-300"}, {-1.2345e300, "-1.2e300"},
	} {
		got, ok := formatNumber(c.v, 8)
		if !ok || got != c.want {
			t.Errorf("formatNumber(%g) = %q, %v; want %q", c.v, got, ok, c.want)
		}
	}
	if s, ok := formatNumber(math.NaN(), 8); ok {
		t.Errorf("NaN written as %q", s)
	}
}

// BenchmarkReadTwoOfHour reads 2 of the 23 signals of a one-hour CHB-MIT
// sized file (256 Hz, 3600 one-second records, 42 MB).
func BenchmarkReadTwoOfHour(b *testing.B) {
	h := testHeader(23, 256, 3600)
	path := writeFile(b, h, randomDigital(h, 1))
	b.SetBytes(256*24 + 3600*h.RecordSize())
	b.ResetTimer()
	for b.Loop() {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Read(f.Index("S2-T3"), f.Index("S14-T15")); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// TestReadRefusesUncountableSize checks that Read and ReadDigital refuse a
// signal whose record count times samples per record does not fit in an
// int, instead of allocating a wrapped-around size. Open's check of the
// file size makes this reachable only for files of more than 2^31 samples
// of one signal on a 32-bit machine, so the File is built by hand.
func TestReadRefusesUncountableSize(t *testing.T) {
	f := &File{path: "huge.edf", Header: Header{NumRecords: 1<<62 + 1,
		Signals: []Signal{{Label: "x", DigitalMin: -1, DigitalMax: 1, PhysicalMin: -1, PhysicalMax: 1, SamplesPerRecord: 4}}}}
	if _, err := f.Read(0); err == nil || !strings.Contains(err.Error(), "huge.edf: signal 0: 4611686018427387905 records of 4 samples are more than memory can index") {
		t.Errorf("Read: %v", err)
	}
	if _, err := f.ReadDigital(0); err == nil || !strings.Contains(err.Error(), "more than memory can index") {
		t.Errorf("ReadDigital: %v", err)
	}
}
