package hw

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// FieldError says which field of a profile is wrong and why. Parse, Load,
// Validate and WriteTOML return one (wrapped; find it with errors.As) for
// every problem with a profile's fields.
type FieldError struct {
	// Field is the field's TOML path, e.g. "radio.payload_bytes_per_packet",
	// "edge.latency.dense.per_mac", or a table ("fog") for a problem of the
	// table as a whole.
	Field string
	// Problem says what is wrong, e.g. "must be positive, got 0" or
	// "missing field".
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Validate checks what a profile's values must satisfy, whether it was read
// from a file or built in Go: positive, finite clocks, powers and memory
// sizes; bytes per weight and per activation a whole number of bits up to 8
// bytes; a latency model, with finite coefficients, for every required layer
// kind (conv1d, conv1d_transpose, dense) and none for an unknown kind; radio
// energies finite and ≥ 0, not both 0, a positive packet payload and, if
// the profile has one, a valid link model (see validateLink); and a
// fog that is either a positive, finite factor or a device (not both) that
// passes the same checks as the edge. The error is a *FieldError naming the
// first bad field. Names and descriptions may be anything.
func (p Profile) Validate() error {
	if err := validateDevice("edge", p.Edge); err != nil {
		return err
	}
	if err := validateRadio(p.Radio); err != nil {
		return err
	}
	if p.Link != nil {
		if err := validateLink(p.Radio, p.Link); err != nil {
			return err
		}
	}
	switch {
	case p.Fog.Device != nil && p.Fog.Factor != 0:
		return fieldErr("fog", "give either factor or a device model, not both")
	case p.Fog.Device != nil:
		return validateDevice("fog", *p.Fog.Device)
	default:
		if err := positive("fog.factor", p.Fog.Factor); err != nil {
			err.Problem += " (or give the fog its own device model)"
			return err
		}
	}
	return nil
}

func validateDevice(table string, d Device) error {
	for _, c := range []struct {
		field string
		v     float64
	}{
		{"clock_hz", d.ClockHz}, {"active_power_mw", d.ActivePowerMW},
		{"flash_bytes", float64(d.FlashBytes)}, {"ram_bytes", float64(d.RAMBytes)},
		{"bytes_per_weight", d.BytesPerWeight}, {"bytes_per_activation", d.BytesPerActivation},
	} {
		if err := positive(table+"."+c.field, c.v); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		field string
		v     float64
	}{{"bytes_per_weight", d.BytesPerWeight}, {"bytes_per_activation", d.BytesPerActivation}} {
		if bits := 8 * c.v; bits != math.Trunc(bits) || bits > 64 {
			return fieldErr(table+"."+c.field, "must be a whole number of bits (a multiple of 0.125) up to 8 bytes, got %v", c.v)
		}
	}
	if v := d.InputCyclesPerValue; math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return fieldErr(table+".input_cycles_per_value", "must be a finite number ≥ 0, got %v", v)
	}
	for _, k := range slices.Sorted(maps.Keys(d.Latency)) {
		if !knownKind(k) {
			return fieldErr(table+".latency."+k, "unknown layer kind %q (known: %s)", k, strings.Join(Kinds(), ", "))
		}
		if err := d.Latency[k].check(table + ".latency." + k); err != nil {
			return err
		}
	}
	for _, k := range requiredKinds() {
		if _, ok := d.Latency[k]; !ok {
			return fieldErr(table+".latency."+k, "missing table (every device models %s)", strings.Join(requiredKinds(), ", "))
		}
	}
	return validateSparse(table, d)
}

func validateRadio(r Radio) error {
	for _, c := range []struct {
		field string
		v     float64
	}{{"energy_per_byte_uj", r.EnergyPerByteUJ}, {"energy_per_packet_uj", r.EnergyPerPacketUJ}} {
		if math.IsNaN(c.v) || math.IsInf(c.v, 0) || c.v < 0 {
			return fieldErr("radio."+c.field, "must be a finite number ≥ 0, got %v", c.v)
		}
	}
	if r.EnergyPerByteUJ == 0 && r.EnergyPerPacketUJ == 0 {
		return fieldErr("radio", "energy_per_byte_uj and energy_per_packet_uj are both 0 (a free radio makes every split look best at the input)")
	}
	if r.PayloadBytesPerPacket <= 0 {
		return fieldErr("radio.payload_bytes_per_packet", "must be positive, got %d", r.PayloadBytesPerPacket)
	}
	return nil
}

// positive checks that v is a positive, finite number.
func positive(field string, v float64) *FieldError {
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return fieldErr(field, "must be positive, got %v", v)
	}
	return nil
}
