package hw

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Link is the optional link model of a profile's radio (Profile.Link, the
// `[radio.link]` section of a profile file): how the energy of sending a byte and a packet changes with
// the link condition — the BLE PHY, the TX power and the retransmission
// rate. The Radio's EnergyPerByteUJ and EnergyPerPacketUJ stay the
// calibrated numbers at the nominal condition (NominalPHY, NominalTXdBm,
// r = 0); the link model scales them (see Profile.RadioAt):
//
//	per byte   e_B(c) = e_B,nom · (I_tx(c)/I_tx,nom) · (R_nom/R(c)) / (1 − r)
//	per packet e_P(c) = [V·I_tx(c)·t_hdr(c) + V·I_rx(c)·(t_ack(c) + t_ta) + E_event] / (1 − r)
//	           E_event = e_P,nom − V·I_tx,nom·t_hdr,nom − V·I_rx,nom·(t_ack,nom + t_ta)
//
// Units: V in volts, currents in mA, times in µs (V·mA·µs = nJ, /1000 µJ),
// bit rates R in Mbit/s, energies in µJ. e_B is the TX power V·I_tx times
// a byte's air time 8/R, anchored at the calibrated nominal value (so the
// supply voltage cancels); e_P is the packet's fixed air time at TX power
// (t_hdr: preamble, access address, LL header, L2CAP and ATT headers, CRC,
// and on the Coded PHYs the FEC block 1 and the terminators), the
// peer's empty acknowledgement and the two inter-frame spaces at RX power
// (t_ack, t_ta), and E_event, the rest of the connection event's cost (ramp-ups and
// the stack's CPU time), derived so that the nominal condition gives
// e_P,nom exactly. A retransmission rate r (the fraction of transmissions
// lost, 0 ≤ r < 1) multiplies both by the expected number of transmissions
// 1/(1 − r).
type Link struct {
	// SupplyV is the radio's supply voltage (V) the currents are given at.
	SupplyV float64 `toml:"supply_v"`
	// TurnaroundUS is the time per packet spent in the inter-frame spaces
	// (2 × T_IFS = 300 µs in BLE), charged at the PHY's RX current.
	TurnaroundUS float64 `toml:"turnaround_us"`
	// NominalPHY and NominalTXdBm are the condition at which the Radio's
	// energy_per_byte_uj and energy_per_packet_uj were calibrated.
	NominalPHY   string  `toml:"nominal_phy"`
	NominalTXdBm float64 `toml:"nominal_tx_dbm"`
	// PHYs are the PHYs the radio can use, each with its TX power levels.
	PHYs []PHY `toml:"phy"`
}

// PHY is one physical layer of a Link and the TX power levels the radio
// offers on it.
type PHY struct {
	Name string `toml:"name"` // e.g. "1M", "2M", "coded-s2", "coded-s8"
	// Chip names whose figures the currents are, if not the radio's.
	Chip string `toml:"chip"`
	// BitRateMbps is the data bit rate (1, 2, 0.5, 0.125 for BLE 1M, 2M,
	// Coded S=2, Coded S=8).
	BitRateMbps float64 `toml:"bitrate_mbps"`
	// HeaderUS is the air time of a data packet beyond its payload bytes
	// (µs); AckUS that of the peer's empty packet that acknowledges it.
	HeaderUS float64 `toml:"header_us"`
	AckUS    float64 `toml:"ack_us"`
	// RXCurrentMA is the radio's current while receiving (mA).
	RXCurrentMA float64 `toml:"rx_current_ma"`
	// TXdBm lists the TX power levels (dBm, increasing) and TXCurrentMA the
	// radio's current at each (mA).
	TXdBm       []float64 `toml:"tx_dbm"`
	TXCurrentMA []float64 `toml:"tx_current_ma"`
}

// Condition is a link condition: the PHY, the TX power (dBm) and the
// retransmission rate (the fraction of transmissions that are lost and
// sent again, 0 ≤ Retrans < 1).
type Condition struct {
	PHY     string  `json:"phy"`
	TXdBm   float64 `json:"tx_dbm"`
	Retrans float64 `json:"retransmission_rate"`
}

// String is e.g. "1M/0dBm/r=0.1".
func (c Condition) String() string {
	return fmt.Sprintf("%s/%sdBm/r=%s", c.PHY, strconv.FormatFloat(c.TXdBm, 'g', -1, 64), strconv.FormatFloat(c.Retrans, 'g', -1, 64))
}

// ConditionError says why a link condition is not one a radio's link
// model covers; Field is "phy", "tx_dbm" or "retransmission_rate".
type ConditionError struct {
	Cond    Condition
	Field   string
	Problem string
}

func (e *ConditionError) Error() string {
	return fmt.Sprintf("link condition %s: %s: %s", e.Cond, e.Field, e.Problem)
}

