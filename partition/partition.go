// Package partition evaluates every way of splitting a network between the
// edge device and the fog node of a hardware profile, and picks the best.
//
// Split point P runs layers 1..P on the edge and sends tensor P over the
// radio; the fog runs layers P+1..L. P = 0 sends the raw input (the edge
// only samples), P = L sends the class scores (the fog does nothing). For
// each P: Flash(P) and RAM(P) as package arch defines them, the edge's
// compute energy (latency surrogate × power) and radio energy, the fog's
// compute energy, and whether Flash and RAM fit the limits. The optimum is
// found by exhaustive search over P, minimising the edge's energy (the Edge
// scenario) or the edge's plus the fog's (the Total scenario), as in Huang,
// Abtahi, Aminifar (IEEE TCASAI 2024).
package partition

import (
	"errors"
	"fmt"
	"strings"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/hw"
)

// Scenario is what the split minimises.
type Scenario int

const (
	// Edge minimises the edge's energy, E_edge = E_comp_edge + E_comm_edge:
	// the battery-powered sensor is what matters.
	Edge Scenario = iota
	// Total minimises E_edge + E_fog.
	Total
)

// String returns "edge" or "total", and "Scenario(N)" for any other value.
func (s Scenario) String() string {
	switch s {
	case Edge:
		return "edge"
	case Total:
		return "total"
	}
	return fmt.Sprintf("Scenario(%d)", int(s))
}

// valid reports whether s is Edge or Total.
func (s Scenario) valid() bool { return s == Edge || s == Total }

// ParseScenario reads "edge" or "total".
func ParseScenario(s string) (Scenario, error) {
	switch s {
	case "edge":
		return Edge, nil
	case "total":
		return Total, nil
	}
	return 0, fmt.Errorf("unknown scenario %q (want edge or total)", s)
}

// Limits are the edge's memory budgets in bytes; zero means the profile's
// Flash or RAM size.
type Limits struct {
	FlashBytes, RAMBytes int64
}

// Layer is the cost of one layer, on the edge and on the fog.
type Layer struct {
	Index      int        `json:"index"` // 1..L, as in the split point
	Kind       string     `json:"kind"`
	In         arch.Shape `json:"-"`
	Out        arch.Shape `json:"-"`
	Shape      string     `json:"shape"` // "IN->OUT", e.g. "2048x1->128x2"
	Params     int        `json:"params"`
	MACs       int        `json:"macs"`
	FlashBytes int        `json:"flash_bytes"`
	// RequantBytes is the part of FlashBytes that an integer precision
	// spends on requantization constants (arch.Precision); 0 in float32.
	RequantBytes int     `json:"requant_bytes,omitempty"`
	EdgeSeconds  float64 `json:"edge_seconds"`
	EdgeMJ       float64 `json:"e_edge_mj"`
	FogMJ        float64 `json:"e_fog_mj"`
	// NonZero is the layer's non-zero weights when EvaluateSparse was given
	// them (0 otherwise); Sparse whether the edge stores and runs it sparse.
	NonZero int  `json:"nonzero_weights,omitempty"`
	Sparse  bool `json:"sparse,omitempty"`
}

// checkRows checks that rows counts the non-zero weights of each of l's
// rows and returns their sum.
func checkRows(l arch.Layer, rows []int) (int, error) {
	if len(rows) != l.Rows() {
		return 0, fmt.Errorf("%d row counts for a %s layer of %d rows", len(rows), l.Kind, l.Rows())
	}
	per, sum := 0, 0
	if l.Rows() > 0 {
		per = l.Weights() / l.Rows()
	}
	for r, n := range rows {
		if n < 0 || n > per {
			return 0, fmt.Errorf("row %d: %d non-zero weights of %d", r+1, n, per)
		}
		sum += n
	}
	return sum, nil
}

