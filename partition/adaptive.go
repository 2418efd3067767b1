package partition

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/hw"
)

// Adaptive split: the best split point depends on the link. Under a link
// condition c (hw.Condition: PHY, TX power, retransmission rate) the radio
// costs e_B(c) µJ a byte and e_P(c) µJ a packet (hw.Profile.RadioAt), so
// split point P costs
//
//	E(P, c) = E_comp(P) + [n_P·e_B(c) + ⌈n_P/payload⌉·e_P(c)] / 1000   (mJ)
//	          (+ E_fog(P) in the Total scenario)
//
// with n_P the bytes of tensor P. EvaluateAt evaluates every P under one
// condition, NewPolicy picks the best P for each condition of a set (a
// sweep grid), and Simulate plays a trace of conditions, one inference a
// row.

// EvaluateAt is Evaluate with prof's radio under link condition c
// (hw.Profile.WithRadioAt). It fails as Evaluate does, and if prof's
// radio has no link model or does not cover c (wrapping a
// *hw.ConditionError).
func EvaluateAt(net arch.Network, prof hw.Profile, sc Scenario, lim Limits, c hw.Condition) (Table, error) {
	p, err := prof.WithRadioAt(c)
	if err != nil {
		return Table{}, fmt.Errorf("partition: %w", err)
	}
	return Evaluate(net, p, sc, lim)
}

// Candidate is a split point a policy may choose, with what its energy
// under any link needs: E(P, c) = ECompEdgeMJ + radio(SendBytes) (+
// EFogMJ in the Total scenario).
type Candidate struct {
	P           int     `json:"point"`
	Tensor      string  `json:"tensor"`
	SendBytes   int     `json:"send_bytes"`
	Packets     int     `json:"packets"`
	ECompEdgeMJ float64 `json:"e_comp_edge_mj"`
	EFogMJ      float64 `json:"e_fog_mj"`
}

// PolicyRow is one condition of a policy: the link's effective energies
// under it, the best split point and its energy, and the energy of the
// nominal condition's best split under it (what not adapting costs).
type PolicyRow struct {
	Cond        hw.Condition `json:"condition"`
	PerByteUJ   float64      `json:"uj_per_byte"`
	PerPacketUJ float64      `json:"uj_per_packet"`
	Split       int          `json:"split"`
	// E is the scenario's objective (E_edge, or E_edge + E_fog) at Split,
	// ENominal at the policy's NominalSplit, both under Cond, in mJ.
	E        float64 `json:"e_mj"`
	EEdge    float64 `json:"e_edge_mj"`
	ENominal float64 `json:"e_nominal_split_mj"`
}

// Policy is an adaptive split policy: for each condition of a set, in
// order, the split point that minimises the scenario's energy under it.
// An edge that runs a policy holds layers 1..Pmax (the largest split point
// any condition needs) and, at run time, measures its link — the PHY and
// TX power it uses, the retransmission rate it sees — and stops at the
// split Choose gives for the effective energies of that condition.
//
// The best split depends on both e_B and e_P (E(P, c) above is linear in
// each), so the run-time rule is not a threshold on one of them but the
// exact minimum over the policy's candidates: Choose(e_B, e_P) =
// argmin over Candidates of E(P, c), the later point on a tie, as
// Evaluate. For a condition of the table it gives the row's Split.
type Policy struct {
	Arch     string   `json:"arch"`
	Profile  string   `json:"profile"`
	Scenario Scenario `json:"-"`
	// Payload is the radio's payload bytes per packet.
	Payload int `json:"payload_bytes_per_packet"`
	// Nominal is the link's nominal condition and NominalSplit its best
	// split point: the split a non-adaptive edge uses.
	Nominal      hw.Condition `json:"nominal"`
	NominalSplit int          `json:"nominal_split"`
	Rows         []PolicyRow  `json:"rows"`
	// Candidates are the split points any row chooses, P increasing.
	Candidates []Candidate `json:"candidates"`
	Pmax       int         `json:"pmax"`
	// FlashBytes and RAMBytes are Flash(Pmax) and RAM(Pmax): the edge
	// holds layers 1..Pmax.
	FlashBytes int `json:"flash_bytes"`
	RAMBytes   int `json:"ram_bytes"`
}

