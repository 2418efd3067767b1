package quant

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/internal/atomicfile"
	"github.com/splitnas/splitnas/internal/frame"
	"github.com/splitnas/splitnas/nn"
)

// The quantized model file format (extension .snqm), version 1. Integers
// and floats are little-endian.
//
//	offset  size  field
//	0       8     magic "SPLITNQM"
//	8       4     format version (1)
//	12      4     header length H
//	16      H     header: UTF-8 JSON (see fileHeader): the architecture
//	              string, the weight bits, the class names, the calibration
//	              method and sample count, and every layer (kind, shapes,
//	              kernel, stride, padding, ReLU, input and output scale and
//	              zero point)
//	16+H    …     for each layer with weights, in order: its weights packed
//	              at the weight bits (int8, or int4 two to a byte, low
//	              nibble first, a final odd nibble padded with 0), then
//	              for each output channel: weight scale (float32), bias,
//	              multiplier and shift (int32 each)
//	end−4   4     CRC-32C (Castagnoli) of every byte before it
//
// A reader checks the magic, version, checksum, header and sizes, that the
// layers form a valid network (arch.Network.Validate) within this
// package's limits, and that every constant is one FromFloat could have
// produced (scales positive and finite, zero points and weights in range,
// tensors chained with the same quantization), before it builds a model.
// H is at most 1 MiB and a file at most 64 MiB.
const (
	Magic       = "SPLITNQM" // the first 8 bytes of a quantized model file
	fileVersion = 1
	maxHeader   = 1 << 20
	maxFile     = 64 << 20
	maxLayers   = 256
	maxTensor   = 1 << 24 // values in one tensor
)

type fileHeader struct {
	Arch        string      `json:"arch"`
	Bits        int         `json:"bits"`
	Classes     []string    `json:"classes,omitempty"`
	Method      string      `json:"method"`
	Calibration int         `json:"calibration"`
	Layers      []fileLayer `json:"layers"`
}

// fileLayer is a layer's geometry (as in package nn's files) and the
// quantization of its input and output.
type fileLayer struct {
	frame.Layer
	InQ  QParams `json:"in_q"`
	OutQ QParams `json:"out_q"`
}

// FormatError reports a malformed quantized model file: its name, what is wrong and,
// when there is one, the underlying cause (ErrChecksum for a checksum that
// does not match, the JSON or network error of a bad header), which
// errors.Is and errors.As see through Unwrap. It is frame.FormatError, the
// one type every splitnas model file format uses.
type FormatError = frame.FormatError

// ErrChecksum is wrapped by the error for a file whose checksum does not
// match its content: errors.Is(err, ErrChecksum) tells a damaged file from
// a malformed one. It is nn.ErrChecksum too.
var ErrChecksum = frame.ErrChecksum

// Save writes m to w in the quantized model file format. m must be valid
// (as FromFloat and Load return it).
func Save(w io.Writer, m *Model) error {
	if err := m.check(); err != nil {
		return fmt.Errorf("quant: saving: %w", err)
	}
	h := fileHeader{Arch: m.Network().String(), Bits: m.Bits, Classes: m.Classes, Method: m.Method, Calibration: m.Calibration}
	for i := range m.Layers {
		l := &m.Layers[i]
		h.Layers = append(h.Layers, fileLayer{Layer: frame.FromArch(l.Layer), InQ: l.InQ, OutQ: l.OutQ})
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("quant: encoding header: %w", err)
	}
	if len(hdr) > maxHeader {
		return fmt.Errorf("quant: header of %d bytes exceeds the limit of %d (class names too long)", len(hdr), maxHeader)
	}
	err = frame.Write(w, Magic, fileVersion, hdr, func(bw *bufio.Writer) {
		for i := range m.Layers {
			l := &m.Layers[i]
			if len(l.B) == 0 {
				continue
			}
			bw.Write(PackWeights(l.W, m.Bits))
			var rec []byte
			for c := range l.B {
				rec = binary.LittleEndian.AppendUint32(rec, math.Float32bits(l.WScale[c]))
				rec = binary.LittleEndian.AppendUint32(rec, uint32(l.B[c]))
				rec = binary.LittleEndian.AppendUint32(rec, uint32(l.Mult[c]))
				rec = binary.LittleEndian.AppendUint32(rec, uint32(l.Shift[c]))
			}
			bw.Write(rec)
		}
	})
	if err != nil {
		return fmt.Errorf("quant: writing model: %w", err)
	}
	return nil
}

