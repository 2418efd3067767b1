// Package edf reads and writes European Data Format (EDF) files and the
// EDF+ extension, as used by the CHB-MIT Scalp EEG Database.
//
// An EDF file is an ASCII header followed by data records. The header is 256
// bytes of fixed fields and then 256 bytes per signal, each field written for
// all signals in turn. Every data record holds, for each signal in order,
// SamplesPerRecord little-endian 16-bit integers; Signal.Physical maps them
// to physical units.
//
// ReadHeader parses a header from any reader. Open opens a file, checks its
// size against the header and reads chosen signals on demand, one buffered
// pass over the records at a time, so a multi-hour recording never has to be
// held whole. Write produces files for tests and fixtures.
//
// EDF+ files ("EDF+C" or "EDF+D" in the reserved field) are read like EDF;
// their "EDF Annotations" signals are recognised (Signal.IsAnnotation) and
// left out of Labels and Index, but their time-stamped annotation lists are
// not parsed.
package edf

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

const (
	fixedHeaderSize  = 256  // bytes of the header before the signal fields
	signalHeaderSize = 256  // header bytes per signal
	maxSignals       = 9999 // the largest count the 4-byte field can hold
	annotationLabel  = "EDF Annotations"
)

// The fixed header fields: offset and width in bytes.
const (
	offVersion     = 0
	offPatient     = 8
	offRecording   = 88
	offStartDate   = 168
	offStartTime   = 176
	offHeaderBytes = 184
	offReserved    = 192
	offNumRecords  = 236
	offDuration    = 244
	offNumSignals  = 252
)

// signalField is one per-signal header field.
type signalField struct {
	name  string
	width int
}

// signalFields lists the per-signal fields in file order with their widths;
// field k of signal i starts at 256 + ns·(sum of the widths before k) + i·width.
func signalFields() [10]signalField {
	return [10]signalField{
		{"label", 16},
		{"transducer type", 80},
		{"physical dimension", 8},
		{"physical minimum", 8},
		{"physical maximum", 8},
		{"digital minimum", 8},
		{"digital maximum", 8},
		{"prefiltering", 80},
		{"samples per data record", 8},
		{"reserved", 32},
	}
}

// Indices into signalFields.
const (
	fLabel = iota
	fTransducer
	fDimension
	fPhysMin
	fPhysMax
	fDigMin
	fDigMax
	fPrefilter
	fSamples
	fReserved
)

// FormatError reports a malformed EDF file: which file, the byte offset of
// the offending field or of where the data ran out, and what is wrong.
type FormatError struct {
	File   string // path or name as given to Open or ReadHeader
	Offset int64  // byte offset in the file
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("edf: %s: %s (byte offset %d)", e.File, e.Msg, e.Offset)
}

// Header is the content of an EDF header.
type Header struct {
	Version        string   // "0" for EDF and EDF+
	Patient        string   // local patient identification
	Recording      string   // local recording identification
	StartDate      string   // dd.mm.yy, as written
	StartTime      string   // hh.mm.ss, as written
	HeaderBytes    int      // bytes in the header: 256·(1 + len(Signals))
	Reserved       string   // "EDF+C" or "EDF+D" (and more) for EDF+; usually empty for EDF
	NumRecords     int      // data records; -1 means unknown (Open computes it from the file size)
	RecordDuration float64  // seconds per data record
	Signals        []Signal // every signal in file order, EDF+ annotation signals included
}

// Signal describes one signal of an EDF file.
type Signal struct {
	Label             string // e.g. "FP1-F7"; "EDF Annotations" for an EDF+ annotation signal
	Transducer        string
	PhysicalDimension string // e.g. "uV"
	PhysicalMin       float64
	PhysicalMax       float64
	DigitalMin        int
	DigitalMax        int
	Prefiltering      string
	SamplesPerRecord  int
	Reserved          string
}

// IsAnnotation reports whether s is an EDF+ annotation signal, which holds
// text (time-stamped annotation lists) rather than samples.
func (s Signal) IsAnnotation() bool { return s.Label == annotationLabel }

// Rate returns the sampling rate in Hz, given the duration of a data record
// in seconds (Header.RecordDuration).
func (s Signal) Rate(recordDuration float64) float64 {
	return float64(s.SamplesPerRecord) / recordDuration
}

// Physical converts a stored (digital) value to physical units:
// (d − DigitalMin)·(PhysicalMax − PhysicalMin)/(DigitalMax − DigitalMin) + PhysicalMin.
func (s Signal) Physical(d int16) float64 {
	return (float64(d)-float64(s.DigitalMin))*s.scale() + s.PhysicalMin
}

