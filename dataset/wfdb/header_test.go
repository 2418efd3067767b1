package wfdb

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// asFormatError returns err as a *FormatError, failing the test if it is
// not one.
func asFormatError(t *testing.T, err error) *FormatError {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FormatError", err, err)
	}
	return fe
}

func TestParseHeaderFields(t *testing.T) {
	const text = "# before the record line\n" +
		"\n" +
		"rec 3 500/1000(7) 1200 12:00:00 01/01/2000\n" +
		"rec.dat 16x2:0+512 100.5(-3)/uV 16 5 -7 1234 0 lead I, filtered  \n" +
		"\t# between signal lines\n" +
		"rec.dat 16\n" +
		"other.dat 212 0/mmHg\n"
	h, err := ParseHeader(strings.NewReader(text), "rec.hea")
	if err != nil {
		t.Fatal(err)
	}
	want := &Header{
		Record: "rec", NumSignals: 3, Freq: 500, NumSamples: 1200,
		Signals: []Signal{
			{File: "rec.dat", Format: 16, SamplesPerFrame: 2, ByteOffset: 512, Gain: 100.5, Baseline: -3, Units: "uV",
				ADCRes: 16, ADCZero: 5, InitValue: -7, HasInitValue: true, Checksum: 1234, HasChecksum: true,
				Description: "lead I, filtered"},
			{File: "rec.dat", Format: 16, SamplesPerFrame: 1, Gain: 200},
			{File: "other.dat", Format: 212, SamplesPerFrame: 1, Gain: 200, Units: "mmHg"},
		},
		Comments: []string{" before the record line", " between signal lines"},
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("got  %+v\nwant %+v", h, want)
	}
}

func TestParseHeaderDefaults(t *testing.T) {
	h, err := ParseHeader(strings.NewReader("r 1\nr.dat 212 400 12 7\n"), "r.hea")
	if err != nil {
		t.Fatal(err)
	}
	if h.Freq != 250 || h.NumSamples != 0 {
		t.Errorf("freq %v, samples %d; want 250 and 0", h.Freq, h.NumSamples)
	}
	if s := h.Signals[0]; s.Baseline != 7 || s.Gain != 400 || s.HasInitValue || s.HasChecksum {
		t.Errorf("signal %+v: want baseline 7 (the ADC zero), gain 400, no initial value or checksum", s)
	}
	if got := h.Signals[0].Physical(407); got != 1 {
		t.Errorf("Physical(407) = %v, want 1", got)
	}
	if got := (Signal{}).Physical(200); got != 1 {
		t.Errorf("Physical with gain 0 = %v, want 1 (gain 200)", got)
	}
}

func TestParseHeaderErrors(t *testing.T) {
	tests := []struct {
		name, text, msg string
	}{
		{"non-numeric gain", "r 1 360 10\nr.dat 212 abc 11 1024\n", `line 2: gain "abc" is not a number`},
		{"empty", "# only a comment\n\n", "no record line"},
		{"multi-segment", "r/2 1 360\n", `line 1: record "r/2" is a multi-segment record`},
		{"no signal count", "r\n", "line 1: record line has no number of signals"},
		{"negative signal count", "r -1\n", "line 1: number of signals -1 is negative"},
		{"bad frequency", "r 1 fast\n", `line 1: sampling frequency "fast" is not a number`},
		{"zero frequency", "r 1 0\n", `line 1: sampling frequency "0" is not positive`},
		{"bad sample count", "r 1 360 1e6\n", `line 1: number of samples "1e6" is not an integer`},
		{"missing signal line", "r 2 360\nr.dat 212\n", "record line declares 2 signals but there are 1 signal lines"},
		{"no format", "r 1\nr.dat\n", "line 2: signal line has no format"},
		{"bad format", "r 1\n\nr.dat 212x1y2\n", `line 3: samples per frame "1y2" is not an integer`},
		{"zero samples per frame", "r 1\nr.dat 212x0\n", "line 2: samples per frame is 0"},
		{"format junk", "r 1\nr.dat 212+5x2\n", `line 2: byte offset "5x2" is not an integer`},
		{"unclosed baseline", "r 1\nr.dat 212 200(5/mV\n", `line 2: gain field "200(5/mV" has no ')' after the baseline`},
		{"gain junk", "r 1\nr.dat 212 200(5)mV\n", `line 2: gain field "200(5)mV" is malformed`},
		{"bad checksum", "r 1\nr.dat 212 200 12 0 0 x\n", `line 2: checksum "x" is not an integer`},
		{"huge ADC zero", "r 1\nr.dat 212 200 12 99999999999999999999\n", `line 2: ADC zero "99999999999999999999" is out of range`},
		{"extra line", "r 1\nr.dat 212\nr.dat 212\n", "line 3: unexpected line after the 1 signal lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHeader(strings.NewReader(tt.text), "bad.hea")
			if err == nil {
				t.Fatal("no error")
			}
			fe := asFormatError(t, err)
			if fe.File != "bad.hea" || fe.Offset != -1 || !strings.HasPrefix(fe.Msg, tt.msg) {
				t.Errorf("got %+v, want file bad.hea, offset -1, message starting %q", fe, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "wfdb: bad.hea: "+tt.msg) {
				t.Errorf("Error() = %q", err)
			}
		})
	}
}