// Nominal is the link's nominal condition (r = 0).
func (l *Link) Nominal() Condition {
	return Condition{PHY: l.NominalPHY, TXdBm: l.NominalTXdBm}
}

// PHY returns the PHY named name.
func (l *Link) PHY(name string) (PHY, bool) {
	for _, p := range l.PHYs {
		if p.Name == name {
			return p, true
		}
	}
	return PHY{}, false
}

// PHYNames lists the PHYs' names in the profile's order.
func (l *Link) PHYNames() []string {
	names := make([]string, len(l.PHYs))
	for i, p := range l.PHYs {
		names[i] = p.Name
	}
	return names
}

// txCurrent is the TX current (mA) of p at dbm, which must be one of its
// levels.
func (p PHY) txCurrent(dbm float64) (float64, bool) {
	i := slices.Index(p.TXdBm, dbm)
	if i < 0 {
		return 0, false
	}
	return p.TXCurrentMA[i], true
}

// Conditions is the sweep grid: every PHY, each of its TX levels, and
// each retransmission rate in rates, in that order.
func (l *Link) Conditions(rates []float64) []Condition {
	var cs []Condition
	for _, p := range l.PHYs {
		for _, d := range p.TXdBm {
			for _, r := range rates {
				cs = append(cs, Condition{PHY: p.Name, TXdBm: d, Retrans: r})
			}
		}
	}
	return cs
}

// DefaultRetransRates returns the retransmission rates of a link sweep:
// 0, 0.1, 0.3 and 0.5.
func DefaultRetransRates() []float64 { return []float64{0, 0.1, 0.3, 0.5} }

// Check reports whether c is a condition l covers: a *ConditionError if
// not.
func (l *Link) Check(c Condition) error {
	_, _, err := l.check(c)
	return err
}

// check returns c's PHY and TX current, or a *ConditionError.
func (l *Link) check(c Condition) (PHY, float64, error) {
	p, ok := l.PHY(c.PHY)
	if !ok {
		return PHY{}, 0, &ConditionError{c, "phy", fmt.Sprintf("unknown PHY %q (the link has %s)", c.PHY, strings.Join(l.PHYNames(), ", "))}
	}
	i, ok := p.txCurrent(c.TXdBm)
	if !ok {
		lv := make([]string, len(p.TXdBm))
		for k, d := range p.TXdBm {
			lv[k] = strconv.FormatFloat(d, 'g', -1, 64)
		}
		return PHY{}, 0, &ConditionError{c, "tx_dbm", fmt.Sprintf("%v dBm is not a TX level of PHY %s (levels: %s dBm)", c.TXdBm, p.Name, strings.Join(lv, ", "))}
	}
	if math.IsNaN(c.Retrans) || c.Retrans < 0 || c.Retrans >= 1 {
		return PHY{}, 0, &ConditionError{c, "retransmission_rate", fmt.Sprintf("must be in [0, 1), got %v", c.Retrans)}
	}
	return p, i, nil
}

// EventEnergyUJ is E_event of the link model (µJ): the per-packet energy
// at the nominal condition that is not the packet's radio air time. p
// must pass Validate and have a link model.
func (p Profile) EventEnergyUJ() float64 { return eventEnergyUJ(p.Radio, p.Link) }

func eventEnergyUJ(r Radio, l *Link) float64 {
	p, _ := l.PHY(l.NominalPHY)
	itx, _ := p.txCurrent(l.NominalTXdBm)
	return r.EnergyPerPacketUJ - l.SupplyV*itx*p.HeaderUS/1000 - l.SupplyV*p.RXCurrentMA*(p.AckUS+l.TurnaroundUS)/1000
}

// RadioAt returns prof's radio under link condition c: the same radio
// with EnergyPerByteUJ and EnergyPerPacketUJ the link model's e_B(c) and
// e_P(c) (see Link); at the nominal condition with r = 0 they are the
// radio's own numbers, exactly. It fails if prof has no link model (an
// error) or c is not a condition it covers (a *ConditionError).
func (prof Profile) RadioAt(c Condition) (Radio, error) {
	r, l := prof.Radio, prof.Link
	if l == nil {
		return Radio{}, fmt.Errorf("hw: profile %q: radio %q has no link model ([radio.link])", prof.Name, r.Name)
	}
	p, itx, err := l.check(c)
	if err != nil {
		return Radio{}, fmt.Errorf("hw: radio %q: %w", r.Name, err)
	}
	np, _ := l.PHY(l.NominalPHY)
	nitx, _ := np.txCurrent(l.NominalTXdBm)
	tx := 1 / (1 - c.Retrans)
	perByte := r.EnergyPerByteUJ * (itx / nitx) * (np.BitRateMbps / p.BitRateMbps)
	// e_P,nom plus the differences, so that the nominal condition gives
	// e_P,nom bit for bit.
	perPacket := r.EnergyPerPacketUJ +
		l.SupplyV*(itx*p.HeaderUS-nitx*np.HeaderUS)/1000 +
		l.SupplyV*(p.RXCurrentMA*(p.AckUS+l.TurnaroundUS)-np.RXCurrentMA*(np.AckUS+l.TurnaroundUS))/1000
	out := r
	out.Name = r.Name + " @ " + c.String()
	out.EnergyPerByteUJ = perByte * tx
	out.EnergyPerPacketUJ = perPacket * tx
	return out, nil
}

