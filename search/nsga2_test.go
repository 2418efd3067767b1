package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func pts(fs ...[]float64) []moPoint {
	out := make([]moPoint, len(fs))
	for i, f := range fs {
		out[i] = moPoint{f: f}
	}
	return out
}

func TestNondominatedSort(t *testing.T) {
	for _, c := range []struct {
		name string
		pts  []moPoint
		want [][]int
	}{
		{"three fronts", pts([]float64{1, 5}, []float64{2, 3}, []float64{3, 1}, []float64{2, 4}, []float64{4, 4}, []float64{3, 5}),
			[][]int{{0, 1, 2}, {3}, {4, 5}}},
		{"equal points share a front", pts([]float64{1, 1}, []float64{1, 2}, []float64{1, 1}),
			[][]int{{0, 2}, {1}}},
		{"equal in one objective", pts([]float64{1, 3}, []float64{1, 2}, []float64{0, 3}),
			[][]int{{1, 2}, {0}}},
		{"constraint domination", []moPoint{
			{f: []float64{5, 5}},                 // feasible
			{f: []float64{0, 0}, violation: 0.5}, // infeasible, worst violation: last however good
			{f: []float64{9, 9}, violation: 0.2}, // infeasible, equal violations: one front
			{f: []float64{1, 1}, violation: 0.2}, // (objectives do not matter)
			{f: []float64{4, 6}},                 // feasible, not dominated by 0
			{f: []float64{6, 6}},                 // feasible, dominated by 0
		}, [][]int{{0, 4}, {5}, {2, 3}, {1}}},
		{"one point", pts([]float64{3, 3}), [][]int{{0}}},
		{"none", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := nondominatedSort(c.pts); !reflect.DeepEqual(got, c.want) {
				t.Errorf("fronts %v, want %v", got, c.want)
			}
		})
	}
}

func TestCrowdingDistance(t *testing.T) {
	inf := math.Inf(1)
	for _, c := range []struct {
		name  string
		pts   []moPoint
		front []int
		want  []float64
	}{
		// f1 range 5: 1 gets (3−0)/5, 2 gets (5−1)/5; f2 range 5: 1 gets
		// (5−2)/5, 2 gets (3−0)/5.
		{"four points", pts([]float64{0, 5}, []float64{1, 3}, []float64{3, 2}, []float64{5, 0}), []int{0, 1, 2, 3},
			[]float64{inf, 1.2, 1.4, inf}},
		// Equal points: sorted by index on ties, each sits between the
		// other and an end: (1−0)/2 + (2−1)/2 and (2−1)/2 + (3−2)/2.
		{"ties", pts([]float64{0, 3}, []float64{1, 2}, []float64{1, 2}, []float64{2, 1}), []int{0, 1, 2, 3},
			[]float64{inf, 1, 1, inf}},
		// A flat objective adds nothing beyond the ends' infinity.
		{"flat objective", pts([]float64{0, 1}, []float64{1, 1}, []float64{2, 1}), []int{0, 1, 2},
			[]float64{inf, 1, inf}},
		{"sub-front in its own order", pts([]float64{9, 9}, []float64{5, 0}, []float64{0, 5}, []float64{3, 2}, []float64{1, 3}), []int{4, 3, 2, 1},
			[]float64{1.2, 1.4, inf, inf}},
		{"two points", pts([]float64{0, 1}, []float64{1, 0}), []int{0, 1}, []float64{inf, inf}},
		{"one point", pts([]float64{0, 1}), []int{0}, []float64{inf}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := crowdingDistance(c.pts, c.front)
			for i := range c.want {
				if !(got[i] == c.want[i] || math.Abs(got[i]-c.want[i]) < 1e-12) {
					t.Fatalf("distances %v, want %v", got, c.want)
				}
			}
		})
	}
}

