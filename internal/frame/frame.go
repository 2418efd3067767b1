// Package frame is the container splitnas's model files share (package nn's
// float models, package quant's integer ones): an 8-byte magic, a format
// version, a JSON header, a binary body and a CRC-32C of everything before
// it, all little-endian:
//
//	offset  size  field
//	0       8     magic
//	8       4     format version
//	12      4     header length H
//	16      H     header (UTF-8 JSON)
//	16+H    …     body
//	end−4   4     CRC-32C (Castagnoli) of every byte before it
//
// It also holds the JSON form of a layer that both model headers use.
package frame

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/splitnas/splitnas/arch"
)

// Fixed is the size of the part before the header.
const Fixed = 16

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// FormatError reports a malformed file of package Pkg's format: its name,
// what is wrong and, when there is one, the underlying cause (ErrChecksum,
// a JSON error), which errors.Is and errors.As see through Unwrap.
type FormatError struct {
	Pkg  string // the package whose format it is ("nn", "quant"), the message's prefix
	File string
	Msg  string // what is wrong, or where the cause was found ("header")
	Err  error  // the cause, or nil
}

func (e *FormatError) Error() string {
	s := e.Pkg + ": " + e.File + ": " + e.Msg
	if e.Err != nil {
		if e.Msg != "" {
			s += ": "
		}
		s += e.Err.Error()
	}
	return s
}

// Unwrap returns the cause, or nil.
func (e *FormatError) Unwrap() error { return e.Err }

// ErrChecksum is wrapped by Split's error for a file whose checksum does
// not match its content: a damaged file rather than a malformed one.
var ErrChecksum = errors.New("checksum mismatch")

// Write writes a frame to w: magic (8 bytes), version, header, whatever
// body writes, and the checksum.
func Write(w io.Writer, magic string, version uint32, header []byte, body func(*bufio.Writer)) error {
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriter(io.MultiWriter(w, crc))
	bw.WriteString(magic)
	bw.Write(binary.LittleEndian.AppendUint32(nil, version))
	bw.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(header))))
	bw.Write(header)
	body(bw)
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32()))
	return err
}

// Split checks a whole frame — magic, length, version, checksum, header
// length (at most maxHeader) — and returns its header and body. what names
// the kind of file in messages ("model"); the caller wraps the error
// with the file's name.
func Split(b []byte, magic, what string, version uint32, maxHeader int) (header, body []byte, err error) {
	if len(b) < len(magic) || string(b[:len(magic)]) != magic {
		return nil, nil, fmt.Errorf("not a splitnas %s file (no %q magic)", what, magic)
	}
	if len(b) < Fixed+4 {
		return nil, nil, fmt.Errorf("truncated: %d bytes", len(b))
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != version {
		return nil, nil, fmt.Errorf("%s format version %d, this splitnas reads version %d", what, v, version)
	}
	content, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if got := crc32.Checksum(content, castagnoli); got != sum {
		return nil, nil, fmt.Errorf("%w: stored %08x, computed %08x (file truncated or corrupted)", ErrChecksum, sum, got)
	}
	hlen := uint64(binary.LittleEndian.Uint32(b[12:]))
	if hlen > uint64(maxHeader) {
		return nil, nil, fmt.Errorf("header length %d exceeds the limit of %d bytes", hlen, maxHeader)
	}
	if Fixed+hlen > uint64(len(content)) {
		return nil, nil, fmt.Errorf("header length %d runs past the end of the file", hlen)
	}
	return content[Fixed : Fixed+hlen], content[Fixed+hlen:], nil
}

// Layer is the JSON form of an arch.Layer in a model header.
type Layer struct {
	Kind     string `json:"kind"` // arch.Kind.String()
	In       [2]int `json:"in"`   // [length, channels]
	Out      [2]int `json:"out"`
	Kernel   int    `json:"kernel,omitempty"`
	Stride   int    `json:"stride,omitempty"`
	PadLeft  int    `json:"pad_left,omitempty"`
	PadRight int    `json:"pad_right,omitempty"`
	ReLU     bool   `json:"relu"`
}

// FromArch returns the JSON form of l.
func FromArch(l arch.Layer) Layer {
	return Layer{Kind: l.Kind.String(), In: [2]int{l.In.Len, l.In.Ch}, Out: [2]int{l.Out.Len, l.Out.Ch},
		Kernel: l.Kernel, Stride: l.Stride, PadLeft: l.PadLeft, PadRight: l.PadRight, ReLU: l.ReLU}
}

// Arch returns the layer fl describes, refusing a kind that is not one of
// kinds (so each file format names the kinds it holds). It checks nothing
// else: arch.Network.Validate and the engines do.
func (fl Layer) Arch(kinds ...arch.Kind) (arch.Layer, error) {
	for _, k := range kinds {
		if k.String() == fl.Kind {
			return arch.Layer{
				Kind: k, In: arch.Shape{Len: fl.In[0], Ch: fl.In[1]}, Out: arch.Shape{Len: fl.Out[0], Ch: fl.Out[1]},
				Kernel: fl.Kernel, Stride: fl.Stride, PadLeft: fl.PadLeft, PadRight: fl.PadRight, ReLU: fl.ReLU,
			}, nil
		}
	}
	return arch.Layer{}, fmt.Errorf("unknown kind %q", fl.Kind)
}
