package hw

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/splitnas/splitnas/arch"
)

func TestBuiltinsLoad(t *testing.T) {
	names := Builtins()
	for _, want := range []string{"esp32", "rpi4", "stm32l476", "stm32l476-int8", "stm32l476-rpi4"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("built-in %q missing from %v", want, names)
		}
	}
	for _, n := range names {
		p, err := Load(n)
		if err != nil {
			t.Errorf("Load(%q): %v", n, err)
			continue
		}
		if p.Name != n {
			t.Errorf("profile file %s.toml names itself %q", n, p.Name)
		}
	}
}

func TestSTM32L476(t *testing.T) {
	p, err := Load(DefaultProfile)
	if err != nil {
		t.Fatal(err)
	}
	e := p.Edge
	if e.ClockHz != 80e6 || e.FlashBytes != 1<<20 || e.RAMBytes != 128<<10 {
		t.Errorf("edge = %v Hz, %d B Flash, %d B RAM; want 80 MHz, 1 MiB, 128 KiB", e.ClockHz, e.FlashBytes, e.RAMBytes)
	}
	if pr := e.Precision(); pr != arch.Float32() {
		t.Errorf("precision = %+v, want float32", pr)
	}
	if p.Fog.Factor <= 0 || p.Fog.Device != nil {
		t.Errorf("fog = %+v, want a factor", p.Fog)
	}
	// The paper: sending the raw 2048-value float32 input costs ≈ 1.37 mJ.
	if got := p.Radio.EnergyMJ(2048 * 4); math.Abs(got-1.37) > 0.005 {
		t.Errorf("radio energy of 8192 bytes = %.4f mJ, want 1.37", got)
	}
	// A layer of the default space is predicted by its measured cycles in
	// the layer table (59,305 cycles; 59,309 alone in an image, README
	// "Calibration"); one outside it
	// (input length 1000) by the four-term model.
	l := arch.Layer{Kind: arch.Conv, In: arch.Shape{Len: 2048, Ch: 1}, Out: arch.Shape{Len: 128, Ch: 2}, Kernel: 16, Stride: 16, ReLU: true}
	if e.Table.Len() != 2668 {
		t.Errorf("layer table holds %d layers, want the default space's 2668", e.Table.Len())
	}
	sec, err := e.LayerSeconds(l)
	if err != nil {
		t.Fatal(err)
	}
	if want := 59305 / 80e6; math.Abs(sec-want) > 1e-15 {
		t.Errorf("latency = %v s, want %v (the table's)", sec, want)
	}
	other := arch.Layer{Kind: arch.Conv, In: arch.Shape{Len: 1000, Ch: 1}, Out: arch.Shape{Len: 125, Ch: 2}, Kernel: 8, Stride: 8, ReLU: true}
	m := e.Latency["conv1d"]
	wantCycles := m.PerMAC*2000 + m.PerInput*1000 + m.PerOutput*250 + m.Fixed
	osec, err := e.LayerSeconds(other)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(osec-wantCycles/80e6) > 1e-15 {
		t.Errorf("latency outside the table = %v s, want the model's %v", osec, wantCycles/80e6)
	}
	mj, _ := e.LayerEnergyMJ(l)
	if math.Abs(mj-sec*26.4) > 1e-15 {
		t.Errorf("energy = %v mJ, want %v", mj, sec*26.4)
	}
}

func TestRadioPackets(t *testing.T) {
	r := Radio{EnergyPerByteUJ: 1, EnergyPerPacketUJ: 10, PayloadBytesPerPacket: 244}
	for _, c := range []struct{ n, packets int }{{0, 0}, {1, 1}, {244, 1}, {245, 2}, {8192, 34}} {
		if got := r.Packets(c.n); got != c.packets {
			t.Errorf("Packets(%d) = %d, want %d", c.n, got, c.packets)
		}
		if got, want := r.EnergyMJ(c.n), (float64(c.n)+10*float64(c.packets))/1000; math.Abs(got-want) > 1e-15 {
			t.Errorf("EnergyMJ(%d) = %v, want %v", c.n, got, want)
		}
	}
}

