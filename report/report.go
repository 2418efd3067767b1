// Package report renders a search result as a self-contained HTML page.
//
// The page has inline CSS and inline SVG charts drawn with gonum/plot; it
// needs no network access. Only the Pareto-set table of an nsga2 search
// has a few lines of inline JavaScript (the energy-budget input); the
// rest of the page needs none. Names from the result (class
// names, architectures, file names) are escaped by html/template.
package report

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/splitnas/splitnas/internal/atomicfile"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/search"
)

// topCandidates is how many candidates the ranking table lists.
const topCandidates = 20

// WriteFile writes the report for r to path, atomically: readers see the
// old file or the complete new one.
func WriteFile(path string, r *search.Result) error {
	return atomicfile.Write(path, func(w io.Writer) error { return Write(w, r) })
}

// Write writes the report for r to w as one HTML page.
func Write(w io.Writer, r *search.Result) error {
	if r == nil {
		return fmt.Errorf("report: no result")
	}
	pg, err := newPage(r)
	if err != nil {
		return err
	}
	if err := pageTemplate.Execute(w, pg); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// page is everything the template shows.
type page struct {
	Title    string
	Settings []row
	Best     []row  // nil if there is no best model
	NoBest   string // why there is none
	Counts   counts

	AccuracyEnergy template.HTML
	History        template.HTML
	Split          template.HTML
	Partitions     []splitRow
	Network        *netDrawing
	NetworkNote    string

	Generations []search.Generation
	Confusion   *confusion
	Top         []topRow
	Pareto      *paretoTable // nsga2 results only
}

// paretoTable is the Pareto set of an nsga2 search, by energy.
type paretoTable struct {
	Objectives string
	Note       string
	Scenario   string
	Rows       []paretoRow
}

// paretoRow is one member. The raw numbers feed the budget input's
// script (data attributes); the strings are shown.
type paretoRow struct {
	ID                   int
	Arch                 string
	P                    int
	EnergyMJ, ValA, ValB float64
	Energy, Flash, RAM   string
	ValAText, ValBText   string
	Test, Model          string
	Best                 bool // the search's best (no budget)
}

type row struct{ Name, Value string }

// counts are the candidates by status.
type counts struct {
	All, Valid, OverEnergy, Abandoned int
	Unplotted                         int // trained, but with a non-finite accuracy or energy
	Front                             int // on the Pareto front
}

type splitRow struct {
	P                                                    int
	Tensor, Send, Flash, RAM, Comp, Comm, Edge, Fog, Sum string
	Valid, Chosen                                        bool
	Why                                                  string
}

type confusion struct {
	Classes []string
	Rows    []confusionRow
}

type confusionRow struct {
	Class  string
	Cells  []int
	Total  int
	Recall string
}

type topRow struct {
	Rank int
	search.Candidate
	Front bool
}

func newPage(r *search.Result) (*page, error) {
	pg := &page{
		Title:       "splitnas search report: " + r.Settings.Data,
		Settings:    settingsRows(r),
		Best:        bestRows(r),
		Counts:      countCandidates(r.Candidates),
		Partitions:  splitRows(r.Best),
		Network:     networkDrawing(r.Best),
		Generations: r.History,
		Confusion:   confusionTable(r),
		Top:         topTable(r.Candidates),
		Pareto:      paretoRows(r),
	}
	if r.Settings.Data == "" {
		pg.Title = "splitnas search report"
	}
	if r.Best == nil {
		pg.NoBest = "No valid model: no trained candidate met every budget (Flash, RAM and energy)."
	} else {
		pg.NetworkNote = partitionSummary(r.Best)
	}
	var err error
	if pg.AccuracyEnergy, err = accuracyEnergyChart(r); err != nil {
		return nil, err
	}
	if pg.History, err = historyChart(r.History); err != nil {
		return nil, err
	}
	if pg.Split, err = splitChart(r.Best); err != nil {
		return nil, err
	}
	return pg, nil
}

// settingsRows describes what the search was run with.
func settingsRows(r *search.Result) []row {
	s := r.Settings
	fog := "factor " + strconv.FormatFloat(s.FogFactor, 'g', -1, 64) + " (fog energy = edge energy / factor)"
	if s.FogDevice != "" {
		fog = "device " + s.FogDevice
	}
	scenario := s.Scenario
	switch s.Scenario {
	case "edge":
		scenario += " (minimise E_edge = E_comp_edge + E_comm_edge)"
	case "total":
		scenario += " (minimise E_total = E_edge + E_fog)"
	}
	energyLimit := "none"
	if s.EnergyLimitMJ > 0 {
		energyLimit = energy(s.EnergyLimitMJ) + " mJ per inference"
	}
	classes := fmt.Sprintf("%d: %s", len(s.Classes), strings.Join(s.Classes, ", "))
	rows := []row{
		{"Strategy", s.Strategy},
		{"Data", s.Data},
		{"Classes", classes},
		{"Profile", s.Profile},
		{"Scenario", scenario},
		{"Fog", fog},
		{"Flash limit", byteSize(s.FlashLimit)},
		{"RAM limit", byteSize(s.RAMLimit)},
		{"Energy limit", energyLimit},
		{"Population × generations × epochs", fmt.Sprintf("%d × %d × %d", s.Population, s.Generations, s.Epochs)},
		{"Training", fmt.Sprintf("batch %d, learning rate %g, dropout %g", s.Batch, s.LR, s.Dropout)},
		{"Genetic algorithm", fmt.Sprintf("elite %d, tournament %d, crossover %g, mutation %g", s.Elite, s.Tournament, s.CrossoverRate, s.MutationRate)},
		{"Search space", s.Space},
		{"Seed", strconv.FormatUint(s.Seed, 10)},
		{"Run time", seconds(r.Seconds)},
	}
	if len(s.Objectives) > 0 {
		rows = append(rows, row{"Objectives (NSGA-II)", fmt.Sprintf("%s; energy limit, if any, a constraint; Pareto set capped at %d members",
			strings.Join(s.Objectives, ", "), s.ParetoMax)})
	}
	return rows
}

// bestRows summarises the final model, or returns nil.
func bestRows(r *search.Result) []row {
	b := r.Best
	if b == nil {
		return nil
	}
	model := b.Model
	if model == "" {
		model = "not saved"
	}
	rows := []row{
		{"Architecture", b.Arch},
		{"Split point", partitionSummary(b)},
		{"Validation accuracy A (search fitness)", pct(b.ValAccuracy)},
		{"Validation accuracy B (chose the model)", pct(b.ValBAccuracy)},
	}
	if f := b.Final; f != nil && len(f.Runs) > 0 {
		runs := make([]string, len(f.Runs))
		for k, run := range f.Runs {
			runs[k] = pct(run.ValBAccuracy)
		}
		rows = append(rows, row{"Final training", fmt.Sprintf("%d runs of %d epochs from scratch; validation B %s; run %d kept (validation A %s)",
			len(f.Runs), f.Epochs, strings.Join(runs, " / "), f.Chosen+1, pct(f.Runs[f.Chosen].ValAccuracy))})
	}
	prec := b.Precision
	if prec == "" {
		prec = "float32"
	}
	rows = append(rows, row{"Precision on the edge", prec})
	if q := b.Quantized; q != nil {
		qm := q.Model
		if qm == "" {
			qm = "not saved"
		}
		rows = append(rows, row{"Quantization", fmt.Sprintf("int%d weights per output channel, int8 activations, by %s; scores below are the integer network's; its float weights: test accuracy %s, balanced %s; integer model file %s",
			q.WeightBits, strings.ToUpper(q.Method), pct(q.FloatTestAccuracy), pct(q.FloatTestBalancedAccuracy), qm)})
	}
	return append(rows, []row{
		{"Test accuracy", pct(b.TestAccuracy)},
		{"Test macro-F1", fmt.Sprintf("%.4f", b.TestMacroF1)},
		{"Test balanced accuracy (mean recall)", pct(b.TestBalancedAccuracy)},
		{"Test per class: sensitivity / positive predictivity (support)", perClass(b.TestPerClass)},
		{"Parameters", count(b.Params)},
		{"MACs", count(b.MACs)},
		{"Flash on the edge", byteSize(int64(b.FlashBytes))},
		{"RAM on the edge", byteSize(int64(b.RAMBytes))},
		{"E_edge per inference", energy(b.EEdge) + " mJ"},
		{"E_total per inference", energy(b.ETotal) + " mJ"},
		{"Model file", model},
	}...)
}

// perClass lists each class's sensitivity and positive predictivity, AAMI
// EC57 style, with its support.
func perClass(cs []nn.ClassScores) string {
	if len(cs) == 0 {
		return "not recorded"
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s %s / %s (%d)", c.Class, pct(c.Sensitivity), pct(c.PositivePredictivity), c.Support)
	}
	return strings.Join(parts, " · ")
}

// partitionSummary says what runs where at the best model's split point.
func partitionSummary(b *search.Best) string {
	L := len(b.Layers)
	s := fmt.Sprintf("P = %d", b.Partition)
	switch {
	case L == 0:
	case b.Partition == 0:
		s += ": the edge only samples and sends the raw input; every layer runs on the fog"
	case b.Partition >= L:
		s += fmt.Sprintf(": all %d layers on the edge; it sends the class scores", L)
	default:
		s += fmt.Sprintf(": layers 1–%d on the edge, %d–%d on the fog", b.Partition, b.Partition+1, L)
	}
	if b.Partition >= 0 && b.Partition < len(b.Partitions) {
		pt := b.Partitions[b.Partition]
		s += fmt.Sprintf(" (sends %s: %s B in %d packet", pt.Tensor, count(pt.SendBytes), pt.Packets)
		if pt.Packets != 1 {
			s += "s"
		}
		s += ")"
	}
	return s
}

func countCandidates(cands []search.Candidate) counts {
	n := counts{All: len(cands), Front: len(search.ParetoFront(cands))}
	for _, c := range cands {
		switch c.Status {
		case search.Valid:
			n.Valid++
		case search.OverEnergy:
			n.OverEnergy++
		case search.Abandoned:
			n.Abandoned++
		}
		if c.Status != search.Abandoned && !c.HasScores() {
			n.Unplotted++
		}
	}
	return n
}

func splitRows(b *search.Best) []splitRow {
	if b == nil {
		return nil
	}
	rows := make([]splitRow, len(b.Partitions))
	for i, pt := range b.Partitions {
		rows[i] = splitRow{
			P: pt.P, Tensor: pt.Tensor, Send: count(pt.SendBytes),
			Flash: count(pt.FlashBytes), RAM: count(pt.RAMBytes),
			Comp: energy(pt.ECompEdge), Comm: energy(pt.ECommEdge), Edge: energy(pt.EEdge),
			Fog: energy(pt.EFog), Sum: energy(pt.ETotal),
			Valid: pt.Valid, Chosen: pt.P == b.Partition, Why: pt.Why,
		}
	}
	return rows
}

// confusionTable labels the test confusion matrix with the class names
// (or "class i" where the settings have none).
func confusionTable(r *search.Result) *confusion {
	if r.Best == nil || len(r.Best.TestConfusion) == 0 {
		return nil
	}
	m := r.Best.TestConfusion
	name := func(i int) string {
		if i < len(r.Settings.Classes) {
			return r.Settings.Classes[i]
		}
		return fmt.Sprintf("class %d", i)
	}
	t := &confusion{}
	for i := range m {
		t.Classes = append(t.Classes, name(i))
	}
	for i, cells := range m {
		cr := confusionRow{Class: name(i), Cells: cells, Recall: "–"}
		for _, n := range cells {
			cr.Total += n
		}
		if cr.Total > 0 && i < len(cells) {
			cr.Recall = pct(float64(cells[i]) / float64(cr.Total))
		}
		t.Rows = append(t.Rows, cr)
	}
	return t
}

// topTable ranks the trained candidates by validation accuracy A, then B,
// then lower energy, then ID, and keeps the first topCandidates.
func topTable(cands []search.Candidate) []topRow {
	var trained []search.Candidate
	for _, c := range cands {
		if c.HasScores() {
			trained = append(trained, c)
		}
	}
	sort.SliceStable(trained, func(i, j int) bool {
		a, b := trained[i], trained[j]
		switch {
		case a.ValAccuracy != b.ValAccuracy:
			return a.ValAccuracy > b.ValAccuracy
		case a.ValBAccuracy != b.ValBAccuracy:
			return a.ValBAccuracy > b.ValBAccuracy
		case a.Energy != b.Energy:
			return a.Energy < b.Energy
		}
		return a.ID < b.ID
	})
	onFront := map[int]bool{}
	for _, c := range search.ParetoFront(cands) {
		onFront[c.ID] = true
	}
	rows := make([]topRow, 0, topCandidates)
	for i, c := range trained {
		if i == topCandidates {
			break
		}
		rows = append(rows, topRow{Rank: i + 1, Candidate: c, Front: onFront[c.ID]})
	}
	return rows
}

// paretoRows lists an nsga2 result's Pareto set by energy, or returns nil.
func paretoRows(r *search.Result) *paretoTable {
	p := r.Pareto
	if p == nil {
		return nil
	}
	t := &paretoTable{Objectives: strings.Join(p.Objectives, ", "), Note: p.Note, Scenario: r.Settings.Scenario}
	for _, m := range p.Members {
		model := m.Model
		if model == "" {
			model = "not saved"
		}
		t.Rows = append(t.Rows, paretoRow{
			ID: m.Candidate, Arch: m.Arch, P: m.Partition, EnergyMJ: m.EnergyMJ, ValA: m.ValAccuracy, ValB: m.ValBAccuracy,
			Energy: energy(m.EnergyMJ), Flash: count(m.FlashBytes), RAM: count(m.RAMBytes),
			ValAText: pct(m.ValAccuracy), ValBText: pct(m.ValBAccuracy), Test: pct(m.TestAccuracy), Model: model,
			Best: r.Best != nil && r.Best.Arch == m.Arch && r.Best.Partition == m.Partition,
		})
	}
	return t
}

// pct formats a fraction as a percentage.
func pct(v float64) string { return fmt.Sprintf("%.2f %%", 100*v) }

// energy formats millijoules with four significant digits.
func energy(mj float64) string { return strconv.FormatFloat(mj, 'g', 4, 64) }

// count formats an integer with thousands separators: 37,685,125.
func count(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// byteSize formats a size in bytes, with KiB or MiB when large.
func byteSize(n int64) string {
	s := count(int(n)) + " B"
	switch {
	case n >= 1<<20:
		s += fmt.Sprintf(" (%.1f MiB)", float64(n)/(1<<20))
	case n >= 1<<10:
		s += fmt.Sprintf(" (%.1f KiB)", float64(n)/(1<<10))
	}
	return s
}

// seconds formats a duration given in seconds, to the second.
func seconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"pct": pct, "energy": energy, "count": count, "seconds": seconds,
	"share":   func(v float64) string { return fmt.Sprintf("%.0f %%", 100*v) },
	"fitness": func(v float64) string { return fmt.Sprintf("%.4f", v) },
}).Parse(pageHTML))