// NewPolicy evaluates net on prof under each condition of conds (at least
// one; see hw.Link.Conditions for a grid) and under the link's nominal
// condition, and returns the policy. It fails as EvaluateAt does, and if
// no split point fits the limits.
func NewPolicy(net arch.Network, prof hw.Profile, sc Scenario, lim Limits, conds []hw.Condition) (Policy, error) {
	if prof.Link == nil {
		return Policy{}, fmt.Errorf("partition: profile %q: radio %q has no link model ([radio.link])", prof.Name, prof.Radio.Name)
	}
	if len(conds) == 0 {
		return Policy{}, errors.New("partition: a policy needs at least one link condition")
	}
	nom := prof.Link.Nominal()
	nt, err := EvaluateAt(net, prof, sc, lim, nom)
	if err != nil {
		return Policy{}, err
	}
	if nt.Best < 0 {
		return Policy{}, fmt.Errorf("partition: no split point of %s fits the limits (P = 0: %s)", net, nt.Points[0].Why)
	}
	pol := Policy{Arch: net.String(), Profile: prof.Name, Scenario: sc, Payload: prof.Radio.PayloadBytesPerPacket,
		Nominal: nom, NominalSplit: nt.Best}
	chosen := map[int]bool{}
	cands := make([]Candidate, 0, len(nt.Points))
	for _, c := range conds {
		t, err := EvaluateAt(net, prof, sc, lim, c)
		if err != nil {
			return Policy{}, err
		}
		r, _ := prof.RadioAt(c)
		b := t.Points[t.Best]
		pol.Rows = append(pol.Rows, PolicyRow{Cond: c, PerByteUJ: r.EnergyPerByteUJ, PerPacketUJ: r.EnergyPerPacketUJ,
			Split: b.P, E: sc.Objective(b), EEdge: b.EEdge, ENominal: sc.Objective(t.Points[pol.NominalSplit])})
		if !chosen[b.P] {
			chosen[b.P] = true
			cands = append(cands, Candidate{P: b.P, Tensor: b.Tensor, SendBytes: b.SendBytes, Packets: b.Packets,
				ECompEdgeMJ: b.ECompEdge, EFogMJ: b.EFog})
		}
	}
	slices.SortFunc(cands, func(a, b Candidate) int { return a.P - b.P })
	pol.Candidates = cands
	pol.Pmax = cands[len(cands)-1].P
	prec := prof.Edge.Precision()
	pol.FlashBytes, pol.RAMBytes = net.Flash(pol.Pmax, prec), net.RAM(pol.Pmax, prec)
	return pol, nil
}

// Energy is the scenario's energy (mJ) of candidate c when the link costs
// perByteUJ a byte and perPacketUJ a packet: the arithmetic of Evaluate.
func (p Policy) Energy(c Candidate, perByteUJ, perPacketUJ float64) float64 {
	comm := (float64(c.SendBytes)*perByteUJ + float64(c.Packets)*perPacketUJ) / 1000
	e := c.ECompEdgeMJ + comm
	if p.Scenario == Total {
		e += c.EFogMJ
	}
	return e
}

// Choose is the policy's split for a link that costs perByteUJ µJ a byte
// and perPacketUJ µJ a packet (hw.Profile.RadioAt of the measured
// condition): the candidate of least Energy, the later one on a tie.
func (p Policy) Choose(perByteUJ, perPacketUJ float64) int {
	best, bestE := -1, math.Inf(1)
	for _, c := range p.Candidates {
		if e := p.Energy(c, perByteUJ, perPacketUJ); best < 0 || e <= bestE {
			best, bestE = c.P, e
		}
	}
	return best
}

// TraceRow is one row of a link-quality trace: one inference, at time
// TimeS (seconds from the start), under Cond. Line is its line in the file.
type TraceRow struct {
	TimeS float64      `json:"time_s"`
	Cond  hw.Condition `json:"condition"`
	Line  int          `json:"line"`
}

// TraceColumns are the columns a trace must have.
func TraceColumns() []string { return []string{"time_s", "phy", "tx_dbm", "retransmission_rate"} }

// TraceError is a problem with a trace file: its name, the line (1-based)
// and the column (its header name; "" for the file as a whole).
type TraceError struct {
	File    string
	Line    int
	Column  string
	Problem string
	Err     error // the underlying error, if any
}

