package wfdb

import (
	"fmt"
	"path/filepath"
)

// Record bundles a header and its decoded signals.
type Record struct {
	*Header
	Samples [][]int // Samples[signal][i], digital ADC values
}

// ReadRecord reads the header dir/name.hea and decodes its signals from the
// files it names in dir, verifying them as ReadSignals does. The record name
// in the header must be name.
func ReadRecord(dir, name string) (*Record, error) {
	path := filepath.Join(dir, name+".hea")
	h, err := ReadHeader(path)
	if err != nil {
		return nil, err
	}
	if h.Record != name {
		return nil, &FormatError{File: path, Offset: -1, Msg: fmt.Sprintf("record line names record %q, not %q", h.Record, name)}
	}
	samples, err := ReadSignals(h, dir)
	if err != nil {
		return nil, err
	}
	return &Record{Header: h, Samples: samples}, nil
}

// SignalIndex returns the index of the signal whose Description equals
// desc, or -1 if there is none.
func (r *Record) SignalIndex(desc string) int {
	for i, s := range r.Signals {
		if s.Description == desc {
			return i
		}
	}
	return -1
}