// SaveFile writes m to path atomically: readers see the old file or the
// complete new one, never a part.
func SaveFile(path string, m *Model) error {
	if err := atomicfile.Write(path, func(w io.Writer) error { return Save(w, m) }); err != nil {
		return fmt.Errorf("quant: saving model %s: %w", path, err)
	}
	return nil
}

// PackWeights returns w as stored: one byte a weight for 8 bits; for 4,
// two weights a byte, the first in the low nibble (two's complement), and
// a final odd weight with a zero high nibble.
func PackWeights(w []int8, bits int) []byte {
	if bits == 8 {
		b := make([]byte, len(w))
		for i, v := range w {
			b[i] = byte(v)
		}
		return b
	}
	b := make([]byte, arch.ByteSize(len(w), 4))
	for i, v := range w {
		b[i/2] |= byte(v&0xf) << (4 * (i % 2))
	}
	return b
}

// unpackWeights is the inverse of PackWeights for n weights.
func unpackWeights(b []byte, n, bits int) []int8 {
	w := make([]int8, n)
	for i := range w {
		if bits == 8 {
			w[i] = int8(b[i])
		} else {
			w[i] = int8(b[i/2]>>(4*(i%2))<<4) >> 4 // sign-extend the nibble
		}
	}
	return w
}

// Load reads a quantized model file from r; name identifies it in error
// messages. It reads at most one byte more than the largest file and
// refuses a longer input. Every problem with the content is a
// *FormatError.
func Load(r io.Reader, name string) (*Model, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("quant: reading model %s: %w", name, err)
	}
	if len(b) > maxFile {
		return nil, &FormatError{Pkg: "quant", File: name, Msg: fmt.Sprintf("larger than %d bytes, the largest quantized model file", maxFile)}
	}
	return decode(b, name)
}

// LoadFile reads the quantized model file at path.
func LoadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("quant: loading model: %w", err)
	}
	defer f.Close()
	return Load(f, path)
}

// decode checks and decodes a whole file; see the format above.
func decode(b []byte, name string) (*Model, error) {
	bad := func(format string, args ...any) error {
		return &FormatError{Pkg: "quant", File: name, Msg: fmt.Sprintf(format, args...)}
	}
	if bytes.HasPrefix(b, []byte(nn.Magic)) {
		return nil, bad("a float model file, not a quantized one (make one with splitnas quantize)")
	}
	header, data, err := frame.Split(b, Magic, "quantized model", fileVersion, maxHeader)
	if err != nil {
		return nil, &FormatError{Pkg: "quant", File: name, Err: err}
	}
	var h fileHeader
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, &FormatError{Pkg: "quant", File: name, Msg: "header", Err: err}
	}
	if dec.More() {
		return nil, bad("header: data after the JSON object")
	}
	if len(h.Layers) == 0 || len(h.Layers) > maxLayers {
		return nil, bad("header: %d layers, want 1 to %d", len(h.Layers), maxLayers)
	}
	m := &Model{Classes: h.Classes, Bits: h.Bits, Method: h.Method, Calibration: h.Calibration, Layers: make([]Layer, len(h.Layers))}
	for i, fl := range h.Layers {
		al, err := fl.Arch(arch.Conv, arch.ConvTranspose, arch.Dense, arch.MaxPool)
		if err != nil {
			return nil, bad("header: layer %d has %v", i+1, err)
		}
		for _, s := range [][2]int{fl.In, fl.Out} {
			if s[0] <= 0 || s[1] <= 0 || s[0] > maxTensor || s[1] > maxTensor/s[0] {
				return nil, bad("header: layer %d has a tensor of %dx%d (at most %d values)", i+1, s[0], s[1], maxTensor)
			}
		}
		m.Layers[i] = Layer{Layer: al, InQ: fl.InQ, OutQ: fl.OutQ}
	}
	net := m.Network()
	if err := net.Validate(); err != nil {
		return nil, &FormatError{Pkg: "quant", File: name, Msg: "header", Err: err}
	}
	if h.Arch != net.String() {
		return nil, bad("header: architecture %q does not match its layers (%s)", h.Arch, net.String())
	}
	if h.Bits != 8 && h.Bits != 4 {
		return nil, bad("header: %d-bit weights, want 8 or 4", h.Bits)
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		nw, nb := l.Weights(), l.Biases()
		if nb == 0 {
			continue
		}
		wb := arch.ByteSize(nw, h.Bits)
		if need := uint64(wb) + 16*uint64(nb); need > uint64(len(data)) {
			return nil, bad("layer %d: %d bytes of weights and constants, %d left in the file", i+1, need, len(data))
		}
		l.W = unpackWeights(data[:wb], nw, h.Bits)
		rec := data[wb:]
		l.WScale, l.B, l.Mult, l.Shift = make([]float32, nb), make([]int32, nb), make([]int32, nb), make([]int32, nb)
		for c := range nb {
			r := rec[16*c:]
			l.WScale[c] = math.Float32frombits(binary.LittleEndian.Uint32(r))
			l.B[c] = int32(binary.LittleEndian.Uint32(r[4:]))
			l.Mult[c] = int32(binary.LittleEndian.Uint32(r[8:]))
			l.Shift[c] = int32(binary.LittleEndian.Uint32(r[12:]))
		}
		data = rec[16*nb:]
	}
	if len(data) != 0 {
		return nil, bad("%d bytes after the last layer's constants", len(data))
	}
	if err := m.check(); err != nil {
		return nil, &FormatError{Pkg: "quant", File: name, Err: err}
	}
	return m, nil
}

