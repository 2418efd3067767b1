package hw

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestWriteTOMLRoundTripsBuiltins(t *testing.T) {
	for _, name := range Builtins() {
		p, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := p.WriteTOML(&b, "built-in "+name+"\nwritten back by WriteTOML"); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := Parse(bytes.NewReader(b.Bytes()), name)
		if err != nil {
			t.Fatalf("%s: written profile does not parse: %v\n%s", name, err, b.String())
		}
		p.Edge.Table, p.Edge.SparseTable = nil, nil // Parse names the tables, Load reads them
		if !reflect.DeepEqual(got, p) {
			t.Errorf("%s: round trip changed the profile:\n got %+v\nwant %+v", name, got, p)
		}
		if !strings.HasPrefix(b.String(), "# built-in "+name+"\n# written back by WriteTOML\n") {
			t.Errorf("%s: comment not at the top:\n%s", name, b.String())
		}
	}
}

func TestWriteTOMLExactFloatsAndStrings(t *testing.T) {
	p, err := Load(DefaultProfile)
	if err != nil {
		t.Fatal(err)
	}
	p.Name = `odd "name" \ with	tab`
	p.Description = "line one\nline two, ünïcödé, \x01"
	p.Edge.ClockHz = 79.999999e6
	p.Edge.ActivePowerMW = 0.1 + 0.2 // not 0.3
	lat := map[string]LatencyModel{}
	for k, m := range p.Edge.Latency {
		lat[k] = m
	}
	lat["conv1d"] = LatencyModel{PerMAC: math.Pi, PerInput: -1e-300, PerOutput: 1.0000000000000002, Fixed: 1e21}
	p.Edge.Latency = lat
	fog := p.Edge
	fog.Name = "fog SoC"
	p.Fog = Fog{Device: &fog}
	var b bytes.Buffer
	if err := p.WriteTOML(&b, "a\n\n\tb\r\nc\x00d\n"); err != nil {
		t.Fatal(err)
	}
	got, err := Parse(bytes.NewReader(b.Bytes()), "x")
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	// Parse keeps layer_table's name; only Load reads the table itself.
	p.Edge.Table, p.Fog.Device.Table = nil, nil
	p.Edge.SparseTable, p.Fog.Device.SparseTable = nil, nil
	if !reflect.DeepEqual(got, p) {
		t.Errorf("round trip changed the profile:\n got %+v\nwant %+v\n%s", got, p, b.String())
	}
	if !strings.HasPrefix(b.String(), "# a\n#\n# \tb\n# c\uFFFDd\n\n") {
		t.Errorf("comment lines:\n%s", b.String())
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteTOMLErrors(t *testing.T) {
	p, err := Load(DefaultProfile)
	if err != nil {
		t.Fatal(err)
	}
	bad := p
	bad.Edge.ClockHz = 0
	var b bytes.Buffer
	if err := bad.WriteTOML(&b, ""); err == nil || !strings.Contains(err.Error(), "edge.clock_hz") || b.Len() != 0 {
		t.Errorf("invalid profile: error %v, wrote %d bytes", err, b.Len())
	}
	both := p
	both.Fog.Device = &p.Edge
	if err := both.WriteTOML(&b, ""); err == nil || !strings.Contains(err.Error(), "fog") {
		t.Errorf("fog with factor and device: error %v", err)
	}
	if err := p.WriteTOML(failWriter{}, ""); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("failing writer: error %v", err)
	}
}
