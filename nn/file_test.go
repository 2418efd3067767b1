package nn

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func savedTypical(t testing.TB) (*Model, []byte) {
	m, err := NewModel(typicalNet(t), 3)
	if err != nil {
		t.Fatal(err)
	}
	// Non-zero biases, so they are checked too.
	for i := range m.plan.layers {
		_, b := m.Weights(i)
		for j := range b {
			b[j] = 0.01 * float32(j+1)
		}
	}
	m.Classes = []string{"N", "S", "V", "F", "Q"}
	var buf bytes.Buffer
	if err := Save(&buf, m); err != nil {
		t.Fatal(err)
	}
	return m, buf.Bytes()
}

func TestSaveLoad(t *testing.T) {
	m, b := savedTypical(t)
	if want := 16 + 4 + 4*len(m.params); len(b) <= want {
		t.Fatalf("file of %d bytes, want more than %d", len(b), want)
	}
	got, err := Load(bytes.NewReader(b), "typical.snnm")
	if err != nil {
		t.Fatal(err)
	}
	if !equalBits(got.Params(), m.Params()) {
		t.Error("parameters differ after Save and Load")
	}
	if !slices.Equal(got.Classes, m.Classes) || got.String() != "2048x1-128x2-8x4-64x2-5" {
		t.Errorf("loaded %s with classes %v, want %s with %v", got, got.Classes, m, m.Classes)
	}
	if !slices.Equal(got.Network().Layers, m.Network().Layers) {
		t.Errorf("layers %+v, want %+v", got.Network().Layers, m.Network().Layers)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 2048)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	a, c := make([]float32, 5), make([]float32, 5)
	m.Logits(x, a)
	got.Logits(x, c)
	if !equalBits(a, c) {
		t.Errorf("logits %v after loading, %v before", c, a)
	}

	path := filepath.Join(t.TempDir(), "m.snnm")
	if err := SaveFile(path, m); err != nil {
		t.Fatal(err)
	}
	fromFile, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !equalBits(fromFile.Params(), m.Params()) {
		t.Error("parameters differ after SaveFile and LoadFile")
	}
	m.Classes = m.Classes[:4]
	if err := Save(&bytes.Buffer{}, m); err == nil || !strings.Contains(err.Error(), "4 class names for 5 outputs") {
		t.Errorf("Save with 4 class names for 5 outputs: %v", err)
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.snnm")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile of a missing file: %v, want a not-exist error", err)
	}
}

// reseal replaces the header of a model file by h and fixes the checksum,
// making a file that is intact but says something else.
func reseal(t *testing.T, b []byte, edit func(h *fileHeader)) []byte {
	t.Helper()
	hlen := binary.LittleEndian.Uint32(b[12:])
	var h fileHeader
	if err := json.Unmarshal(b[16:16+hlen], &h); err != nil {
		t.Fatal(err)
	}
	edit(&h)
	hdr, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), b[:12]...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(hdr)))
	out = append(out, hdr...)
	out = append(out, b[16+hlen:len(b)-4]...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, crc32.MakeTable(crc32.Castagnoli)))
}