func TestLatencyClampsAtZero(t *testing.T) {
	m := LatencyModel{PerMAC: 1, Fixed: -1e9}
	l := arch.Layer{Kind: arch.Dense, In: arch.Shape{Len: 8, Ch: 1}, Out: arch.Shape{Len: 2, Ch: 1}}
	if got := m.Cycles(l); got != 0 {
		t.Errorf("Cycles = %v, want 0", got)
	}
}

// base is the default profile's text, which the error cases edit.
func base(t *testing.T) string {
	b, ok := BuiltinTOML(DefaultProfile)
	if !ok {
		t.Fatal("no default built-in")
	}
	return string(b)
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, old, new, want string
		field                string // the *FieldError's Field; "" for none
	}{
		{"missing field", "active_power_mw = 26.4\n", "", "edge.active_power_mw: missing field", "edge.active_power_mw"},
		{"negative power", "active_power_mw = 26.4", "active_power_mw = -3", "edge.active_power_mw: must be positive, got -3", "edge.active_power_mw"},
		{"unknown kind", "[edge.latency.dense]", "[edge.latency.pool]\nper_mac = 1.0\nper_input = 0.0\nper_output = 0.0\nfixed = 0.0\n\n[edge.latency.dense]",
			`edge.latency.pool: unknown layer kind "pool" (known: conv1d, conv1d_transpose, dense, maxpool1d)`, "edge.latency.pool"},
		{"unknown kind without coefficients", "[edge.latency.dense]", "[edge.latency.pool]\n\n[edge.latency.dense]",
			`edge.latency.pool: unknown layer kind "pool"`, "edge.latency.pool"},
		{"missing kind", "[edge.latency.dense]\nper_mac = 11.500214683756454\nper_input = 0.0037711538491730042\nper_output = 18.28809398468092\nfixed = 57.77538524483968\n", "",
			"edge.latency.dense: missing table", "edge.latency.dense"},
		{"missing coefficient", "per_mac = 11.500214683756454\n", "", "edge.latency.dense.per_mac: missing field", "edge.latency.dense.per_mac"},
		{"infinite coefficient", "per_mac = 11.500214683756454\n", "per_mac = inf\n", "edge.latency.dense.per_mac: must be a finite number, got +Inf", "edge.latency.dense.per_mac"},
		{"sparse kind", "[edge.sparse.dense]", "[edge.sparse.conv1d_transpose]\nper_nonzero_mac = 1.0\nper_edge_mac = 0.0\nper_output = 0.0\nper_row = 0.0\nfixed = 0.0\n\n[edge.sparse.dense]",
			`edge.sparse.conv1d_transpose: no sparse kernel for "conv1d_transpose" layers`, "edge.sparse.conv1d_transpose"},
		{"missing sparse coefficient", "per_nonzero_mac = 12.7534\n", "", "edge.sparse.dense.per_nonzero_mac: missing field", "edge.sparse.dense.per_nonzero_mac"},
		{"unknown field", "clock_hz = 80e6", "clock_hz = 80e6\nclock_mhz = 80", "edge.clock_mhz: unknown field", "edge.clock_mhz"},
		{"zero RAM", "ram_bytes = 131072", "ram_bytes = 0", "edge.ram_bytes: must be positive, got 0", "edge.ram_bytes"},
		{"odd bytes", "bytes_per_weight = 4", "bytes_per_weight = 0.3", "edge.bytes_per_weight: must be a whole number of bits", "edge.bytes_per_weight"},
		{"negative radio", "energy_per_byte_uj = 0.1272", "energy_per_byte_uj = -1", "radio.energy_per_byte_uj: must be a finite number ≥ 0, got -1", "radio.energy_per_byte_uj"},
		{"zero payload", "payload_bytes_per_packet = 244", "payload_bytes_per_packet = 0", "radio.payload_bytes_per_packet: must be positive, got 0", "radio.payload_bytes_per_packet"},
		{"missing radio field", "energy_per_packet_uj = 9.65\n", "", "radio.energy_per_packet_uj: missing field", "radio.energy_per_packet_uj"},
		{"factor and device", "factor = 10", "factor = 10\nname = \"phone\"", "fog: give either factor or a device model, not both", "fog"},
		{"zero factor", "factor = 10", "factor = 0", "fog.factor: must be positive, got 0", "fog.factor"},
		{"fog device incomplete", "factor = 10", "name = \"phone\"\nclock_hz = 2e9", "fog.active_power_mw: missing field", "fog.active_power_mw"},
		{"syntax", "factor = 10", "factor = = 10", "line ", ""},
		{"wrong type", "ram_bytes = 131072", "ram_bytes = \"128K\"", "ram_bytes", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := base(t)
			if !strings.Contains(text, c.old) {
				t.Fatalf("test setup: %q not in the profile", c.old)
			}
			text = strings.Replace(text, c.old, c.new, 1)
			_, err := Parse(strings.NewReader(text), "my.toml")
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "profile my.toml: ") {
				t.Errorf("error %q, want it to start with \"profile my.toml: \" and contain %q", err, c.want)
			}
			var fe *FieldError
			if got := errors.As(err, &fe); got != (c.field != "") || got && fe.Field != c.field {
				t.Errorf("error %q: errors.As *FieldError = %v (%+v), want field %q", err, got, fe, c.field)
			}
		})
	}
	t.Run("missing fog", func(t *testing.T) {
		text, _, _ := strings.Cut(base(t), "[fog]")
		_, err := Parse(strings.NewReader(text), "my.toml")
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "fog" || !strings.Contains(err.Error(), "fog: missing table") {
			t.Errorf("error = %v", err)
		}
	})
	// A syntax error keeps its line and wraps the TOML decoder's error.
	t.Run("syntax wraps", func(t *testing.T) {
		text := strings.Replace(base(t), "factor = 10", "factor = = 10", 1)
		_, err := Parse(strings.NewReader(text), "my.toml")
		var perr toml.ParseError
		if !errors.As(err, &perr) || !strings.Contains(err.Error(), fmt.Sprintf("line %d: ", perr.Position.Line)) {
			t.Errorf("error %v: want a toml.ParseError and its line", err)
		}
	})
}