// Digital is the inverse of Physical: the stored value nearest to the
// physical value p, clamped to [DigitalMin, DigitalMax] and to the int16
// range. It is meant for writing test fixtures.
func (s Signal) Digital(p float64) int16 {
	sc := s.scale()
	d := float64(s.DigitalMin)
	if sc != 0 {
		d += (p - s.PhysicalMin) / sc
	}
	lo := math.Max(float64(s.DigitalMin), math.MinInt16)
	hi := math.Min(float64(s.DigitalMax), math.MaxInt16)
	if math.IsNaN(d) {
		d = lo
	}
	return int16(math.Round(math.Min(math.Max(d, lo), hi)))
}

// scale is the physical units per digital step.
func (s Signal) scale() float64 {
	return (s.PhysicalMax - s.PhysicalMin) / float64(s.DigitalMax-s.DigitalMin)
}

// IsPlus reports whether the file is EDF+ (reserved field "EDF+C" or "EDF+D").
func (h *Header) IsPlus() bool {
	return strings.HasPrefix(h.Reserved, "EDF+C") || strings.HasPrefix(h.Reserved, "EDF+D")
}

// Discontinuous reports whether the file is an interrupted EDF+ recording
// ("EDF+D"), whose data records need not follow each other in time.
func (h *Header) Discontinuous() bool { return strings.HasPrefix(h.Reserved, "EDF+D") }

// RecordSize returns the bytes in one data record.
func (h *Header) RecordSize() int64 {
	var n int64
	for _, s := range h.Signals {
		n += 2 * int64(s.SamplesPerRecord)
	}
	return n
}

// Duration returns the length of the recording in seconds, or 0 when the
// number of records is unknown.
func (h *Header) Duration() float64 {
	if h.NumRecords < 0 {
		return 0
	}
	return float64(h.NumRecords) * h.RecordDuration
}

// Labels returns the labels of the ordinary (non-annotation) signals, in
// file order.
func (h *Header) Labels() []string {
	var l []string
	for _, s := range h.Signals {
		if !s.IsAnnotation() {
			l = append(l, s.Label)
		}
	}
	return l
}

// Index returns the index in Signals of the first ordinary signal labelled
// label, or -1. Labels are compared exactly (after the header's trailing
// blanks are removed); a label that occurs twice — CHB-MIT files list T8-P8
// twice — resolves to its first occurrence.
func (h *Header) Index(label string) int {
	for i, s := range h.Signals {
		if s.Label == label && !s.IsAnnotation() {
			return i
		}
	}
	return -1
}

// ReadHeader reads and checks an EDF header from r, which must be at the
// start of the file. file names the source in errors.
//
// It checks that the version is "0", that the numeric fields are numbers,
// that there is at least one signal and the header length field equals
// 256·(1 + signals), that the number of records is -1 or more, that every
// signal has DigitalMax > DigitalMin and at least one sample per record, and
// that records last a positive time (zero is allowed for annotation-only
// EDF+ files). It does not check the data: see Open.
func ReadHeader(r io.Reader, file string) (*Header, error) {
	fixed := make([]byte, fixedHeaderSize)
	if n, err := io.ReadFull(r, fixed); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &FormatError{file, int64(n), fmt.Sprintf("file ends after %d bytes, inside the %d-byte fixed header", n, fixedHeaderSize)}
		}
		return nil, fmt.Errorf("edf: %s: reading the header: %w", file, err)
	}
	p := fieldParser{file: file, buf: fixed}
	h := &Header{
		Version:   p.text(offVersion, 8),
		Patient:   p.text(offPatient, 80),
		Recording: p.text(offRecording, 80),
		StartDate: p.text(offStartDate, 8),
		StartTime: p.text(offStartTime, 8),
		Reserved:  p.text(offReserved, 44),
	}
	if h.Version != "0" {
		return nil, &FormatError{file, offVersion, fmt.Sprintf("version field %q: not an EDF file (want \"0\")", fixed[:8])}
	}
	var err error
	if h.HeaderBytes, err = p.int(offHeaderBytes, 8, "number of bytes in the header"); err != nil {
		return nil, err
	}
	if h.NumRecords, err = p.int(offNumRecords, 8, "number of data records"); err != nil {
		return nil, err
	}
	if h.NumRecords < -1 {
		return nil, &FormatError{file, offNumRecords, fmt.Sprintf("number of data records %d: want -1 (unknown) or more", h.NumRecords)}
	}
	if h.RecordDuration, err = p.float(offDuration, 8, "duration of a data record"); err != nil {
		return nil, err
	}
	ns, err := p.int(offNumSignals, 4, "number of signals")
	if err != nil {
		return nil, err
	}
	if ns <= 0 {
		return nil, &FormatError{file, offNumSignals, fmt.Sprintf("number of signals %d: want at least 1", ns)}
	}
	if want := fixedHeaderSize + signalHeaderSize*ns; h.HeaderBytes != want {
		return nil, &FormatError{file, offHeaderBytes, fmt.Sprintf("header length field says %d bytes, but %d signals need %d", h.HeaderBytes, ns, want)}
	}

	sig := make([]byte, signalHeaderSize*ns)
	if n, err := io.ReadFull(r, sig); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &FormatError{file, int64(fixedHeaderSize + n), fmt.Sprintf("file ends inside the signal headers (%d of %d bytes for %d signals)", n, len(sig), ns)}
		}
		return nil, fmt.Errorf("edf: %s: reading the signal headers: %w", file, err)
	}
	if h.Signals, err = parseSignals(file, sig, ns); err != nil {
		return nil, err
	}

	allAnnotations := true
	for _, s := range h.Signals {
		allAnnotations = allAnnotations && s.IsAnnotation()
	}
	if h.RecordDuration < 0 || (h.RecordDuration == 0 && !allAnnotations) {
		return nil, &FormatError{file, offDuration, fmt.Sprintf("duration of a data record %g s: must be positive", h.RecordDuration)}
	}
	return h, nil
}

