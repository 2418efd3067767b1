package edf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/splitnas/splitnas/dataset/internal/size"
)

// chunkBytes is about how much data Read holds in its buffer at once; a
// whole number of records is read each time (at least one).
const chunkBytes = 1 << 20

// File is an open EDF file. Its Header has NumRecords set to the number of
// complete data records in the file when the header says -1 (unknown).
//
// A File reads its signals on demand with ReadAt, so it may be read from
// several goroutines at once; Close it when done.
type File struct {
	Header
	path string
	f    *os.File
}

// Open opens the EDF file at path, reads its header and checks that the
// file holds all the data records the header announces. Bytes after the
// last record are ignored (one CHB-MIT file has 256 of them); when the
// number of records is unknown (-1) it is computed from the file size and a
// trailing partial record is ignored.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("edf: %w", err)
	}
	ef, err := open(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return ef, nil
}

func open(f *os.File, path string) (*File, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("edf: %w", err)
	}
	h, err := ReadHeader(f, path)
	if err != nil {
		return nil, err
	}
	fileSize := st.Size()
	data := fileSize - int64(h.HeaderBytes) // ≥ 0: the header was read whole
	rec := h.RecordSize()
	have := data / rec // complete records in the file
	switch {
	case h.NumRecords < 0:
		if have > math.MaxInt32 {
			return nil, &FormatError{path, offNumRecords, fmt.Sprintf("number of data records unknown and the file size gives %d, too many", have)}
		}
		h.NumRecords = int(have)
	case int64(h.NumRecords) > have:
		need := "more than 2^63"
		if records, ok := size.Mul64(int64(h.NumRecords), rec); ok {
			if total, ok := size.Add64(int64(h.HeaderBytes), records); ok {
				need = fmt.Sprint(total)
			}
		}
		return nil, &FormatError{path, fileSize, fmt.Sprintf(
			"data ends in data record %d of %d (counted from 1): the file has %d bytes, but a %d-byte header and %d records of %d bytes need %s",
			have+1, h.NumRecords, fileSize, h.HeaderBytes, h.NumRecords, rec, need)}
	}
	return &File{Header: *h, path: path, f: f}, nil
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// Path returns the path the file was opened with.
func (f *File) Path() string { return f.path }

// Signal returns the physical values of the first ordinary signal labelled
// label, all records in order.
func (f *File) Signal(label string) ([]float64, error) {
	i := f.Index(label)
	if i < 0 {
		return nil, fmt.Errorf("edf: %s: no signal labelled %q (signals: %q)", f.path, label, f.Labels())
	}
	x, err := f.Read(i)
	if err != nil {
		return nil, err
	}
	return x[0], nil
}

// Read returns the physical values of the signals at the given indices into
// Signals, in one pass over the data records. Annotation signals cannot be
// read this way (they hold text): use ReadDigital for their raw bytes.
func (f *File) Read(idx ...int) ([][]float64, error) {
	if err := f.checkIndices(idx, false); err != nil {
		return nil, err
	}
	out := make([][]float64, len(idx))
	for k, i := range idx {
		n, err := f.samples(i)
		if err != nil {
			return nil, err
		}
		out[k] = make([]float64, n)
	}
	err := f.scan(idx, func(k, r int, raw []byte) {
		s := &f.Signals[idx[k]]
		dst := out[k][r*s.SamplesPerRecord:]
		dmin, scale, pmin := float64(s.DigitalMin), s.scale(), s.PhysicalMin
		for j := range s.SamplesPerRecord {
			d := int16(binary.LittleEndian.Uint16(raw[2*j:]))
			dst[j] = (float64(d)-dmin)*scale + pmin
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReadDigital returns the stored values of the signals at the given indices
// into Signals, in one pass over the data records.
func (f *File) ReadDigital(idx ...int) ([][]int16, error) {
	if err := f.checkIndices(idx, true); err != nil {
		return nil, err
	}
	out := make([][]int16, len(idx))
	for k, i := range idx {
		n, err := f.samples(i)
		if err != nil {
			return nil, err
		}
		out[k] = make([]int16, n)
	}
	err := f.scan(idx, func(k, r int, raw []byte) {
		n := f.Signals[idx[k]].SamplesPerRecord
		dst := out[k][r*n:]
		for j := range n {
			dst[j] = int16(binary.LittleEndian.Uint16(raw[2*j:]))
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// samples returns the number of values of signal i over all records,
// refusing a count an int cannot hold (a file of more than 2 GiB samples of
// one signal on a 32-bit machine).
func (f *File) samples(i int) (int, error) {
	n, ok := size.Mul(f.NumRecords, f.Signals[i].SamplesPerRecord)
	if !ok {
		return 0, fmt.Errorf("edf: %s: signal %d: %d records of %d samples are more than memory can index",
			f.path, i, f.NumRecords, f.Signals[i].SamplesPerRecord)
	}
	return n, nil
}

func (f *File) checkIndices(idx []int, annotations bool) error {
	for _, i := range idx {
		if i < 0 || i >= len(f.Signals) {
			return fmt.Errorf("edf: %s: signal index %d out of range [0, %d)", f.path, i, len(f.Signals))
		}
		if !annotations && f.Signals[i].IsAnnotation() {
			return fmt.Errorf("edf: %s: signal %d is an EDF+ annotation signal, not samples", f.path, i)
		}
	}
	return nil
}

// scan reads the data records in chunks and calls visit with the bytes of
// signal idx[k] in record r, for every record and every k.
func (f *File) scan(idx []int, visit func(k, r int, raw []byte)) error {
	if f.NumRecords == 0 || len(idx) == 0 {
		return nil
	}
	rec := f.RecordSize()
	offsets := make([]int64, len(f.Signals)) // of each signal within a record
	for i := 1; i < len(f.Signals); i++ {
		offsets[i] = offsets[i-1] + 2*int64(f.Signals[i-1].SamplesPerRecord)
	}
	perChunk := max(1, min(int64(f.NumRecords), chunkBytes/rec))
	buf := make([]byte, perChunk*rec)
	for r0 := 0; r0 < f.NumRecords; r0 += int(perChunk) {
		n := min(int64(f.NumRecords-r0), perChunk)
		off := int64(f.HeaderBytes) + int64(r0)*rec
		if _, err := f.f.ReadAt(buf[:n*rec], off); err != nil {
			if errors.Is(err, io.EOF) {
				return &FormatError{f.path, off, fmt.Sprintf("data ends in data records %d–%d of %d (counted from 1); was the file truncated after it was opened?", r0+1, int64(r0)+n, f.NumRecords)}
			}
			return fmt.Errorf("edf: %s: reading data records %d–%d: %w", f.path, r0+1, int64(r0)+n, err)
		}
		for j := range n {
			record := buf[j*rec : (j+1)*rec]
			for k, i := range idx {
				o := offsets[i]
				visit(k, r0+int(j), record[o:o+2*int64(f.Signals[i].SamplesPerRecord)])
			}
		}
	}
	return nil
}
