package dataset

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"

	"github.com/x448/float16"

	"github.com/splitnas/splitnas/dataset/internal/size"
	"github.com/splitnas/splitnas/internal/atomicfile"
)

// The dataset file format (extension .snds), version 1. All integers are
// little-endian.
//
//	offset  size       field
//	0       8          magic "SPLITNDS"
//	8       4          format version (1)
//	12      4          header length H
//	16      H          header: UTF-8 JSON (see fileHeader): shape, classes,
//	                   encoding, record ids, source and settings
//	16+H    N          labels, one byte per sample (index into classes)
//	        N          splits, one byte per sample (0 train, 1 val, 2 test)
//	        4·N        record of each sample (uint32 index into the header's records)
//	        N·C·L·w    values, sample-major then channel-major; w = 4 (f32)
//	                   or 2 (f16, IEEE 754 half precision)
//	end−4   4          CRC-32C (Castagnoli) of every byte before it
//
// A reader checks the magic, version, sizes and checksum before it trusts
// anything, so a truncated or corrupted file is reported, never half-loaded.
const (
	magic         = "SPLITNDS"
	formatVersion = 1
	fixedHeader   = 16
	maxHeaderLen  = 1 << 28
)

// Encoding is how sample values are stored in a file.
type Encoding string

// Supported encodings. F16 halves the size at ~3 significant digits, plenty
// for z-scored signals; it is what the embedded sample uses.
const (
	F32 Encoding = "f32"
	F16 Encoding = "f16"
)

func (e Encoding) width() (int, error) {
	switch e {
	case F32:
		return 4, nil
	case F16:
		return 2, nil
	}
	return 0, fmt.Errorf("unknown value encoding %q (want f32 or f16)", string(e))
}

