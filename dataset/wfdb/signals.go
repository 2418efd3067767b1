package wfdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/splitnas/splitnas/dataset/internal/size"
)

// maxFrameSize bounds the samples per frame of one signal file, so that
// sizes computed from a header cannot overflow.
const maxFrameSize = 1 << 16

// ReadSignals decodes every signal of the header from the .dat file(s) in dir.
// Supports formats 212 and 16 (error naming the format for others); several
// signals interleaved in one file (frames); signals in separate files.
// Verifies on read: file length is enough for NumSamples (a truncated .dat is
// an error naming the file and byte offset where data ran out), first sample
// == InitValue when HasInitValue, and the 16-bit checksum (sum of all samples,
// wrapped to int16) == Checksum when HasChecksum; a mismatch is an error
// naming the file, the signal and both values. Returns samples[signal][i] as
// digital ADC values (int).
//
// Signals that share a file must be consecutive in the header and have the
// same format and byte offset. When NumSamples is 0 (unknown), every complete
// frame in the file is decoded. A signal with SamplesPerFrame k has
// k*NumSamples samples. Nonzero skews are rejected. Format 212 values are
// returned as stored, including -2048, which WFDB reads as an invalid sample.
func ReadSignals(h *Header, dir string) ([][]int, error) {
	return readSignals(h, dir, os.ReadFile)
}

// readSignals is ReadSignals reading files with readFile.
func readSignals(h *Header, dir string, readFile func(string) ([]byte, error)) ([][]int, error) {
	if h == nil {
		return nil, errors.New("wfdb: read signals: nil header")
	}
	if h.NumSamples < 0 {
		return nil, fmt.Errorf("wfdb: read signals of record %s: number of samples %d is negative", h.Record, h.NumSamples)
	}
	samples := make([][]int, len(h.Signals))
	for first := 0; first < len(h.Signals); {
		g, err := newGroup(h, first, filepath.Join(dir, h.Signals[first].File))
		if err != nil {
			return nil, err
		}
		data, err := readFile(g.path)
		if err != nil {
			return nil, fmt.Errorf("wfdb: read signals of record %s: %w", h.Record, err)
		}
		if err := g.decode(data, samples[g.first:g.end]); err != nil {
			return nil, err
		}
		for i := g.first; i < g.end; i++ {
			if err := verify(h, i, g.path, samples[i]); err != nil {
				return nil, err
			}
		}
		first = g.end
	}
	return samples, nil
}

// group is a run of consecutive signals stored in the same file.
type group struct {
	h          *Header
	path       string
	first, end int // signal indices: h.Signals[first:end]
	format     int
	offset     int64
	frameSize  int // samples per frame, over all signals of the group
}

// newGroup returns the group of signals that starts with signal first and
// checks that ReadSignals can decode it.
func newGroup(h *Header, first int, path string) (*group, error) {
	s0 := h.Signals[first]
	g := &group{h: h, path: path, first: first, format: s0.Format, offset: s0.ByteOffset}
	for g.end = first; g.end < len(h.Signals) && h.Signals[g.end].File == s0.File; g.end++ {
		s := h.Signals[g.end]
		fail := func(format string, args ...any) error {
			return &FormatError{File: path, Offset: -1, Msg: signalName(h, g.end) + ": " + fmt.Sprintf(format, args...)}
		}
		switch {
		case s.Format != 212 && s.Format != 16:
			return nil, fail("format %d is not supported (only 212 and 16 are)", s.Format)
		case s.Format != g.format:
			return nil, fail("format %d differs from format %d of %s in the same file", s.Format, g.format, signalName(h, first))
		case s.ByteOffset != g.offset:
			return nil, fail("byte offset %d differs from offset %d of %s in the same file", s.ByteOffset, g.offset, signalName(h, first))
		case s.ByteOffset < 0:
			return nil, fail("byte offset %d is negative", s.ByteOffset)
		case s.Skew != 0:
			return nil, fail("skew %d is not supported", s.Skew)
		case s.SamplesPerFrame < 1 || s.SamplesPerFrame > maxFrameSize-g.frameSize:
			return nil, fail("%d samples per frame is out of range", s.SamplesPerFrame)
		}
		g.frameSize += s.SamplesPerFrame
	}
	return g, nil
}