func (e *TraceError) Error() string {
	s := e.File
	if e.Line > 0 {
		s += fmt.Sprintf(":%d", e.Line)
	}
	if e.Column != "" {
		s += ": column " + e.Column
	}
	return s + ": " + e.Problem
}

func (e *TraceError) Unwrap() error { return e.Err }

// ReadTrace reads a link-quality trace: a CSV file with a header row
// naming the columns time_s (seconds, finite, not decreasing), phy (a PHY
// of link, e.g. 1M, 2M, coded-s2, coded-s8), tx_dbm (one of that PHY's TX
// levels, dBm) and retransmission_rate (the fraction of transmissions
// lost, in [0, 1)), in any order (other columns are ignored); lines that
// begin with '#' are comments. Each row is one inference. name (the
// file's) prefixes errors; every error is a *TraceError naming the line
// and column, e.g. `walk.csv:7: column phy: unknown PHY "3M" (the link has
// 1M, 2M, coded-s2, coded-s8)`.
func ReadTrace(r io.Reader, name string, link *hw.Link) ([]TraceRow, error) {
	if link == nil {
		return nil, &TraceError{File: name, Problem: "the profile's radio has no link model ([radio.link]) to read a trace with"}
	}
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil, &TraceError{File: name, Problem: "empty file: want a header row " + strings.Join(TraceColumns(), ",")}
	}
	if err != nil {
		return nil, csvErr(name, err)
	}
	headLine, _ := cr.FieldPos(0)
	col := map[string]int{}
	for i, h := range head {
		h = strings.TrimSpace(h)
		if _, dup := col[h]; dup && slices.Contains(TraceColumns(), h) {
			return nil, &TraceError{File: name, Line: headLine, Column: h, Problem: "column given twice"}
		}
		col[h] = i
	}
	for _, c := range TraceColumns() {
		if _, ok := col[c]; !ok {
			return nil, &TraceError{File: name, Line: headLine, Column: c, Problem: "missing column (the header must name " + strings.Join(TraceColumns(), ", ") + ")"}
		}
	}
	var rows []TraceRow
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvErr(name, err)
		}
		line, _ := cr.FieldPos(0)
		field := func(c string) (string, error) {
			i := col[c]
			if i >= len(rec) {
				return "", &TraceError{File: name, Line: line, Column: c, Problem: fmt.Sprintf("missing: the row has %d fields, the header %d", len(rec), len(head))}
			}
			return strings.TrimSpace(rec[i]), nil
		}
		num := func(c string) (float64, error) {
			s, err := field(c)
			if err != nil {
				return 0, err
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, &TraceError{File: name, Line: line, Column: c, Problem: fmt.Sprintf("%q is not a finite number", s), Err: err}
			}
			return v, nil
		}
		var row TraceRow
		row.Line = line
		if row.TimeS, err = num("time_s"); err != nil {
			return nil, err
		}
		if n := len(rows); n > 0 && row.TimeS < rows[n-1].TimeS {
			return nil, &TraceError{File: name, Line: line, Column: "time_s", Problem: fmt.Sprintf("%v s is before the previous row's %v s", row.TimeS, rows[n-1].TimeS)}
		}
		if row.Cond.PHY, err = field("phy"); err != nil {
			return nil, err
		}
		if row.Cond.TXdBm, err = num("tx_dbm"); err != nil {
			return nil, err
		}
		if row.Cond.Retrans, err = num("retransmission_rate"); err != nil {
			return nil, err
		}
		if err := link.Check(row.Cond); err != nil {
			var ce *hw.ConditionError
			if errors.As(err, &ce) {
				return nil, &TraceError{File: name, Line: line, Column: ce.Field, Problem: ce.Problem, Err: ce}
			}
			return nil, &TraceError{File: name, Line: line, Problem: err.Error(), Err: err}
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, &TraceError{File: name, Problem: "no rows after the header"}
	}
	return rows, nil
}

func csvErr(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &TraceError{File: name, Line: pe.Line, Problem: pe.Err.Error(), Err: err}
	}
	return &TraceError{File: name, Problem: err.Error(), Err: err}
}

