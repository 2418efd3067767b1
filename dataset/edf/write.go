package edf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Write writes an EDF file: h's header followed by the data records.
// digital[i] holds every stored value of h.Signals[i], all records in turn,
// so its length must be the same multiple of SamplesPerRecord for every
// signal; that multiple is the number of records written. h.NumRecords is
// written as given and must equal it, or be -1 ("unknown"). HeaderBytes is
// ignored and written as 256·(1 + len(h.Signals)); an empty Version is
// written as "0".
//
// Text fields must fit their width; numbers are written in at most 8
// characters, rounding physical minima and maxima and the record duration to
// the nearest value that fits (NaN and infinities are errors).
func Write(w io.Writer, h *Header, digital [][]int16) error {
	ns := len(h.Signals)
	if ns == 0 || ns > maxSignals {
		return fmt.Errorf("edf: write: %d signals: want 1 to %d", ns, maxSignals)
	}
	if len(digital) != ns {
		return fmt.Errorf("edf: write: %d sample slices for %d signals", len(digital), ns)
	}
	records := -1
	for i, s := range h.Signals {
		if s.SamplesPerRecord <= 0 {
			return fmt.Errorf("edf: write: signal %d (%q): %d samples per record, want at least 1", i+1, s.Label, s.SamplesPerRecord)
		}
		if s.DigitalMax <= s.DigitalMin {
			return fmt.Errorf("edf: write: signal %d (%q): digital maximum %d is not above digital minimum %d", i+1, s.Label, s.DigitalMax, s.DigitalMin)
		}
		n := len(digital[i])
		if n%s.SamplesPerRecord != 0 || (records >= 0 && n/s.SamplesPerRecord != records) {
			return fmt.Errorf("edf: write: signal %d (%q) has %d samples, which is not %d records of %d", i+1, s.Label, n, max(records, 0), s.SamplesPerRecord)
		}
		records = n / s.SamplesPerRecord
	}
	if h.NumRecords != -1 && h.NumRecords != records {
		return fmt.Errorf("edf: write: header says %d data records, the samples make %d", h.NumRecords, records)
	}
	if !(h.RecordDuration >= 0) || math.IsInf(h.RecordDuration, 0) {
		return fmt.Errorf("edf: write: duration of a data record %g s: want a finite, non-negative number", h.RecordDuration)
	}

	var hw headerWriter
	version := h.Version
	if version == "" {
		version = "0"
	}
	hw.text("version", version, 8)
	hw.text("patient", h.Patient, 80)
	hw.text("recording", h.Recording, 80)
	hw.text("start date", h.StartDate, 8)
	hw.text("start time", h.StartTime, 8)
	hw.text("header bytes", strconv.Itoa(fixedHeaderSize+signalHeaderSize*ns), 8)
	hw.text("reserved", h.Reserved, 44)
	hw.text("number of data records", strconv.Itoa(h.NumRecords), 8)
	hw.number("duration of a data record", h.RecordDuration, 8)
	hw.text("number of signals", strconv.Itoa(ns), 4)
	fields := signalFields()
	for k, f := range fields {
		for i, s := range h.Signals {
			name := fmt.Sprintf("signal %d %s", i+1, f.name)
			switch k {
			case fLabel:
				hw.text(name, s.Label, f.width)
			case fTransducer:
				hw.text(name, s.Transducer, f.width)
			case fDimension:
				hw.text(name, s.PhysicalDimension, f.width)
			case fPhysMin:
				hw.number(name, s.PhysicalMin, f.width)
			case fPhysMax:
				hw.number(name, s.PhysicalMax, f.width)
			case fDigMin:
				hw.text(name, strconv.Itoa(s.DigitalMin), f.width)
			case fDigMax:
				hw.text(name, strconv.Itoa(s.DigitalMax), f.width)
			case fPrefilter:
				hw.text(name, s.Prefiltering, f.width)
			case fSamples:
				hw.text(name, strconv.Itoa(s.SamplesPerRecord), f.width)
			case fReserved:
				hw.text(name, s.Reserved, f.width)
			}
		}
	}
	if hw.err != nil {
		return hw.err
	}

	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(hw.b.String()); err != nil {
		return fmt.Errorf("edf: write: %w", err)
	}
	var two [2]byte
	for r := range records {
		for i, s := range h.Signals {
			for _, d := range digital[i][r*s.SamplesPerRecord : (r+1)*s.SamplesPerRecord] {
				binary.LittleEndian.PutUint16(two[:], uint16(d))
				bw.Write(two[:]) // a write error sticks and is returned by Flush
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("edf: write: %w", err)
	}
	return nil
}

// headerWriter builds the ASCII header, remembering the first error.
type headerWriter struct {
	b   strings.Builder
	err error
}

// text writes s left-aligned in a field of width bytes, padded with blanks.
func (hw *headerWriter) text(name, s string, width int) {
	if hw.err != nil {
		return
	}
	if len(s) > width {
		hw.err = fmt.Errorf("edf: write: %s %q is longer than its %d-byte field", name, s, width)
		return
	}
	hw.b.WriteString(s)
	hw.b.WriteString(strings.Repeat(" ", width-len(s)))
}

func (hw *headerWriter) number(name string, v float64, width int) {
	s, ok := formatNumber(v, width)
	if !ok && hw.err == nil {
		hw.err = fmt.Errorf("edf: write: %s %g cannot be written as a decimal number of %d characters", name, v, width)
		return
	}
	hw.text(name, s, width)
}

// formatNumber returns the decimal text of at most width characters whose
// value is nearest to v, the shortest such text on a tie. ok is false when v
// is not finite or no text fits the width.
func formatNumber(v float64, width int) (s string, ok bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "", false
	}
	bestErr := math.Inf(1)
	consider := func(c string) {
		if len(c) > width {
			return
		}
		x, err := strconv.ParseFloat(c, 64)
		if err != nil {
			return
		}
		e := math.Abs(x - v)
		if e < bestErr || (e == bestErr && len(c) < len(s)) {
			s, bestErr = c, e
		}
	}
	for prec := -1; prec <= width; prec++ {
		consider(trimZeros(strconv.FormatFloat(v, 'f', prec, 64)))
		consider(compactExponent(strconv.FormatFloat(v, 'g', prec, 64)))
	}
	return s, s != ""
}

// trimZeros removes trailing zeros after a decimal point, and the point if
// nothing follows it: "1.500" → "1.5", "2.000" → "2".
func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// compactExponent shortens an exponent: "1.5e+06" → "1.5e6", "2e-05" → "2e-5".
func compactExponent(s string) string {
	mant, exp, found := strings.Cut(s, "e")
	if !found {
		return s
	}
	sign := ""
	switch {
	case strings.HasPrefix(exp, "-"):
		sign, exp = "-", exp[1:]
	case strings.HasPrefix(exp, "+"):
		exp = exp[1:]
	}
	exp = strings.TrimLeft(exp, "0")
	if exp == "" {
		return mant
	}
	return mant + "e" + sign + exp
}
