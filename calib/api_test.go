package calib

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/hw"
)

// TestPrecisionString: a value that is not Float32, Int8 or Int4 prints as
// invalid, not as float32.
func TestPrecisionString(t *testing.T) {
	for _, c := range []struct {
		p    Precision
		want string
	}{{Float32, "float32"}, {Int8, "int8"}, {Int4, "int4"}, {Precision(7), "Precision(7)"}, {Precision(-1), "Precision(-1)"}} {
		if got := c.p.String(); got != c.want {
			t.Errorf("Precision(%d).String() = %q, want %q", int(c.p), got, c.want)
		}
	}
}

// TestInvalidPrecisionRefused: an out-of-range precision is refused before
// anything is built, run or written (it used to measure float32 kernels).
func TestInvalidPrecisionRefused(t *testing.T) {
	ls := testLayers(t)
	var e Emulator // no tools: nothing may run
	cfg := Config{Precision: Precision(7)}
	if _, err := e.Measure(context.Background(), cfg, ls); err == nil || !strings.Contains(err.Error(), "invalid precision Precision(7)") {
		t.Errorf("Measure: %v, want an invalid precision error", err)
	}
	net, err := arch.Parse("256x1-64x2-7", arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.MeasureNetwork(context.Background(), cfg, net, 1); err == nil || !strings.Contains(err.Error(), "invalid precision Precision(7)") {
		t.Errorf("MeasureNetwork: %v, want an invalid precision error", err)
	}
	var b bytes.Buffer
	rs := []Result{{Layer: ls[0], Precision: Precision(7), Cycles: 100}}
	if err := WriteCSV(&b, rs, 80e6, 26.4); err == nil || !strings.Contains(err.Error(), "Precision(7)") || b.Len() != 0 {
		t.Errorf("WriteCSV: %v, wrote %d bytes; want an invalid precision error and nothing", err, b.Len())
	}
}

// TestCSVRoundTripThroughHW: what calib writes, hw reads back, with the
// column names hw defines.
func TestCSVRoundTripThroughHW(t *testing.T) {
	ls := testLayers(t)
	var rs []Result
	for i, l := range ls {
		var c Counts
		c.Insns[ALU] = int64(100 * (i + 1))
		c.FlashMisses = int64(i)
		rs = append(rs, Result{Layer: l, Precision: Int8, Counts: c, Cycles: 1000.5 + float64(i)})
	}
	var b bytes.Buffer
	if err := WriteCSV(&b, rs, 80e6, 26.4); err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(b.String(), "\n")
	want := append(hw.MeasurementColumns(), hw.ColumnCycles)
	if got := strings.Split(header, ","); !slices.Equal(got[:len(want)], want) || !slices.Equal(got, CSVHeader()) {
		t.Errorf("header %q, want it to start with hw's columns %v", header, want)
	}
	ms, err := hw.ReadMeasurements(&b, "m.csv", 80e6)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != len(rs) {
		t.Fatalf("%d measurements read back, want %d", len(ms), len(rs))
	}
	for i, m := range ms {
		l := rs[i].Layer
		if m.Kind != l.Kind || m.In != l.In || m.Out != l.Out || m.Kernel != l.Kernel || m.Stride != l.Stride || m.Cycles != rs[i].Cycles {
			t.Errorf("row %d: read %+v, wrote %v with %v cycles", i+1, m, l, rs[i].Cycles)
		}
	}

	// A clock or power that would write Inf or NaN times is refused.
	for _, c := range []struct{ clock, power float64 }{{0, 26.4}, {80e6, -1}} {
		b.Reset()
		if err := WriteCSV(&b, rs, c.clock, c.power); err == nil || b.Len() != 0 {
			t.Errorf("WriteCSV(clock %v, power %v): %v, wrote %d bytes", c.clock, c.power, err, b.Len())
		}
	}
}

// TestTablesAreFresh: the exported lists cannot be changed through what
// they return.
func TestTablesAreFresh(t *testing.T) {
	for _, c := range []struct {
		name string
		get  func() []string
	}{{"CrossFlags", CrossFlags}, {"Boards", Boards}, {"CountNames", CountNames}} {
		a := c.get()
		a[0] = "changed"
		if c.get()[0] == "changed" {
			t.Errorf("%s changed through a returned slice", c.name)
		}
	}
}
