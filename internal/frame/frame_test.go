package frame

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
)

func TestRoundTripAndRefusals(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, "TESTMAGI", 3, []byte(`{"a":1}`), func(w *bufio.Writer) { w.WriteString("body") }); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	h, b, err := Split(good, "TESTMAGI", "test", 3, 64)
	if err != nil || string(h) != `{"a":1}` || string(b) != "body" {
		t.Fatalf("Split = %q, %q, %v", h, b, err)
	}
	flipped := bytes.Clone(good)
	flipped[18] ^= 1
	for _, c := range []struct {
		name string
		b    []byte
		max  int
		want string
	}{
		{"magic", []byte("OTHERMAGIC"), 64, `not a splitnas test file (no "TESTMAGI" magic)`},
		{"truncated", good[:12], 64, "truncated: 12 bytes"},
		{"version", append(append([]byte("TESTMAGI"), 4, 0, 0, 0), good[12:]...), 64, "test format version 4, this splitnas reads version 3"},
		{"checksum", flipped, 64, "checksum mismatch"},
		{"header limit", good, 4, "header length 7 exceeds the limit of 4 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Split(c.b, "TESTMAGI", "test", 3, c.max)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
			if c.name == "checksum" && !errors.Is(err, ErrChecksum) {
				t.Errorf("%v does not wrap ErrChecksum", err)
			}
		})
	}
}

func TestLayerJSON(t *testing.T) {
	l := arch.Layer{Kind: arch.ConvTranspose, In: arch.Shape{Len: 8, Ch: 4}, Out: arch.Shape{Len: 64, Ch: 2}, Kernel: 16, Stride: 8, PadLeft: 4, PadRight: 4, ReLU: true}
	got, err := FromArch(l).Arch(arch.Conv, arch.ConvTranspose)
	if err != nil || got != l {
		t.Errorf("round trip: %+v, %v", got, err)
	}
	if _, err := FromArch(l).Arch(arch.Conv, arch.Dense); err == nil || !strings.Contains(err.Error(), `unknown kind "conv1d_transpose"`) {
		t.Errorf("a kind not allowed: %v", err)
	}
}