// SimRow is one inference of a simulation: its trace row, the link's
// effective energies, and the scenario's energy (mJ) of the adaptive
// policy's split, of the best fixed split and of the nominal-best split
// under the row's condition.
type SimRow struct {
	TraceRow
	PerByteUJ     float64 `json:"uj_per_byte"`
	PerPacketUJ   float64 `json:"uj_per_packet"`
	AdaptiveSplit int     `json:"adaptive_split"`
	EAdaptive     float64 `json:"e_adaptive_mj"`
	EFixed        float64 `json:"e_fixed_mj"`
	ENominal      float64 `json:"e_nominal_mj"`
	// EOracle is the row's own best split's energy: the least any split
	// point could cost (an edge that held every layer and knew the link).
	OracleSplit int     `json:"oracle_split"`
	EOracle     float64 `json:"e_oracle_mj"`
}

// Simulation is a trace played through a policy: one inference per row.
// FixedSplit is the best fixed split — the one valid split point that
// minimises the total energy over the whole trace (the later on a tie) —
// and NominalSplit the nominal condition's best. Totals in mJ, means per
// inference.
type Simulation struct {
	Rows          []SimRow `json:"rows"`
	FixedSplit    int      `json:"fixed_split"`
	NominalSplit  int      `json:"nominal_split"`
	TotalAdaptive float64  `json:"total_adaptive_mj"`
	TotalFixed    float64  `json:"total_fixed_mj"`
	TotalNominal  float64  `json:"total_nominal_mj"`
	TotalOracle   float64  `json:"total_oracle_mj"`
	MeanAdaptive  float64  `json:"mean_adaptive_mj"`
	MeanFixed     float64  `json:"mean_fixed_mj"`
	MeanNominal   float64  `json:"mean_nominal_mj"`
	MeanOracle    float64  `json:"mean_oracle_mj"`
}

// Simulate plays trace through pol (made by NewPolicy for the same net,
// prof, sc and lim): each row is one inference, at the split pol.Choose
// gives for the row's effective link energies. It fails as EvaluateAt does.
func Simulate(net arch.Network, prof hw.Profile, sc Scenario, lim Limits, pol Policy, trace []TraceRow) (Simulation, error) {
	if len(trace) == 0 {
		return Simulation{}, errors.New("partition: empty trace")
	}
	tables := make([]Table, len(trace))
	for i, row := range trace {
		t, err := EvaluateAt(net, prof, sc, lim, row.Cond)
		if err != nil {
			return Simulation{}, fmt.Errorf("partition: trace line %d: %w", row.Line, err)
		}
		tables[i] = t
	}
	// The best fixed split: least total over the trace among valid points.
	sim := Simulation{FixedSplit: -1, NominalSplit: pol.NominalSplit}
	bestSum := math.Inf(1)
	for P := range tables[0].Points {
		if !tables[0].Points[P].Valid {
			continue
		}
		sum := 0.0
		for _, t := range tables {
			sum += sc.Objective(t.Points[P])
		}
		if sim.FixedSplit < 0 || sum <= bestSum {
			sim.FixedSplit, bestSum = P, sum
		}
	}
	if sim.FixedSplit < 0 {
		return Simulation{}, fmt.Errorf("partition: no split point of %s fits the limits", net)
	}
	for i, row := range trace {
		t := tables[i]
		r, _ := prof.RadioAt(row.Cond)
		a := pol.Choose(r.EnergyPerByteUJ, r.EnergyPerPacketUJ)
		sr := SimRow{TraceRow: row, PerByteUJ: r.EnergyPerByteUJ, PerPacketUJ: r.EnergyPerPacketUJ,
			AdaptiveSplit: a, EAdaptive: sc.Objective(t.Points[a]), EFixed: sc.Objective(t.Points[sim.FixedSplit]),
			ENominal: sc.Objective(t.Points[pol.NominalSplit]), OracleSplit: t.Best, EOracle: sc.Objective(t.Points[t.Best])}
		sim.Rows = append(sim.Rows, sr)
		sim.TotalAdaptive += sr.EAdaptive
		sim.TotalFixed += sr.EFixed
		sim.TotalNominal += sr.ENominal
		sim.TotalOracle += sr.EOracle
	}
	n := float64(len(trace))
	sim.MeanAdaptive, sim.MeanFixed, sim.MeanNominal, sim.MeanOracle = sim.TotalAdaptive/n, sim.TotalFixed/n, sim.TotalNominal/n, sim.TotalOracle/n
	return sim, nil
}
