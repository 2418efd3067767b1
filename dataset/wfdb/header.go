package wfdb

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

const (
	defaultFreq   = 250     // Hz, when the record line gives none (WFDB_DEFFREQ)
	defaultGain   = 200     // ADC units per physical unit, when absent or 0 (WFDB_DEFGAIN)
	maxHeaderSize = 1 << 20 // bytes; real headers are a few hundred
)

// Header is the content of a WFDB header (.hea) file for a single-segment
// record.
type Header struct {
	Record     string
	NumSignals int
	Freq       float64 // sampling frequency, Hz (default 250 if absent, as WFDB)
	NumSamples int     // samples per signal (0 if unknown)
	Signals    []Signal
	Comments   []string // '#' lines without the '#'
}

// Signal describes one signal of a record, as given by a signal line of the
// header. Fields absent from the line have their zero value, except where
// noted.
type Signal struct {
	File            string // file holding the samples, relative to the header's directory
	Format          int    // storage format (212, 16, ...)
	SamplesPerFrame int    // samples of this signal per frame (default 1)
	Skew            int    // frames by which the signal is delayed in the file
	ByteOffset      int64  // bytes before the first sample in File

	Gain     float64 // ADC units per physical unit (WFDB: 0 or absent means 200)
	Baseline int     // ADC value of physical zero (defaults to ADCZero)
	Units    string  // physical units; empty means unspecified (WFDB assumes mV)
	ADCRes   int     // ADC resolution in bits (0 if absent)
	ADCZero  int     // ADC value of the middle of the input range

	InitValue    int // first sample, when HasInitValue
	HasInitValue bool
	Checksum     int // 16-bit sum of all samples, when HasChecksum
	HasChecksum  bool

	BlockSize   int    // block size of the device holding File (0: not a block device)
	Description string // free text, e.g. the lead name "MLII"
}

// Physical converts the digital value d of this signal to physical units.
func (s Signal) Physical(d int) float64 {
	gain := s.Gain
	if gain == 0 {
		gain = defaultGain
	}
	return float64(d-s.Baseline) / gain
}

// ReadHeader reads the header file at path.
func ReadHeader(path string) (*Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("wfdb: read header: %w", err)
	}
	defer f.Close()
	return ParseHeader(f, path)
}

// ParseHeader parses a WFDB header. file names the input in error messages.
// Multi-segment records are rejected.
func ParseHeader(r io.Reader, file string) (*Header, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxHeaderSize+1))
	if err != nil {
		return nil, fmt.Errorf("wfdb: read header %s: %w", file, err)
	}
	if len(data) > maxHeaderSize {
		return nil, &FormatError{File: file, Offset: -1, Msg: fmt.Sprintf("header is larger than %d bytes", maxHeaderSize)}
	}

	p := headerParser{file: file}
	var (
		h          Header
		seenRecord bool
	)
	for i, line := range strings.Split(string(data), "\n") {
		p.line = i + 1
		line = strings.TrimRight(line, blanks+"\r")
		body := strings.TrimLeft(line, blanks)
		switch {
		case body == "":
			continue
		case body[0] == '#':
			h.Comments = append(h.Comments, body[1:])
		case !seenRecord:
			if err := p.recordLine(&h, body); err != nil {
				return nil, err
			}
			seenRecord = true
		case len(h.Signals) < h.NumSignals:
			s, err := p.signalLine(body)
			if err != nil {
				return nil, err
			}
			h.Signals = append(h.Signals, s)
		default:
			return nil, p.errorf("unexpected line after the %d signal lines", h.NumSignals)
		}
	}
	if !seenRecord {
		return nil, &FormatError{File: file, Offset: -1, Msg: "no record line"}
	}
	if len(h.Signals) < h.NumSignals {
		return nil, &FormatError{File: file, Offset: -1,
			Msg: fmt.Sprintf("record line declares %d signals but there are %d signal lines", h.NumSignals, len(h.Signals))}
	}
	return &h, nil
}

// blanks separate the fields of header lines.
const blanks = " \t"

