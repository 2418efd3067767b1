package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/hw"
)

// calibrateModels are the coefficients of the synthetic measurements.
var calibrateModels = map[string]hw.LatencyModel{
	"conv1d": {PerMAC: 8.5, PerInput: 0.75, PerOutput: 14, Fixed: 310},
	"dense":  {PerMAC: 6.25, PerInput: 1.5, PerOutput: 20, Fixed: 150},
}

// writeCalibrationCSV writes exact measurements of conv1d and dense layers
// drawn from the search space's shapes, with an extra column.
func writeCalibrationCSV(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("kind,l_in,c_in,l_out,c_out,kernel,stride,precision,cycles\n")
	lengths := []int{2048, 512, 128, 32, 8}
	row := func(l arch.Layer) {
		c := calibrateModels[l.Kind.String()].Cycles(l)
		fmt.Fprintf(&b, "%s,%d,%d,%d,%d,%d,%d,float32,%v\n", l.Kind, l.In.Len, l.In.Ch, l.Out.Len, l.Out.Ch, l.Kernel, l.Stride, c)
	}
	for i, in := range lengths {
		for _, out := range lengths[i:] {
			for ci := 1; ci <= 4; ci += 3 {
				for co := 1; co <= 4; co++ {
					l := arch.Layer{Kind: arch.Conv, In: arch.Shape{Len: in, Ch: ci}, Out: arch.Shape{Len: out, Ch: co}, Kernel: 3, Stride: 1}
					if in != out {
						l.Stride = in / out
						l.Kernel = l.Stride
					}
					row(l)
				}
			}
		}
		for classes := 2; classes <= 6; classes += 2 {
			row(arch.Layer{Kind: arch.Dense, In: arch.Shape{Len: in, Ch: 1 + i%4}, Out: arch.Shape{Len: classes, Ch: 1}})
		}
	}
	path := filepath.Join(t.TempDir(), "lat.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runBoth executes the command in-process and returns stdout and stderr.
func runBoth(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestCalibrateFit(t *testing.T) {
	csv := writeCalibrationCSV(t)
	out := filepath.Join(t.TempDir(), "my-board.toml")
	stdout, stderr, err := runBoth(t, "calibrate", "fit", "--csv", csv, "--out", out, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if raw["profile"] != out {
		t.Errorf("profile %v, want %s", raw["profile"], out)
	}
	kinds, _ := raw["kinds"].([]any)
	if len(kinds) != 2 {
		t.Fatalf("kinds %v, want conv1d and dense", raw["kinds"])
	}
	for _, k := range kinds {
		obj := k.(map[string]any)
		for _, f := range []string{"kind", "n", "r2", "rmse_cycles", "median_rel_err", "p95_rel_err", "coefficients", "residuals"} {
			if _, ok := obj[f]; !ok {
				t.Errorf("kind %v: no field %s", obj["kind"], f)
			}
		}
		for _, f := range hw.FeatureNames() {
			if _, ok := obj["coefficients"].(map[string]any)[f]; !ok {
				t.Errorf("kind %v: no coefficient %s", obj["kind"], f)
			}
		}
	}
	var rep calibrateReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Kinds[0].Kind != "conv1d" || rep.Kinds[1].Kind != "dense" || len(rep.Kinds[0].Residuals) != rep.Kinds[0].N {
		t.Errorf("kinds %+v", rep.Kinds)
	}
	for _, k := range rep.Kinds {
		if math.Abs(k.R2-1) > 1e-9 {
			t.Errorf("%s: R² %v on exact data", k.Kind, k.R2)
		}
	}
	if strings.Join(rep.Kept, ",") != "conv1d_transpose,maxpool1d" {
		t.Errorf("kept %v, want conv1d_transpose and maxpool1d", rep.Kept)
	}
	if !strings.Contains(stderr, "conv1d_transpose,maxpool1d") {
		t.Errorf("stderr does not say which kinds keep the base model:\n%s", stderr)
	}

	p, err := hw.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	base, err := hw.Load(hw.DefaultProfile)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "my-board" {
		t.Errorf("profile name %q, want my-board", p.Name)
	}
	for _, kind := range slices.Sorted(maps.Keys(calibrateModels)) {
		got, w := p.Edge.Latency[kind].Coefficients(), calibrateModels[kind].Coefficients()
		for j := range got {
			if math.Abs(got[j]-w[j]) > 1e-6*math.Abs(w[j]) {
				t.Errorf("%s.%s = %v, want %v", kind, hw.FeatureNames()[j], got[j], w[j])
			}
		}
	}
	for _, kind := range rep.Kept {
		if p.Edge.Latency[kind] != base.Edge.Latency[kind] {
			t.Errorf("%s: %+v, want the base's %+v", kind, p.Edge.Latency[kind], base.Edge.Latency[kind])
		}
	}
	if p.Edge.ClockHz != base.Edge.ClockHz || p.Radio != base.Radio || p.Fog.Factor != base.Fog.Factor {
		t.Errorf("fitting changed more than the latency models: %+v", p)
	}
	text, _ := os.ReadFile(out)
	if !strings.HasPrefix(string(text), "# ") || !strings.Contains(string(text), csv) || !strings.Contains(string(text), "splitnas calibrate fit") {
		t.Errorf("profile comment does not name the CSV and the command:\n%s", text)
	}

	// The table names the kinds and coefficients; a file base works too.
	table, err := run(t, "calibrate", "fit", "--csv", csv, "--out", filepath.Join(t.TempDir(), "again.toml"), "--profile", out)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"kind", "per_mac", "conv1d", "dense", "1.0000", "again.toml"} {
		if !strings.Contains(table, w) {
			t.Errorf("table lacks %q:\n%s", w, table)
		}
	}
}

func TestCalibrateFitErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.csv")
	os.WriteFile(garbage, []byte("kind,l_in,c_in,l_out,c_out,kernel,stride,cycles\nconv1d,2048,1,128,2,16,16,40904\nconv1d,128,2,128,4,3,1,lots\n"), 0o644)
	few := filepath.Join(dir, "few.csv")
	os.WriteFile(few, []byte("kind,l_in,c_in,l_out,c_out,kernel,stride,cycles\nconv1d,2048,1,128,2,16,16,40904\n"), 0o644)
	out := filepath.Join(dir, "out.toml")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"calibrate", "fit", "--out", out}, []string{`"csv"`}},
		{[]string{"calibrate", "fit", "--csv", garbage}, []string{`"out"`}},
		{[]string{"calibrate", "fit", "--csv", garbage, "--out", out}, []string{"garbage.csv line 3, column cycles", `"lots"`}},
		{[]string{"calibrate", "fit", "--csv", few, "--out", out}, []string{"few.csv", "conv1d", "1 measurements, need at least 5"}},
		{[]string{"calibrate", "fit", "--csv", filepath.Join(dir, "none.csv"), "--out", out}, []string{"--csv", "none.csv"}},
		{[]string{"calibrate", "fit", "--csv", garbage, "--out", out, "--profile", "nosuch"}, []string{"--profile", "nosuch"}},
		{[]string{"calibrate", "fit", "--csv", writeCalibrationCSV(t), "--out", filepath.Join(dir, "no", "dir", "p.toml")}, []string{"--out", "p.toml"}},
	} {
		_, err := run(t, c.args...)
		if err == nil {
			t.Errorf("%v: no error", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not contain %q", c.args, err, w)
			}
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed calibration wrote a profile")
	}
}