// parseSignals parses the ns per-signal header blocks in buf, which starts
// at byte 256 of the file.
func parseSignals(file string, buf []byte, ns int) ([]Signal, error) {
	p := fieldParser{file: file, buf: buf, base: fixedHeaderSize}
	fields := signalFields()
	sigs := make([]Signal, ns)
	// at returns the offset in buf of field k of signal i.
	at := func(k, i int) int {
		off := 0
		for _, f := range fields[:k] {
			off += ns * f.width
		}
		return off + i*fields[k].width
	}
	for i := range sigs {
		s := &sigs[i]
		text := func(k int) string { return p.text(at(k, i), fields[k].width) }
		s.Label = text(fLabel)
		s.Transducer = text(fTransducer)
		s.PhysicalDimension = text(fDimension)
		s.Prefiltering = text(fPrefilter)
		s.Reserved = text(fReserved)

		name := func(k int) string { return fmt.Sprintf("signal %d (%q) %s", i+1, s.Label, fields[k].name) }
		var err error
		if s.PhysicalMin, err = p.float(at(fPhysMin, i), 8, name(fPhysMin)); err != nil {
			return nil, err
		}
		if s.PhysicalMax, err = p.float(at(fPhysMax, i), 8, name(fPhysMax)); err != nil {
			return nil, err
		}
		if s.DigitalMin, err = p.int(at(fDigMin, i), 8, name(fDigMin)); err != nil {
			return nil, err
		}
		if s.DigitalMax, err = p.int(at(fDigMax, i), 8, name(fDigMax)); err != nil {
			return nil, err
		}
		if s.DigitalMax <= s.DigitalMin {
			return nil, p.errorf(at(fDigMax, i), "signal %d (%q): digital maximum %d is not above digital minimum %d", i+1, s.Label, s.DigitalMax, s.DigitalMin)
		}
		if s.SamplesPerRecord, err = p.int(at(fSamples, i), 8, name(fSamples)); err != nil {
			return nil, err
		}
		if s.SamplesPerRecord <= 0 {
			return nil, p.errorf(at(fSamples, i), "%s %d: must be positive", name(fSamples), s.SamplesPerRecord)
		}
	}
	return sigs, nil
}

// fieldParser extracts the fixed-width ASCII fields of a header block that
// starts at byte base of file.
type fieldParser struct {
	file string
	buf  []byte
	base int64
}

func (p fieldParser) errorf(off int, format string, args ...any) error {
	return &FormatError{p.file, p.base + int64(off), fmt.Sprintf(format, args...)}
}

// text returns the field with surrounding blanks (and NUL padding, which
// some writers use) removed.
func (p fieldParser) text(off, width int) string {
	return strings.Trim(string(p.buf[off:off+width]), " \x00")
}

func (p fieldParser) int(off, width int, name string) (int, error) {
	s := p.text(off, width)
	v, err := strconv.Atoi(s)
	if err != nil || !isDecimal(s) {
		return 0, p.errorf(off, "%s %q is not an integer", name, s)
	}
	return v, nil
}

func (p fieldParser) float(off, width int, name string) (float64, error) {
	s := p.text(off, width)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !isDecimal(s) {
		return 0, p.errorf(off, "%s %q is not a number", name, s)
	}
	return v, nil
}

// isDecimal reports whether s is made only of the characters of a decimal
// number, which rules out the hexadecimal, "Inf" and "NaN" forms strconv
// would otherwise accept.
func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E') {
			return false
		}
	}
	return true
}