// Thinning a front by crowding keeps the ends and the most isolated
// members.
func TestCapByCrowding(t *testing.T) {
	line := pts([]float64{0, 4}, []float64{1, 3}, []float64{2, 2}, []float64{3, 1}, []float64{4, 0})
	for _, c := range []struct {
		name string
		pts  []moPoint
		max  int
		want []int
	}{
		// All interior distances 1: the last (3) goes; then 1 (1.5 vs 1.0).
		{"even line to 3", line, 3, []int{0, 2, 4}},
		{"even line to 2", line, 2, []int{0, 4}},
		{"no cap needed", line, 5, []int{0, 1, 2, 3, 4}},
		// 1 and 2 crowd each other: 1 has (5−0)/10 + (10−5)/10 = 1.0, 2
		// has (10−4.9)/10 + (5.1−0)/10 = 1.02, so 1 goes.
		{"cluster", pts([]float64{0, 10}, []float64{4.9, 5.1}, []float64{5, 5}, []float64{10, 0}), 3, []int{0, 2, 3}},
	} {
		t.Run(c.name, func(t *testing.T) {
			front := make([]int, len(c.pts))
			for i := range front {
				front[i] = i
			}
			if got := capByCrowding(c.pts, front, c.max); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("kept %v, want %v", got, c.want)
			}
		})
	}
}

// Survival keeps whole fronts, then the most crowded-apart members of the
// front that does not fit; feasible candidates before violators.
func TestSurvive(t *testing.T) {
	s := &searcher{cfg: Config{Population: 3, EnergyLimitMJ: 10}}
	s.cands = []Candidate{
		cand(0, Valid, 0.9, 9),        // the most accurate: an end
		cand(1, Valid, 0.5, 1),        // the cheapest: an end
		cand(2, Valid, 0.55, 2),       // close to 1: crowded
		cand(3, Valid, 0.6, 6),        // the most isolated inside
		cand(4, OverEnergy, 0.99, 11), // infeasible: after every feasible one
		cand(5, Valid, 0.8, 7),
	}
	for _, c := range []struct {
		name               string
		parents, offspring []int
		want               []int
	}{
		// All five feasible ones form front 1; 0 and 1 are ends (+Inf).
		// Accuracy span 0.4, energy span 8: 2 gets (0.6−0.5)/0.4 +
		// (6−1)/8 = 0.875, 3 gets (0.8−0.55)/0.4 + (7−2)/8 = 1.25, 5 gets
		// (0.9−0.6)/0.4 + (9−6)/8 = 1.125: 3 is kept.
		{"last front by crowding", []int{0, 1, 3}, []int{4, 2, 5}, []int{0, 1, 3}},
		// The violator is the most accurate, but every feasible one
		// comes first; survivors in the order of the pool.
		{"violator last", []int{4, 3, 0}, []int{5, 0}, []int{3, 0, 5}},
		{"few distinct: filled with repeats", []int{1, 1, 1}, []int{0, 0, 0}, []int{1, 0, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := s.survive(c.parents, c.offspring); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("survivors %v, want %v", got, c.want)
			}
		})
	}
}

func TestHypervolume(t *testing.T) {
	ref := AccEnergy{Accuracy: 0, EnergyMJ: 10}
	for _, c := range []struct {
		name string
		pts  []AccEnergy
		want float64
	}{
		{"none", nil, 0},
		{"one point", []AccEnergy{{0.5, 2}}, 0.5 * 8},
		// (10−2)·0.5 + (10−6)·(0.8−0.5); (0.6, 7) is dominated, (0.9, 12)
		// beyond the reference energy.
		{"staircase", []AccEnergy{{0.6, 7}, {0.8, 6}, {0.9, 12}, {0.5, 2}}, 4 + 1.2},
		{"duplicates count once", []AccEnergy{{0.5, 2}, {0.5, 2}}, 4},
		{"at the reference accuracy", []AccEnergy{{0, 1}}, 0},
		{"NaN ignored", []AccEnergy{{math.NaN(), 1}, {0.5, math.NaN()}, {0.5, 2}}, 4},
		{"same energy", []AccEnergy{{0.3, 5}, {0.6, 5}}, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Hypervolume(c.pts, ref); math.Abs(got-c.want) > 1e-12 {
				t.Errorf("hypervolume %v, want %v", got, c.want)
			}
		})
	}
	// Against another reference: accuracy 0.4 cuts the strips.
	if got := Hypervolume([]AccEnergy{{0.5, 2}, {0.8, 6}}, AccEnergy{0.4, 10}); math.Abs(got-(8*0.1+4*0.3)) > 1e-12 {
		t.Errorf("hypervolume %v, want %v", got, 8*0.1+4*0.3)
	}
}