func TestLoadErrors(t *testing.T) {
	_, good := savedTypical(t)
	flip := func(i int) []byte {
		b := slices.Clone(good)
		b[i] ^= 0x40
		return b
	}
	version := slices.Clone(good)
	binary.LittleEndian.PutUint32(version[8:], 2)
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, `not a splitnas model file (no "SPLITNNM" magic)`},
		{"other file", []byte("SPLITNDS\x01\x00\x00\x00"), "no \"SPLITNNM\" magic"},
		{"truncated header", good[:14], "truncated: 14 bytes"},
		{"truncated", good[:len(good)-100], "checksum mismatch"},
		{"flipped parameter bit", flip(len(good) - 50), "checksum mismatch"},
		{"flipped header bit", flip(30), "checksum mismatch"},
		{"version", version, "model format version 2, this splitnas reads version 1"},
		{"layer kind", reseal(t, good, func(h *fileHeader) { h.Layers[1].Kind = "lstm" }), `layer 2 has unknown kind "lstm"`},
		{"output length", reseal(t, good, func(h *fileHeader) { h.Layers[0].Out[0] = 127 }), "layer 1 (conv1d 2048x1→127x2): output length 127"},
		{"arch string", reseal(t, good, func(h *fileHeader) { h.Arch = "2048x1-5" }), `architecture "2048x1-5" does not match`},
		{"classes", reseal(t, good, func(h *fileHeader) { h.Classes = h.Classes[:3] }), "3 class names for 5 outputs"},
		{"param count", reseal(t, good, func(h *fileHeader) { h.Params++ }), "878 parameters, the layers have 877"},
		{"no layers", reseal(t, good, func(h *fileHeader) { h.Layers = nil }), "no layers"},
		{"huge layer", reseal(t, good, func(h *fileHeader) {
			h.Layers = []fileLayer{{Kind: "dense", In: [2]int{1 << 30, 1 << 30}, Out: [2]int{5, 1}}}
		}), "exceeds"},
	}
	for _, tt := range tests {
		_, err := Load(bytes.NewReader(tt.b), "m.snnm")
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "m.snnm") {
			t.Errorf("%s: error %v, want one naming m.snnm and containing %q", tt.name, err, tt.want)
			continue
		}
		var fe *FormatError
		if !errors.As(err, &fe) || fe.File != "m.snnm" {
			t.Errorf("%s: error %v is not a FormatError for m.snnm", tt.name, err)
		}
	}
	// Unknown fields and trailing garbage in an intact header.
	b := slices.Clone(good)
	hlen := binary.LittleEndian.Uint32(b[12:])
	hdr := strings.Replace(string(b[16:16+hlen]), `"arch"`, `"archx"`, 1)
	b = binary.LittleEndian.AppendUint32(slices.Clone(b[:12]), uint32(len(hdr)))
	b = append(append(b, hdr...), good[16+hlen:len(good)-4]...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	if _, err := Load(bytes.NewReader(b), "m.snnm"); err == nil || !strings.Contains(err.Error(), `unknown field "archx"`) {
		t.Errorf("unknown header field: error %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	_, good := savedTypical(f)
	small, err := NewModel(mustNet(f, conv(typicalNet(f).Input(), 1, 1024, 1024, 0, 0)), 1)
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	Save(&buf, small)
	f.Add(good)
	f.Add(buf.Bytes())
	f.Add(good[:40])
	f.Add([]byte(modelMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzLoad(t, b)
		// The checksum stops nearly every mutation, so also try the input
		// with a checksum that matches it: that reaches the header parser
		// and the network checks.
		if len(b) >= 4 {
			body := b[: len(b)-4 : len(b)-4]
			fuzzLoad(t, binary.LittleEndian.AppendUint32(body, crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli))))
		}
	})
}

func fuzzLoad(t *testing.T, b []byte) {
	m, err := Load(bytes.NewReader(b), "fuzz")
	if err != nil {
		if !strings.Contains(err.Error(), "fuzz") {
			t.Errorf("error %q does not name the file", err)
		}
		return
	}
	// Whatever loads must save and load again to the same model, and run.
	var out bytes.Buffer
	if err := Save(&out, m); err != nil {
		t.Fatal(err)
	}
	again, err := Load(&out, "resaved")
	if err != nil {
		t.Fatal(err)
	}
	if !equalBits(again.Params(), m.Params()) || again.net.String() != m.net.String() {
		t.Error("model changed on a second round trip")
	}
	// Run it if it is small enough to run quickly (a valid file can
	// describe a network with huge activations and few weights).
	size := m.plan.inSize()
	for _, g := range m.plan.layers {
		size += g.outSize() * max(1, g.k)
	}
	if size <= 1<<16 {
		m.Predict(make([]float32, m.plan.inSize()))
	}
}