// fields splits s at runs of blanks into at most n fields. When text follows
// the n-th field it is returned as rest, without surrounding blanks.
func fields(s string, n int) (f []string, rest string) {
	for len(f) < n {
		s = strings.TrimLeft(s, blanks)
		if s == "" {
			return f, ""
		}
		end := strings.IndexAny(s, blanks)
		if end < 0 {
			end = len(s)
		}
		f = append(f, s[:end])
		s = s[end:]
	}
	return f, strings.Trim(s, blanks)
}

// headerParser holds what error messages need while a header is parsed.
type headerParser struct {
	file string
	line int
}

func (p *headerParser) errorf(format string, args ...any) error {
	return &FormatError{File: p.file, Offset: -1, Msg: fmt.Sprintf("line %d: ", p.line) + fmt.Sprintf(format, args...)}
}

func (p *headerParser) atoi(what, s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, p.errorf("%s %q is out of range", what, s)
		}
		return 0, p.errorf("%s %q is not an integer", what, s)
	}
	return v, nil
}

// natural parses a non-negative integer.
func (p *headerParser) natural(what, s string) (int, error) {
	v, err := p.atoi(what, s)
	if err == nil && v < 0 {
		err = p.errorf("%s %d is negative", what, v)
	}
	return v, err
}

func (p *headerParser) float(what, s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, p.errorf("%s %q is out of range", what, s)
	case err != nil || math.IsNaN(v) || math.IsInf(v, 0):
		return 0, p.errorf("%s %q is not a number", what, s)
	}
	return v, nil
}

// recordLine parses
//
//	name[/nseg] nsig [freq[/counterfreq][(basecount)] [nsamp [basetime [basedate]]]]
//
// The counter frequency, base count, base time and base date are checked
// only as far as needed to find the other fields, and are not kept.
func (p *headerParser) recordLine(h *Header, line string) error {
	f, _ := fields(line, 4)
	name, _, multi := strings.Cut(f[0], "/")
	if multi {
		return p.errorf("record %q is a multi-segment record, which is not supported", f[0])
	}
	if len(f) < 2 {
		return p.errorf("record line has no number of signals")
	}
	nsig, err := p.natural("number of signals", f[1])
	if err != nil {
		return err
	}
	*h = Header{Record: name, NumSignals: nsig, Freq: defaultFreq, Comments: h.Comments}
	if len(f) > 2 {
		freq, _, _ := strings.Cut(f[2], "(")
		freq, _, _ = strings.Cut(freq, "/")
		if h.Freq, err = p.float("sampling frequency", freq); err != nil {
			return err
		}
		if h.Freq <= 0 {
			return p.errorf("sampling frequency %q is not positive", freq)
		}
	}
	if len(f) > 3 {
		if h.NumSamples, err = p.natural("number of samples", f[3]); err != nil {
			return err
		}
	}
	return nil
}

// signalLine parses
//
//	file format[xsamp][:skew][+offset] [gain[(baseline)][/units] [adcres [adczero [initval [checksum [blocksize [description]]]]]]]
func (p *headerParser) signalLine(line string) (Signal, error) {
	f, desc := fields(line, 8)
	s := Signal{File: f[0], SamplesPerFrame: 1, Gain: defaultGain, Description: desc}
	if len(f) < 2 {
		return s, p.errorf("signal line has no format")
	}
	if err := p.formatField(&s, f[1]); err != nil {
		return s, err
	}
	var err error
	if len(f) > 4 {
		if s.ADCZero, err = p.atoi("ADC zero", f[4]); err != nil {
			return s, err
		}
	}
	s.Baseline = s.ADCZero
	if len(f) > 2 {
		if err := p.gainField(&s, f[2]); err != nil {
			return s, err
		}
	}
	if len(f) > 3 {
		if s.ADCRes, err = p.natural("ADC resolution", f[3]); err != nil {
			return s, err
		}
	}
	if len(f) > 5 {
		if s.InitValue, err = p.atoi("initial value", f[5]); err != nil {
			return s, err
		}
		s.HasInitValue = true
	}
	if len(f) > 6 {
		if s.Checksum, err = p.atoi("checksum", f[6]); err != nil {
			return s, err
		}
		s.HasChecksum = true
	}
	if len(f) > 7 {
		if s.BlockSize, err = p.natural("block size", f[7]); err != nil {
			return s, err
		}
	}
	return s, nil
}