// WithRadioAt returns p with its radio under condition c (RadioAt) and
// without a link model: the radio's energies are c's, not the nominal ones.
func (p Profile) WithRadioAt(c Condition) (Profile, error) {
	r, err := p.RadioAt(c)
	if err != nil {
		return Profile{}, err
	}
	q := p
	q.Radio, q.Link = r, nil
	return q, nil
}

// validateLink checks a link model: a positive supply, a finite
// turnaround ≥ 0, at least one PHY, each with a unique non-empty name, a
// positive bit rate, finite air times ≥ 0, a positive RX current, and TX
// levels (strictly increasing, finite) with a positive current each; the
// nominal condition must be a level of a PHY, and E_event (see Link) must
// not be negative.
func validateLink(r Radio, l *Link) error {
	const t = "radio.link."
	if err := positive(t+"supply_v", l.SupplyV); err != nil {
		return err
	}
	if err := nonNegative(t+"turnaround_us", l.TurnaroundUS); err != nil {
		return err
	}
	if len(l.PHYs) == 0 {
		return fieldErr(t+"phy", "missing: a link model lists at least one [[radio.link.phy]]")
	}
	seen := map[string]bool{}
	for i, p := range l.PHYs {
		f := fmt.Sprintf("%sphy[%d].", t, i)
		if p.Name == "" {
			return fieldErr(f+"name", "missing field")
		}
		if seen[p.Name] {
			return fieldErr(f+"name", "PHY %q given twice", p.Name)
		}
		seen[p.Name] = true
		if err := positive(f+"bitrate_mbps", p.BitRateMbps); err != nil {
			return err
		}
		for _, c := range []struct {
			name string
			v    float64
		}{{"header_us", p.HeaderUS}, {"ack_us", p.AckUS}} {
			if err := nonNegative(f+c.name, c.v); err != nil {
				return err
			}
		}
		if err := positive(f+"rx_current_ma", p.RXCurrentMA); err != nil {
			return err
		}
		if len(p.TXdBm) == 0 {
			return fieldErr(f+"tx_dbm", "missing: at least one TX level")
		}
		if len(p.TXCurrentMA) != len(p.TXdBm) {
			return fieldErr(f+"tx_current_ma", "has %d values for the %d levels of tx_dbm", len(p.TXCurrentMA), len(p.TXdBm))
		}
		for k, d := range p.TXdBm {
			if math.IsNaN(d) || math.IsInf(d, 0) {
				return fieldErr(fmt.Sprintf("%stx_dbm[%d]", f, k), "must be finite, got %v", d)
			}
			if k > 0 && d <= p.TXdBm[k-1] {
				return fieldErr(fmt.Sprintf("%stx_dbm[%d]", f, k), "levels must increase, got %v after %v", d, p.TXdBm[k-1])
			}
			if err := positive(fmt.Sprintf("%stx_current_ma[%d]", f, k), p.TXCurrentMA[k]); err != nil {
				return err
			}
		}
	}
	np, ok := l.PHY(l.NominalPHY)
	if !ok {
		return fieldErr(t+"nominal_phy", "%q is not one of the PHYs (%s)", l.NominalPHY, strings.Join(l.PHYNames(), ", "))
	}
	if _, ok := np.txCurrent(l.NominalTXdBm); !ok {
		return fieldErr(t+"nominal_tx_dbm", "%v dBm is not a TX level of PHY %s", l.NominalTXdBm, np.Name)
	}
	if e := eventEnergyUJ(r, l); !(e >= 0) {
		return fieldErr("radio.energy_per_packet_uj", "%v µJ is less than the link model's air time of a packet at the nominal condition (E_event = %.4g µJ)", r.EnergyPerPacketUJ, e)
	}
	return nil
}

func nonNegative(field string, v float64) *FieldError {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return fieldErr(field, "must be a finite number ≥ 0, got %v", v)
	}
	return nil
}

// clone returns a deep copy of l (nil for nil).
func (l *Link) clone() *Link {
	if l == nil {
		return nil
	}
	c := *l
	c.PHYs = make([]PHY, len(l.PHYs))
	for i, p := range l.PHYs {
		p.TXdBm = slices.Clone(p.TXdBm)
		p.TXCurrentMA = slices.Clone(p.TXCurrentMA)
		c.PHYs[i] = p
	}
	return &c
}
