package hw

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// WriteTOML writes p as a profile file that Parse reads back to an equal
// Profile: the fog as a factor or as a device table, latency tables sorted
// by kind, and floats in the shortest form that round-trips exactly.
// comment, which may span several lines, is written first as `# ` lines.
// WriteTOML writes nothing if p is not a valid profile, and returns
// Validate's error (a *FieldError).
func (p Profile) WriteTOML(w io.Writer, comment string) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("hw: writing profile %q: %w", p.Name, err)
	}
	var b bytes.Buffer
	if comment != "" {
		for line := range strings.SplitSeq(strings.TrimRight(comment, "\n"), "\n") {
			line = commentText(strings.TrimRight(line, "\r"))
			if line == "" {
				b.WriteString("#\n")
			} else {
				b.WriteString("# " + line + "\n")
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "name = %s\n", tomlString(p.Name))
	fmt.Fprintf(&b, "description = %s\n", tomlString(p.Description))
	writeDevice(&b, "edge", p.Edge)
	b.WriteString("\n[radio]\n")
	fmt.Fprintf(&b, "name = %s\n", tomlString(p.Radio.Name))
	fmt.Fprintf(&b, "energy_per_byte_uj = %s\n", tomlFloat(p.Radio.EnergyPerByteUJ))
	fmt.Fprintf(&b, "energy_per_packet_uj = %s\n", tomlFloat(p.Radio.EnergyPerPacketUJ))
	fmt.Fprintf(&b, "payload_bytes_per_packet = %d\n", p.Radio.PayloadBytesPerPacket)
	if l := p.Link; l != nil {
		b.WriteString("\n[radio.link]\n")
		fmt.Fprintf(&b, "supply_v = %s\n", tomlFloat(l.SupplyV))
		fmt.Fprintf(&b, "turnaround_us = %s\n", tomlFloat(l.TurnaroundUS))
		fmt.Fprintf(&b, "nominal_phy = %s\n", tomlString(l.NominalPHY))
		fmt.Fprintf(&b, "nominal_tx_dbm = %s\n", tomlFloat(l.NominalTXdBm))
		for _, ph := range l.PHYs {
			b.WriteString("\n[[radio.link.phy]]\n")
			fmt.Fprintf(&b, "name = %s\n", tomlString(ph.Name))
			if ph.Chip != "" {
				fmt.Fprintf(&b, "chip = %s\n", tomlString(ph.Chip))
			}
			fmt.Fprintf(&b, "bitrate_mbps = %s\n", tomlFloat(ph.BitRateMbps))
			fmt.Fprintf(&b, "header_us = %s\n", tomlFloat(ph.HeaderUS))
			fmt.Fprintf(&b, "ack_us = %s\n", tomlFloat(ph.AckUS))
			fmt.Fprintf(&b, "rx_current_ma = %s\n", tomlFloat(ph.RXCurrentMA))
			fmt.Fprintf(&b, "tx_dbm = %s\n", tomlFloats(ph.TXdBm))
			fmt.Fprintf(&b, "tx_current_ma = %s\n", tomlFloats(ph.TXCurrentMA))
		}
	}
	if p.Fog.Device != nil {
		writeDevice(&b, "fog", *p.Fog.Device)
	} else {
		fmt.Fprintf(&b, "\n[fog]\nfactor = %s\n", tomlFloat(p.Fog.Factor))
	}
	// What was written must read back: a check of the encoding itself.
	if _, err := Parse(bytes.NewReader(b.Bytes()), p.Name); err != nil {
		return fmt.Errorf("hw: profile %q does not read back: %w", p.Name, err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func writeDevice(b *bytes.Buffer, table string, d Device) {
	fmt.Fprintf(b, "\n[%s]\n", table)
	fmt.Fprintf(b, "name = %s\n", tomlString(d.Name))
	fmt.Fprintf(b, "clock_hz = %s\n", tomlFloat(d.ClockHz))
	fmt.Fprintf(b, "active_power_mw = %s\n", tomlFloat(d.ActivePowerMW))
	fmt.Fprintf(b, "flash_bytes = %d\n", d.FlashBytes)
	fmt.Fprintf(b, "ram_bytes = %d\n", d.RAMBytes)
	fmt.Fprintf(b, "bytes_per_weight = %s\n", tomlFloat(d.BytesPerWeight))
	fmt.Fprintf(b, "bytes_per_activation = %s\n", tomlFloat(d.BytesPerActivation))
	if d.InputCyclesPerValue != 0 {
		fmt.Fprintf(b, "input_cycles_per_value = %s\n", tomlFloat(d.InputCyclesPerValue))
	}
	if d.LayerTableFile != "" {
		fmt.Fprintf(b, "layer_table = %s\n", tomlString(d.LayerTableFile))
	}
	if d.SparseTableFile != "" {
		fmt.Fprintf(b, "sparse_table = %s\n", tomlString(d.SparseTableFile))
	}
	kinds := make([]string, 0, len(d.Latency))
	for k := range d.Latency {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		fmt.Fprintf(b, "\n[%s.latency.%s]\n", table, tomlKey(k))
		names := FeatureNames()
		for i, c := range d.Latency[k].Coefficients() {
			fmt.Fprintf(b, "%s = %s\n", names[i], tomlFloat(c))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(d.Sparse)) {
		fmt.Fprintf(b, "\n[%s.sparse.%s]\n", table, tomlKey(k))
		names := SparseFeatureNames()
		for i, c := range d.Sparse[k].coefficients() {
			fmt.Fprintf(b, "%s = %s\n", names[i], tomlFloat(c))
		}
	}
}

// tomlFloat formats v so that TOML reads it back as the same float64, and
// as a float (with a '.' or an exponent).
func tomlFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if mant, exp, ok := strings.Cut(s, "e"); ok {
		// 8e+07 → 8e7: the same number, read more easily.
		e, err := strconv.Atoi(exp)
		if err == nil {
			s = mant + "e" + strconv.Itoa(e)
		}
		return s
	}
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// tomlFloats writes vs as a TOML array of floats.
func tomlFloats(vs []float64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = tomlFloat(v)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, string(utf8.RuneError)) {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// tomlKey writes a table key: bare if it may be, quoted otherwise.
func tomlKey(k string) string {
	if k == "" {
		return tomlString(k)
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return tomlString(k)
		}
	}
	return k
}

// commentText replaces the characters TOML forbids in comments (controls
// other than tab, invalid UTF-8) with U+FFFD.
func commentText(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\t' && (r < 0x20 || r == 0x7f) {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
}
