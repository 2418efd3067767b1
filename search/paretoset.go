package search

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/quant"
)

// DefaultParetoMax is the default cap on the finished Pareto set of an
// NSGA2 search (Config.ParetoMax).
const DefaultParetoMax = 12

// paretoSet returns the IDs of the Pareto set over every candidate
// evaluated: the feasible trained ones (status Valid: within Flash, RAM
// and the energy limit) that no other such candidate dominates on the
// search's objectives. Equal points do not dominate each other, so all of
// them stay. With successive halving only candidates trained for the full
// epochs take part, if any is feasible (as in pick). The IDs are sorted by
// energy ascending, then validation-A accuracy descending, then ID.
func (s *searcher) paretoSet() []int {
	full := false
	for _, c := range s.cands {
		full = full || (c.Status == Valid && c.BestEpoch > 0 && c.Epochs == s.cfg.Train.Epochs)
	}
	var pool []int
	for _, c := range s.cands {
		if c.Status == Valid && c.BestEpoch > 0 && c.HasScores() && (!full || c.Epochs == s.cfg.Train.Epochs) {
			pool = append(pool, c.ID)
		}
	}
	if len(pool) == 0 {
		return nil
	}
	pts := s.moPoints(pool)
	var set []int
	for _, k := range nondominatedSort(pts)[0] {
		set = append(set, pool[k])
	}
	slices.SortFunc(set, func(a, b int) int { return byEnergy(s.cands[a], s.cands[b]) })
	return set
}

// capByCrowding thins a front (indices into pts) to max members: while it
// is too large, the member with the smallest crowding distance within the
// remaining front (on a tie, the last one in front's order) is dropped,
// and the distances are computed again. The ends of each objective keep
// an infinite distance, so the extremes stay. It returns the kept
// positions in front, in order.
func capByCrowding(pts []moPoint, front []int, max int) []int {
	kept := make([]int, len(front))
	for i := range kept {
		kept[i] = i
	}
	for len(kept) > max {
		sub := make([]int, len(kept))
		for i, k := range kept {
			sub[i] = front[k]
		}
		d := crowdingDistance(pts, sub)
		drop := 0
		for i := range d {
			if d[i] <= d[drop] {
				drop = i
			}
		}
		kept = slices.Delete(kept, drop, drop+1)
	}
	return kept
}

// selectionOrder orders Pareto members as the single-objective search
// picks its winner: the highest validation-B accuracy first, then
// validation A, then the lower energy, then the earlier candidate.
func selectionOrder(a, b ParetoMember) int {
	switch {
	case a.ValBAccuracy != b.ValBAccuracy:
		return cmp.Compare(b.ValBAccuracy, a.ValBAccuracy)
	case a.ValAccuracy != b.ValAccuracy:
		return cmp.Compare(b.ValAccuracy, a.ValAccuracy)
	case a.EnergyMJ != b.EnergyMJ:
		return cmp.Compare(a.EnergyMJ, b.EnergyMJ)
	}
	return a.Candidate - b.Candidate
}

// ParetoModelFile is the file name of Pareto member id's model, and
// ParetoQuantModelFile of its integer network, in the output directory.
func ParetoModelFile(id int) string      { return fmt.Sprintf("pareto-%d.model", id) }
func ParetoQuantModelFile(id int) string { return fmt.Sprintf("pareto-%d.snqm", id) }

// finishPareto finishes an NSGA2 search: it finds the Pareto set, caps it
// at ParetoMax members by crowding distance, finishes every member as a
// single-objective winner (finishCandidate: final training if configured,
// one test evaluation, its own model file) and makes the member with the
// best selection score the Result's Best (also saved as ModelFile).
func (s *searcher) finishPareto(ctx context.Context, r *Result) (*Result, error) {
	set := s.paretoSet()
	if len(set) == 0 {
		return r, s.noValid()
	}
	p := &Pareto{Found: len(set), Max: s.cfg.ParetoMax}
	for _, o := range s.cfg.objectives() {
		p.Objectives = append(p.Objectives, string(o))
	}
	if len(set) > s.cfg.ParetoMax {
		pts := s.moPoints(set)
		all := make([]int, len(set))
		for i := range all {
			all[i] = i
		}
		var kept []int
		for _, k := range capByCrowding(pts, all, s.cfg.ParetoMax) {
			kept = append(kept, set[k])
		}
		set = kept
		p.Capped = true
		p.Note = fmt.Sprintf("the Pareto set had %d members; the %d most spread out (by crowding distance on %s) were finished and are listed",
			p.Found, len(set), strings.Join(p.Objectives, ", "))
	}
	models := make([]*nn.Model, len(set))
	qmodels := make([]*quant.Model, len(set))
	for k, id := range set {
		b, model, qm, err := s.finishCandidate(ctx, id, ParetoModelFile(id), ParetoQuantModelFile(id))
		if err != nil {
			return r, err
		}
		p.Members = append(p.Members, ParetoMember{Candidate: id, EnergyMJ: s.cands[id].Energy, Best: *b})
		models[k], qmodels[k] = model, qm
	}
	r.Pareto = p

	k := slices.IndexFunc(p.Members, func(m ParetoMember) bool {
		return m.Candidate == slices.MinFunc(p.Members, selectionOrder).Candidate
	})
	b := p.Members[k].Best // a copy, saved again under the usual names
	if err := s.saveModels(&b, models[k], qmodels[k], ModelFile, QuantModelFile); err != nil {
		return r, err
	}
	r.Best = &b
	return r, nil
}
