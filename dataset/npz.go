package dataset

import (
	"archive/zip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
)

// WriteNPZ writes d as a NumPy .npz archive for Python users:
//
//	x        float32 (N, channels, length)
//	y        uint8   (N,)   label index
//	split    uint8   (N,)   0 train, 1 val, 2 test
//	record   str     (N,)   record or subject id
//	classes  str     (K,)   class names in label order
//
// Load with numpy.load(path). Arrays are stored uncompressed, as numpy.savez
// does. (The npyio library writes only 1-D and 2-D arrays, hence this small
// writer.)
func WriteNPZ(w io.Writer, d *Dataset) error {
	if err := d.Validate(); err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	n := d.Len()
	splits := make([]byte, n)
	for i, s := range d.Splits {
		splits[i] = byte(s)
	}
	entries := []struct {
		name  string
		descr string
		shape []int
		write func(io.Writer) error
	}{
		{"x", "<f4", []int{n, d.Channels, d.Length}, func(w io.Writer) error {
			buf := make([]byte, 0, 4*d.SampleSize())
			for i := range n {
				buf = buf[:0]
				for _, v := range d.Sample(i) {
					buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
				}
				if _, err := w.Write(buf); err != nil {
					return err
				}
			}
			return nil
		}},
		{"y", "|u1", []int{n}, func(w io.Writer) error { _, err := w.Write(d.Labels); return err }},
		{"split", "|u1", []int{n}, func(w io.Writer) error { _, err := w.Write(splits); return err }},
		{"record", unicodeDescr(d.Records), []int{n}, func(w io.Writer) error { return writeUnicode(w, d.Records) }},
		{"classes", unicodeDescr(d.Classes), []int{len(d.Classes)}, func(w io.Writer) error { return writeUnicode(w, d.Classes) }},
	}
	for _, e := range entries {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: e.name + ".npy", Method: zip.Store})
		if err != nil {
			return fmt.Errorf("dataset: npz entry %s: %w", e.name, err)
		}
		if _, err := io.WriteString(f, npyHeader(e.descr, e.shape)); err != nil {
			return fmt.Errorf("dataset: npz entry %s: %w", e.name, err)
		}
		if err := e.write(f); err != nil {
			return fmt.Errorf("dataset: npz entry %s: %w", e.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("dataset: npz: %w", err)
	}
	return nil
}

// npyHeader returns a version 1.0 .npy header: magic, version, length and a
// Python dict literal padded with spaces so the data starts on a 64-byte
// boundary.
func npyHeader(descr string, shape []int) string {
	dims := make([]string, len(shape))
	for i, s := range shape {
		dims[i] = fmt.Sprint(s)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, tuple)
	const prefix = 10 // magic (6) + version (2) + length (2)
	pad := 64 - (prefix+len(dict)+1)%64
	if pad == 64 {
		pad = 0
	}
	dict += strings.Repeat(" ", pad) + "\n"
	var b strings.Builder
	b.WriteString("\x93NUMPY\x01\x00")
	b.WriteByte(byte(len(dict)))
	b.WriteByte(byte(len(dict) >> 8))
	b.WriteString(dict)
	return b.String()
}

// unicodeDescr is numpy's fixed-width UTF-32 string dtype wide enough for ss.
func unicodeDescr(ss []string) string {
	w := 1
	for _, s := range ss {
		w = max(w, len([]rune(s)))
	}
	return fmt.Sprintf("<U%d", w)
}

func writeUnicode(w io.Writer, ss []string) error {
	width := 1
	for _, s := range ss {
		width = max(width, len([]rune(s)))
	}
	buf := make([]byte, 4*width)
	for _, s := range ss {
		clear(buf)
		for i, r := range []rune(s) {
			binary.LittleEndian.PutUint32(buf[4*i:], uint32(r))
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}