// fileHeader is the JSON header of a dataset file.
type fileHeader struct {
	Classes  []string `json:"classes"`
	Length   int      `json:"length"`
	Channels int      `json:"channels"`
	Samples  int      `json:"samples"`
	Encoding Encoding `json:"encoding"`
	Records  []string `json:"records"`
	Source   Source   `json:"source"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Write stores d in w in the dataset file format with the given encoding.
func Write(w io.Writer, d *Dataset, enc Encoding) error {
	if err := d.Validate(); err != nil {
		return err
	}
	width, err := enc.width()
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	records := d.RecordIDs()
	index := make(map[string]uint32, len(records))
	for i, r := range records {
		index[r] = uint32(i)
	}
	hdr, err := json.Marshal(fileHeader{
		Classes: d.Classes, Length: d.Length, Channels: d.Channels, Samples: d.Len(),
		Encoding: enc, Records: records, Source: d.Source,
	})
	if err != nil {
		return fmt.Errorf("dataset: encoding header: %w", err)
	}

	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<16)
	var b4 [4]byte
	put32 := func(v uint32) {
		binary.LittleEndian.PutUint32(b4[:], v)
		bw.Write(b4[:])
	}
	bw.WriteString(magic)
	put32(formatVersion)
	put32(uint32(len(hdr)))
	bw.Write(hdr)
	bw.Write(d.Labels)
	for _, s := range d.Splits {
		bw.WriteByte(byte(s))
	}
	for _, r := range d.Records {
		put32(index[r])
	}
	buf := make([]byte, 0, 1<<16)
	for start := 0; start < len(d.X); start += len(buf) / width {
		chunk := d.X[start:min(len(d.X), start+cap(buf)/width)]
		buf = buf[:0]
		for _, v := range chunk {
			if enc == F16 {
				buf = binary.LittleEndian.AppendUint16(buf, float16.Fromfloat32(v).Bits())
			} else {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			}
		}
		bw.Write(buf)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("dataset: writing: %w", err)
	}
	binary.LittleEndian.PutUint32(b4[:], crc.Sum32())
	if _, err := w.Write(b4[:]); err != nil {
		return fmt.Errorf("dataset: writing checksum: %w", err)
	}
	return nil
}

// Save writes d to path atomically: into a temporary file in the same
// folder, then renamed, so a crash never leaves a half-written dataset.
func Save(path string, d *Dataset, enc Encoding) error {
	if err := atomicfile.Write(path, func(w io.Writer) error { return Write(w, d, enc) }); err != nil {
		return fmt.Errorf("dataset: saving %s: %w", path, err)
	}
	return nil
}

// Load reads a dataset file.
func Load(path string) (*Dataset, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	return Decode(b, path)
}

// Read reads a whole dataset file from r; name is used in error messages.
func Read(r io.Reader, name string) (*Dataset, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", name, err)
	}
	return Decode(b, name)
}

// FormatError reports a malformed dataset file. Err, when set, is the
// cause: ErrChecksum for a file whose checksum does not match, an error
// wrapping ErrInvalid for an intact file whose sizes or contents are
// impossible, or the JSON error of an unreadable header.
type FormatError struct {
	File string
	Msg  string // what is wrong, or where (then Err says what); may be empty when Err says it all
	Err  error
}

func (e *FormatError) Error() string {
	s := "dataset: " + e.File + ": "
	switch {
	case e.Err == nil:
		return s + e.Msg
	case e.Msg == "":
		return s + e.Err.Error()
	}
	return s + e.Msg + ": " + e.Err.Error()
}

func (e *FormatError) Unwrap() error { return e.Err }

// ErrChecksum is wrapped by the error for a file whose checksum does not
// match: errors.Is(err, ErrChecksum) tells a truncated or corrupted file.
var ErrChecksum = errors.New("checksum mismatch")

// Decode parses the bytes of a dataset file; name is used in error messages.
// Every error is a *FormatError naming the file.
func Decode(b []byte, name string) (*Dataset, error) {
	bad := func(format string, args ...any) error {
		return &FormatError{File: name, Msg: fmt.Sprintf(format, args...)}
	}
	if len(b) < fixedHeader+4 || string(b[:8]) != magic {
		if len(b) >= 8 && string(b[:8]) == magic {
			return nil, bad("truncated: %d bytes", len(b))
		}
		return nil, bad("not a splitnas dataset file (no %q magic)", magic)
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != formatVersion {
		return nil, bad("format version %d, this splitnas reads version %d", v, formatVersion)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, &FormatError{File: name,
			Err: fmt.Errorf("%w: stored %08x, computed %08x (file truncated or corrupted)", ErrChecksum, sum, got)}
	}
	h32 := binary.LittleEndian.Uint32(b[12:])
	if h32 > maxHeaderLen || uint64(fixedHeader)+uint64(h32) > uint64(len(body)) {
		return nil, bad("header length %d runs past the end of the file", h32)
	}
	hlen := int(h32)
	var h fileHeader
	dec := json.NewDecoder(bytes.NewReader(b[fixedHeader : fixedHeader+hlen]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, &FormatError{File: name, Msg: "header", Err: err}
	}
	width, err := h.Encoding.width()
	if err != nil {
		return nil, bad("header: %v", err)
	}
	// Every size is checked before it is multiplied or allocated: a file
	// with an intact checksum can still promise 2^32 × 2^32 values.
	n := h.Samples
	if n < 0 {
		return nil, &FormatError{File: name, Msg: "header", Err: fmt.Errorf("%w: %d samples", ErrInvalid, n)}
	}
	values, err := checkShape(h.Channels, h.Length, n)
	if err != nil {
		return nil, &FormatError{File: name, Msg: "header", Err: err}
	}
	// labels, splits and record indices (6 bytes a sample), then the values.
	data, ok1 := size.Mul(n, 6)
	vbytes, ok2 := size.Mul(values, width)
	want, ok3 := size.Add(fixedHeader, hlen, data, vbytes)
	if !ok1 || !ok2 || !ok3 || len(body) != want {
		promise := "more bytes than a file can hold"
		if ok1 && ok2 && ok3 {
			promise = fmt.Sprintf("%d bytes", want)
		}
		return nil, bad("%d bytes of data, header promises %d samples of %d×%d %s (%s)", len(body), n, h.Channels, h.Length, h.Encoding, promise)
	}

	d := &Dataset{Classes: h.Classes, Length: h.Length, Channels: h.Channels, Source: h.Source}
	p := body[fixedHeader+hlen:]
	d.Labels = append([]uint8(nil), p[:n]...)
	p = p[n:]
	d.Splits = make([]Split, n)
	for i := range d.Splits {
		d.Splits[i] = Split(p[i])
	}
	p = p[n:]
	d.Records = make([]string, n)
	for i := range d.Records {
		r := binary.LittleEndian.Uint32(p[4*i:])
		if uint64(r) >= uint64(len(h.Records)) {
			return nil, bad("sample %d names record %d, header lists %d", i, r, len(h.Records))
		}
		d.Records[i] = h.Records[r]
	}
	p = p[4*n:]
	d.X = make([]float32, values)
	if h.Encoding == F16 {
		for i := range d.X {
			d.X[i] = float16.Frombits(binary.LittleEndian.Uint16(p[2*i:])).Float32()
		}
	} else {
		for i := range d.X {
			d.X[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
		}
	}
	if err := d.validate(); err != nil {
		return nil, &FormatError{File: name, Err: err}
	}
	return d, nil
}
