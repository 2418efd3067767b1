package hw

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
)

// mustLoad loads a built-in profile.
func mustLoad(t *testing.T, name string) Profile {
	t.Helper()
	p, err := Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestValidate: a profile built in Go is checked as a file is, and every
// problem is a *FieldError naming the field.
func TestValidate(t *testing.T) {
	for _, name := range Builtins() {
		if err := mustLoad(t, name).Validate(); err != nil {
			t.Errorf("built-in %s: %v", name, err)
		}
	}
	cases := []struct {
		name    string
		profile string // built-in to start from
		edit    func(p *Profile)
		field   string
		want    string // in the message
	}{
		{"zero payload", DefaultProfile, func(p *Profile) { p.Radio.PayloadBytesPerPacket = 0 }, "radio.payload_bytes_per_packet", "must be positive, got 0"},
		{"negative payload", DefaultProfile, func(p *Profile) { p.Radio.PayloadBytesPerPacket = -244 }, "radio.payload_bytes_per_packet", "got -244"},
		{"fog factor 0", DefaultProfile, func(p *Profile) { p.Fog.Factor = 0 }, "fog.factor", "must be positive, got 0"},
		{"zero fog", DefaultProfile, func(p *Profile) { p.Fog = Fog{} }, "fog.factor", "or give the fog its own device model"},
		{"negative fog factor", DefaultProfile, func(p *Profile) { p.Fog.Factor = -10 }, "fog.factor", "got -10"},
		{"NaN fog factor", DefaultProfile, func(p *Profile) { p.Fog.Factor = math.NaN() }, "fog.factor", "got NaN"},
		{"infinite fog factor", DefaultProfile, func(p *Profile) { p.Fog.Factor = math.Inf(1) }, "fog.factor", "got +Inf"},
		{"fog factor and device", DefaultProfile, func(p *Profile) { d := p.Edge; p.Fog.Device = &d }, "fog", "not both"},
		{"zero clock", DefaultProfile, func(p *Profile) { p.Edge.ClockHz = 0 }, "edge.clock_hz", "must be positive"},
		{"infinite power", DefaultProfile, func(p *Profile) { p.Edge.ActivePowerMW = math.Inf(1) }, "edge.active_power_mw", "+Inf"},
		{"negative Flash", DefaultProfile, func(p *Profile) { p.Edge.FlashBytes = -1 }, "edge.flash_bytes", "got -1"},
		{"zero RAM", DefaultProfile, func(p *Profile) { p.Edge.RAMBytes = 0 }, "edge.ram_bytes", "got 0"},
		{"zero bytes per weight", DefaultProfile, func(p *Profile) { p.Edge.BytesPerWeight = 0 }, "edge.bytes_per_weight", "must be positive"},
		{"fractional bits", DefaultProfile, func(p *Profile) { p.Edge.BytesPerActivation = 0.3 }, "edge.bytes_per_activation", "whole number of bits"},
		{"more than 8 bytes", DefaultProfile, func(p *Profile) { p.Edge.BytesPerWeight = 16 }, "edge.bytes_per_weight", "up to 8 bytes"},
		{"negative input stage", "stm32l476-int8", func(p *Profile) { p.Edge.InputCyclesPerValue = -1 }, "edge.input_cycles_per_value", "finite number ≥ 0"},
		{"NaN input stage", DefaultProfile, func(p *Profile) { p.Edge.InputCyclesPerValue = math.NaN() }, "edge.input_cycles_per_value", "finite number ≥ 0"},
		{"no latency models", DefaultProfile, func(p *Profile) { p.Edge.Latency = nil }, "edge.latency.conv1d", "missing table"},
		{"missing dense model", DefaultProfile, func(p *Profile) { delete(p.Edge.Latency, "dense") }, "edge.latency.dense", "missing table"},
		{"unknown kind", DefaultProfile, func(p *Profile) { p.Edge.Latency["lstm"] = LatencyModel{} }, "edge.latency.lstm", `unknown layer kind "lstm"`},
		{"NaN coefficient", DefaultProfile, func(p *Profile) {
			m := p.Edge.Latency["conv1d"]
			m.PerOutput = math.NaN()
			p.Edge.Latency["conv1d"] = m
		}, "edge.latency.conv1d.per_output", "must be a finite number, got NaN"},
		{"negative energy per byte", DefaultProfile, func(p *Profile) { p.Radio.EnergyPerByteUJ = -0.1 }, "radio.energy_per_byte_uj", "≥ 0"},
		{"infinite energy per packet", DefaultProfile, func(p *Profile) { p.Radio.EnergyPerPacketUJ = math.Inf(1) }, "radio.energy_per_packet_uj", "finite"},
		{"free radio", DefaultProfile, func(p *Profile) { p.Radio.EnergyPerByteUJ, p.Radio.EnergyPerPacketUJ = 0, 0 }, "radio", "both 0"},
		{"fog device clock", "stm32l476-rpi4", func(p *Profile) { p.Fog.Device.ClockHz = 0 }, "fog.clock_hz", "must be positive"},
		{"fog device missing model", "stm32l476-rpi4", func(p *Profile) { delete(p.Fog.Device.Latency, "conv1d_transpose") }, "fog.latency.conv1d_transpose", "missing table"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustLoad(t, c.profile) // fresh maps and fog device for each case
			c.edit(&p)
			err := p.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate = %v, want a *FieldError for %s", err, c.field)
			}
			if fe.Field != c.field || !strings.Contains(fe.Problem, c.want) {
				t.Errorf("Validate = %q (field %q), want field %q and %q", err, fe.Field, c.field, c.want)
			}
			if err.Error() != fe.Field+": "+fe.Problem {
				t.Errorf("Error() = %q, want field: problem", err)
			}
			// The same value in a file is refused with the same error,
			// and WriteTOML refuses to write it.
			var b strings.Builder
			if werr := p.WriteTOML(&b, ""); !errors.As(werr, &fe) || fe.Field != c.field || b.Len() != 0 {
				t.Errorf("WriteTOML = %v, wrote %d bytes; want the *FieldError for %s and nothing", werr, b.Len(), c.field)
			}
		})
	}
}