func TestWriteHeaderRoundTrip(t *testing.T) {
	h := &Header{
		Record: "fixture", NumSignals: 4, Freq: 128.5, NumSamples: 3,
		Signals: []Signal{
			{File: "a.dat", Format: 212, SamplesPerFrame: 1, Gain: 200, Baseline: 0},
			{File: "a.dat", Format: 212, SamplesPerFrame: 1, Gain: 0.25, Baseline: -12, Units: "mmHg"},
			{File: "b.dat", Format: 16, SamplesPerFrame: 4, Skew: 2, ByteOffset: 24, Gain: 1000, Baseline: 3,
				ADCRes: 16, ADCZero: 3, InitValue: -5, HasInitValue: true},
			{File: "b.dat", Format: 16, SamplesPerFrame: 1, Gain: 200, Baseline: 100, Units: "mV", ADCRes: 12,
				ADCZero: 100, InitValue: 7, HasInitValue: true, Checksum: -32768, HasChecksum: true, BlockSize: 512,
				Description: "ABP (radial)"},
		},
		Comments: []string{"age: 60", " spaced", ""},
	}
	var b strings.Builder
	if err := WriteHeader(&b, h); err != nil {
		t.Fatal(err)
	}
	back, err := ParseHeader(strings.NewReader(b.String()), "fixture.hea")
	if err != nil {
		t.Fatalf("%v in\n%s", err, b.String())
	}
	if !reflect.DeepEqual(back, h) {
		t.Errorf("after writing\n%s\ngot  %+v\nwant %+v", b.String(), back, h)
	}
}

func TestWriteHeaderErrors(t *testing.T) {
	ok := Signal{File: "r.dat", Format: 212, SamplesPerFrame: 1, Gain: 200}
	tests := []struct {
		name string
		h    *Header
		msg  string
	}{
		{"nil", nil, "nil header"},
		{"blank name", &Header{Record: "a b", Freq: 1}, "contains blanks"},
		{"count", &Header{Record: "r", NumSignals: 2, Freq: 1, Signals: []Signal{ok}}, "NumSignals is 2"},
		{"frequency", &Header{Record: "r"}, "sampling frequency 0"},
		{"description without checksum", &Header{Record: "r", NumSignals: 1, Freq: 1,
			Signals: []Signal{{File: "r.dat", Format: 212, InitValue: 1, HasInitValue: true, Description: "x"}}},
			"needs the checksum"},
		{"checksum without initial value", &Header{Record: "r", NumSignals: 1, Freq: 1,
			Signals: []Signal{{File: "r.dat", Format: 212, HasChecksum: true}}},
			"needs the initial value"},
		{"comment", &Header{Record: "r", Freq: 1, Comments: []string{"a\nb"}}, "newline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := WriteHeader(&strings.Builder{}, tt.h)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %v, want one containing %q", err, tt.msg)
			}
		})
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add(header100)
	f.Add("rec 3 500/1000(7) 1200 12:00:00 01/01/2000\n" +
		"rec.dat 16x2:0+512 100.5(-3)/uV 16 5 -7 1234 0 lead I\n" +
		"rec.dat 16\n# comment\n" +
		"other.dat 212 0/mmHg\n")
	f.Add("r 1\nr.dat 212 200(5/mV\n")
	f.Add("r/2 1 360\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		h, err := ParseHeader(strings.NewReader(text), "fuzz.hea")
		if err != nil {
			asFormatError(t, err)
			return
		}
		var b strings.Builder
		if err := WriteHeader(&b, h); err != nil {
			t.Fatalf("WriteHeader of a parsed header: %v", err)
		}
		back, err := ParseHeader(strings.NewReader(b.String()), "fuzz.hea")
		if err != nil {
			t.Fatalf("reparsing %q: %v", b.String(), err)
		}
		if !reflect.DeepEqual(back, h) {
			t.Fatalf("round trip through %q:\n got %+v\nwant %+v", b.String(), back, h)
		}
	})
}
