package wfdb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
)

// Code is an MIT annotation code, as defined by WFDB's ecgcodes.h: 1 is a
// normal beat ('N'), 5 a premature ventricular contraction ('V'), 28 a
// rhythm change ('+'), and so on up to 41 ('r'). Codes 42 to 49 are
// available for local use.
type Code uint8

// maxCode is the largest annotation code (ACMAX).
const maxCode = 49

// mnemonics holds the WFDB mnemonic (annstr) of each code from 0 to 41 at
// the code's index; all are one character, and '_' marks codes without one.
const mnemonics = `_NLRaVFJASEj/Q~_|_sT*D"=pB^t+u?![]en@xf()r`

// String returns the WFDB mnemonic of c, such as "N" or "+". As in WFDB, a
// code without a mnemonic is written in brackets ("[15]") and code 0
// (NOTQRS) as a space.
func (c Code) String() string {
	if c == 0 {
		return " "
	}
	if int(c) < len(mnemonics) && mnemonics[c] != '_' {
		return mnemonics[c : c+1]
	}
	return "[" + strconv.Itoa(int(c)) + "]"
}

// Annotation is one annotation of an MIT-format annotation file.
type Annotation struct {
	Sample  int64  // time, as a sample number counted from 0
	Code    Code   // annotation type
	Subtype int    // annotation subtype, -512..511 (WFDB writes -1 as 1023)
	Chan    int    // signal number the annotation refers to, 0..1023
	Num     int    // annotator-defined number, -512..511
	Aux     string // auxiliary text, such as the rhythm "(AFIB"; trailing NULs removed
}

// Annotation word codes: the top 6 bits A of each 16-bit word. Values 1 to
// maxCode are annotation codes; the rest are pseudo-annotations.
const (
	wordSkip = 59 // the next 4 bytes are a 32-bit time increment
	wordNum  = 60 // I is Num of the current and following annotations
	wordSub  = 61 // I is Subtype of the current annotation
	wordChan = 62 // I is Chan of the current and following annotations
	wordAux  = 63 // I bytes of auxiliary text follow, padded to even length

	maxInterval = 1<<10 - 1 // the largest time increment I holds

	// maxSample bounds the times of annotations, read or written (2^40
	// samples are 97 years at 360 Hz). It bounds the number of SKIPs
	// WriteAnnotations writes between two annotations (at most 1024), and
	// keeps every time read a usable sample index.
	maxSample = 1 << 40
)

// ReadAnnotations reads the MIT-format annotation file at path.
func ReadAnnotations(path string) ([]Annotation, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("wfdb: read annotations: %w", err)
	}
	return parseAnnotations(data, path)
}

// ParseAnnotations reads MIT-format annotation files (.atr): 16-bit
// little-endian words, top 6 bits A, low 10 bits I. A in 1..49 is an
// annotation code with I its time increment; the pseudo-annotations SKIP (59:
// the next 4 bytes are a 32-bit signed interval, high 16-bit word first, each
// word little-endian), NUM (60), SUB (61), CHN (62) and AUX (63: I bytes
// follow, padded to an even count) modify time or the annotation they follow;
// NUM and CHN persist to the following annotations, SUB applies to the
// current annotation only. A=0 I=0 is the end marker; a file may also simply
// end on a word boundary. As in WFDB, A=0 with I>0 is an annotation of code
// 0 (NOTQRS). An annotation time (or a SKIP) beyond ±2^40 samples is an
// error, so that every time read is a usable sample index. file names the
// input in error messages.
func ParseAnnotations(r io.Reader, file string) ([]Annotation, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("wfdb: read annotations %s: %w", file, err)
	}
	return parseAnnotations(data, file)
}