// TestDeviceAndRadioRefuseBadValues: the per-layer and radio entry points
// refuse the values that would give Inf or NaN, or divide by zero.
func TestDeviceAndRadioRefuseBadValues(t *testing.T) {
	p := mustLoad(t, DefaultProfile)
	l := arch.Layer{Kind: arch.Dense, In: arch.Shape{Len: 64, Ch: 2}, Out: arch.Shape{Len: 5, Ch: 1}}
	for _, c := range []struct {
		name  string
		edit  func(d *Device)
		field string
	}{
		{"zero clock", func(d *Device) { d.ClockHz = 0 }, "clock_hz"},
		{"NaN clock", func(d *Device) { d.ClockHz = math.NaN() }, "clock_hz"},
		{"zero power", func(d *Device) { d.ActivePowerMW = 0 }, "active_power_mw"},
		{"infinite coefficient", func(d *Device) { d.Latency = map[string]LatencyModel{"dense": {Fixed: math.Inf(1)}} }, "latency.dense.fixed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := p.Edge
			c.edit(&d)
			_, err := d.LayerEnergyMJ(l)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Errorf("LayerEnergyMJ: %v, want a *FieldError for %s", err, c.field)
			}
			if !strings.Contains(fmt.Sprint(err), p.Edge.Name) {
				t.Errorf("error %q does not name the device", err)
			}
		})
	}
	t.Run("zero payload", func(t *testing.T) {
		r := p.Radio
		r.PayloadBytesPerPacket = 0
		defer func() {
			if v := recover(); v == nil || !strings.Contains(fmt.Sprint(v), "payload_bytes_per_packet is 0") {
				t.Errorf("Packets with no payload: recovered %v, want a panic naming the field", v)
			}
		}()
		r.EnergyMJ(100)
	})
}

