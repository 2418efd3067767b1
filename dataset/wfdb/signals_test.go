package wfdb

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/internal/testenv"
)

// randomSamples returns nsig signals of n values in lo..hi, starting with
// both extremes.
func randomSamples(rng *rand.Rand, nsig, n, lo, hi int) [][]int {
	samples := make([][]int, nsig)
	for i := range samples {
		samples[i] = make([]int, n)
		for j := range samples[i] {
			samples[i][j] = lo + rng.IntN(hi-lo+1)
		}
		if n >= 2 {
			samples[i][0], samples[i][1] = lo, hi
			if i%2 == 1 {
				samples[i][0], samples[i][1] = hi, lo
			}
		}
	}
	return samples
}

// fixtureHeader describes samples stored in one file, with initial values
// and checksums.
func fixtureHeader(file string, format int, samples [][]int) *Header {
	h := &Header{Record: "fixture", NumSignals: len(samples), Freq: 360}
	for i, s := range samples {
		h.NumSamples = len(s)
		sig := Signal{File: file, Format: format, SamplesPerFrame: 1, Gain: 200,
			Checksum: int(checksum(s)), HasChecksum: true, Description: "signal " + strconv.Itoa(i)}
		if len(s) > 0 {
			sig.InitValue, sig.HasInitValue = s[0], true
		}
		h.Signals = append(h.Signals, sig)
	}
	return h
}

// writeFiles writes name→content files in a new temporary directory.
func writeFiles(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestSignalsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	formats := []struct {
		format int
		lo, hi int
		encode func([][]int) []byte
	}{
		{212, -2048, 2047, Encode212},
		{16, -32768, 32767, Encode16},
	}
	for _, f := range formats {
		for _, nsig := range []int{1, 2, 3} {
			for _, n := range []int{0, 1, 2, 5, 7, 1000, 2049, 2051} {
				name := strconv.Itoa(f.format) + "/" + strconv.Itoa(nsig) + "x" + strconv.Itoa(n)
				t.Run(name, func(t *testing.T) {
					samples := randomSamples(rng, nsig, n, f.lo, f.hi)
					h := fixtureHeader("fixture.dat", f.format, samples)
					dir := writeFiles(t, map[string][]byte{"fixture.dat": f.encode(samples)})
					got, err := ReadSignals(h, dir)
					if err != nil {
						t.Fatal(err)
					}
					if !equalSamples(got, samples) {
						t.Fatalf("decoded %v, want %v", got, samples)
					}
				})
			}
		}
	}
}

// equalSamples is reflect.DeepEqual that does not tell nil from empty.
func equalSamples(a, b [][]int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) || (len(a[i]) > 0 && !reflect.DeepEqual(a[i], b[i])) {
			return false
		}
	}
	return true
}

func TestEncode212Bytes(t *testing.T) {
	got := Encode212([][]int{{0x123, -1, 2047}, {-2048, 0x456, 5}})
	want := []byte{0x23, 0x81, 0x00, 0xFF, 0x4F, 0x56, 0xFF, 0x07, 0x05}
	if !bytes.Equal(got, want) {
		t.Errorf("Encode212 = % x, want % x", got, want)
	}
	if got := Encode212([][]int{{-2, 7, 1}}); !bytes.Equal(got, []byte{0xFE, 0x0F, 0x07, 0x01, 0x00}) {
		t.Errorf("Encode212 odd count = % x", got)
	}
	if got := Encode16([][]int{{-2, 0x1234}}); !bytes.Equal(got, []byte{0xFE, 0xFF, 0x34, 0x12}) {
		t.Errorf("Encode16 = % x", got)
	}
}

func TestSignalsSeparateFiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a := randomSamples(rng, 2, 501, -2048, 2047)
	b := randomSamples(rng, 1, 501, -32768, 32767)
	ha, hb := fixtureHeader("a.dat", 212, a), fixtureHeader("b.dat", 16, b)
	// Give b.dat a 7-byte prologue, skipped by the byte offset.
	hb.Signals[0].ByteOffset = 7
	h := &Header{Record: "two", NumSignals: 3, Freq: 360, NumSamples: 501,
		Signals: append(ha.Signals, hb.Signals...)}
	dir := writeFiles(t, map[string][]byte{
		"a.dat": Encode212(a),
		"b.dat": append([]byte("prolog!"), Encode16(b)...),
	})
	got, err := ReadSignals(h, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !equalSamples(got, append(a, b...)) {
		t.Error("decoded samples differ")
	}

	// The header written and read back describes the same files.
	var text strings.Builder
	if err := WriteHeader(&text, h); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "two.hea"), []byte(text.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	rec, err := ReadRecord(dir, "two")
	if err != nil {
		t.Fatal(err)
	}
	if !equalSamples(rec.Samples, append(a, b...)) || rec.SignalIndex("signal 0") != 0 {
		t.Error("ReadRecord differs from ReadSignals")
	}
}