func TestParseObjectives(t *testing.T) {
	for _, c := range []struct {
		in, err string
	}{
		{"accuracy,energy", ""},
		{"energy, accuracy, ram, flash", ""},
		{"accuracy", "accuracy and energy are always optimised"},
		{"accuracy,energy,energy", "given twice"},
		{"accuracy,energy,latency", `unknown objective "latency"`},
	} {
		t.Run(c.in, func(t *testing.T) {
			_, err := ParseObjectives(c.in)
			if (err == nil) != (c.err == "") || (err != nil && !contains(err.Error(), c.err)) {
				t.Errorf("error %v, want %q", err, c.err)
			}
		})
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub)))
}

func nsgaConfig(t *testing.T) Config {
	cfg := smallConfig(t)
	cfg.Strategy = NSGA2
	cfg.Population, cfg.Generations = 6, 3
	cfg.Train.Epochs = 2
	return cfg
}

// An NSGA2 search ends with a Pareto set of feasible, mutually
// non-dominated members, each finished, and the same result for any
// number of workers.
func TestNSGA2(t *testing.T) {
	d := waves(t)
	var results []*Result
	for _, w := range []int{1, 2} {
		cfg := nsgaConfig(t)
		cfg.Workers = w
		cfg.EnergyLimitMJ = 0.3
		cfg.Dir = t.TempDir()
		r, err := Run(context.Background(), cfg, d)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, timeless(r))
		p := r.Pareto
		if p == nil || len(p.Members) == 0 || p.Found < len(p.Members) {
			t.Fatalf("Pareto set %+v", p)
		}
		for i, m := range p.Members {
			c := r.Candidates[m.Candidate]
			if c.Status != Valid || m.EnergyMJ > cfg.EnergyLimitMJ || m.EnergyMJ != c.Energy {
				t.Errorf("member %s: status %s, energy %v", m.Arch, c.Status, m.EnergyMJ)
			}
			if i > 0 && m.EnergyMJ < p.Members[i-1].EnergyMJ {
				t.Errorf("members not sorted by energy")
			}
			if _, err := os.Stat(filepath.Join(cfg.Dir, m.Model)); err != nil || m.Model != ParetoModelFile(m.Candidate) {
				t.Errorf("member %s: model %q: %v", m.Arch, m.Model, err)
			}
			// No feasible candidate dominates a member.
			for _, o := range r.Candidates {
				if o.Status == Valid && o.BestEpoch > 0 && o.ValAccuracy >= c.ValAccuracy && o.Energy <= c.Energy &&
					(o.ValAccuracy > c.ValAccuracy || o.Energy < c.Energy) {
					t.Errorf("member %s (%v, %v) dominated by %s (%v, %v)", c.Arch, c.ValAccuracy, c.Energy, o.Arch, o.ValAccuracy, o.Energy)
				}
			}
		}
		want, err := PickMember(r, Budget{})
		if err != nil || r.Best == nil || r.Best.Arch != want.Arch || r.Best.Model != ModelFile {
			t.Errorf("best %+v, want the member %s picked without a budget (%v)", r.Best, want.Arch, err)
		}
	}
	if !reflect.DeepEqual(results[0], results[1]) {
		t.Errorf("1 worker and 2 workers differ:\n%+v\n%+v", results[0].Pareto, results[1].Pareto)
	}
}

// The cap keeps ParetoMax members and says so.
func TestNSGA2ParetoCap(t *testing.T) {
	cfg := nsgaConfig(t)
	cfg.ParetoMax = 1
	r, err := Run(context.Background(), cfg, waves(t))
	if err != nil {
		t.Fatal(err)
	}
	p := r.Pareto
	if len(p.Members) != 1 || (p.Found > 1) != p.Capped || (p.Capped && p.Note == "") {
		t.Errorf("capped set: %d members of %d, capped %v, note %q", len(p.Members), p.Found, p.Capped, p.Note)
	}
	if p.Found < 2 {
		t.Logf("only %d member found: the cap was not exercised", p.Found)
	}
}

