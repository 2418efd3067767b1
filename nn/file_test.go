package nn

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/internal/frame"
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
			h.Layers = []frame.Layer{{Kind: "dense", In: [2]int{1 << 30, 1 << 30}, Out: [2]int{5, 1}}}
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
		// Exactly the damaged files wrap ErrChecksum.
		if wantSum := tt.want == "checksum mismatch"; errors.Is(err, ErrChecksum) != wantSum {
			t.Errorf("%s: errors.Is(%v, ErrChecksum) = %v, want %v", tt.name, err, !wantSum, wantSum)
		}
	}
	// Unknown fields and trailing garbage in an intact header.
	b := slices.Clone(good)
	hlen := binary.LittleEndian.Uint32(b[12:])
	hdr := strings.Replace(string(b[16:16+hlen]), `"arch"`, `"archx"`, 1)
	b = binary.LittleEndian.AppendUint32(slices.Clone(b[:12]), uint32(len(hdr)))
	b = append(append(b, hdr...), good[16+hlen:len(good)-4]...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	_, err := Load(bytes.NewReader(b), "m.snnm")
	var syntax *json.SyntaxError
	if err == nil || !strings.Contains(err.Error(), `unknown field "archx"`) || errors.As(err, &syntax) {
		t.Errorf("unknown header field: error %v", err)
	}
	// A header that is not JSON: the FormatError wraps the JSON error.
	b = binary.LittleEndian.AppendUint32(slices.Clone(good[:12]), 3)
	b = append(b, "{x}"...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	_, err = Load(bytes.NewReader(b), "m.snnm")
	if !errors.As(err, &syntax) || !strings.Contains(err.Error(), "m.snnm: header: invalid character") {
		t.Errorf("malformed header: error %v, want a FormatError wrapping a *json.SyntaxError", err)
	}
}

// TestChecksumIs checks that the error for a damaged file wraps
// ErrChecksum, through FormatError and through LoadFile, and keeps its
// wording.
func TestChecksumIs(t *testing.T) {
	_, b := savedTypical(t)
	b[len(b)/2] ^= 1
	path := filepath.Join(t.TempDir(), "bad.snnm")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFile(path)
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("LoadFile of a damaged file: errors.Is(%v, ErrChecksum) = false", err)
	}
	var fe *FormatError
	if !errors.As(err, &fe) || fe.File != path || fe.Unwrap() == nil {
		t.Errorf("error %#v is not a FormatError for %s with a cause", err, path)
	}
	want := "nn: " + path + ": checksum mismatch: stored "
	if !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "(file truncated or corrupted)") {
		t.Errorf("error %q, want %q…(file truncated or corrupted)", err, want)
	}
}

// seal builds a model file from a header and parameters, with a correct
// checksum, whatever they say.
func seal(t testing.TB, h fileHeader, hdrPad int, params int) []byte {
	t.Helper()
	hdr, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	hdr = append(hdr, bytes.Repeat([]byte{' '}, hdrPad)...) // JSON allows trailing space
	b := []byte(Magic)
	b = binary.LittleEndian.AppendUint32(b, modelVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(hdr)))
	b = append(b, hdr...)
	b = append(b, make([]byte, 4*params)...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

// headerOf describes a network as Save would.
func headerOf(net []frame.Layer, arch string, params int) fileHeader {
	return fileHeader{Arch: arch, Layers: net, Params: params}
}

// TestLoadRefusesAbsurdSizes checks that files with a valid checksum but
// absurd sizes are refused with a FormatError before anything is
// allocated for them: a network whose tensors hold more values than the
// engine's limit (each tensor within it), a header longer than 1 MiB,
// too many layers, sizes whose products overflow, and a parameter count
// that does not fit the limit.
func TestLoadRefusesAbsurdSizes(t *testing.T) {
	// 40 stride-1 1×1 convolutions over 2²⁰ values (41·2²⁰ > 2²⁵ values in
	// all, each tensor 2²⁰ ≤ 2²⁴), then two convolutions of stride 1024 down
	// to 1 value and a Dense layer to 2 classes: 2,136 parameters.
	const long = 1 << 20
	var layers []frame.Layer
	var tensors []string
	params := 0
	addConv := func(in, out, k int) {
		layers = append(layers, frame.Layer{Kind: "conv1d", In: [2]int{in, 1}, Out: [2]int{out, 1}, Kernel: k, Stride: k, ReLU: true})
		tensors = append(tensors, fmt.Sprintf("%dx1", out))
		params += k + 1
	}
	for range 40 {
		addConv(long, long, 1)
	}
	addConv(long, long/1024, 1024)
	addConv(long/1024, 1, 1024)
	layers = append(layers, frame.Layer{Kind: "dense", In: [2]int{1, 1}, Out: [2]int{2, 1}})
	params += 4
	archStr := fmt.Sprintf("%dx1-%s-2", long, strings.Join(tensors, "-"))
	manyActs := seal(t, headerOf(layers, archStr, params), 0, params)

	small := []frame.Layer{{Kind: "dense", In: [2]int{4, 1}, Out: [2]int{2, 1}}}
	longHeader := seal(t, headerOf(small, "4x1-2", 10), maxHeader, 10)

	var many []frame.Layer
	for range maxLayers + 1 {
		many = append(many, frame.Layer{Kind: "conv1d", In: [2]int{4, 1}, Out: [2]int{4, 1}, Kernel: 1, Stride: 1, ReLU: true})
	}
	tooMany := seal(t, headerOf(many, "", 0), 0, 0)

	overflow := seal(t, headerOf([]frame.Layer{{Kind: "dense", In: [2]int{1 << 62, 1 << 62}, Out: [2]int{2, 1}}}, "", 0), 0, 0)
	negative := seal(t, headerOf([]frame.Layer{{Kind: "dense", In: [2]int{-1 << 62, -4}, Out: [2]int{2, 1}}}, "", 0), 0, 0)
	stride := seal(t, headerOf([]frame.Layer{
		{Kind: "conv1d_transpose", In: [2]int{1 << 24, 1}, Out: [2]int{1 << 24, 1}, Kernel: 1 << 24, Stride: 1 << 24, PadLeft: 1 << 24, PadRight: 1 << 24, ReLU: true},
		{Kind: "dense", In: [2]int{1 << 24, 1}, Out: [2]int{2, 1}},
	}, "", 0), 0, 0)
	// 2¹²·2¹³ = 2²⁵ Dense weights: over the 2²⁴ parameter limit.
	weights := seal(t, headerOf([]frame.Layer{{Kind: "dense", In: [2]int{1 << 12, 1}, Out: [2]int{1 << 13, 1}}}, "", 0), 0, 0)
	params64 := seal(t, headerOf(small, "4x1-2", 1<<62), 0, 10)

	for _, tt := range []struct {
		name string
		b    []byte
		want string
	}{
		{"activations", manyActs, "the engine's limit for a network is 33554432"},
		{"header length", longHeader, "exceeds the limit of 1048576 bytes"},
		{"layers", tooMany, "257 layers, at most 256"},
		{"overflowing shape", overflow, "exceeds 16777216 values"},
		{"negative shape", negative, "is not positive"},
		{"transpose stride", stride, "gives an output longer than"},
		{"weights", weights, "too many weights"},
		{"parameter count", params64, "4611686018427387904 parameters, the layers have 10"},
	} {
		_, err := Load(bytes.NewReader(tt.b), "absurd.snnm")
		var fe *FormatError
		if !errors.As(err, &fe) || fe.File != "absurd.snnm" || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want a FormatError for absurd.snnm containing %q", tt.name, err, tt.want)
		}
		if errors.Is(err, ErrChecksum) {
			t.Errorf("%s: error %v wraps ErrChecksum, but the checksum is valid", tt.name, err)
		}
	}
	// The long header is refused for its length alone: the same file with
	// a short header loads.
	if _, err := Load(bytes.NewReader(seal(t, headerOf(small, "4x1-2", 10), 100, 10)), "ok.snnm"); err != nil {
		t.Errorf("small model with 100 bytes of header padding: %v", err)
	}
}

