package dataset

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the dataset file reader: it must never
// panic, every error must be a *FormatError naming the file, and whatever it
// accepts must write back to a file that decodes to the same dataset.
func FuzzDecode(f *testing.F) {
	for _, enc := range []Encoding{F32, F16} {
		var buf bytes.Buffer
		if err := Write(&buf, synthetic([]int{2, 1}, 1, 3), enc); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add(hugeFile())
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzDecode(t, b)
		// The checksum stops nearly every mutation, so also try the input
		// with a checksum that matches it: that reaches the header parser
		// and the size checks.
		if len(b) >= 4 {
			body := b[: len(b)-4 : len(b)-4]
			fuzzDecode(t, binary.LittleEndian.AppendUint32(body, crc32.Checksum(body, castagnoli)))
		}
	})
}

func fuzzDecode(t *testing.T, b []byte) {
	d, err := Decode(b, "fuzz")
	if err != nil {
		var fe *FormatError
		if !errors.As(err, &fe) || fe.File != "fuzz" {
			t.Fatalf("error %v (%T) is not a *FormatError naming the file", err, err)
		}
		return
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("decoded dataset does not validate: %v", err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, d, F32); err != nil {
		t.Fatalf("decoded dataset does not write: %v", err)
	}
	again, err := Decode(buf.Bytes(), "again")
	if err != nil {
		t.Fatalf("written dataset does not decode: %v", err)
	}
	if !slices.Equal(again.Labels, d.Labels) || !slices.Equal(again.Records, d.Records) || len(again.X) != len(d.X) {
		t.Fatal("round trip changed the dataset")
	}
}