// Point is one split point.
type Point struct {
	P           int     `json:"point"`
	Tensor      string  `json:"tensor"`     // shape of tensor P, the one sent
	SendBytes   int     `json:"send_bytes"` // its size at the edge's activation precision
	Packets     int     `json:"packets"`
	FlashBytes  int     `json:"flash_bytes"`
	RAMBytes    int     `json:"ram_bytes"`
	EdgeSeconds float64 `json:"edge_seconds"` // compute latency of the input stage and layers 1..P
	ECompEdge   float64 `json:"e_comp_edge_mj"`
	ECommEdge   float64 `json:"e_comm_edge_mj"`
	EEdge       float64 `json:"e_edge_mj"`
	EFog        float64 `json:"e_fog_mj"`
	ETotal      float64 `json:"e_total_mj"`
	Valid       bool    `json:"valid"`
	Why         string  `json:"why,omitempty"` // why it is invalid
}

// Table is the evaluation of every split point of one network.
type Table struct {
	Scenario Scenario
	Limits   Limits // resolved: never zero
	// The edge's input stage (hw.Device.InputSeconds): its latency and
	// energy, part of every point's EdgeSeconds and ECompEdge, P = 0
	// included (an integer edge quantizes the window it sends).
	InputSeconds float64
	InputMJ      float64
	Layers       []Layer
	Points       []Point // Points[P], P = 0..L
	Best         int     // index of the optimum in Points, −1 if no point is valid
}

// BestPoint returns the optimum, or false if no split point fits the
// Flash and RAM limits.
func (t Table) BestPoint() (Point, bool) {
	if t.Best < 0 {
		return Point{}, false
	}
	return t.Points[t.Best], true
}

// Objective is the energy the scenario minimises at p.
func (s Scenario) Objective(p Point) float64 {
	if s == Total {
		return p.ETotal
	}
	return p.EEdge
}

// Evaluate computes every split point of net on prof and picks the valid
// one with the least energy for the scenario; on a tie the later point
// wins (more work stays on the edge, less depends on the link). net must
// pass arch's Validate. Evaluate returns an error if prof does not pass
// hw.Profile.Validate (wrapping its *hw.FieldError), if sc is neither Edge
// nor Total, and if a device has no latency model for one of net's layer
// kinds.
func Evaluate(net arch.Network, prof hw.Profile, sc Scenario, lim Limits) (Table, error) {
	return EvaluateSparse(net, prof, sc, lim, nil)
}

