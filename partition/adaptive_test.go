package partition

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/hw"
)

func mustParse(t *testing.T, s string) arch.Network {
	t.Helper()
	net, err := arch.Parse(s, arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// bruteForce is the least-energy valid split point of net with prof's
// radio costing perByte and perPacket, by Evaluate's points and a loop of
// its own (the later point on a tie).
func bruteForce(t *testing.T, net arch.Network, prof hw.Profile, sc Scenario, perByte, perPacket float64) (int, float64) {
	t.Helper()
	prof.Link = nil
	prof.Radio = hw.Radio{Name: "brute", EnergyPerByteUJ: perByte, EnergyPerPacketUJ: perPacket, PayloadBytesPerPacket: prof.Radio.PayloadBytesPerPacket}
	tab, err := Evaluate(net, prof, sc, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	best, bestE := -1, math.Inf(1)
	for _, p := range tab.Points {
		e := p.EEdge
		if sc == Total {
			e = p.EEdge + p.EFog
		}
		if p.Valid && e <= bestE {
			best, bestE = p.P, e
		}
	}
	return best, bestE
}

func TestPolicyIsTheBruteForceMinimum(t *testing.T) {
	nets := append([]arch.Network{mustParse(t, "2048x1-128x2-8x4-64x2-5"), mustParse(t, "2048x1-5")}, randomNetworks(t, 6, 5, 7)...)
	for _, name := range []string{"stm32l476", "stm32l476-int8"} {
		prof := mustLoad(t, name)
		conds := prof.Link.Conditions(hw.DefaultRetransRates())
		for _, sc := range []Scenario{Edge, Total} {
			for _, net := range nets {
				t.Run(name+"/"+sc.String()+"/"+net.String(), func(t *testing.T) {
					pol, err := NewPolicy(net, prof, sc, Limits{}, conds)
					if err != nil {
						t.Fatal(err)
					}
					if len(pol.Rows) != len(conds) {
						t.Fatalf("%d rows for %d conditions", len(pol.Rows), len(conds))
					}
					pmax := 0
					for i, row := range pol.Rows {
						if row.Cond != conds[i] {
							t.Fatalf("row %d is %v, want %v", i, row.Cond, conds[i])
						}
						want, wantE := bruteForce(t, net, prof, sc, row.PerByteUJ, row.PerPacketUJ)
						if row.Split != want || row.E != wantE {
							t.Errorf("%v: split %d (%v mJ), brute force %d (%v mJ)", row.Cond, row.Split, row.E, want, wantE)
						}
						if got := pol.Choose(row.PerByteUJ, row.PerPacketUJ); got != row.Split {
							t.Errorf("%v: Choose = %d, row says %d", row.Cond, got, row.Split)
						}
						if row.E > row.ENominal {
							t.Errorf("%v: best %v mJ > the nominal split's %v", row.Cond, row.E, row.ENominal)
						}
						pmax = max(pmax, row.Split)
					}
					if pol.Pmax != pmax {
						t.Errorf("Pmax = %d, the rows need %d", pol.Pmax, pmax)
					}
					nomP, _ := bruteForce(t, net, prof, sc, prof.Radio.EnergyPerByteUJ, prof.Radio.EnergyPerPacketUJ)
					if pol.NominalSplit != nomP {
						t.Errorf("nominal split %d, want %d", pol.NominalSplit, nomP)
					}
					prec := prof.Edge.Precision()
					if pol.FlashBytes != net.Flash(pmax, prec) || pol.RAMBytes != net.RAM(pmax, prec) {
						t.Errorf("Flash/RAM(Pmax) = %d/%d", pol.FlashBytes, pol.RAMBytes)
					}
				})
			}
		}
	}
}

func TestPolicyAdapts(t *testing.T) {
	// The typical network: 8x4 (128 B) at P = 2 is the cheapest tensor to
	// send but P = 4 (20 B of scores) wins at the nominal link; a costly
	// link must not move the split to a larger tensor, and the policy must
	// hold at least the nominal split.
	prof := mustLoad(t, DefaultProfileForTest)
	net := mustParse(t, "2048x1-128x2-8x4-64x2-5")
	pol, err := NewPolicy(net, prof, Edge, Limits{}, prof.Link.Conditions(hw.DefaultRetransRates()))
	if err != nil {
		t.Fatal(err)
	}
	if pol.NominalSplit != 4 || pol.Pmax != 4 {
		t.Errorf("nominal split %d, Pmax %d; want 4, 4", pol.NominalSplit, pol.Pmax)
	}
}

// DefaultProfileForTest is the default built-in profile.
const DefaultProfileForTest = hw.DefaultProfile

func TestNewPolicyErrors(t *testing.T) {
	net := mustParse(t, "2048x1-128x2-8x4-64x2-5")
	if _, err := NewPolicy(net, mustLoad(t, "esp32"), Edge, Limits{}, []hw.Condition{{PHY: "1M"}}); err == nil || !strings.Contains(err.Error(), "no link model") {
		t.Errorf("esp32: %v", err)
	}
	prof := mustLoad(t, hw.DefaultProfile)
	_, err := NewPolicy(net, prof, Edge, Limits{}, []hw.Condition{{PHY: "3M"}})
	var ce *hw.ConditionError
	if !errors.As(err, &ce) || ce.Field != "phy" {
		t.Errorf("unknown PHY: %v", err)
	}
	if _, err := NewPolicy(net, prof, Edge, Limits{}, nil); err == nil {
		t.Error("no conditions: no error")
	}
}

func TestReadTraceErrors(t *testing.T) {
	link := mustLoad(t, hw.DefaultProfile).Link
	const head = "time_s,phy,tx_dbm,retransmission_rate\n"
	cases := []struct {
		name, text string
		line       int
		column     string
		problem    string
	}{
		{"empty", "", 0, "", "empty file"},
		{"header only", head, 0, "", "no rows"},
		{"missing column", "time_s,phy,tx_dbm\n0,1M,0\n", 1, "retransmission_rate", "missing column"},
		{"unknown PHY", head + "0,1M,0,0\n1,3M,0,0\n", 3, "phy", `unknown PHY "3M"`},
		{"bad number", head + "0,1M,zero,0\n", 2, "tx_dbm", `"zero" is not a finite number`},
		{"NaN time", head + "NaN,1M,0,0\n", 2, "time_s", "not a finite number"},
		{"no such level", head + "0,1M,8,0\n", 2, "tx_dbm", "not a TX level of PHY 1M"},
		{"r = 1", head + "0,1M,0,1\n", 2, "retransmission_rate", "must be in [0, 1)"},
		{"r < 0", head + "0,1M,0,-0.1\n", 2, "retransmission_rate", "must be in [0, 1)"},
		{"short row", head + "0,1M,0\n", 2, "retransmission_rate", "missing"},
		{"time goes back", head + "1,1M,0,0\n0,1M,0,0\n", 3, "time_s", "before the previous row"},
		{"comment lines count", "# a comment\n" + head + "0,1M,0,0.5\n# another\n1,2M,4,x\n", 5, "retransmission_rate", "not a finite number"},
		{"column twice", "time_s,phy,phy,tx_dbm,retransmission_rate\n", 1, "phy", "column given twice"},
		{"bad quoting", head + "0,\"1M,0,0\n", 2, "", "quote"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadTrace(strings.NewReader(tc.text), "walk.csv", link)
			var te *TraceError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v, want a *TraceError", err)
			}
			if te.File != "walk.csv" || te.Line != tc.line || te.Column != tc.column || !strings.Contains(te.Problem, tc.problem) {
				t.Errorf("err = %q (line %d, column %q), want line %d, column %q, problem with %q", err, te.Line, te.Column, tc.line, tc.column, tc.problem)
			}
			if !strings.HasPrefix(err.Error(), "walk.csv") {
				t.Errorf("%q does not name the file", err)
			}
		})
	}
	// Columns in another order, extra columns, spaces: fine.
	rows, err := ReadTrace(strings.NewReader("note, retransmission_rate, phy, tx_dbm, time_s\nx, 0.1, coded-s8, 8, 2.5\n"), "ok.csv", link)
	if err != nil || len(rows) != 1 || rows[0].Cond != (hw.Condition{PHY: "coded-s8", TXdBm: 8, Retrans: 0.1}) || rows[0].TimeS != 2.5 || rows[0].Line != 2 {
		t.Errorf("rows %+v, err %v", rows, err)
	}
}

func TestSimulateWalkingAway(t *testing.T) {
	prof := mustLoad(t, hw.DefaultProfile)
	f, err := os.Open("../examples/traces/walking-away.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	trace, err := ReadTrace(f, "walking-away.csv", prof.Link)
	if err != nil {
		t.Fatal(err)
	}
	if len(trace) != 120 {
		t.Fatalf("%d rows, want 120", len(trace))
	}
	conds := prof.Link.Conditions(hw.DefaultRetransRates())
	for _, a := range []string{"2048x1-128x2-8x4-64x2-5", "2048x1-5", "2048x1-512x4-64x1-16x4-5"} {
		for _, sc := range []Scenario{Edge, Total} {
			t.Run(a+"/"+sc.String(), func(t *testing.T) {
				net := mustParse(t, a)
				pol, err := NewPolicy(net, prof, sc, Limits{}, conds)
				if err != nil {
					t.Fatal(err)
				}
				sim, err := Simulate(net, prof, sc, Limits{}, pol, trace)
				if err != nil {
					t.Fatal(err)
				}
				var ta, tf, tn, to float64
				for i, r := range sim.Rows {
					tab, err := EvaluateAt(net, prof, sc, Limits{}, trace[i].Cond)
					if err != nil {
						t.Fatal(err)
					}
					if r.EAdaptive != sc.Objective(tab.Points[r.AdaptiveSplit]) || r.EFixed != sc.Objective(tab.Points[sim.FixedSplit]) ||
						r.ENominal != sc.Objective(tab.Points[sim.NominalSplit]) {
						t.Errorf("row %d: energies differ from EvaluateAt's", i)
					}
					if r.AdaptiveSplit > pol.Pmax || r.EAdaptive > r.ENominal || r.EOracle > r.EAdaptive {
						t.Errorf("row %d: adaptive split %d (Pmax %d), %v mJ; nominal %v, oracle %v", i, r.AdaptiveSplit, pol.Pmax, r.EAdaptive, r.ENominal, r.EOracle)
					}
					ta += r.EAdaptive
					tf += r.EFixed
					tn += r.ENominal
					to += r.EOracle
				}
				if sim.TotalAdaptive != ta || sim.TotalFixed != tf || sim.TotalNominal != tn || sim.TotalOracle != to {
					t.Errorf("totals %v %v %v %v, sums of the rows %v %v %v %v", sim.TotalAdaptive, sim.TotalFixed, sim.TotalNominal, sim.TotalOracle, ta, tf, tn, to)
				}
				if n := float64(len(trace)); math.Abs(sim.MeanAdaptive-ta/n) > 1e-15 || math.Abs(sim.MeanFixed-tf/n) > 1e-15 {
					t.Errorf("means %v %v", sim.MeanAdaptive, sim.MeanFixed)
				}
				// The best fixed split: no other fixed split costs less over the trace.
				for P := 0; P <= len(net.Layers); P++ {
					sum := 0.0
					for _, row := range trace {
						tab, _ := EvaluateAt(net, prof, sc, Limits{}, row.Cond)
						sum += sc.Objective(tab.Points[P])
					}
					if sum < sim.TotalFixed {
						t.Errorf("fixed split %d costs %v mJ < the best fixed %d's %v", P, sum, sim.FixedSplit, sim.TotalFixed)
					}
				}
				if sim.TotalFixed > sim.TotalNominal {
					t.Errorf("best fixed %v mJ > nominal %v", sim.TotalFixed, sim.TotalNominal)
				}
			})
		}
	}
}
