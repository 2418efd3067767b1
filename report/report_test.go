package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/partition"
	"github.com/splitnas/splitnas/search"
)

func cand(id int, status search.Status, acc, energy float64) search.Candidate {
	return search.Candidate{ID: id, Arch: fmt.Sprintf("a%d", id), Status: status, ValAccuracy: acc, Energy: energy}
}

// synthetic returns a result with n candidates (every 7th abandoned,
// every 5th over the energy limit, energies over three decades), gens
// generations and a best model split as partition.Evaluate splits it, with
// a Flash limit that makes the last split point invalid.
func synthetic(t testing.TB, n, gens int) *search.Result {
	t.Helper()
	const archText = "2048x1-128x2-8x4-64x2-5"
	net, err := arch.Parse(archText, arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	prof, err := hw.Load("stm32l476")
	if err != nil {
		t.Fatal(err)
	}
	lim := partition.Limits{FlashBytes: 1000}
	tab, err := partition.Evaluate(net, prof, partition.Edge, lim)
	if err != nil {
		t.Fatal(err)
	}
	pt, ok := tab.BestPoint()
	if !ok {
		t.Fatal("no valid split point")
	}
	classes := []string{"N", "<script>alert(1)</script>", "V", "F", "Q"}
	r := &search.Result{
		Settings: search.Settings{
			Strategy: "joint", Data: "mitdb & <friends>", Classes: classes, Profile: prof.Name,
			Scenario: "edge", FogFactor: 10, FlashLimit: lim.FlashBytes, RAMLimit: 131072,
			EnergyLimitMJ: 0.5, Population: 10, Generations: gens, Epochs: 3, Batch: 64, LR: 1e-3,
			Elite: 2, Tournament: 3, CrossoverRate: 0.9, MutationRate: 0.1, Seed: 7,
			Space: "input 2048x1, 4 slots",
		},
		Seconds: 3723.4,
	}
	for i := range n {
		c := search.Candidate{
			ID: i, Generation: i * max(gens, 1) / max(n, 1), Arch: fmt.Sprintf("2048x1-%dx%d-5", 16*(i%9+1), i%4+1),
			Status: search.Valid, Params: 1000 + 37*i, MACs: 50000 + 101*i, Partition: i % 5,
			Energy: 0.01 * math.Pow(10, 3*float64((i*37)%n)/float64(n)), // 0.01 … 10 mJ
		}
		c.ValAccuracy = 0.5 + 0.45*math.Sin(float64(i)*0.7)*math.Sin(float64(i)*0.7)
		c.ValBAccuracy = c.ValAccuracy - 0.01
		switch {
		case i%7 == 3:
			c.Status, c.Why, c.ValAccuracy, c.ValBAccuracy, c.Energy = search.Abandoned, "RAM 200000 B > limit 131072 B", 0, 0, 0
		case i%5 == 4:
			c.Status, c.Why = search.OverEnergy, "energy over the limit"
		}
		r.Candidates = append(r.Candidates, c)
	}
	for g := range gens {
		r.History = append(r.History, search.Generation{
			Index: g, Trained: max(10-g, 1), Abandoned: g % 3, BestFitness: 0.95 - 0.25/float64(g+1), MedianFitness: 0.6,
			BestValAccuracy: 0.95 - 0.25/float64(g+1), MeanValAccuracy: 0.9 - 0.35/float64(g+1), ValidShare: 0.8,
			BestArch: archText, Seconds: 12.5,
		})
	}
	r.Best = &search.Best{
		Arch: archText, Partition: pt.P, ValAccuracy: 0.93, ValBAccuracy: 0.92, TestAccuracy: 0.91, TestMacroF1: 0.88,
		Params: net.Params(), MACs: net.MACs(), FlashBytes: pt.FlashBytes, RAMBytes: pt.RAMBytes,
		EEdge: pt.EEdge, ETotal: pt.ETotal, Layers: tab.Layers, Partitions: tab.Points, Model: "best.model",
		TestConfusion: [][]int{
			{90, 2, 3, 4, 1}, {5, 80, 5, 5, 5}, {1, 1, 95, 2, 1}, {0, 10, 0, 88, 2}, {0, 0, 0, 0, 100},
		},
	}
	return r
}

func render(t testing.TB, r *search.Result) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var svgElement = regexp.MustCompile(`(?s)<svg[ >].*?</svg>`)

// checkPage checks that page is well-formed enough for a browser and an
// XML parser, has wantSVG <svg> elements that are each well-formed XML,
// and links to nothing.
func checkPage(t *testing.T, page string, wantSVG int) {
	t.Helper()
	if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.Contains(page, "</html>") {
		t.Error("not a complete HTML page")
	}
	// The whole page, as HTML: elements must nest.
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	var stack []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("page does not parse: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			stack = append(stack, e.Name.Local)
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1] != e.Name.Local {
				t.Fatalf("</%s> closes %v", e.Name.Local, stack)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements %v", stack)
	}
	// Each SVG, strictly.
	svgs := svgElement.FindAllString(page, -1)
	if n := strings.Count(page, "<svg"); len(svgs) != wantSVG || n != wantSVG {
		t.Errorf("%d <svg> elements (%d complete), want %d", n, len(svgs), wantSVG)
	}
	for i, s := range svgs {
		d := xml.NewDecoder(strings.NewReader(s))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("svg %d is not well-formed XML: %v", i, err)
			}
		}
	}
	if strings.Contains(page, "<?xml") {
		t.Error("page contains an XML prolog")
	}
	if strings.Contains(strings.ToLower(page), "<script") {
		t.Error("page contains a <script> element")
	}
	rest := strings.NewReplacer(`xmlns="http://www.w3.org/2000/svg"`, "",
		`xmlns:xlink="http://www.w3.org/1999/xlink"`, "").Replace(page)
	if i := strings.Index(rest, "://"); i >= 0 {
		t.Errorf("page links out: %q", rest[max(0, i-40):min(len(rest), i+40)])
	}
}

