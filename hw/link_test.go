package hw

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestLinkReproducesNominal(t *testing.T) {
	// The built-in profiles with the nRF52832 link model.
	for _, name := range []string{"stm32l476", "stm32l476-int8", "stm32l476-int4", "stm32l476-rpi4"} {
		t.Run(name, func(t *testing.T) {
			p := mustLoad(t, name)
			if p.Link == nil {
				t.Fatal("no [radio.link]")
			}
			r, err := p.RadioAt(p.Link.Nominal())
			if err != nil {
				t.Fatal(err)
			}
			// Bit for bit: the paper's calibration.
			if r.EnergyPerByteUJ != 0.1272 || r.EnergyPerPacketUJ != 9.65 || r.PayloadBytesPerPacket != 244 {
				t.Errorf("nominal = %v µJ/B, %v µJ/packet of %d B; want 0.1272, 9.65, 244", r.EnergyPerByteUJ, r.EnergyPerPacketUJ, r.PayloadBytesPerPacket)
			}
			if got, want := r.EnergyMJ(8192), p.Radio.EnergyMJ(8192); got != want {
				t.Errorf("8192 B at nominal: %v mJ, profile %v mJ", got, want)
			}
			// The datasheet figures themselves give the calibrated per-byte
			// energy (5.3 mA × 3 V × 8 µs) and E_event = 9.65 − 2.1624 − 6.156.
			l := p.Link
			ph, _ := l.PHY("1M")
			if got := l.SupplyV * ph.TXCurrentMA[5] * 8 / ph.BitRateMbps / 1000; math.Abs(got-0.1272) > 1e-12 {
				t.Errorf("V·I_tx·8/R = %v µJ, want 0.1272", got)
			}
			if got := p.EventEnergyUJ(); math.Abs(got-1.3316) > 1e-9 {
				t.Errorf("E_event = %v µJ, want 1.3316", got)
			}
		})
	}
}

func TestLinkScales(t *testing.T) {
	p := mustLoad(t, DefaultProfile)
	const eb, ep = 0.1272, 9.65
	// Per-packet air-time terms (µJ) at a PHY: V·I_tx·header + V·I_rx·(ack + 300).
	air := func(itx, hdr, irx, ack float64) float64 { return 3 * (itx*hdr + irx*(ack+300)) / 1000 }
	nomAir := air(5.3, 136, 5.4, 80)
	cases := []struct {
		name          string
		c             Condition
		byteUJ, pktUJ float64
	}{
		{"nominal", Condition{"1M", 0, 0}, eb, ep},
		{"2M halves per byte", Condition{"2M", 0, 0}, eb / 2, ep - nomAir + air(5.3, 72, 5.8, 44)},
		{"r=0.5 doubles both", Condition{"1M", 0, 0.5}, 2 * eb, 2 * ep},
		{"r=0.1", Condition{"1M", 0, 0.1}, eb / 0.9, ep / 0.9},
		{"+4 dBm scales with TX current", Condition{"1M", 4, 0}, eb * 7.5 / 5.3, ep - nomAir + air(7.5, 136, 5.4, 80)},
		{"-20 dBm", Condition{"1M", -20, 0}, eb * 3.2 / 5.3, ep - nomAir + air(3.2, 136, 5.4, 80)},
		{"coded S=8 is 8x the air time", Condition{"coded-s8", 0, 0}, eb * 4.8 / 5.3 * 8, ep - nomAir + air(4.8, 1168, 4.6, 720)},
		{"coded S=2 at +8 dBm, r=0.3", Condition{"coded-s2", 8, 0.3}, eb * 14.8 / 5.3 * 2 / 0.7, (ep - nomAir + air(14.8, 574, 4.6, 462)) / 0.7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := p.RadioAt(tc.c)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(r.EnergyPerByteUJ-tc.byteUJ) > 1e-12*tc.byteUJ || math.Abs(r.EnergyPerPacketUJ-tc.pktUJ) > 1e-12*tc.pktUJ {
				t.Errorf("%v: %v µJ/B, %v µJ/packet; want %v, %v", tc.c, r.EnergyPerByteUJ, r.EnergyPerPacketUJ, tc.byteUJ, tc.pktUJ)
			}
			if !strings.Contains(r.Name, tc.c.String()) {
				t.Errorf("radio %q keeps a link model or does not name the condition", r.Name)
			}
		})
	}
}

