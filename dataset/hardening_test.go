package dataset

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math"
	"strings"
	"testing"
)

// rawFile assembles a dataset file from a JSON header and the bytes after
// it, with a correct checksum, so that the reader's later checks are
// reached.
func rawFile(header string, data []byte) []byte {
	b := []byte(magic)
	b = binary.LittleEndian.AppendUint32(b, formatVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(header)))
	b = append(b, header...)
	b = append(b, data...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// hugeFile is a file with a valid checksum whose header promises one sample
// of 2^32 channels × 2^32 values: 2^64 values, which wrap around to 0 in an
// unchecked product.
func hugeFile() []byte {
	return rawFile(`{"classes":["N"],"length":4294967296,"channels":4294967296,"samples":1,"encoding":"f32","records":["r"],"source":{"kind":"x"}}`,
		[]byte{0, 0, 0, 0, 0, 0})
}

// TestDecodeRefusesImpossibleSizes checks files whose checksum is right but
// whose header promises sizes that overflow or that the file cannot hold.
func TestDecodeRefusesImpossibleSizes(t *testing.T) {
	header := func(channels, length, samples string) string {
		return `{"classes":["N"],"length":` + length + `,"channels":` + channels + `,"samples":` + samples +
			`,"encoding":"f32","records":["r"],"source":{"kind":"x"}}`
	}
	for _, tt := range []struct {
		name    string
		b       []byte
		invalid bool // the error wraps ErrInvalid
		want    string
	}{
		{"2^32 × 2^32 values", hugeFile(), true, "more than an int holds"},
		{"2^62 × 4 values", rawFile(header("4611686018427387904", "4", "1"), make([]byte, 6)), true, "more than an int holds"},
		{"2^31 samples of 2^33", rawFile(header("1", "8589934592", "2147483648"), nil), true, "more than an int holds"},
		{"negative samples", rawFile(header("1", "4", "-1"), nil), true, "-1 samples"},
		{"zero channels", rawFile(header("0", "4", "0"), nil), true, "not positive"},
		{"more samples than bytes", rawFile(header("1", "4", "1000000000000"), make([]byte, 22)), false, "header promises 1000000000000 samples"},
		{"header length 2^32-1", func() []byte {
			b := []byte(magic)
			b = binary.LittleEndian.AppendUint32(b, formatVersion)
			b = binary.LittleEndian.AppendUint32(b, math.MaxUint32)
			b = append(b, "{}"...)
			return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
		}(), false, "header length 4294967295 runs past the end"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Decode(tt.b, "big.snds")
			if err == nil {
				t.Fatalf("accepted: %d samples of %d×%d, SampleSize %d, %d values", d.Len(), d.Channels, d.Length, d.SampleSize(), len(d.X))
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != "big.snds" {
				t.Fatalf("error %v (%T) is not a *FormatError naming big.snds", err, err)
			}
			if got := errors.Is(err, ErrInvalid); got != tt.invalid {
				t.Errorf("errors.Is(%q, ErrInvalid) = %v, want %v", err, got, tt.invalid)
			}
			if errors.Is(err, ErrChecksum) {
				t.Errorf("error %q wraps ErrChecksum, but the checksum is right", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// TestDecodeWrapsValidate checks that an intact file describing an
// inconsistent dataset is refused with an error that wraps ErrInvalid.
func TestDecodeWrapsValidate(t *testing.T) {
	// One sample with label 3 of 1 class.
	b := rawFile(`{"classes":["N"],"length":1,"channels":1,"samples":1,"encoding":"f32","records":["r"],"source":{"kind":"x"}}`,
		[]byte{3, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	_, err := Decode(b, "labels.snds")
	var fe *FormatError
	if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "label 3") {
		t.Fatalf("error %v: want a *FormatError wrapping ErrInvalid about label 3", err)
	}
	if strings.Count(err.Error(), "dataset:") != 1 {
		t.Errorf("error %q repeats the package prefix", err)
	}
}

func TestValidate(t *testing.T) {
	valid := func() *Dataset { return synthetic([]int{2, 1}, 2, 3) }
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid dataset: %v", err)
	}
	for _, tt := range []struct {
		name string
		edit func(*Dataset)
		want string
	}{
		{"short records", func(d *Dataset) { d.Records = d.Records[:2] }, "3 labels, 3 splits, 2 records"},
		{"short splits", func(d *Dataset) { d.Splits = d.Splits[:1] }, "3 labels, 1 splits, 3 records"},
		{"long records", func(d *Dataset) { d.Records = append(d.Records, "x") }, "3 labels, 3 splits, 4 records"},
		{"short X", func(d *Dataset) { d.X = d.X[:len(d.X)-1] }, "17 values for 3 samples of 2×3"},
		{"2^32 × 2^32 shape", func(d *Dataset) { d.Channels, d.Length, d.X = 1<<32, 1<<32, nil }, "more than an int holds"},
		{"2^31 samples' worth", func(d *Dataset) { d.Channels, d.Length = 1<<31, 1<<31 }, "more than an int holds"},
		{"zero length", func(d *Dataset) { d.Length, d.X = 0, nil }, "shape 2×0 is not positive"},
		{"negative channels", func(d *Dataset) { d.Channels = -2 }, "not positive"},
		{"no classes", func(d *Dataset) { d.Classes = nil }, "0 classes"},
		{"256 classes", func(d *Dataset) { d.Classes = make([]string, 256) }, "256 classes"},
		{"duplicate class", func(d *Dataset) { d.Classes = []string{"N", "N"} }, `class "N" is named twice`},
		{"label out of range", func(d *Dataset) { d.Labels[2] = 2 }, "sample 2 has label 2, only 2 classes"},
		{"unknown split", func(d *Dataset) { d.Splits[1] = 3 }, "sample 1 has unknown split 3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := valid()
			tt.edit(d)
			err := d.Validate()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want an error wrapping ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			// Whatever Validate refuses, the writers refuse too.
			if err := Write(io.Discard, d, F32); !errors.Is(err, ErrInvalid) {
				t.Errorf("Write = %v, want the Validate error", err)
			}
			if err := WriteNPZ(io.Discard, d); !errors.Is(err, ErrInvalid) {
				t.Errorf("WriteNPZ = %v, want the Validate error", err)
			}
		})
	}
}

// TestWriteNPZRefusesHugeFile is the case end to end: the 2^32
// file used to decode to an empty X and export as a wrong .npz.
func TestWriteNPZRefusesHugeFile(t *testing.T) {
	d := &Dataset{Classes: []string{"N"}, Channels: 1 << 32, Length: 1 << 32,
		Labels: []uint8{0}, Splits: []Split{Train}, Records: []string{"r"}}
	var buf bytes.Buffer
	if err := WriteNPZ(&buf, d); !errors.Is(err, ErrInvalid) {
		t.Fatalf("WriteNPZ = %v, want an error wrapping ErrInvalid", err)
	}
	if buf.Len() != 0 {
		t.Errorf("WriteNPZ wrote %d bytes before refusing", buf.Len())
	}
	if _, err := Decode(hugeFile(), "huge.snds"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Decode = %v, want an error wrapping ErrInvalid", err)
	}
}

// TestSplitAndBalanceRefuseBadLabels checks that the split and balance
// functions return an error, not panic, on a hand-built dataset whose labels
// or slices do not match.
func TestSplitAndBalanceRefuseBadLabels(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*Dataset)
	}{
		{"label out of range", func(d *Dataset) { d.Labels[0] = 9 }},
		{"short splits", func(d *Dataset) { d.Splits = d.Splits[:3] }},
		{"short records", func(d *Dataset) { d.Records = d.Records[:3] }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range []struct {
				name string
				run  func(*Dataset) error
			}{
				{"SplitStratified", func(d *Dataset) error { return SplitStratified(d, PaperFractions(), 1) }},
				{"SplitByRecord", func(d *Dataset) error { return SplitByRecord(d, PaperFractions(), 1) }},
			} {
				d := synthetic([]int{5, 5}, 1, 2)
				tt.edit(d)
				if err := f.run(d); !errors.Is(err, ErrInvalid) {
					t.Errorf("%s = %v, want an error wrapping ErrInvalid", f.name, err)
				}
			}
		})
	}
	d := synthetic([]int{5, 5}, 1, 2)
	d.Labels[0] = 9
	if _, err := BalancePerClass(d, 0, 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("BalancePerClass = %v, want an error wrapping ErrInvalid", err)
	}
}

func TestBalanceAndSplitByNames(t *testing.T) {
	for _, b := range []Balance{PerClass, NoBalance, EvalOnly} {
		got, err := ParseBalance(b.String())
		if err != nil || got != b || !b.Valid() {
			t.Errorf("ParseBalance(%q) = %v, %v", b.String(), got, err)
		}
	}
	for _, s := range []SplitBy{SplitRandom, SplitInterPatient, SplitRecord, SplitPatient} {
		got, err := ParseSplitBy(s.String())
		if err != nil || got != s || !s.Valid() {
			t.Errorf("ParseSplitBy(%q) = %v, %v", s.String(), got, err)
		}
	}
	for _, n := range Normalizes() {
		got, err := ParseNormalize(n.String())
		if err != nil || got != n || !n.Valid() {
			t.Errorf("ParseNormalize(%q) = %v, %v", n.String(), got, err)
		}
	}
	if names := OrList(Normalizes()); names != "window, recording or global" {
		t.Errorf("normalisation methods %q", names)
	}
	for _, tt := range []struct {
		v interface {
			String() string
			Valid() bool
		}
		want string
	}{
		{Balance(7), "Balance(7)"},
		{Balance(3), "Balance(3)"},
		{SplitBy(4), "SplitBy(4)"},
		{SplitBy(255), "SplitBy(255)"},
		{Normalize(3), "Normalize(3)"},
		{Normalize(7), "Normalize(7)"},
	} {
		if got := tt.v.String(); got != tt.want || tt.v.Valid() {
			t.Errorf("String() = %q, Valid() = %v; want %q, false", got, tt.v.Valid(), tt.want)
		}
	}
	for _, tt := range []struct {
		name, option string
		parse        func() error
	}{
		{"balance", "Balance", func() error { _, err := ParseBalance("oversample"); return err }},
		{"split", "Split", func() error { _, err := ParseSplitBy("by-age"); return err }},
		{"empty split", "Split", func() error { _, err := ParseSplitBy(""); return err }},
		{"normalize", "Normalize", func() error { _, err := ParseNormalize("minmax"); return err }},
		{"normalize case", "Normalize", func() error { _, err := ParseNormalize("Window"); return err }},
	} {
		var oe *OptionError
		if err := tt.parse(); !errors.As(err, &oe) || oe.Option != tt.option {
			t.Errorf("%s: error %v, want an *OptionError for %s", tt.name, err, tt.option)
		}
	}
}

func TestOptionErrorMessage(t *testing.T) {
	cause := errors.New("dsp: band-pass corners")
	for _, tt := range []struct {
		e    *OptionError
		want string
	}{
		{&OptionError{Option: "Length", Value: 10, Problem: "must be at least 64"}, "option Length 10: must be at least 64"},
		{&OptionError{Option: "Split", Value: SplitPatient, Problem: "want random or inter-patient"}, `option Split "patient": want random or inter-patient`},
		{&OptionError{Option: "Channels", Value: []string{"a", "b"}, Problem: "b is named twice"}, `option Channels "a,b": b is named twice`},
		{&OptionError{Option: "Low", Value: 1.0, With: "High", WithValue: 200.0, Err: cause}, "option Low 1 with High 200: dsp: band-pass corners"},
		{&OptionError{Option: "Exclude", Value: []int{6, 14}, Problem: "x"}, "option Exclude 6,14: x"},
		{&OptionError{Option: "Normalize", Value: Normalize(7), Problem: "want window, recording or global"}, `option Normalize "Normalize(7)": want window, recording or global`},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if !errors.Is(&OptionError{Option: "Low", Err: cause}, cause) {
		t.Error("OptionError does not unwrap to its cause")
	}
}
