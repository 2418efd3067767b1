package quant

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/nn"
)

func TestPackWeights(t *testing.T) {
	w := []int8{-7, 7, 0, -1, 3}
	p := PackWeights(w, 4)
	if want := []byte{0x79, 0xf0, 0x03}; !bytes.Equal(p, want) {
		t.Errorf("PackWeights(%v, 4) = % x, want % x (low nibble first)", w, p, want)
	}
	if got := unpackWeights(p, len(w), 4); !reflect.DeepEqual(got, w) {
		t.Errorf("unpack(pack(%v)) = %v", w, got)
	}
	w8 := []int8{-127, 127, 0, -1}
	if got := unpackWeights(PackWeights(w8, 8), 4, 8); !reflect.DeepEqual(got, w8) {
		t.Errorf("int8 round trip: %v", got)
	}
}

// savedModels returns an int8 and an int4 model of random networks.
func savedModels(t *testing.T) []*Model {
	_, qms := randomModels(t, 2, MSE)
	qms[0].Classes = []string{"N", "S", "V", "F", "Q"}
	return qms
}

// TestFileRoundTrip checks that Save → Load gives back the same model —
// every weight, scale, multiplier and zero point — and the same outputs.
func TestFileRoundTrip(t *testing.T) {
	for _, m := range savedModels(t) {
		path := filepath.Join(t.TempDir(), "m.snqm")
		if err := SaveFile(path, m); err != nil {
			t.Fatal(err)
		}
		got, err := LoadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%d-bit model changed in the round trip", m.Bits)
		}
		fi, _ := os.Stat(path)
		t.Logf("%d-bit %v: %d bytes on disk", m.Bits, m.Network(), fi.Size())
	}
}

// resum rewrites b's checksum so that a test reaches the checks behind it.
func resum(b []byte) []byte {
	b = bytes.Clone(b)
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// TestLoadRefuses checks that damaged, truncated, foreign and inconsistent
// files are refused with a *FormatError naming the file and the problem.
func TestLoadRefuses(t *testing.T) {
	m := savedModels(t)[0]
	var buf bytes.Buffer
	if err := Save(&buf, m); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	hlen := int(binary.LittleEndian.Uint32(good[12:]))
	header := string(good[16 : 16+hlen])
	edit := func(pattern, new string) []byte {
		re := regexp.MustCompile(pattern)
		loc := re.FindStringIndex(header)
		if loc == nil {
			t.Fatalf("header has no %q", pattern)
		}
		h := header[:loc[0]] + new + header[loc[1]:]
		b := append([]byte(nil), good[:12]...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(h)))
		b = append(b, h...)
		b = append(b, good[16+hlen:]...)
		return resum(b)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	weightOut := bytes.Clone(good)
	weightOut[16+hlen] = 0x80 // −128: outside ±127
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "no \"SPLITNQM\" magic"},
		{"float model", []byte("SPLITNNM\x01\x00\x00\x00"), "a float model file"},
		{"truncated", good[:len(good)-9], "checksum"},
		{"bit flip", flipped, "checksum"},
		{"version", resum(append(append([]byte("SPLITNQM"), 2, 0, 0, 0), good[12:]...)), "version 2"},
		{"bits", edit(`"bits":8`, `"bits":5`), "5-bit weights"},
		{"zero point", edit(`"zero_point":-?\d+`, `"zero_point":300`), "zero point 300"},
		{"scale", edit(`"scale":[0-9.e-]+`, `"scale":-1`), "scale -1"},
		{"unknown field", edit(`"bits":8`, `"bits":8,"x":1`), "unknown field"},
		{"architecture", edit(`"arch":"`, `"arch":"x`), "does not match its layers"},
		{"weight out of range", resum(weightOut), "outside ±127"},
		{"trailing bytes", resum(append(bytes.Clone(good[:len(good)-4]), 0, 0, 0, 0, 0)), "bytes after the last layer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(bytes.NewReader(tc.b), "m.snqm")
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FormatError", err)
			}
			if !strings.Contains(err.Error(), "m.snqm") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name the file and %q", err, tc.want)
			}
		})
	}
	if _, err := Load(bytes.NewReader(flipped), "m.snqm"); !errors.Is(err, ErrChecksum) {
		t.Errorf("bit flip: %v does not wrap ErrChecksum", err)
	}
}

// smallModel quantizes an untrained 256x1-64x4-16x4-5 with bits-bit
// weights, calibrated on noise: a cheap valid model.
func smallModel(tb testing.TB, bits int) *Model {
	fm, err := nn.NewModel(mustParse(tb, "256x1-64x4-16x4-5"), 1)
	if err != nil {
		tb.Fatal(err)
	}
	cal := gaussian(8, fm.Network().Input(), 5, 1)
	m, err := PostTraining(fm, cal, MinMax, bits)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// FuzzLoad checks that no input makes Load panic or return a model that
// cannot be saved and run.
func FuzzLoad(f *testing.F) {
	for _, bits := range []int{8, 4} {
		var buf bytes.Buffer
		if err := Save(&buf, smallModel(f, bits)); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte("SPLITNQM"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Load(bytes.NewReader(b), "fuzz")
		if err != nil {
			return
		}
		if err := Save(&bytes.Buffer{}, m); err != nil {
			t.Fatalf("loaded model cannot be saved: %v", err)
		}
		if m.Network().MACs() < 1e7 { // a valid file may describe a slow network
			x := make([]int8, m.Network().Input().Size())
			m.Run(x, 0, len(m.Layers))
		}
	})
}

// TestEdgeBytesMatchArch checks arch's Flash, which the search and the
// reports use, against the bytes a quantized model actually holds.
func TestEdgeBytesMatchArch(t *testing.T) {
	_, qms := randomModels(t, 6, MinMax)
	for _, m := range qms {
		net := m.Network()
		for P := range len(m.Layers) + 1 {
			if got, want := m.EdgeBytes(P), net.Flash(P, m.Precision()); got != want {
				t.Errorf("%d-bit %v, P = %d: the model holds %d bytes, arch.Flash says %d", m.Bits, net, P, got, want)
			}
		}
	}
}