func TestSignalsMultiFrequency(t *testing.T) {
	// Signal 0 has 2 samples per frame, signal 1 one: frames are s0 s0 s1.
	s0 := []int{1, 2, 3, 4, 5, 6, -7, 2047}
	s1 := []int{-1, -2, -3, -2048}
	var frames []int
	for f := range s1 {
		frames = append(frames, s0[2*f], s0[2*f+1], s1[f])
	}
	h := fixtureHeader("mf.dat", 212, [][]int{s0, s1})
	h.NumSamples = len(s1)
	h.Signals[0].SamplesPerFrame = 2
	for _, tt := range []struct {
		name   string
		format int
		data   []byte
	}{
		{"212", 212, Encode212([][]int{frames})},
		{"16", 16, Encode16([][]int{frames})},
	} {
		h.Signals[0].Format, h.Signals[1].Format = tt.format, tt.format
		got, err := ReadSignals(h, writeFiles(t, map[string][]byte{"mf.dat": tt.data}))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !equalSamples(got, [][]int{s0, s1}) {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
}

func TestSignalsUnknownLength(t *testing.T) {
	samples := [][]int{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}
	h := fixtureHeader("u.dat", 212, samples)
	h.NumSamples = 0
	// Extra bytes short of a frame are ignored.
	data := append(Encode212(samples), 0xAA, 0xBB, 0xCC)
	got, err := ReadSignals(h, writeFiles(t, map[string][]byte{"u.dat": data}))
	if err != nil {
		t.Fatal(err)
	}
	if !equalSamples(got, samples) {
		t.Errorf("got %v, want %v", got, samples)
	}
}

// copyRecord100 copies record 100's header, edited by edit, and its signal
// file, cut to size bytes when size >= 0, to a temporary directory.
func copyRecord100(t *testing.T, edit func(string) string, size int) string {
	t.Helper()
	src := testenv.SharedData(t, "mitdb")
	hea, err := os.ReadFile(filepath.Join(src, "100.hea"))
	if err != nil {
		t.Fatal(err)
	}
	dat, err := os.ReadFile(filepath.Join(src, "100.dat"))
	if err != nil {
		t.Fatal(err)
	}
	if size >= 0 {
		dat = dat[:size]
	}
	return writeFiles(t, map[string][]byte{"100.hea": []byte(edit(string(hea))), "100.dat": dat})
}

// checkError checks that err is a *FormatError about file whose message
// contains every one of parts.
func checkError(t *testing.T, err error, file string, offset int64, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	fe := asFormatError(t, err)
	if fe.File != file || fe.Offset != offset {
		t.Errorf("error %q names file %s at offset %d, want %s at %d", err, fe.File, fe.Offset, file, offset)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func TestCorruptRecord100(t *testing.T) {
	same := func(s string) string { return s }
	t.Run("truncated dat", func(t *testing.T) {
		dir := copyRecord100(t, same, 100000)
		_, err := ReadRecord(dir, "100")
		checkError(t, err, filepath.Join(dir, "100.dat"), 100000,
			"byte 100000", "data run out", "650000 frames", "1950000 bytes", "holds 33333")
	})
	t.Run("checksum", func(t *testing.T) {
		dir := copyRecord100(t, func(s string) string { return strings.Replace(s, "-22131", "-22130", 1) }, -1)
		_, err := ReadRecord(dir, "100")
		checkError(t, err, filepath.Join(dir, "100.dat"), -1,
			"signal 0 (MLII)", "checksum", "-22130", "-22131")
	})
	t.Run("initial value", func(t *testing.T) {
		dir := copyRecord100(t, func(s string) string { return strings.Replace(s, " 1011 ", " 1010 ", 1) }, -1)
		_, err := ReadRecord(dir, "100")
		checkError(t, err, filepath.Join(dir, "100.dat"), -1,
			"signal 1 (V5)", "initial value", "1010", "1011")
	})
	t.Run("format 310", func(t *testing.T) {
		dir := copyRecord100(t, func(s string) string { return strings.ReplaceAll(s, " 212 ", " 310 ") }, -1)
		_, err := ReadRecord(dir, "100")
		checkError(t, err, filepath.Join(dir, "100.dat"), -1, "signal 0 (MLII)", "format 310 is not supported")
	})
	t.Run("missing dat", func(t *testing.T) {
		dir := copyRecord100(t, func(s string) string { return strings.ReplaceAll(s, "100.dat", "gone.dat") }, -1)
		_, err := ReadRecord(dir, "100")
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "gone.dat") {
			t.Errorf("error %v, want one wrapping os.ErrNotExist and naming gone.dat", err)
		}
	})
}

func TestReadSignalsErrors(t *testing.T) {
	sig := Signal{File: "x.dat", Format: 212, SamplesPerFrame: 1, Gain: 200}
	data := map[string][]byte{"x.dat": Encode212([][]int{{1, 2, 3, 4}})}
	tests := []struct {
		name   string
		edit   func(*Header)
		offset int64
		msg    string
	}{
		{"format 310", func(h *Header) { h.Signals[0].Format = 310 }, -1, "format 310 is not supported"},
		{"mixed formats", func(h *Header) { h.Signals = append(h.Signals, sig); h.Signals[1].Format = 16 },
			-1, "format 16 differs"},
		{"skew", func(h *Header) { h.Signals[0].Skew = 1 }, -1, "skew 1 is not supported"},
		{"offset past end", func(h *Header) { h.Signals[0].ByteOffset = 7 }, 6, "file ends before byte offset 7"},
		{"too long", func(h *Header) { h.NumSamples = 5 }, 6, "needs 5 frames"},
		{"far too long", func(h *Header) { h.NumSamples = 1 << 62 }, 6, "but the file holds 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &Header{Record: "x", NumSignals: 1, Freq: 1, NumSamples: 4, Signals: []Signal{sig}}
			tt.edit(h)
			dir := writeFiles(t, data)
			_, err := ReadSignals(h, dir)
			checkError(t, err, filepath.Join(dir, "x.dat"), tt.offset, tt.msg)
		})
	}
}

func FuzzDecode212(f *testing.F) {
	f.Add([]byte{0xE3, 0x03, 0xF3, 0xE3, 0x03, 0xF3}, uint8(2), uint16(2), false, int16(0))
	f.Add([]byte{0x00, 0x08, 0xFF, 0xFF, 0xF7}, uint8(3), uint16(0), true, int16(-2049))
	f.Add([]byte{0x23, 0x81, 0x00, 0xFF, 0x4F, 0x56, 0xFF, 0x07, 0x05}, uint8(1), uint16(5), false, int16(0))
	f.Fuzz(func(t *testing.T, data []byte, nsig uint8, nsamp uint16, withChecksum bool, sum int16) {
		n := 1 + int(nsig%3)
		h := &Header{Record: "fuzz", NumSignals: n, Freq: 360, NumSamples: int(nsamp)}
		for range n {
			h.Signals = append(h.Signals, Signal{File: "fuzz.dat", Format: 212, SamplesPerFrame: 1, Gain: 200})
		}
		h.Signals[0].Checksum, h.Signals[0].HasChecksum = int(sum), withChecksum
		readFile := func(string) ([]byte, error) { return data, nil }
		samples, err := readSignals(h, "", readFile)
		if err != nil {
			asFormatError(t, err)
			return
		}
		frames := len(samples[0])
		for i, s := range samples {
			if len(s) != frames || (h.NumSamples > 0 && frames != h.NumSamples) {
				t.Fatalf("signal %d has %d samples, signal 0 %d, header %d", i, len(s), frames, h.NumSamples)
			}
			for _, v := range s {
				if v < -2048 || v > 2047 {
					t.Fatalf("sample %d out of the 12-bit range", v)
				}
			}
		}
		if withChecksum && checksum(samples[0]) != sum {
			t.Fatalf("checksum %d accepted, samples sum to %d", sum, checksum(samples[0]))
		}

		// Encoding gives back the bytes that were decoded, except the unused
		// high nibble of the second byte of an odd last sample.
		enc := Encode212(samples)
		orig := bytes.Clone(data[:len(enc)])
		if frames*n%2 == 1 {
			orig[len(orig)-1] &= 0x0F
		}
		if !bytes.Equal(enc, orig) {
			t.Fatalf("re-encoded % x, decoded from % x", enc, orig)
		}
		h.NumSamples = frames
		again, err := readSignals(h, "", func(string) ([]byte, error) { return enc, nil })
		if err != nil || !equalSamples(again, samples) {
			t.Fatalf("decoding the re-encoded data: %v", err)
		}
	})
}