func TestLinkConditionErrors(t *testing.T) {
	p := mustLoad(t, DefaultProfile)
	cases := []struct {
		name  string
		c     Condition
		field string
	}{
		{"unknown PHY", Condition{"3M", 0, 0}, "phy"},
		{"coded name case", Condition{"Coded-S8", 0, 0}, "phy"},
		{"no such level", Condition{"1M", 8, 0}, "tx_dbm"},
		{"r = 1", Condition{"1M", 0, 1}, "retransmission_rate"},
		{"r < 0", Condition{"1M", 0, -0.1}, "retransmission_rate"},
		{"r NaN", Condition{"1M", 0, math.NaN()}, "retransmission_rate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.RadioAt(tc.c)
			var ce *ConditionError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("RadioAt(%v) = %v, want a *ConditionError on %s", tc.c, err, tc.field)
			}
		})
	}
	esp := mustLoad(t, "esp32")
	if esp.Link != nil {
		t.Fatal("esp32 has a link model")
	}
	if _, err := esp.RadioAt(Condition{"1M", 0, 0}); err == nil || !strings.Contains(err.Error(), "no link model") {
		t.Errorf("a radio without a link: %v", err)
	}
}

func TestLinkParseErrors(t *testing.T) {
	cases := []struct {
		name, old, new, field string
	}{
		{"missing supply", "supply_v = 3.0\n", "", "radio.link.supply_v"},
		{"zero supply", "supply_v = 3.0\n", "supply_v = 0.0\n", "radio.link.supply_v"},
		{"unknown field", "turnaround_us = 300.0\n", "turnaround_us = 300.0\nifs_us = 150.0\n", "radio.link.ifs_us"},
		{"nominal PHY", `nominal_phy = "1M"`, `nominal_phy = "1m"`, "radio.link.nominal_phy"},
		{"nominal level", "nominal_tx_dbm = 0.0", "nominal_tx_dbm = 1.0", "radio.link.nominal_tx_dbm"},
		{"currents short", "tx_current_ma = [3.2, 3.3, 3.5, 3.8, 4.2, 5.3, 7.5]", "tx_current_ma = [3.2, 3.3]", "radio.link.phy[0].tx_current_ma"},
		{"levels not increasing", "tx_dbm = [-20.0, -16.0, -12.0, -8.0, -4.0, 0.0, 4.0]", "tx_dbm = [-20.0, -16.0, -12.0, -8.0, -4.0, 4.0, 0.0]", "radio.link.phy[0].tx_dbm[6]"},
		{"zero bit rate", "bitrate_mbps = 1.0", "bitrate_mbps = 0.0", "radio.link.phy[0].bitrate_mbps"},
		{"negative header", "header_us = 136.0", "header_us = -1.0", "radio.link.phy[0].header_us"},
		{"duplicate PHY", `name = "2M"`, `name = "1M"`, "radio.link.phy[1].name"},
		{"packet energy below the air time", "energy_per_packet_uj = 9.65", "energy_per_packet_uj = 5.0", "radio.energy_per_packet_uj"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := base(t)
			if !strings.Contains(src, tc.old) {
				t.Fatalf("base profile lacks %q", tc.old)
			}
			_, err := Parse(strings.NewReader(strings.Replace(src, tc.old, tc.new, 1)), "x.toml")
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("err = %v, want a *FieldError on %s", err, tc.field)
			}
		})
	}
}

func TestLinkWriteTOMLRoundTrip(t *testing.T) {
	p := mustLoad(t, DefaultProfile)
	var b bytes.Buffer
	if err := p.WriteTOML(&b, ""); err != nil {
		t.Fatal(err)
	}
	got, err := Parse(&b, "x")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Link, p.Link) {
		t.Errorf("link after a round trip: %+v, want %+v", got.Link, p.Link)
	}
}

func TestLinkConditions(t *testing.T) {
	l := mustLoad(t, DefaultProfile).Link
	cs := l.Conditions(DefaultRetransRates())
	if want := (7 + 7 + 8 + 8) * 4; len(cs) != want {
		t.Fatalf("%d conditions, want %d", len(cs), want)
	}
	if cs[0] != (Condition{"1M", -20, 0}) || cs[len(cs)-1] != (Condition{"coded-s8", 8, 0.5}) {
		t.Errorf("grid from %v to %v", cs[0], cs[len(cs)-1])
	}
}