// An NSGA2 search interrupted mid-search and resumed ends with the same
// result as an uninterrupted one: the population is in the checkpoint.
func TestNSGA2Resume(t *testing.T) {
	d := waves(t)
	cfg := nsgaConfig(t)
	cfg.Objectives = []Objective{ObjAccuracy, ObjEnergy, ObjRAM}
	cfg.Generations = 4
	cfg.Dir = t.TempDir()
	whole, err := Run(context.Background(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Dir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cfg.OnGeneration = func(g Generation) {
		if g.Index == 1 {
			cancel()
		}
	}
	_, err = Run(ctx, cfg, d)
	cancel()
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.Finished != 2 {
		t.Fatalf("interrupted run: %v", err)
	}
	cfg.OnGeneration, cfg.Resume, cfg.Workers = nil, true, 1
	resumed, err := Run(context.Background(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	a, b := timeless(whole), timeless(resumed)
	if !reflect.DeepEqual(a.Pareto, b.Pareto) || !reflect.DeepEqual(a.Best, b.Best) {
		t.Errorf("resumed Pareto set differs:\n%+v\n%+v", b.Pareto, a.Pareto)
	}
	if !reflect.DeepEqual(a.Candidates, b.Candidates) || !reflect.DeepEqual(a.History, b.History) {
		t.Errorf("resumed candidates or history differ")
	}
	// A resume with other objectives is refused.
	cfg.Objectives = nil
	if _, err := Run(context.Background(), cfg, d); err == nil || !contains(err.Error(), "objectives") {
		t.Errorf("resume with other objectives: %v", err)
	}
}

// PickMember agrees with a brute-force scan of the Pareto set over a grid
// of budgets.
func TestPickMember(t *testing.T) {
	r := &Result{Settings: Settings{Scenario: "edge"}, Pareto: &Pareto{}}
	add := func(id int, e float64, flash, ram int, valA, valB float64) {
		r.Pareto.Members = append(r.Pareto.Members, ParetoMember{Candidate: id, EnergyMJ: e,
			Best: Best{Arch: fmt.Sprintf("a%d", id), FlashBytes: flash, RAMBytes: ram, ValAccuracy: valA, ValBAccuracy: valB}})
	}
	add(3, 0.01, 100, 900, 0.60, 0.58)
	add(1, 0.02, 400, 800, 0.70, 0.72)
	add(7, 0.03, 300, 700, 0.75, 0.72) // ties 1 on B: wins on A
	add(2, 0.05, 900, 600, 0.80, 0.70) // more accurate on A, worse on B
	add(5, 0.08, 200, 999, 0.90, 0.85)
	add(4, 0.08, 200, 999, 0.90, 0.85) // equal to 5: the earlier candidate
	brute := func(b Budget) (string, bool) {
		best := -1
		for i, m := range r.Pareto.Members {
			if b.EnergyMJ > 0 && m.EnergyMJ > b.EnergyMJ || b.FlashBytes > 0 && int64(m.FlashBytes) > b.FlashBytes || b.RAMBytes > 0 && int64(m.RAMBytes) > b.RAMBytes {
				continue
			}
			if best < 0 {
				best = i
				continue
			}
			o := r.Pareto.Members[best]
			if m.ValBAccuracy > o.ValBAccuracy || m.ValBAccuracy == o.ValBAccuracy && (m.ValAccuracy > o.ValAccuracy ||
				m.ValAccuracy == o.ValAccuracy && (m.EnergyMJ < o.EnergyMJ || m.EnergyMJ == o.EnergyMJ && m.Candidate < o.Candidate)) {
				best = i
			}
		}
		if best < 0 {
			return "", false
		}
		return r.Pareto.Members[best].Arch, true
	}
	n := 0
	for _, e := range []float64{0, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.07, 0.08, 1} {
		for _, f := range []int64{0, 99, 100, 250, 300, 400, 1000} {
			for _, ram := range []int64{0, 650, 700, 850, 1000} {
				b := Budget{EnergyMJ: e, FlashBytes: f, RAMBytes: ram}
				t.Run(fmt.Sprint(e, f, ram), func(t *testing.T) {
					want, ok := brute(b)
					got, err := PickMember(r, b)
					var obe *OverBudgetError
					switch {
					case ok && (err != nil || got.Arch != want):
						t.Errorf("picked %s (%v), want %s", got.Arch, err, want)
					case !ok && !errors.As(err, &obe):
						t.Errorf("picked %s (%v), want an OverBudgetError", got.Arch, err)
					case !ok && (obe.CheapestArch != "a3" || !contains(err.Error(), "0.01 mJ")):
						t.Errorf("error %v does not name the cheapest member a3 at 0.01 mJ", err)
					}
				})
				n++
			}
		}
	}
	if _, err := PickMember(&Result{}, Budget{}); !errors.Is(err, ErrNotPareto) {
		t.Errorf("single-objective result: %v", err)
	}
}
