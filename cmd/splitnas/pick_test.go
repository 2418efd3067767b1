package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/search"
)

var tinyNSGA2 = []string{"search", "--strategy", "nsga2", "--population", "5", "--generations", "3", "--epochs", "1", "--slots", "4", "--seed", "4"}

// A tiny nsga2 search on the embedded sample: the same Pareto set for 1
// and 2 workers, and pick agrees with a brute-force scan of that set over
// a grid of budgets.
func TestSearchNSGA2AndPick(t *testing.T) {
	var dirs []string
	for _, w := range []string{"1", "2"} {
		dir := filepath.Join(t.TempDir(), "s")
		out, err := run(t, append(tinyNSGA2, "--out", dir, "--workers", w, "--objectives", "accuracy,energy,ram")...)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "pareto:  ") || !strings.Contains(out, "splitnas pick --result "+dir) {
			t.Errorf("output lacks the Pareto set:\n%s", out)
		}
		dirs = append(dirs, dir)
	}
	var rs []*search.Result
	for _, dir := range dirs {
		r, err := search.ReadResult(filepath.Join(dir, "result.json"))
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	if a, b := rs[0].Pareto, rs[1].Pareto; a == nil || !reflect.DeepEqual(a, b) || !reflect.DeepEqual(rs[0].Best, rs[1].Best) {
		t.Fatalf("--workers 1 and 2 differ:\n%+v\n%+v", a, b)
	}
	r, dir := rs[0], dirs[0]
	if len(r.Pareto.Members) < 3 {
		t.Fatalf("only %d Pareto members: choose a seed with more to test pick", len(r.Pareto.Members))
	}
	if got := strings.Join(r.Pareto.Objectives, ","); got != "accuracy,energy,ram" {
		t.Errorf("objectives %s", got)
	}
	for _, m := range r.Pareto.Members {
		if _, err := os.Stat(filepath.Join(dir, m.Model)); err != nil {
			t.Errorf("member %s: %v", m.Arch, err)
		}
	}

	// The brute-force choice: the best validation-B score within the
	// budget, ties by validation A, lower energy, earlier candidate.
	brute := func(e float64, ram int64) (search.ParetoMember, bool) {
		var best search.ParetoMember
		found := false
		for _, m := range r.Pareto.Members {
			if (e > 0 && m.EnergyMJ > e) || (ram > 0 && int64(m.RAMBytes) > ram) {
				continue
			}
			better := !found || m.ValBAccuracy > best.ValBAccuracy ||
				(m.ValBAccuracy == best.ValBAccuracy && (m.ValAccuracy > best.ValAccuracy ||
					(m.ValAccuracy == best.ValAccuracy && (m.EnergyMJ < best.EnergyMJ ||
						(m.EnergyMJ == best.EnergyMJ && m.Candidate < best.Candidate)))))
			if better {
				best, found = m, true
			}
		}
		return best, found
	}
	energies := []float64{0}
	rams := []int64{0}
	for _, m := range r.Pareto.Members {
		energies = append(energies, m.EnergyMJ*0.999, m.EnergyMJ*1.001)
		rams = append(rams, int64(m.RAMBytes)-1, int64(m.RAMBytes))
	}
	for _, e := range energies {
		for _, ram := range rams {
			t.Run(fmt.Sprintf("%.6gmJ/%dB", e, ram), func(t *testing.T) {
				args := []string{"pick", "--result", dir, "--json"}
				if e > 0 {
					args = append(args, "--energy-limit", fmt.Sprintf("%.9gmJ", e))
				}
				if ram > 0 {
					args = append(args, "--ram-limit", fmt.Sprint(ram))
				}
				want, ok := brute(e, ram)
				out, err := run(t, args...)
				if !ok {
					if err == nil || !strings.Contains(err.Error(), "no member of the Pareto set") || !strings.Contains(err.Error(), "the cheapest") {
						t.Errorf("pick %v: %v, want an error naming the cheapest member", args, err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				var got search.ParetoMember
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Fatal(err)
				}
				if got.Candidate != want.Candidate {
					t.Errorf("pick %v chose candidate %d, brute force %d", args, got.Candidate, want.Candidate)
				}
			})
		}
	}

	// The text form shows what a search's best shows; without a budget,
	// pick chooses the search's best.
	best, _ := brute(0, 0)
	if best.Arch != r.Best.Arch {
		t.Errorf("pick without a budget: %s, the search's best %s", best.Arch, r.Best.Arch)
	}
	out, err := run(t, "pick", "--result", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"chosen:  " + r.Best.Arch, "validation A", "test ", "Flash ", "E_edge ", "model:   " + filepath.Join(dir, search.ParetoModelFile(best.Candidate))} {
		if !strings.Contains(out, want) {
			t.Errorf("pick output lacks %q:\n%s", want, out)
		}
	}
}

// pick's errors name the problem: a missing or corrupt file, a result
// that is not nsga2's, bad flags.
func TestPickErrors(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.json")
	if err := os.WriteFile(corrupt, []byte(`{"settings": {`), 0o644); err != nil {
		t.Fatal(err)
	}
	single := filepath.Join(dir, "single")
	if err := os.MkdirAll(single, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(search.Result{Settings: search.Settings{Strategy: "joint"}, Best: &search.Best{Arch: "x"}})
	if err := os.WriteFile(filepath.Join(single, "result.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no --result", []string{"pick"}, "--result"},
		{"missing", []string{"pick", "--result", filepath.Join(dir, "none")}, filepath.Join(dir, "none")},
		{"missing result.json", []string{"pick", "--result", dir}, filepath.Join(dir, "result.json")},
		{"corrupt", []string{"pick", "--result", corrupt}, corrupt + ": not a search result"},
		{"not nsga2", []string{"pick", "--result", single}, `not the result of an nsga2 search (it has no Pareto set): strategy "joint"`},
		{"bad energy", []string{"pick", "--result", single, "--energy-limit", "cheap"}, "--energy-limit"},
		{"bad RAM", []string{"pick", "--result", single, "--ram-limit", "-1"}, "--ram-limit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := run(t, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	if _, err := run(t, "search", "--objectives", "accuracy,energy", "--out", filepath.Join(dir, "s")); err == nil ||
		!strings.Contains(err.Error(), "--objectives") {
		t.Errorf("--objectives with the joint strategy: %v", err)
	}
	if _, err := run(t, "search", "--strategy", "nsga2", "--objectives", "accuracy", "--out", filepath.Join(dir, "s")); err == nil ||
		!strings.Contains(err.Error(), "--objectives") {
		t.Errorf("--objectives without energy: %v", err)
	}
}