func TestWrite(t *testing.T) {
	r := synthetic(t, 30, 4)
	page := render(t, r)
	checkPage(t, page, 4)
	for _, want := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt;", // the class name, escaped
		"mitdb &amp; &lt;friends&gt;",
		"2048x1-128x2-8x4-64x2-5",
		"P = 2", // the chosen split point
		"best.model",
		"Pareto front",
		"4 abandoned candidates have no accuracy", // i%7 == 3 for i < 30: 3, 10, 17, 24
		"← edge", "fog →",
		"no: Flash 3508 B &gt; limit 1000 B", // the invalid split point, in partition's words
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The log scale: energies span three decades.
	if !strings.Contains(page, ">0.01<") && !strings.Contains(page, ">0.1<") {
		t.Error("no log-scale tick labels on the energy axis")
	}
	// The top table lists 20 rows.
	if n := strings.Count(page, `<td class="mono">2048x1-`); n < 20 {
		t.Errorf("%d architecture cells, want at least 20 in the top table", n)
	}
}

func TestWriteWithoutBestOrHistory(t *testing.T) {
	r := synthetic(t, 12, 0)
	r.Best = nil
	page := render(t, r)
	checkPage(t, page, 1) // only accuracy against energy
	for _, want := range []string{"No valid model", "No generations recorded", "No best model to draw"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}

	page = render(t, &search.Result{})
	checkPage(t, page, 0)
	if !strings.Contains(page, "No trained candidates") {
		t.Error("empty result: no message about candidates")
	}

	// Only abandoned candidates.
	r = &search.Result{Candidates: []search.Candidate{cand(0, search.Abandoned, 0, 0)}}
	checkPage(t, render(t, r), 0)

	if err := Write(io.Discard, nil); err == nil {
		t.Error("nil result accepted")
	}
}

// A result read back from result.json has no layer shapes except the
// strings; the page is the same.
func TestWriteAfterJSON(t *testing.T) {
	r := synthetic(t, 20, 3)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back search.Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got, want := render(t, &back), render(t, r); got != want {
		t.Error("the page differs after a JSON round trip")
	}
}

func TestWriteScenarios(t *testing.T) {
	r := synthetic(t, 25, 1)
	r.Settings.Scenario, r.Settings.FogDevice, r.Settings.EnergyLimitMJ = "total", "Raspberry Pi 4 B", 0
	r.Best.Partition = 0
	checkPage(t, render(t, r), 4)
	// Energies within two decades: linear axis.
	for i := range r.Candidates {
		r.Candidates[i].Energy = 1 + float64(i%5)
	}
	r.Best.Partition = len(r.Best.Layers)
	checkPage(t, render(t, r), 4)
}

func TestWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.html")
	r := synthetic(t, 10, 2)
	if err := WriteFile(path, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != render(t, r) {
		t.Error("file differs from Write's output")
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "missing", "report.html"), r); err == nil {
		t.Error("writing into a missing folder succeeded")
	}
}

func TestPageSize(t *testing.T) {
	page := render(t, synthetic(t, 200, 20))
	checkPage(t, page, 4)
	t.Logf("page for 200 candidates, 20 generations: %d bytes", len(page))
	if len(page) > 1<<20 {
		t.Errorf("page is %d bytes, want under 1 MiB", len(page))
	}
}

func BenchmarkWrite200(b *testing.B) {
	r := synthetic(b, 200, 20)
	var n int
	for b.Loop() {
		var buf bytes.Buffer
		if err := Write(&buf, r); err != nil {
			b.Fatal(err)
		}
		n = buf.Len()
	}
	b.ReportMetric(float64(n), "bytes/page")
}

func TestFormat(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 37685125: "37,685,125", -1234: "-1,234"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
	if got := byteSize(131072); got != "131,072 B (128.0 KiB)" {
		t.Errorf("byteSize = %q", got)
	}
	if got := seconds(3723.4); got != "1h2m3s" {
		t.Errorf("seconds = %q", got)
	}
}

