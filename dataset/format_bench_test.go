package dataset

import (
	"bytes"
	"testing"
)

// BenchmarkDecode4000x2048 measures loading the size of the balanced MIT-BIH
// dataset (4,000 windows of 2,048 float32 values, 33 MB) from memory; the
// issue asks for well under a second.
func BenchmarkDecode4000x2048(b *testing.B) {
	d := New([]string{"N", "S", "V", "F", "Q"}, 1, 2048)
	x := make([]float32, 2048)
	for i := range 4000 {
		x[i%2048] = float32(i)
		if err := d.Add(x, i%5, "100"); err != nil {
			b.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, d, F32); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Decode(buf.Bytes(), "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
