package dataset

import (
	"path/filepath"
	"testing"
)

func hashData(t *testing.T) *Dataset {
	t.Helper()
	d := New([]string{"a", "b"}, 2, 3)
	for i := range 6 {
		x := []float32{float32(i), 1, 2, 3, 4, float32(-i)}
		if err := d.Add(x, i%2, "r"+string(rune('0'+i/3))); err != nil {
			t.Fatal(err)
		}
	}
	d.Splits[4], d.Splits[5] = Val, Test
	return d
}

// Hash changes with every part of the content that training sees, and
// with nothing else.
func TestHash(t *testing.T) {
	base := hashData(t).Hash()
	if len(base) != 64 {
		t.Fatalf("Hash() = %q, want 64 hex digits", base)
	}
	for _, c := range []struct {
		name string
		edit func(*Dataset)
		same bool
	}{
		{"nothing", func(*Dataset) {}, true},
		{"source notes and kind", func(d *Dataset) { d.Source = Source{Kind: "x", Notes: []string{"n"}} }, true},
		{"one value", func(d *Dataset) { d.X[7] = 1.5 }, false},
		{"one label", func(d *Dataset) { d.Labels[2] = 1 }, false},
		{"one split", func(d *Dataset) { d.Splits[0] = Test }, false},
		{"one record", func(d *Dataset) { d.Records[0] = "r9" }, false},
		{"class name", func(d *Dataset) { d.Classes[1] = "c" }, false},
		{"shape, same values", func(d *Dataset) { d.Channels, d.Length = 3, 2 }, false},
		{"record boundary", func(d *Dataset) { d.Records[0], d.Records[1] = "r", "0r0" }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := hashData(t)
			c.edit(d)
			if got := d.Hash(); (got == base) != c.same {
				t.Errorf("hash %s, base %s; want equal = %v", got, base, c.same)
			}
		})
	}
}

// A dataset saved and loaded again (float32 encoding) keeps its hash.
func TestHashRoundTrip(t *testing.T) {
	d := hashData(t)
	path := filepath.Join(t.TempDir(), "d.snds")
	if err := Save(path, d, F32); err != nil {
		t.Fatal(err)
	}
	e, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if e.Hash() != d.Hash() {
		t.Errorf("hash after a round trip %s, before %s", e.Hash(), d.Hash())
	}
}