// A final training is shown with each run's validation-B accuracy and the
// run that was kept; without one, no such row appears.
func TestWriteFinalTraining(t *testing.T) {
	r := synthetic(t, 12, 2)
	if page := render(t, r); strings.Contains(page, "Final training") {
		t.Error("a result without final training shows a final-training row")
	}
	r.Best.Final = &search.Final{Epochs: 60, Chosen: 1, Runs: []search.FinalRun{
		{Seed: 1, BestEpoch: 40, ValAccuracy: 0.9, ValBAccuracy: 0.91},
		{Seed: 2, BestEpoch: 55, ValAccuracy: 0.92, ValBAccuracy: 0.93},
	}}
	page := render(t, r)
	checkPage(t, page, 4)
	if want := "2 runs of 60 epochs from scratch; validation B 91.00 % / 93.00 %; run 2 kept (validation A 92.00 %)"; !strings.Contains(page, want) {
		t.Errorf("page lacks %q", want)
	}
}

// A quantized winner shows its precision, the method, and its float
// weights' test accuracy beside the integer network's.
func TestWriteQuantized(t *testing.T) {
	r := synthetic(t, 12, 2)
	if page := render(t, r); !strings.Contains(page, "float32") || strings.Contains(page, "Quantization") {
		t.Error("a float result does not say float32, or shows a quantization row")
	}
	r.Best.Precision = "int4"
	r.Best.Quantized = &search.Quantized{Precision: "int4", WeightBits: 4, Method: "qat", FloatTestAccuracy: 0.925, FloatTestBalancedAccuracy: 0.9, Model: "best.snqm"}
	page := render(t, r)
	checkPage(t, page, 4)
	if want := "int4 weights per output channel, int8 activations, by QAT; scores below are the integer network&#39;s; its float weights: test accuracy 92.50 %"; !strings.Contains(page, want) {
		t.Errorf("page lacks %q", want)
	}
}

// The best model's per-class test scores are shown, AAMI EC57 style.
func TestWritePerClass(t *testing.T) {
	r := synthetic(t, 12, 2)
	r.Best.TestBalancedAccuracy = 0.8125
	r.Best.TestPerClass = []nn.ClassScores{
		{Class: "N", Support: 90, Sensitivity: 0.9, PositivePredictivity: 0.99},
		{Class: "S", Support: 10, Sensitivity: 0.725, PositivePredictivity: 0.4},
	}
	page := render(t, r)
	for _, want := range []string{"81.25 %", "N 90.00 % / 99.00 % (90) · S 72.50 % / 40.00 % (10)"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// An nsga2 result shows its Pareto set: the members on the chart, a table
// by energy with the budget input and its script; other results do not.
func TestWritePareto(t *testing.T) {
	r := synthetic(t, 20, 2)
	if page := render(t, r); strings.Contains(page, `id="pareto"`) || strings.Contains(page, "<script>") {
		t.Error("a joint result shows a Pareto-set section")
	}
	r.Settings.Strategy = "nsga2"
	r.Pareto = &search.Pareto{Objectives: []string{"accuracy", "energy"}, Found: 5, Max: 3, Capped: true,
		Note: "the Pareto set had 5 members; the 3 most spread out were finished"}
	for i, e := range []float64{0.01, 0.05, 0.2} {
		m := search.ParetoMember{Candidate: 10 + i, EnergyMJ: e, Best: *r.Best}
		m.Arch = fmt.Sprintf("2048x1-<m%d>-5", i)
		m.ValAccuracy, m.ValBAccuracy, m.TestAccuracy = 0.6+0.1*float64(i), 0.55+0.1*float64(i), 0.5+0.1*float64(i)
		m.Model = search.ParetoModelFile(10 + i)
		r.Pareto.Members = append(r.Pareto.Members, m)
	}
	page := render(t, r)
	// The one script (the budget input's) is the only one allowed; it
	// holds no '<' or '&', so the page parses as XML with it too.
	scripts := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindAllStringSubmatch(page, -1)
	if len(scripts) != 1 || strings.ContainsAny(scripts[0][1], "<&") {
		t.Fatalf("%d scripts, want 1 without '<' or '&'", len(scripts))
	}
	checkPage(t, strings.Replace(page, scripts[0][0], "", 1), 4)
	for _, want := range []string{
		`<section id="pareto">`, "Pareto set members (3)", `<input id="budget"`, "<script>",
		"the 3 most spread out were finished",
		`data-id="11" data-e="0.05" data-a="0.7" data-b="0.65"`,
		"2048x1-&lt;m2&gt;-5", "pareto-12.model", "70.00 %",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// By energy, in the order of the set.
	if a, b := strings.Index(page, `data-id="10"`), strings.Index(page, `data-id="12"`); a < 0 || b < a {
		t.Error("Pareto rows not in energy order")
	}
}