// check reports the first constant of m that FromFloat could not have
// produced; layer numbers count from 1.
func (m *Model) check() error {
	if m.Bits != 8 && m.Bits != 4 {
		return fmt.Errorf("%d-bit weights, want 8 or 4", m.Bits)
	}
	if len(m.Layers) == 0 {
		return errors.New("no layers")
	}
	k := m.Layers[len(m.Layers)-1].Out.Size()
	if m.Classes != nil && len(m.Classes) != k {
		return fmt.Errorf("%d class names for %d outputs", len(m.Classes), k)
	}
	qmax := int8(1)<<(m.Bits-1) - 1
	for i := range m.Layers {
		l := &m.Layers[i]
		for _, q := range []QParams{l.InQ, l.OutQ} {
			if !(q.Scale > 0) || math.IsInf(float64(q.Scale), 0) || q.ZeroPoint < math.MinInt8 || q.ZeroPoint > math.MaxInt8 {
				return fmt.Errorf("layer %d: quantization scale %v, zero point %d (want a positive finite scale, −128..127)", i+1, q.Scale, q.ZeroPoint)
			}
		}
		if i > 0 && l.InQ != m.Layers[i-1].OutQ {
			return fmt.Errorf("layer %d: input quantization %+v differs from layer %d's output %+v", i+1, l.InQ, i, m.Layers[i-1].OutQ)
		}
		nw, nb := l.Weights(), l.Biases()
		if l.Kind == arch.MaxPool {
			if l.OutQ != l.InQ {
				return fmt.Errorf("layer %d: a max pooling must keep its input's quantization", i+1)
			}
			continue
		}
		if len(l.W) != nw || len(l.B) != nb || len(l.WScale) != nb || len(l.Mult) != nb || len(l.Shift) != nb {
			return fmt.Errorf("layer %d: %d weights and %d/%d/%d/%d biases/scales/multipliers/shifts, want %d and %d",
				i+1, len(l.W), len(l.B), len(l.WScale), len(l.Mult), len(l.Shift), nw, nb)
		}
		for j, v := range l.W {
			if v < -qmax || v > qmax {
				return fmt.Errorf("layer %d: weight %d is %d, outside ±%d for %d bits", i+1, j, v, qmax, m.Bits)
			}
		}
		for c := range nb {
			if s := l.WScale[c]; !(s > 0) || math.IsInf(float64(s), 0) {
				return fmt.Errorf("layer %d: channel %d has weight scale %v", i+1, c, s)
			}
			if l.Mult[c] < 0 || (l.Mult[c] != 0 && l.Mult[c] < 1<<30) || l.Shift[c] < -31 || l.Shift[c] > 30 {
				return fmt.Errorf("layer %d: channel %d has multiplier %d, shift %d (want 0 or 2³⁰..2³¹−1, −31..30)", i+1, c, l.Mult[c], l.Shift[c])
			}
		}
	}
	return nil
}