// formatField parses format[xsamp][:skew][+offset] into s.
func (p *headerParser) formatField(s *Signal, field string) error {
	num, rest := cutBefore(field, "x:+")
	var err error
	if s.Format, err = p.natural("format", num); err != nil {
		return err
	}
	if strings.HasPrefix(rest, "x") {
		num, rest = cutBefore(rest[1:], ":+")
		if s.SamplesPerFrame, err = p.natural("samples per frame", num); err != nil {
			return err
		}
		if s.SamplesPerFrame == 0 {
			return p.errorf("samples per frame is 0")
		}
	}
	if strings.HasPrefix(rest, ":") {
		num, rest = cutBefore(rest[1:], "+")
		if s.Skew, err = p.natural("skew", num); err != nil {
			return err
		}
	}
	if strings.HasPrefix(rest, "+") {
		offset, err := p.natural("byte offset", rest[1:])
		if err != nil {
			return err
		}
		s.ByteOffset, rest = int64(offset), ""
	}
	if rest != "" {
		return p.errorf("format field %q is malformed", field)
	}
	return nil
}

// gainField parses gain[(baseline)][/units] into s.
func (p *headerParser) gainField(s *Signal, field string) error {
	num, rest := cutBefore(field, "(/")
	gain, err := p.float("gain", num)
	if err != nil {
		return err
	}
	if gain != 0 {
		s.Gain = gain
	}
	if strings.HasPrefix(rest, "(") {
		num, after, ok := strings.Cut(rest[1:], ")")
		if !ok {
			return p.errorf("gain field %q has no ')' after the baseline", field)
		}
		if s.Baseline, err = p.atoi("baseline", num); err != nil {
			return err
		}
		rest = after
	}
	if strings.HasPrefix(rest, "/") {
		s.Units, rest = rest[1:], ""
	}
	if rest != "" {
		return p.errorf("gain field %q is malformed", field)
	}
	return nil
}

