package search

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// ErrNotPareto is returned by PickMember for a result without a Pareto
// set: one of a single-objective search, which holds one model only.
var ErrNotPareto = errors.New("not the result of an nsga2 search (it has no Pareto set)")

// Budget is what a deployment allows: the scenario's energy per
// inference and the edge part's Flash and RAM. Zero fields impose no
// limit.
type Budget struct {
	EnergyMJ   float64
	FlashBytes int64
	RAMBytes   int64
}

// Allows reports whether member m fits the budget.
func (b Budget) Allows(m ParetoMember) bool {
	return (b.EnergyMJ <= 0 || m.EnergyMJ <= b.EnergyMJ) &&
		(b.FlashBytes <= 0 || int64(m.FlashBytes) <= b.FlashBytes) &&
		(b.RAMBytes <= 0 || int64(m.RAMBytes) <= b.RAMBytes)
}

// OverBudgetError says that no member of a Pareto set fits a budget, and
// names the cheapest member (by energy) as a hint.
type OverBudgetError struct {
	Budget        Budget
	Members       int
	CheapestMJ    float64 // the cheapest member's energy
	CheapestArch  string
	CheapestFlash int
	CheapestRAM   int
	Scenario      string
}

func (e *OverBudgetError) Error() string {
	return fmt.Sprintf("no member of the Pareto set (%d) fits the budget (%s); the cheapest, %s, needs %s energy %.4g mJ, Flash %d B, RAM %d B",
		e.Members, e.Budget, e.CheapestArch, e.Scenario, e.CheapestMJ, e.CheapestFlash, e.CheapestRAM)
}

// String describes the budget's limits, "no limit" without any.
func (b Budget) String() string {
	var parts []string
	if b.EnergyMJ > 0 {
		parts = append(parts, fmt.Sprintf("energy ≤ %.4g mJ", b.EnergyMJ))
	}
	if b.FlashBytes > 0 {
		parts = append(parts, fmt.Sprintf("Flash ≤ %d B", b.FlashBytes))
	}
	if b.RAMBytes > 0 {
		parts = append(parts, fmt.Sprintf("RAM ≤ %d B", b.RAMBytes))
	}
	if len(parts) == 0 {
		return "no limit"
	}
	return strings.Join(parts, ", ")
}

// PickMember returns the member of r's Pareto set to deploy under a
// budget, without training: among the members within the budget, the one
// with the highest selection score — validation half B, as a
// single-objective search picks its final model (never the test score) —
// then validation A, then the lower energy, then the earlier candidate.
// It returns ErrNotPareto for a result without a Pareto set and an
// *OverBudgetError when no member fits.
func PickMember(r *Result, b Budget) (ParetoMember, error) {
	if r == nil || r.Pareto == nil {
		return ParetoMember{}, ErrNotPareto
	}
	var fit []ParetoMember
	for _, m := range r.Pareto.Members {
		if b.Allows(m) {
			fit = append(fit, m)
		}
	}
	if len(fit) == 0 {
		e := &OverBudgetError{Budget: b, Members: len(r.Pareto.Members), Scenario: r.Settings.Scenario}
		if len(r.Pareto.Members) > 0 {
			c := slices.MinFunc(r.Pareto.Members, func(x, y ParetoMember) int {
				if x.EnergyMJ != y.EnergyMJ {
					return cmpFloat(x.EnergyMJ, y.EnergyMJ)
				}
				return x.Candidate - y.Candidate
			})
			e.CheapestMJ, e.CheapestArch, e.CheapestFlash, e.CheapestRAM = c.EnergyMJ, c.Arch, c.FlashBytes, c.RAMBytes
		}
		return ParetoMember{}, e
	}
	return slices.MinFunc(fit, selectionOrder), nil
}

// ReadResult reads a result.json file; its errors name the file.
func ReadResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err // *fs.PathError names the file
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: not a search result: %w", path, err)
	}
	if r.Pareto != nil {
		for i, m := range r.Pareto.Members {
			if m.Arch == "" {
				return nil, fmt.Errorf("%s: Pareto member %d has no architecture", path, i)
			}
		}
	}
	return &r, nil
}
