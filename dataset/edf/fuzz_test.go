package edf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds returns a few small valid files: plain EDF, EDF+ with an
// annotation signal, and an unknown record count. They are kept small
// because the fuzzer's minimiser costs time quadratic in the input size.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	add := func(h *Header, d [][]int16) {
		var b bytes.Buffer
		if err := Write(&b, h, d); err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b.Bytes())
	}
	short := func(h *Header) *Header {
		h.Patient, h.Recording = "X", "Y"
		for i := range h.Signals {
			h.Signals[i].Prefiltering = ""
		}
		return h
	}
	h := short(testHeader(1, 4, 2))
	add(h, randomDigital(h, 1))
	h = short(testHeader(2, 2, 2))
	h.Reserved = "EDF+C"
	h.Signals[1] = Signal{Label: "EDF Annotations", DigitalMin: -32768, DigitalMax: 32767, PhysicalMin: -1, PhysicalMax: 1, SamplesPerRecord: 3}
	add(h, randomDigital(h, 2))
	h = short(testHeader(1, 3, 3))
	d := randomDigital(h, 3)
	h.NumRecords = -1
	h.RecordDuration = 0.5
	add(h, d)
	return seeds
}

// FuzzReadHeader checks that ReadHeader never panics, that what it accepts
// satisfies the documented invariants, and that writing an accepted header
// and reading it back is stable.
func FuzzReadHeader(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(bytes.NewReader(data), "fuzz")
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || fe.File != "fuzz" {
				t.Fatalf("error of type %T: %v, want a *FormatError naming the input", err, err)
			}
			return
		}
		if len(h.Signals) == 0 || h.HeaderBytes != 256*(len(h.Signals)+1) || h.NumRecords < -1 || !(h.RecordDuration >= 0) {
			t.Fatalf("accepted an inconsistent header: %+v", h)
		}
		for _, s := range h.Signals {
			if s.DigitalMax <= s.DigitalMin || s.SamplesPerRecord <= 0 {
				t.Fatalf("accepted signal %+v", s)
			}
		}
		// Write → read → write must give the same bytes (numbers are
		// normalised on the first write, then stable).
		h.NumRecords = 0
		digital := make([][]int16, len(h.Signals))
		var b1, b2 bytes.Buffer
		if err := Write(&b1, h, digital); err != nil {
			t.Fatalf("cannot write back an accepted header: %v", err)
		}
		h2, err := ReadHeader(bytes.NewReader(b1.Bytes()), "fuzz")
		if err != nil {
			t.Fatalf("cannot read back a written header: %v", err)
		}
		if err := Write(&b2, h2, digital); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
			t.Fatalf("header not stable:\n%q\n%q", b1.Bytes(), b2.Bytes())
		}
	})
}

// FuzzOpen writes the input to a file, opens it and reads every signal.
func FuzzOpen(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	// One file per fuzzing process, rewritten for every input: a fresh
	// t.TempDir per input makes each run slow enough to stall minimisation.
	path := filepath.Join(f.TempDir(), "fuzz.edf")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		ef, err := Open(path)
		if err != nil {
			return
		}
		defer ef.Close()
		all := make([]int, len(ef.Signals))
		for i := range all {
			all[i] = i
		}
		d, err := ef.ReadDigital(all...)
		if err != nil {
			t.Fatalf("opened but cannot read: %v", err)
		}
		for i, s := range ef.Signals {
			if len(d[i]) != ef.NumRecords*s.SamplesPerRecord {
				t.Fatalf("signal %d: %d values, want %d", i, len(d[i]), ef.NumRecords*s.SamplesPerRecord)
			}
			if s.IsAnnotation() {
				continue
			}
			x, err := ef.Read(i)
			if err != nil {
				t.Fatal(err)
			}
			for j, v := range x[0] {
				if want := s.Physical(d[i][j]); v != want && !(v != v && want != want) {
					t.Fatalf("signal %d sample %d: Read %g, Physical %g", i, j, v, want)
				}
			}
		}
	})
}
