package report

// pageHTML is the page template: one section per part of the report.
const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto; padding: 1em 2em 3em; max-width: 1150px; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { width: 18em; font-weight: normal; color: #555; }
.mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.95em; }
.warn { background: #fff3cd; border: 1px solid #e0c36c; padding: 0.6em 0.9em; }
.note { color: #555; font-size: 0.9em; }
tr.chosen td { font-weight: bold; background: #fdecea; }
tr.invalid td { color: #999; }
td.diag { background: #e3f1e3; font-weight: bold; }
figure { margin: 1em 0; }
figure svg { max-width: 100%; height: auto; }
figure svg text { font-family: "Liberation Sans", Arial, Helvetica, sans-serif !important; }
figcaption { color: #555; font-size: 0.9em; max-width: 60em; }
.scroll { overflow-x: auto; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>

<section id="settings">
<h2>Settings</h2>
<table class="kv">
{{range .Settings}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
</section>

<section id="best">
<h2>Best model</h2>
{{if .Best}}<table class="kv">
{{range .Best}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
{{else}}<p class="warn">{{.NoBest}}</p>
{{end}}<p class="note">{{.Counts.All}} candidates: {{.Counts.Valid}} valid, {{.Counts.OverEnergy}} over the energy limit,
{{.Counts.Abandoned}} abandoned (no split point fits Flash or RAM, never trained).</p>
</section>

<section id="accuracy-energy">
<h2>Accuracy against energy</h2>
{{if .AccuracyEnergy}}<figure>
{{.AccuracyEnergy}}
<figcaption>Validation accuracy (half A, the search's fitness) against energy per inference (the scenario's objective, at
each candidate's split point) of every trained candidate. The green step line is the Pareto front
({{.Counts.Front}} candidates: none is both as accurate and cheaper); the red ring is the best model, at its final split
point. {{if .Counts.Abandoned}}{{.Counts.Abandoned}} abandoned candidates have no accuracy and are not shown.{{end}}
{{if .Counts.Unplotted}}{{.Counts.Unplotted}} candidates with a non-finite accuracy or energy are not shown.{{end}}</figcaption>
</figure>
{{else}}<p class="warn">No trained candidates to plot{{if .Counts.Abandoned}} ({{.Counts.Abandoned}} abandoned){{end}}.</p>
{{end}}</section>

{{with .Pareto}}<section id="pareto">
<h2>Pareto set</h2>
<p>The feasible candidates no other feasible candidate beats on every objective ({{.Objectives}}), each finished
as a single-objective search's winner: its own model file and one test evaluation. {{if .Note}}{{.Note}}.{{end}}
Type an energy budget to highlight the member <code>splitnas pick</code> chooses for it: the best validation
accuracy B (the selection score; never the test score) among the members within the budget.</p>
<p><label>Energy budget ({{.Scenario}} scenario, mJ per inference): <input id="budget" type="number" min="0" step="any" placeholder="e.g. 0.05"></label>
<span id="budget-note" class="note"></span></p>
<table id="pareto-table">
<tr><th class="num">id</th><th>architecture</th><th class="num">P</th><th class="num">energy mJ</th><th class="num">Flash B</th>
<th class="num">RAM B</th><th class="num">val A</th><th class="num">val B</th><th class="num">test</th><th>model</th></tr>
{{range .Rows}}<tr data-id="{{.ID}}" data-e="{{.EnergyMJ}}" data-a="{{.ValA}}" data-b="{{.ValB}}" data-arch="{{.Arch}}"{{if .Best}} class="chosen" data-best="1"{{end}}>
<td class="num">{{.ID}}</td><td class="mono">{{.Arch}}</td><td class="num">{{.P}}</td><td class="num">{{.Energy}}</td>
<td class="num">{{.Flash}}</td><td class="num">{{.RAM}}</td><td class="num">{{.ValAText}}</td><td class="num">{{.ValBText}}</td>
<td class="num">{{.Test}}</td><td class="mono">{{.Model}}</td></tr>
{{end}}</table>
<p class="note">By energy. Bold: the search's best without a budget, or, once a budget is typed, the member for it;
grey: over the budget.</p>
<script>
(function () {
  var input = document.getElementById("budget"), note = document.getElementById("budget-note");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#pareto-table tr[data-e]"));
  function num(r, k) { return parseFloat(r.getAttribute("data-" + k)); }
  // The script holds no less-than sign or ampersand, so that the page
  // stays well-formed for an XML parser too.
  function better(x, y) { // as splitnas pick: val B, then val A, then lower energy, then earlier candidate
    if (num(x, "b") !== num(y, "b")) return num(x, "b") > num(y, "b");
    if (num(x, "a") !== num(y, "a")) return num(x, "a") > num(y, "a");
    if (num(x, "e") !== num(y, "e")) return num(y, "e") > num(x, "e");
    return num(y, "id") > num(x, "id");
  }
  function update() {
    var b = parseFloat(input.value), best = null, cheapest = null;
    rows.forEach(function (r) {
      r.className = "";
      if (!cheapest || num(cheapest, "e") > num(r, "e")) cheapest = r;
      if (num(r, "e") > b) { r.className = "invalid"; return; } // false when no budget is typed (NaN)
      if (!best || better(r, best)) best = r;
    });
    if (!(b > 0)) {
      rows.forEach(function (r) { if (r.getAttribute("data-best")) r.className = "chosen"; });
      note.textContent = "";
    } else if (best) {
      best.className = "chosen";
      note.textContent = "best within " + b + " mJ: " + best.getAttribute("data-arch");
    } else if (cheapest) {
      note.textContent = "no member within " + b + " mJ; the cheapest needs " + num(cheapest, "e").toPrecision(4) + " mJ";
    }
  }
  input.addEventListener("input", update);
})();
</script>
</section>

{{end}}<section id="progress">
<h2>Progress per generation</h2>
{{if .History}}<figure>
{{.History}}
<figcaption>Best and mean validation accuracy (half A) of each generation's population.</figcaption>
</figure>
{{else}}<p class="warn">No generations recorded.</p>
{{end}}</section>

<section id="split-points">
<h2>Energy of the best network at each split point</h2>
{{if .Split}}<figure>
{{.Split}}
<figcaption>Split point P runs layers 1..P on the edge and sends tensor P (under the number) by radio; the fog runs the
rest. Bars: the edge's energy, compute plus radio; line: E_total, adding the fog's energy. Grey: the point does not fit
the Flash or RAM limit. * and the dashed line: the chosen point.</figcaption>
</figure>
<table>
<tr><th class="num">P</th><th>sends</th><th class="num">bytes</th><th class="num">Flash B</th><th class="num">RAM B</th>
<th class="num">E_comp_edge</th><th class="num">E_comm_edge</th><th class="num">E_edge</th><th class="num">E_fog</th>
<th class="num">E_total</th><th>valid</th></tr>
{{range .Partitions}}<tr class="{{if .Chosen}}chosen{{else if not .Valid}}invalid{{end}}"><td class="num">{{.P}}{{if .Chosen}} *{{end}}</td><td class="mono">{{.Tensor}}</td>
<td class="num">{{.Send}}</td><td class="num">{{.Flash}}</td><td class="num">{{.RAM}}</td><td class="num">{{.Comp}}</td>
<td class="num">{{.Comm}}</td><td class="num">{{.Edge}}</td><td class="num">{{.Fog}}</td><td class="num">{{.Sum}}</td>
<td>{{if .Valid}}yes{{else}}no: {{.Why}}{{end}}</td></tr>
{{end}}</table>
<p class="note">Energies in mJ per inference.</p>
{{else}}<p class="warn">No best model, so no split points to show.</p>
{{end}}</section>

<section id="network">
<h2>The best network</h2>
{{with .Network}}<div class="scroll">
<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="Layers of the best network and its split point">
<g font-family="Liberation Sans, Arial, Helvetica, sans-serif" text-anchor="middle" fill="#222">
{{range .Arrows}}<line x1="{{.X1}}" y1="{{.Y}}" x2="{{.X2}}" y2="{{.Y}}" stroke="#444" stroke-width="1.5"/><polygon points="{{.Head}}" fill="#444"/>
<text x="{{.LabelX}}" y="{{.KindY}}" font-size="12">{{.Kind}}</text><text x="{{.LabelX}}" y="{{.InfoY}}" font-size="11" fill="#666">{{.Info}}</text>
{{end}}{{range .Boxes}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" rx="4" {{if .Edge}}fill="#dbe9f6" stroke="#1f77b4"{{else}}fill="#fde5cc" stroke="#ff7f0e"{{end}}/>
<text x="{{.CX}}" y="{{.TextY}}" font-size="13" font-weight="bold">{{.Shape}}</text><text x="{{.CX}}" y="{{.NameY}}" font-size="11" fill="#666">{{.Name}}</text>
{{end}}{{with .Split}}<line x1="{{.X}}" y1="{{.Y1}}" x2="{{.X}}" y2="{{.Y2}}" stroke="#d62728" stroke-width="2" stroke-dasharray="6 4"/>
<text x="{{.X}}" y="{{.LabelY}}" dx="-8" text-anchor="end" font-size="13" font-weight="bold" fill="#1f77b4">← edge</text>
<text x="{{.X}}" y="{{.LabelY}}" dx="8" text-anchor="start" font-size="13" font-weight="bold" fill="#ff7f0e">fog →</text>
{{end}}</g>
</svg>
</div>
<p class="note">{{$.NetworkNote}}. Boxes are tensors (length × channels, height by log size), blue where the edge holds
them; arrows are layers.</p>
{{else}}<p class="warn">No best model to draw.</p>
{{end}}</section>

<section id="tables">
<h2>Tables</h2>

<h3>Generations</h3>
{{if .Generations}}<table>
<tr><th class="num">gen</th><th class="num">trained</th><th class="num">abandoned</th><th class="num">best fitness</th>
<th class="num">median fitness</th><th class="num">best val A</th><th class="num">mean val A</th><th class="num">valid</th>
<th>fittest architecture</th><th class="num">time</th></tr>
{{range .Generations}}<tr><td class="num">{{.Index}}</td><td class="num">{{.Trained}}</td><td class="num">{{.Abandoned}}</td>
<td class="num">{{fitness .BestFitness}}</td><td class="num">{{fitness .MedianFitness}}</td><td class="num">{{pct .BestValAccuracy}}</td>
<td class="num">{{pct .MeanValAccuracy}}</td><td class="num">{{share .ValidShare}}</td><td class="mono">{{.BestArch}}</td>
<td class="num">{{seconds .Seconds}}</td></tr>
{{end}}</table>
{{else}}<p class="warn">No generations recorded.</p>
{{end}}
<h3>Test confusion matrix</h3>
{{with .Confusion}}<table>
<tr><th>true \ predicted</th>{{range .Classes}}<th class="num">{{.}}</th>{{end}}<th class="num">total</th><th class="num">recall</th></tr>
{{range $i, $r := .Rows}}<tr><th>{{$r.Class}}</th>{{range $j, $n := $r.Cells}}<td class="num{{if eq $i $j}} diag{{end}}">{{count $n}}</td>{{end}}<td class="num">{{count $r.Total}}</td><td class="num">{{$r.Recall}}</td></tr>
{{end}}</table>
{{else}}<p class="warn">No best model, so no test scores.</p>
{{end}}
<h3>Top {{len .Top}} candidates by validation accuracy A</h3>
{{if .Top}}<table>
<tr><th class="num">#</th><th class="num">id</th><th class="num">gen</th><th>architecture</th><th>status</th><th class="num">P</th>
<th class="num">params</th><th class="num">energy mJ</th><th class="num">val A</th><th class="num">val B</th><th>Pareto</th></tr>
{{range .Top}}<tr><td class="num">{{.Rank}}</td><td class="num">{{.ID}}</td><td class="num">{{.Generation}}</td><td class="mono">{{.Arch}}</td>
<td{{if .Why}} title="{{.Why}}"{{end}}>{{.Status}}</td><td class="num">{{.Partition}}</td><td class="num">{{count .Params}}</td>
<td class="num">{{energy .Energy}}</td><td class="num">{{pct .ValAccuracy}}</td><td class="num">{{pct .ValBAccuracy}}</td>
<td>{{if .Front}}yes{{end}}</td></tr>
{{end}}</table>
{{else}}<p class="warn">No trained candidates.</p>
{{end}}</section>
</body>
</html>
`