// signalName names signal i of h for error messages, e.g. "record 100, signal 0 (MLII)".
func signalName(h *Header, i int) string {
	name := fmt.Sprintf("record %s, signal %d", h.Record, i)
	if d := h.Signals[i].Description; d != "" {
		name += " (" + d + ")"
	}
	return name
}

// sampleCount returns how many samples n bytes of the group's format hold.
func (g *group) sampleCount(n int64) int64 {
	if g.format == 16 {
		return n / 2
	}
	// Format 212 packs two samples in three bytes; an odd last sample
	// takes two.
	count := n / 3 * 2
	if n%3 == 2 {
		count++
	}
	return count
}

// byteCount returns how many bytes n samples take in the group's format.
func (g *group) byteCount(n int64) int64 {
	if g.format == 16 {
		return 2 * n
	}
	return n/2*3 + n%2*2
}

// chunkFrames is how many frames decode unpacks at a time: a multiple of
// 2, so that format-212 chunks start on a 3-byte boundary.
const chunkFrames = 1024

// decode decodes data, the content of the group's file, into dst, one slice
// per signal of the group.
func (g *group) decode(data []byte, dst [][]int) error {
	fileSize := int64(len(data))
	if g.offset > fileSize {
		return &FormatError{File: g.path, Offset: fileSize,
			Msg: fmt.Sprintf("file ends before byte offset %d given in the header", g.offset)}
	}
	// The file's size bounds every count below; NumSamples comes from the
	// header and is only compared with it, or multiplied when that cannot
	// overflow.
	frameSize := int64(g.frameSize)
	frames := g.sampleCount(fileSize-g.offset) / frameSize
	if want := int64(g.h.NumSamples); want > frames {
		need := ""
		if _, ok := size.Mul64(want, frameSize, 3); ok {
			need = fmt.Sprintf(" (%d bytes from offset %d)", g.byteCount(want*frameSize), g.offset)
		}
		return &FormatError{File: g.path, Offset: fileSize, Msg: fmt.Sprintf(
			"data run out: record %s needs %d frames of %d samples%s but the file holds %d",
			g.h.Record, want, frameSize, need, frames)}
	} else if want > 0 {
		frames = want
	}

	signals := g.h.Signals[g.first:g.end]
	for i, s := range signals {
		dst[i] = make([]int, frames*int64(s.SamplesPerFrame))
	}
	// Unpack a chunk of frames at a time into buf, then copy each
	// signal's samples out of the frames.
	src := data[g.offset:]
	buf := make([]int16, min(frames, chunkFrames)*frameSize)
	for f := int64(0); f < frames; f += chunkFrames {
		n := min(chunkFrames, frames-f)
		chunk := buf[:n*frameSize]
		from := g.byteCount(f * frameSize)
		if g.format == 16 {
			decode16(chunk, src[from:])
		} else {
			decode212(chunk, src[from:])
		}
		start := 0 // of the signal's samples within a frame
		for i, s := range signals {
			spf := int64(s.SamplesPerFrame)
			deinterleave(dst[i][f*spf:(f+n)*spf], chunk[start:], s.SamplesPerFrame, g.frameSize)
			start += s.SamplesPerFrame
		}
	}
	return nil
}

// deinterleave copies to dst the samples of one signal from frames of
// frameSize samples, each of which holds spf samples of the signal at its
// start.
func deinterleave(dst []int, frames []int16, spf, frameSize int) {
	if spf == 1 {
		for i := range dst {
			dst[i] = int(frames[i*frameSize])
		}
		return
	}
	for i := range dst {
		dst[i] = int(frames[i/spf*frameSize+i%spf])
	}
}

