package dataset

import (
	"bytes"
	"slices"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the dataset file reader: it must never
// panic, and whatever it accepts must write back to a file that decodes to
// the same dataset.
func FuzzDecode(f *testing.F) {
	for _, enc := range []Encoding{F32, F16} {
		var buf bytes.Buffer
		if err := Write(&buf, synthetic([]int{2, 1}, 1, 3), enc); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decode(b, "fuzz")
		if err != nil {
			return
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
	})
}
