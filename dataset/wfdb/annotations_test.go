package wfdb

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
)

// atr100Start is the first 64 bytes of MIT-BIH 100.atr: a rhythm
// annotation '+' with aux "(N\0" at sample 18, then normal beats.
var atr100Start = []byte{
	0x12, 0x70, 0x03, 0xfc, 0x28, 0x4e, 0x00, 0x00, 0x3b, 0x04, 0x25, 0x05,
	0x24, 0x05, 0x1c, 0x05, 0x1d, 0x05, 0x1c, 0x05, 0x26, 0x05, 0xeb, 0x20,
	0x66, 0x05, 0x30, 0x05, 0x24, 0x05, 0x1c, 0x05, 0x16, 0x05, 0x2e, 0x05,
	0x34, 0x05, 0x28, 0x05, 0x2a, 0x05, 0x28, 0x05, 0x1e, 0x05, 0x1f, 0x05,
	0x1d, 0x05, 0x28, 0x05, 0x39, 0x05, 0x28, 0x05, 0x1b, 0x05, 0x1d, 0x05,
	0x17, 0x05, 0x1b, 0x05,
}

// annWord encodes one annotation-file word.
func annWord(a, i int) []byte { return []byte{byte(i), byte(a<<2 | i>>8)} }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// skipWord encodes a SKIP of v samples: the word, then v as two 16-bit
// words, high first, each little-endian.
func skipWord(v int32) []byte {
	u := uint32(v)
	return cat(annWord(59, 0), []byte{byte(u >> 16), byte(u >> 24), byte(u), byte(u >> 8)})
}

func TestCodeString(t *testing.T) {
	var got []string
	for c := Code(1); c <= 41; c++ {
		got = append(got, c.String())
	}
	// WFDB's annstr table (lib/annot.c): codes 15 and 17 have no mnemonic,
	// 22 (NOTE) is '"' and 23 (MEASURE) is '='.
	want := strings.Fields(`N L R a V F J A S E j / Q ~ [15] | [17] s T * D " = p B ^ t + u ? ! [ ] e n @ x f ( ) r`)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mnemonics\n got %q\nwant %q", got, want)
	}
	for _, tt := range []struct {
		c    Code
		want string
	}{{0, " "}, {42, "[42]"}, {49, "[49]"}, {255, "[255]"}} {
		if tt.c.String() != tt.want {
			t.Errorf("Code(%d) = %q, want %q", tt.c, tt.c.String(), tt.want)
		}
	}
}

func TestParseAnnotations100Start(t *testing.T) {
	anns, err := ParseAnnotations(bytes.NewReader(atr100Start), "100.atr")
	if err != nil {
		t.Fatal(err)
	}
	if len(anns) != 29 {
		t.Fatalf("%d annotations, want 29", len(anns))
	}
	want := []Annotation{{Sample: 18, Code: 28, Aux: "(N"}, {Sample: 77, Code: 1}, {Sample: 370, Code: 1}}
	if !reflect.DeepEqual(anns[:3], want) {
		t.Errorf("got %+v, want %+v", anns[:3], want)
	}
}

func TestWriteAnnotationsBytes(t *testing.T) {
	var b bytes.Buffer
	anns := []Annotation{{Sample: 2000, Code: 1}, {Sample: 2003, Code: 5, Subtype: -1, Chan: 1, Num: 2, Aux: "abc"}}
	if err := WriteAnnotations(&b, anns); err != nil {
		t.Fatal(err)
	}
	want := cat(
		annWord(59, 0), []byte{0x00, 0x00, 0xD0, 0x07}, // SKIP 2000, high word first
		annWord(1, 0),
		annWord(5, 3), annWord(61, 1023), annWord(62, 1), annWord(60, 2),
		annWord(63, 3), []byte("abc\x00"),
		annWord(0, 0),
	)
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("wrote\n% x\nwant\n% x", b.Bytes(), want)
	}
}

func TestAnnotationsRoundTrip(t *testing.T) {
	const far = 6024 + 1<<35 // needs several SKIPs of at most 2^31-1
	anns := []Annotation{
		{Sample: 0, Code: 28, Aux: "(N"},
		{Sample: 0, Code: 1},
		{Sample: 1023, Code: 5, Subtype: -1},
		{Sample: 1024, Code: 1, Chan: 1},
		{Sample: 6024, Code: 1, Chan: 1, Num: 3}, // SKIP 5000
		{Sample: far, Code: 28, Chan: 1, Num: 3, Aux: "(AFIB"},
		{Sample: far, Code: 0, Num: -512, Subtype: 511}, // code 0 at the same time
		{Sample: 100, Code: 14, Aux: "x"},               // back in time
		{Sample: 101, Code: 41, Chan: 1023, Num: 511, Aux: strings.Repeat("z", 255)},
		{Sample: 101, Code: 49, Chan: 1023, Num: 511, Aux: "a\x00b"},
	}
	var b bytes.Buffer
	if err := WriteAnnotations(&b, anns); err != nil {
		t.Fatal(err)
	}
	got, err := ParseAnnotations(&b, "rt.atr")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, anns) {
		t.Errorf("got  %+v\nwant %+v", got, anns)
	}
}