// decode212 decodes len(dst) format-212 samples from src, which must hold
// them: each pair of samples is packed in three bytes, s0 = b0 | (b1&0x0F)<<8
// and s1 = b2 | (b1&0xF0)<<4, as 12-bit two's complement values; an odd last
// sample takes two bytes.
func decode212(dst []int16, src []byte) {
	i := 0
	for ; i+1 < len(dst); i += 2 {
		b := src[i/2*3 : i/2*3+3 : i/2*3+3]
		dst[i] = int16(uint16(b[0])<<4|uint16(b[1]&0x0F)<<12) >> 4
		dst[i+1] = int16(uint16(b[2])<<4|uint16(b[1]&0xF0)<<8) >> 4
	}
	if i < len(dst) {
		b := src[i/2*3 : i/2*3+2 : i/2*3+2]
		dst[i] = int16(uint16(b[0])<<4|uint16(b[1]&0x0F)<<12) >> 4
	}
}

// decode16 decodes len(dst) little-endian 16-bit samples from src.
func decode16(dst []int16, src []byte) {
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = int16(uint16(src[2*i]) | uint16(src[2*i+1])<<8)
	}
}

// verify checks the samples of signal i against its initial value and
// checksum.
func verify(h *Header, i int, path string, samples []int) error {
	s := h.Signals[i]
	if s.HasInitValue && len(samples) > 0 && samples[0] != s.InitValue {
		return &FormatError{File: path, Offset: -1, Msg: fmt.Sprintf(
			"%s: first sample is %d but the header's initial value is %d", signalName(h, i), samples[0], s.InitValue)}
	}
	if s.HasChecksum {
		if sum := checksum(samples); sum != int16(s.Checksum) {
			return &FormatError{File: path, Offset: -1, Msg: fmt.Sprintf(
				"%s: checksum mismatch: header has %d, samples sum to %d", signalName(h, i), s.Checksum, sum)}
		}
	}
	return nil
}

// checksum is the WFDB checksum of samples: their sum wrapped to 16 bits.
func checksum(samples []int) int16 {
	var sum int
	for _, v := range samples {
		sum += v
	}
	return int16(sum)
}

// Encode212 packs samples in format 212 as interleaved frames for
// len(samples) signals, 12-bit two's complement. The number of frames is the
// length of the shortest signal; values outside -2048..2047 keep only their
// low 12 bits.
func Encode212(samples [][]int) []byte {
	flat := interleave(samples)
	out := make([]byte, 0, len(flat)/2*3+len(flat)%2*2)
	i := 0
	for ; i+1 < len(flat); i += 2 {
		a, b := flat[i]&0xFFF, flat[i+1]&0xFFF
		out = append(out, byte(a), byte(a>>8)|byte(b>>8)<<4, byte(b))
	}
	if i < len(flat) {
		a := flat[i] & 0xFFF
		out = append(out, byte(a), byte(a>>8))
	}
	return out
}

// Encode16 packs samples in format 16 (16-bit little-endian) as interleaved
// frames for len(samples) signals. The number of frames is the length of the
// shortest signal; values outside the int16 range keep only their low 16
// bits.
func Encode16(samples [][]int) []byte {
	flat := interleave(samples)
	out := make([]byte, 0, 2*len(flat))
	for _, v := range flat {
		out = append(out, byte(v), byte(v>>8))
	}
	return out
}

// interleave lays samples out frame by frame.
func interleave(samples [][]int) []int {
	if len(samples) == 0 {
		return nil
	}
	frames := len(samples[0])
	for _, s := range samples {
		frames = min(frames, len(s))
	}
	flat := make([]int, 0, frames*len(samples))
	for t := range frames {
		for _, s := range samples {
			flat = append(flat, s[t])
		}
	}
	return flat
}