// cutBefore splits s before the first byte that is in chars.
func cutBefore(s, chars string) (before, from string) {
	i := strings.IndexAny(s, chars)
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

// WriteHeader writes h in WFDB header syntax. Optional signal fields are
// written up to the last one that carries information; since fields are
// positional, a signal with a block size or description must have its
// initial value and checksum (HasInitValue, HasChecksum), and one with a
// checksum must have its initial value.
func WriteHeader(w io.Writer, h *Header) error {
	if h == nil {
		return errors.New("wfdb: write header: nil header")
	}
	if err := checkHeader(h); err != nil {
		return fmt.Errorf("wfdb: write header %s: %w", h.Record, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d %s", h.Record, len(h.Signals), formatFloat(h.Freq))
	if h.NumSamples > 0 {
		fmt.Fprintf(&b, " %d", h.NumSamples)
	}
	b.WriteByte('\n')
	for _, s := range h.Signals {
		writeSignalLine(&b, s)
	}
	for _, c := range h.Comments {
		b.WriteString("#" + c + "\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("wfdb: write header %s: %w", h.Record, err)
	}
	return nil
}

// checkHeader reports what in h cannot be written so that it reads back the
// same.
func checkHeader(h *Header) error {
	if err := checkToken("record name", h.Record); err != nil {
		return err
	}
	if strings.Contains(h.Record, "/") {
		return fmt.Errorf("record name %q contains '/'", h.Record)
	}
	if h.NumSignals != len(h.Signals) {
		return fmt.Errorf("NumSignals is %d but there are %d signals", h.NumSignals, len(h.Signals))
	}
	if !(h.Freq > 0) || math.IsInf(h.Freq, 0) {
		return fmt.Errorf("sampling frequency %v is not a positive number", h.Freq)
	}
	if h.NumSamples < 0 {
		return fmt.Errorf("number of samples %d is negative", h.NumSamples)
	}
	for i, s := range h.Signals {
		if err := checkSignal(s); err != nil {
			return fmt.Errorf("signal %d: %w", i, err)
		}
	}
	for _, c := range h.Comments {
		if strings.Contains(c, "\n") {
			return fmt.Errorf("comment %q contains a newline", c)
		}
	}
	return nil
}

func checkSignal(s Signal) error {
	if err := checkToken("file name", s.File); err != nil {
		return err
	}
	switch {
	case s.Format < 0:
		return fmt.Errorf("format %d is negative", s.Format)
	case s.SamplesPerFrame < 0:
		return fmt.Errorf("samples per frame %d is negative", s.SamplesPerFrame)
	case s.Skew < 0:
		return fmt.Errorf("skew %d is negative", s.Skew)
	case s.ByteOffset < 0:
		return fmt.Errorf("byte offset %d is negative", s.ByteOffset)
	case math.IsNaN(s.Gain) || math.IsInf(s.Gain, 0):
		return fmt.Errorf("gain %v is not a number", s.Gain)
	case s.ADCRes < 0:
		return fmt.Errorf("ADC resolution %d is negative", s.ADCRes)
	case s.BlockSize < 0:
		return fmt.Errorf("block size %d is negative", s.BlockSize)
	case strings.ContainsAny(s.Units, blanks+"\n"):
		return fmt.Errorf("units %q contain blanks", s.Units)
	case strings.Contains(s.Description, "\n"):
		return fmt.Errorf("description %q contains a newline", s.Description)
	}
	n := signalFieldCount(s)
	if n > 6 && !s.HasInitValue {
		return errors.New("a checksum, block size or description needs the initial value (HasInitValue)")
	}
	if n > 7 && !s.HasChecksum {
		return errors.New("a block size or description needs the checksum (HasChecksum)")
	}
	return nil
}

// checkToken reports whether s can be written as one header field.
func checkToken(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s is empty", what)
	case strings.ContainsAny(s, blanks+"\n"):
		return fmt.Errorf("%s %q contains blanks", what, s)
	case s[0] == '#':
		return fmt.Errorf("%s %q starts with '#'", what, s)
	}
	return nil
}

// signalFieldCount is the number of signal-line fields needed to write s.
func signalFieldCount(s Signal) int {
	switch {
	case s.Description != "":
		return 9
	case s.BlockSize != 0:
		return 8
	case s.HasChecksum:
		return 7
	case s.HasInitValue:
		return 6
	case s.ADCZero != 0:
		return 5
	case s.ADCRes != 0:
		return 4
	case s.Gain != defaultGain && s.Gain != 0, s.Baseline != s.ADCZero, s.Units != "":
		return 3
	}
	return 2
}

func writeSignalLine(b *strings.Builder, s Signal) {
	n := signalFieldCount(s)
	fmt.Fprintf(b, "%s %d", s.File, s.Format)
	if s.SamplesPerFrame > 1 {
		fmt.Fprintf(b, "x%d", s.SamplesPerFrame)
	}
	if s.Skew != 0 {
		fmt.Fprintf(b, ":%d", s.Skew)
	}
	if s.ByteOffset != 0 {
		fmt.Fprintf(b, "+%d", s.ByteOffset)
	}
	if n > 2 {
		gain := s.Gain
		if gain == 0 {
			gain = defaultGain
		}
		b.WriteString(" " + formatFloat(gain))
		if s.Baseline != s.ADCZero {
			fmt.Fprintf(b, "(%d)", s.Baseline)
		}
		if s.Units != "" {
			b.WriteString("/" + s.Units)
		}
	}
	for i, v := range []int{s.ADCRes, s.ADCZero, s.InitValue, s.Checksum, s.BlockSize} {
		if n > 3+i {
			fmt.Fprintf(b, " %d", v)
		}
	}
	if n > 8 {
		b.WriteString(" " + s.Description)
	}
	b.WriteByte('\n')
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