func TestFogDevice(t *testing.T) {
	p, err := Load("stm32l476-rpi4")
	if err != nil {
		t.Fatal(err)
	}
	if p.Fog.Device == nil || p.Fog.Factor != 0 || p.Fog.Device.ClockHz != 1.5e9 {
		t.Fatalf("fog = %+v", p.Fog)
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load("stm32")
	if err == nil || !strings.Contains(err.Error(), `no built-in profile "stm32"`) || !strings.Contains(err.Error(), "stm32l476") {
		t.Errorf("Load(stm32) error = %v", err)
	}
	missing := filepath.Join(t.TempDir(), "none.toml")
	if _, err := Load(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load(missing file) error = %v", err)
	}
	// A file path works, and its errors name the file.
	f := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(f, []byte(strings.Replace(base(t), "clock_hz = 80e6", "clock_hz = -80e6", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(f); err == nil || !strings.Contains(err.Error(), "profile "+f+": edge.clock_hz: must be positive") {
		t.Errorf("Load(bad) error = %v", err)
	}
}

func TestParseKind(t *testing.T) {
	for _, k := range []arch.Kind{arch.Conv, arch.ConvTranspose, arch.Dense, arch.MaxPool} {
		got, err := ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := ParseKind("lstm"); err == nil || !strings.Contains(err.Error(), `unknown layer kind "lstm"`) {
		t.Errorf("ParseKind(lstm) error = %v", err)
	}
}