// TestWithFittedLatency: the fitted models replace the base's, the others
// are kept and listed, and the result shares nothing with the base.
func TestWithFittedLatency(t *testing.T) {
	for _, name := range []string{DefaultProfile, "stm32l476-rpi4", "stm32l476-int8"} {
		t.Run(name, func(t *testing.T) {
			base := mustLoad(t, name)
			before := mustLoad(t, name)
			fits, err := Fit(synth(5, 40, 0, arch.Conv, arch.Dense))
			if err != nil {
				t.Fatal(err)
			}
			p, kept, err := WithFittedLatency(base, fits)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(kept, ",") != "conv1d_transpose,maxpool1d" {
				t.Errorf("kept %v, want conv1d_transpose and maxpool1d", kept)
			}
			for _, r := range fits {
				if p.Edge.Latency[r.Kind] != r.Model {
					t.Errorf("%s: %+v, want the fit %+v", r.Kind, p.Edge.Latency[r.Kind], r.Model)
				}
			}
			for _, k := range kept {
				if p.Edge.Latency[k] != base.Edge.Latency[k] {
					t.Errorf("%s: %+v, want the base's %+v", k, p.Edge.Latency[k], base.Edge.Latency[k])
				}
			}
			if p.Edge.LayerTableFile != "" || p.Edge.Table != nil {
				t.Errorf("the fitted profile keeps the base's layer table %q", p.Edge.LayerTableFile)
			}
			if p.Name != base.Name || p.Edge.ClockHz != base.Edge.ClockHz || p.Radio != base.Radio || p.Fog.Factor != base.Fog.Factor {
				t.Errorf("the merge changed more than the edge latency models: %+v", p)
			}
			// Changing the result leaves the base alone.
			p.Edge.Latency["dense"] = LatencyModel{Fixed: 1}
			if p.Fog.Device != nil {
				p.Fog.Device.ClockHz = 1
				p.Fog.Device.Latency["dense"] = LatencyModel{Fixed: 1}
			}
			if base.Edge.Latency["dense"] != before.Edge.Latency["dense"] ||
				base.Fog.Device != nil && (base.Fog.Device.ClockHz != before.Fog.Device.ClockHz || base.Fog.Device.Latency["dense"] != before.Fog.Device.Latency["dense"]) {
				t.Error("changing the merged profile changed the base")
			}
		})
	}

	base := mustLoad(t, DefaultProfile)
	good := FitResult{Kind: "dense", Model: LatencyModel{PerMAC: 1}}
	for _, c := range []struct {
		name  string
		fits  []FitResult
		want  string
		field string
	}{
		{"unknown kind", []FitResult{{Kind: "lstm"}}, `unknown layer kind "lstm"`, ""},
		{"kind twice", []FitResult{good, good}, "two fitted models of dense", ""},
		{"not finite", []FitResult{{Kind: "conv1d", Model: LatencyModel{PerMAC: math.NaN()}}}, "edge.latency.conv1d.per_mac", "edge.latency.conv1d.per_mac"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := WithFittedLatency(base, c.fits)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			var fe *FieldError
			if errors.As(err, &fe) != (c.field != "") || c.field != "" && fe.Field != c.field {
				t.Errorf("error %v: *FieldError %+v, want field %q", err, fe, c.field)
			}
		})
	}
	bad := base
	bad.Radio.PayloadBytesPerPacket = 0
	var fe *FieldError
	if _, _, err := WithFittedLatency(bad, []FitResult{good}); !errors.As(err, &fe) || fe.Field != "radio.payload_bytes_per_packet" {
		t.Errorf("invalid base: %v, want a *FieldError for its payload", err)
	}
}

// TestTablesAreFresh: the exported name lists cannot be changed through
// what they return.
func TestTablesAreFresh(t *testing.T) {
	names := FeatureNames()
	names[0] = "changed"
	if FeatureNames()[0] != "per_mac" {
		t.Error("FeatureNames changed through a returned value")
	}
	cols := MeasurementColumns()
	cols[0] = "changed"
	if got := MeasurementColumns(); got[0] != "kind" || len(got) != 7 {
		t.Errorf("MeasurementColumns changed through a returned slice: %v", got)
	}
}