func TestWriteAnnotationsErrors(t *testing.T) {
	for _, tt := range []struct {
		ann Annotation
		msg string
	}{
		{Annotation{Code: 50}, "code 50"},
		{Annotation{Code: 1, Subtype: 512}, "subtype 512"},
		{Annotation{Code: 1, Chan: -1}, "channel -1"},
		{Annotation{Code: 1, Num: -513}, "num -513"},
		{Annotation{Code: 1, Aux: strings.Repeat("a", 256)}, "256 bytes"},
		{Annotation{Code: 1, Aux: "(N\x00"}, "NUL"},
		{Annotation{Code: 1, Sample: 1 << 41}, "sample is outside"},
	} {
		err := WriteAnnotations(&bytes.Buffer{}, []Annotation{{Code: 1}, tt.ann})
		if err == nil || !strings.Contains(err.Error(), "annotation 1") || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%+v: error %v, want one about annotation 1 containing %q", tt.ann, err, tt.msg)
		}
	}
}

func TestParseAnnotationsEnd(t *testing.T) {
	two := cat(annWord(1, 10), annWord(5, 20))
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"no end marker", two},
		{"end marker", cat(two, annWord(0, 0))},
		{"junk after the end", cat(two, annWord(0, 0), []byte{0xFF, 0xFF, 0x01})},
	} {
		name, data := tt.name, tt.data
		anns, err := ParseAnnotations(bytes.NewReader(data), "x.atr")
		want := []Annotation{{Sample: 10, Code: 1}, {Sample: 30, Code: 5}}
		if err != nil || !reflect.DeepEqual(anns, want) {
			t.Errorf("%s: got %+v, %v; want %+v", name, anns, err, want)
		}
	}
}

func TestParseAnnotationsErrors(t *testing.T) {
	beat := annWord(1, 10)
	tests := []struct {
		name   string
		data   []byte
		offset int64
		msg    string
	}{
		{"unknown code 55", cat(beat, annWord(55, 0), beat), 2, "unknown annotation code 55"},
		{"truncated AUX", cat(beat, annWord(63, 10), []byte("abc")), 2,
			"AUX of 10 bytes (10 with padding) runs past the end of the file (3 bytes left)"},
		{"AUX padding missing", cat(beat, annWord(63, 3), []byte("abc")), 2,
			"AUX of 3 bytes (4 with padding) runs past the end of the file (3 bytes left)"},
		{"truncated word", cat(beat, beat, []byte{0x01}), 4, "truncated word: 1 byte left"},
		{"truncated SKIP", cat(annWord(59, 0), []byte{0, 0}), 0, "SKIP interval truncated: 2 of 4 bytes left"},
		{"SUB first", cat(annWord(61, 1), beat), 0, "SUB before the first annotation"},
		{"AUX first", cat(annWord(63, 2), []byte("(N"), beat), 0, "AUX before the first annotation"},
		// 513 SKIPs of 2^31-1 samples pass 2^40; each is 6 bytes.
		{"SKIPs past 2^40", cat(bytes.Repeat(skipWord(math.MaxInt32), 513), beat), 512 * 6, "SKIP takes the time to sample 1101659110911, beyond ±1099511627776"},
		{"SKIP before 0 past -2^40", cat(bytes.Repeat(skipWord(math.MinInt32), 513), beat), 512 * 6, "SKIP takes the time to sample -1101659111424"},
		// 512 SKIPs stay 512 short of 2^40; the beat's interval passes it.
		{"interval past 2^40", cat(bytes.Repeat(skipWord(math.MaxInt32), 512), annWord(1, 1000)), 512 * 6, "annotation time 1099511628264 is beyond"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAnnotations(bytes.NewReader(tt.data), "bad.atr")
			if err == nil {
				t.Fatal("no error")
			}
			fe := asFormatError(t, err)
			if fe.File != "bad.atr" || fe.Offset != tt.offset || !strings.HasPrefix(fe.Msg, tt.msg) {
				t.Errorf("got %+v, want bad.atr at byte %d: %s", fe, tt.offset, tt.msg)
			}
			if want := "wfdb: bad.atr: byte "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", err, want)
			}
		})
	}
}

func FuzzParseAnnotations(f *testing.F) {
	f.Add(atr100Start)
	f.Add(cat(atr100Start, annWord(0, 0)))
	f.Add(cat(annWord(1, 10), annWord(55, 0)))
	f.Add(cat(annWord(1, 10), annWord(63, 10), []byte("abc")))
	var b bytes.Buffer
	_ = WriteAnnotations(&b, []Annotation{
		{Sample: 5000, Code: 28, Aux: "(AFIB"}, {Sample: 5001, Code: 14, Subtype: -1, Chan: 1, Num: 7}, {Sample: 2, Code: 0},
	})
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		anns, err := ParseAnnotations(bytes.NewReader(data), "fuzz.atr")
		if err != nil {
			if fe := asFormatError(t, err); fe.Offset < 0 || fe.Offset >= int64(len(data)) {
				t.Fatalf("error offset %d outside the %d-byte input", fe.Offset, len(data))
			}
			return
		}
		for _, a := range anns {
			if checkAnnotation(a) != nil {
				return // beyond what WriteAnnotations accepts, e.g. a long aux
			}
		}
		var b bytes.Buffer
		if err := WriteAnnotations(&b, anns); err != nil {
			t.Fatal(err)
		}
		back, err := ParseAnnotations(&b, "fuzz.atr")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, anns) && !(len(back) == 0 && len(anns) == 0) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", back, anns)
		}
	})
}