func parseAnnotations(data []byte, file string) ([]Annotation, error) {
	var (
		anns         = make([]Annotation, 0, len(data)/4)
		t            int64 // time of the last annotation, plus any SKIPs since
		channel, num int   // persistent CHN and NUM values
	)
	fail := func(off int, format string, args ...any) error {
		return &FormatError{File: file, Offset: int64(off), Msg: fmt.Sprintf(format, args...)}
	}
	// current returns the annotation that SUB and AUX modify.
	current := func(off int, what string) (*Annotation, error) {
		if len(anns) == 0 {
			return nil, fail(off, "%s before the first annotation", what)
		}
		return &anns[len(anns)-1], nil
	}
	for off := 0; off < len(data); {
		if len(data)-off < 2 {
			return nil, fail(off, "truncated word: 1 byte left")
		}
		w := uint16(data[off]) | uint16(data[off+1])<<8
		if w == 0 {
			break // end marker; anything after it is ignored
		}
		a, i := int(w>>10), int(w&maxInterval)
		at := off
		off += 2
		switch a {
		case wordSkip:
			if len(data)-off < 4 {
				return nil, fail(at, "SKIP interval truncated: %d of 4 bytes left", len(data)-off)
			}
			hi := uint32(data[off]) | uint32(data[off+1])<<8
			lo := uint32(data[off+2]) | uint32(data[off+3])<<8
			t += int64(int32(hi<<16 | lo))
			off += 4
			// Bounded after every step, so the sum of any number of
			// SKIPs cannot overflow, and a time is one a caller can
			// use as a sample index.
			if t < -maxSample || t > maxSample {
				return nil, fail(at, "SKIP takes the time to sample %d, beyond ±%d", t, int64(maxSample))
			}
		case wordNum:
			num = signExtend10(i)
			if len(anns) > 0 {
				anns[len(anns)-1].Num = num
			}
		case wordChan:
			channel = i
			if len(anns) > 0 {
				anns[len(anns)-1].Chan = channel
			}
		case wordSub:
			cur, err := current(at, "SUB")
			if err != nil {
				return nil, err
			}
			cur.Subtype = signExtend10(i)
		case wordAux:
			cur, err := current(at, "AUX")
			if err != nil {
				return nil, err
			}
			padded := i + i%2
			if len(data)-off < padded {
				return nil, fail(at, "AUX of %d bytes (%d with padding) runs past the end of the file (%d bytes left)",
					i, padded, len(data)-off)
			}
			cur.Aux = string(bytes.TrimRight(data[off:off+i], "\x00"))
			off += padded
		default:
			if a > maxCode {
				return nil, fail(at, "unknown annotation code %d", a)
			}
			t += int64(i)
			if t > maxSample {
				return nil, fail(at, "annotation time %d is beyond %d samples", t, int64(maxSample))
			}
			anns = append(anns, Annotation{Sample: t, Code: Code(a), Chan: channel, Num: num})
		}
	}
	return anns, nil
}

// signExtend10 reads a 10-bit field as two's complement.
func signExtend10(v int) int {
	if v > maxInterval>>1 {
		return v - (maxInterval + 1)
	}
	return v
}

// WriteAnnotations writes anns as an MIT-format annotation file, in the
// order given: an annotation word per annotation, preceded by SKIP when the
// interval from the previous one is negative or exceeds 1023 and followed by
// SUB, CHN, NUM and AUX as needed, then the end marker. Aux may hold at most
// 255 bytes (WFDB's limit).
func WriteAnnotations(w io.Writer, anns []Annotation) error {
	var (
		buf          []byte
		t            int64
		channel, num int
	)
	word := func(a, i int) {
		buf = append(buf, byte(i), byte(a<<2|i>>8&3))
	}
	for k, ann := range anns {
		if err := checkAnnotation(ann); err != nil {
			return fmt.Errorf("wfdb: write annotations: annotation %d at sample %d: %w", k, ann.Sample, err)
		}
		// The word of a code-0 annotation needs I > 0: A=0 I=0 ends the file.
		minI := int64(0)
		if ann.Code == 0 {
			minI = 1
		}
		delta := ann.Sample - t
		if delta < minI || delta > maxInterval {
			for skip := delta - minI; skip != 0; {
				step := max(min(skip, math.MaxInt32), math.MinInt32)
				v := uint32(int32(step))
				word(wordSkip, 0)
				buf = append(buf, byte(v>>16), byte(v>>24), byte(v), byte(v>>8))
				skip -= step
			}
			delta = minI
		}
		word(int(ann.Code), int(delta))
		t = ann.Sample
		if ann.Subtype != 0 {
			word(wordSub, ann.Subtype&maxInterval)
		}
		if ann.Chan != channel {
			channel = ann.Chan
			word(wordChan, channel)
		}
		if ann.Num != num {
			num = ann.Num
			word(wordNum, num&maxInterval)
		}
		if ann.Aux != "" {
			word(wordAux, len(ann.Aux))
			buf = append(buf, ann.Aux...)
			if len(ann.Aux)%2 == 1 {
				buf = append(buf, 0)
			}
		}
	}
	word(0, 0)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("wfdb: write annotations: %w", err)
	}
	return nil
}

// checkAnnotation reports what in ann an MIT-format file cannot hold.
func checkAnnotation(ann Annotation) error {
	switch {
	case ann.Sample < -maxSample || ann.Sample > maxSample:
		return fmt.Errorf("sample is outside ±%d", maxSample)
	case ann.Code > maxCode:
		return fmt.Errorf("code %d is above %d", ann.Code, maxCode)
	case ann.Subtype < -512 || ann.Subtype > 511:
		return fmt.Errorf("subtype %d is outside -512..511", ann.Subtype)
	case ann.Chan < 0 || ann.Chan > maxInterval:
		return fmt.Errorf("channel %d is outside 0..1023", ann.Chan)
	case ann.Num < -512 || ann.Num > 511:
		return fmt.Errorf("num %d is outside -512..511", ann.Num)
	case len(ann.Aux) > 255:
		return fmt.Errorf("aux has %d bytes, more than 255", len(ann.Aux))
	case len(ann.Aux) > 0 && ann.Aux[len(ann.Aux)-1] == 0:
		return errors.New("aux ends with a NUL byte, which reading removes")
	}
	return nil
}