// EvaluateSparse is Evaluate for a network whose weights hold zeros (a
// pruned one): rows[i], if not nil, is the number of non-zero weights of
// each row of layer i+1 (arch.Layer.Rows). A layer holding zeros is
// stored and run sparse on the edge (arch.SparseWeightBytes, the profile's
// sparse kernel model hw.Device.SparseSeconds) where the profile predicts
// fewer cycles for it than for the dense kernel — exactly as package export
// writes it — and dense otherwise (a layer without zeros always dense): Layer.Sparse says which, and its Flash and latency
// are those of the chosen form. The fog runs every layer dense. rows may
// be shorter than net.Layers; a row count that does not fit the layer is
// an error.
func EvaluateSparse(net arch.Network, prof hw.Profile, sc Scenario, lim Limits, rows [][]int) (Table, error) {
	if err := prof.Validate(); err != nil {
		return Table{}, fmt.Errorf("partition: profile %q: %w", prof.Name, err)
	}
	if !sc.valid() {
		return Table{}, fmt.Errorf("partition: invalid scenario %v (want %v or %v)", sc, Edge, Total)
	}
	if len(net.Layers) == 0 {
		return Table{}, errors.New("partition: network has no layers")
	}
	if lim.FlashBytes <= 0 {
		lim.FlashBytes = prof.Edge.FlashBytes
	}
	if lim.RAMBytes <= 0 {
		lim.RAMBytes = prof.Edge.RAMBytes
	}
	prec := prof.Edge.Precision()
	metrics := net.Metrics(prec)
	t := Table{Scenario: sc, Limits: lim, Best: -1}
	t.Layers = make([]Layer, len(net.Layers))
	flashDelta := make([]int, len(net.Layers)+1) // flashDelta[P]: Σ sparse Flash changes of layers 1..P
	for i, l := range net.Layers {
		sec, err := prof.Edge.LayerSeconds(l)
		if err != nil {
			return Table{}, fmt.Errorf("partition: layer %d: %w", i+1, err)
		}
		dense := sec
		var sparse bool
		var nonzero, delta int
		if i < len(rows) && rows[i] != nil {
			if nonzero, err = checkRows(l, rows[i]); err != nil {
				return Table{}, fmt.Errorf("partition: layer %d: %w", i+1, err)
			}
			s, ok, err := prof.Edge.SparseSeconds(l, rows[i])
			if err != nil {
				return Table{}, fmt.Errorf("partition: layer %d: %w", i+1, err)
			}
			if ok && nonzero < l.Weights() && s < sec {
				sec, sparse, delta = s, true, prec.SparseFlashDelta(l, rows[i])
			}
		}
		flashDelta[i+1] = flashDelta[i] + delta
		var fog float64
		if prof.Fog.Device != nil {
			if fog, err = prof.Fog.Device.LayerEnergyMJ(l); err != nil {
				return Table{}, fmt.Errorf("partition: layer %d on the fog: %w", i+1, err)
			}
		} else {
			fog = dense * prof.Edge.ActivePowerMW / prof.Fog.Factor
		}
		t.Layers[i] = Layer{
			Index: i + 1, Kind: l.Kind.String(), In: l.In, Out: l.Out,
			Shape:  l.In.String() + "->" + l.Out.String(),
			Params: l.Params(), MACs: l.MACs(), FlashBytes: net.Flash(i+1, prec) - net.Flash(i, prec) + delta,
			RequantBytes: metrics[i].Requant, EdgeSeconds: sec, EdgeMJ: sec * prof.Edge.ActivePowerMW, FogMJ: fog,
			Sparse: sparse,
		}
		if i < len(rows) && rows[i] != nil {
			t.Layers[i].NonZero = nonzero
		}
	}

	// Walk P upwards, keeping the edge's compute so far; the fog's share
	// is the suffix sum, accumulated from the end first.
	fogFrom := make([]float64, len(net.Layers)+1) // fogFrom[P] = Σ fog energy of layers P+1..L
	for i := len(net.Layers) - 1; i >= 0; i-- {
		fogFrom[i] = fogFrom[i+1] + t.Layers[i].FogMJ
	}
	t.Points = make([]Point, len(net.Layers)+1)
	t.InputSeconds = prof.Edge.InputSeconds(net.Input())
	t.InputMJ = t.InputSeconds * prof.Edge.ActivePowerMW
	sec, comp := t.InputSeconds, t.InputMJ
	for P := range t.Points {
		if P > 0 {
			sec += t.Layers[P-1].EdgeSeconds
			comp += t.Layers[P-1].EdgeMJ
		}
		sent := net.Tensor(P)
		bytes := arch.ByteSize(sent.Size(), prec.ActBits)
		comm := prof.Radio.EnergyMJ(bytes)
		pt := Point{
			P: P, Tensor: sent.String(), SendBytes: bytes, Packets: prof.Radio.Packets(bytes),
			FlashBytes: net.Flash(P, prec) + flashDelta[P], RAMBytes: net.RAM(P, prec),
			EdgeSeconds: sec, ECompEdge: comp, ECommEdge: comm, EEdge: comp + comm,
			EFog: fogFrom[P],
		}
		pt.ETotal = pt.EEdge + pt.EFog
		var why []string
		if int64(pt.FlashBytes) > lim.FlashBytes {
			why = append(why, fmt.Sprintf("Flash %d B > limit %d B", pt.FlashBytes, lim.FlashBytes))
		}
		if int64(pt.RAMBytes) > lim.RAMBytes {
			why = append(why, fmt.Sprintf("RAM %d B > limit %d B", pt.RAMBytes, lim.RAMBytes))
		}
		pt.Valid, pt.Why = len(why) == 0, strings.Join(why, "; ")
		t.Points[P] = pt
		if pt.Valid && (t.Best < 0 || sc.Objective(pt) <= sc.Objective(t.Points[t.Best])) {
			t.Best = P
		}
	}
	return t, nil
}
