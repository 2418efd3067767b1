package hw

import (
	"fmt"
	"io"

	"github.com/splitnas/splitnas/arch"
)

// LayerTable is a per-layer latency lookup table: the measured clock cycles
// of each layer of a search space on one device, as NAS latency tables are
// (FBNet, ProxylessNAS). Where a device's kernels take shape-specific paths
// — the int8 DSP kernels of package calib unroll common kernel sizes, block
// outputs by two or four and treat window edges apart — no linear model of
// the shape follows them within a few percent, but a sum of table entries
// does, since a network's layers run one after another. A Device with a
// table predicts from it the layers it holds, and from its LatencyModel the
// others.
type LayerTable struct {
	// File is where the table was read from, as the profile names it.
	File   string
	cycles map[arch.Layer]float64
}

// tableKey is the key of l in a table: the layer as a Measurement describes
// it (no padding; ReLU on the convolutions, as Measurement.Layer assumes).
func tableKey(l arch.Layer) arch.Layer {
	l.PadLeft, l.PadRight = 0, 0
	return l
}

// ReadLayerTable reads a table from a measurement CSV (the columns of
// ReadMeasurements, e.g. `splitnas calibrate measure --all-layers`; a
// latency_us column is converted to cycles at clockHz); name prefixes its
// errors and becomes File. A layer listed twice is an error.
func ReadLayerTable(r io.Reader, name string, clockHz float64) (*LayerTable, error) {
	ms, err := ReadMeasurements(r, name, clockHz)
	if err != nil {
		return nil, err
	}
	t := &LayerTable{File: name, cycles: make(map[arch.Layer]float64, len(ms))}
	for i, m := range ms {
		k := tableKey(m.Layer())
		if _, dup := t.cycles[k]; dup {
			return nil, fmt.Errorf("%s: data row %d: layer %s %v→%v (kernel %d, stride %d) appears twice", name, i+1, m.Kind, m.In, m.Out, m.Kernel, m.Stride)
		}
		t.cycles[k] = m.Cycles
	}
	return t, nil
}

// Cycles returns the measured cycles of l, and whether the table holds it.
// A nil table holds nothing.
func (t *LayerTable) Cycles(l arch.Layer) (float64, bool) {
	if t == nil {
		return 0, false
	}
	c, ok := t.cycles[tableKey(l)]
	return c, ok
}

// Len is the number of layers in the table.
func (t *LayerTable) Len() int {
	if t == nil {
		return 0
	}
	return len(t.cycles)
}