// TestLoadRefusesLongInput checks that Load stops reading one byte past
// the largest model file and that LoadFile refuses a larger file from its
// size, without reading it.
func TestLoadRefusesLongInput(t *testing.T) {
	r := &countingReader{n: maxModelFile + 1<<20}
	_, err := Load(r, "stream")
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "larger than 68157460 bytes") {
		t.Errorf("Load of %d bytes: error %v, want a FormatError about the size", maxModelFile+1<<20, err)
	}
	if r.read > maxModelFile+1 {
		t.Errorf("Load read %d bytes, want at most %d", r.read, maxModelFile+1)
	}

	path := filepath.Join(t.TempDir(), "huge.snnm")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(Magic)
	if err := f.Truncate(1 << 40); err != nil { // sparse: takes no space
		t.Skip("cannot make a sparse file here:", err)
	}
	f.Close()
	_, err = LoadFile(path)
	if !errors.As(err, &fe) || fe.File != path || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("LoadFile of a 1 TiB file: error %v, want a FormatError about the size", err)
	}
}

// countingReader yields n bytes, the magic and then zeros, and counts how
// many were read.
type countingReader struct{ n, read int }

func (r *countingReader) Read(p []byte) (int, error) {
	if r.read >= r.n {
		return 0, io.EOF
	}
	p = p[:min(len(p), r.n-r.read)]
	clear(p)
	for i := range p {
		if j := r.read + i; j < len(Magic) {
			p[i] = Magic[j]
		} else {
			break
		}
	}
	r.read += len(p)
	return len(p), nil
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
	f.Add([]byte(Magic))
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
		var fe *FormatError
		if !errors.As(err, &fe) || fe.File != "fuzz" || !strings.Contains(err.Error(), "fuzz") {
			t.Errorf("error %q is not a FormatError naming the file", err)
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

// A model of a network with overlapping kernels keeps its "/o2" text form
// through a file, and a file written before the text form had kernel
// suffixes (the tensors alone in its header) still loads.
func TestLoadKernelSuffix(t *testing.T) {
	net, err := arch.Parse("256x1-32x2-8x4-3/o2", arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(net, 1)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Save(&buf, m); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, arch string
		ok         bool
	}{
		{"current", "256x1-32x2-8x4-3/o2", true},
		{"written before suffixes", "256x1-32x2-8x4-3", true},
		{"other overlap", "256x1-32x2-8x4-3/o3", false},
		{"other tensors", "256x1-32x2-8x2-3/o2", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := reseal(t, buf.Bytes(), func(h *fileHeader) { h.Arch = c.arch })
			got, err := Load(bytes.NewReader(b), "m.model")
			if c.ok && (err != nil || got.String() != "256x1-32x2-8x4-3/o2") {
				t.Errorf("Load = %v, %v; want the /o2 network", got, err)
			}
			var fe *FormatError
			if !c.ok && !errors.As(err, &fe) {
				t.Errorf("Load = %v, want a FormatError", err)
			}
		})
	}
}
