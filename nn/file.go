package nn

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/internal/atomicfile"
	"github.com/splitnas/splitnas/internal/frame"
)

// The model file format (extension .snnm), version 1. Integers and floats
// are little-endian.
//
//	offset  size  field
//	0       8     magic "SPLITNNM"
//	8       4     format version (1)
//	12      4     header length H
//	16      H     header: UTF-8 JSON (see fileHeader): the architecture
//	              string, every layer (kind, shapes, kernel, stride,
//	              padding, ReLU), the class names and the parameter count P
//	16+H    4·P   parameters, float32, in the order of Model.Params
//	end−4   4     CRC-32C (Castagnoli) of every byte before it
//
// A reader checks the magic, version, checksum, header and sizes, and that
// the layers form a valid network within the engine's limits (see
// NewModel), before it builds a model. H is at most 1 MiB and a file at
// most 65 MiB.
const (
	Magic        = "SPLITNNM" // the first 8 bytes of a model file
	modelVersion = 1
	modelFixed   = frame.Fixed
)

type fileHeader struct {
	Arch    string        `json:"arch"`
	Layers  []frame.Layer `json:"layers"`
	Classes []string      `json:"classes,omitempty"`
	Params  int           `json:"params"`
}

// FormatError reports a malformed model file: its name, what is wrong and,
// when there is one, the underlying cause (ErrChecksum for a checksum that
// does not match, the JSON or network error of a bad header), which
// errors.Is and errors.As see through Unwrap. It is frame.FormatError, the
// one type every splitnas model file format uses.
type FormatError = frame.FormatError

// ErrChecksum is wrapped by the error for a model file whose checksum does
// not match its content: errors.Is(err, ErrChecksum) tells a damaged file
// from a malformed one. (It is the one sentinel every splitnas model file
// format uses.)
var ErrChecksum = frame.ErrChecksum

// Save writes m to w in the model file format.
func Save(w io.Writer, m *Model) error {
	if m.Classes != nil && len(m.Classes) != m.plan.classes() {
		return fmt.Errorf("nn: model has %d class names for %d outputs", len(m.Classes), m.plan.classes())
	}
	h := fileHeader{Arch: m.net.String(), Classes: m.Classes, Params: len(m.params)}
	for _, l := range m.net.Layers {
		h.Layers = append(h.Layers, frame.FromArch(l))
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("nn: encoding model header: %w", err)
	}
	if len(hdr) > maxHeader {
		return fmt.Errorf("nn: model header of %d bytes exceeds the limit of %d (class names too long)", len(hdr), maxHeader)
	}
	err = frame.Write(w, Magic, modelVersion, hdr, func(bw *bufio.Writer) {
		var b4 [4]byte
		for _, v := range m.params {
			binary.LittleEndian.PutUint32(b4[:], math.Float32bits(v))
			bw.Write(b4[:])
		}
	})
	if err != nil {
		return fmt.Errorf("nn: writing model: %w", err)
	}
	return nil
}

// SaveFile writes m to path atomically: readers see the old file or the
// complete new one, never a part.
func SaveFile(path string, m *Model) error {
	if err := atomicfile.Write(path, func(w io.Writer) error { return Save(w, m) }); err != nil {
		return fmt.Errorf("nn: saving model %s: %w", path, err)
	}
	return nil
}

// maxHeader bounds the header length a reader accepts. With maxParams it
// bounds the whole file: see maxModelFile.
const maxHeader = 1 << 20

// maxModelFile is the largest model file Save writes and Load reads: the
// fixed part, the largest header, the largest parameter vector and the
// checksum (65 MiB).
const maxModelFile = modelFixed + maxHeader + 4*maxParams + 4

// Load reads a model file from r; name identifies it in error messages. It
// reads at most one byte more than the largest model file and refuses a
// longer input. Every problem with the content is a *FormatError.
func Load(r io.Reader, name string) (*Model, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxModelFile+1))
	if err != nil {
		return nil, fmt.Errorf("nn: reading model %s: %w", name, err)
	}
	if len(b) > maxModelFile {
		return nil, tooLong(name)
	}
	return decode(b, name)
}

// LoadFile reads the model file at path; a file larger than any model file
// is refused before it is read.
func LoadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nn: loading model: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > maxModelFile {
		return nil, tooLong(path)
	}
	return Load(f, path)
}

func tooLong(name string) error {
	return &FormatError{Pkg: "nn", File: name, Msg: fmt.Sprintf("larger than %d bytes, the largest model file", maxModelFile)}
}

// decode checks and decodes a whole model file. Every size it reads is
// bounded before it is used: the header length by maxHeader and the file,
// the layer count by maxLayers, and the shapes, kernels, weights and
// activations of the layers by newPlan's limits, with products checked for
// overflow, so that a file with a valid checksum and absurd sizes is
// refused rather than allowed to exhaust memory.
func decode(b []byte, name string) (*Model, error) {
	bad := func(format string, args ...any) error {
		return &FormatError{Pkg: "nn", File: name, Msg: fmt.Sprintf(format, args...)}
	}
	header, data, err := frame.Split(b, Magic, "model", modelVersion, maxHeader)
	if err != nil {
		return nil, &FormatError{Pkg: "nn", File: name, Err: err}
	}
	var h fileHeader
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, &FormatError{Pkg: "nn", File: name, Msg: "header", Err: err}
	}
	if dec.More() {
		return nil, bad("header: data after the JSON object")
	}
	if len(h.Layers) > maxLayers {
		return nil, bad("header: %d layers, at most %d are supported", len(h.Layers), maxLayers)
	}
	net := arch.Network{Layers: make([]arch.Layer, len(h.Layers))}
	for i, fl := range h.Layers {
		l, err := fl.Arch(arch.Conv, arch.ConvTranspose, arch.Dense)
		if err != nil {
			return nil, bad("header: layer %d has %v", i+1, err)
		}
		net.Layers[i] = l
	}
	p, err := newPlan(net)
	if err != nil {
		return nil, &FormatError{Pkg: "nn", File: name, Msg: "header", Err: err}
	}
	// Files written before the text form gained its kernel suffixes ("/o2")
	// hold the tensors alone; the layers above are what counts.
	if got, _, _ := strings.Cut(net.String(), "/"); h.Arch != net.String() && h.Arch != got {
		return nil, bad("header: architecture %q does not match its layers (%s)", h.Arch, net.String())
	}
	if h.Classes != nil && len(h.Classes) != p.classes() {
		return nil, bad("header: %d class names for %d outputs", len(h.Classes), p.classes())
	}
	if h.Params != p.nParams {
		return nil, bad("header: %d parameters, the layers have %d", h.Params, p.nParams)
	}
	if uint64(len(data)) != 4*uint64(p.nParams) {
		return nil, bad("%d bytes of parameters, want %d (%d float32)", len(data), 4*p.nParams, p.nParams)
	}
	m := &Model{Classes: h.Classes, net: net, plan: p, params: make([]float32, p.nParams)}
	for i := range m.params {
		m.params[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return m, nil
}
