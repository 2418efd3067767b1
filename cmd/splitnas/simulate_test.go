package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const walkingAway = "../../examples/traces/walking-away.csv"

type simulateJSON struct {
	Rows []struct {
		TimeS    float64 `json:"time_s"`
		Adaptive int     `json:"adaptive_split"`
		EA       float64 `json:"e_adaptive_mj"`
		EF       float64 `json:"e_fixed_mj"`
		EN       float64 `json:"e_nominal_mj"`
	} `json:"rows"`
	FixedSplit    int     `json:"fixed_split"`
	NominalSplit  int     `json:"nominal_split"`
	TotalAdaptive float64 `json:"total_adaptive_mj"`
	TotalFixed    float64 `json:"total_fixed_mj"`
	TotalNominal  float64 `json:"total_nominal_mj"`
	MeanAdaptive  float64 `json:"mean_adaptive_mj"`
	Policy        struct {
		Pmax int `json:"pmax"`
		Rows []struct {
			Split int `json:"split"`
		} `json:"rows"`
	} `json:"policy"`
}

func TestSimulate(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"typical", []string{"--arch", "2048x1-128x2-8x4-64x2-5"}},
		{"mitdb winner int8", []string{"--arch", "256x1-16x3-512x2-16x2-512x4-512x1-256x4-5/o2", "--profile", "stm32l476-int8"}},
		{"total scenario", []string{"--arch", "256x1-16x3-512x2-16x2-512x4-512x1-256x4-5/o2", "--scenario", "total"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, append([]string{"simulate", "--trace", walkingAway, "--json"}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			var r simulateJSON
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if len(r.Rows) != 120 || len(r.Policy.Rows) != 120 {
				t.Fatalf("%d rows, %d policy rows; want 120, 120", len(r.Rows), len(r.Policy.Rows))
			}
			var a, f, n float64
			for _, row := range r.Rows {
				a, f, n = a+row.EA, f+row.EF, n+row.EN
				if row.Adaptive > r.Policy.Pmax {
					t.Errorf("t=%v: split %d > Pmax %d", row.TimeS, row.Adaptive, r.Policy.Pmax)
				}
			}
			if r.TotalAdaptive != a || r.TotalFixed != f || r.TotalNominal != n {
				t.Errorf("totals %v/%v/%v, sums of the rows %v/%v/%v", r.TotalAdaptive, r.TotalFixed, r.TotalNominal, a, f, n)
			}
			if math.Abs(r.MeanAdaptive-a/120) > 1e-15 || !(a <= f && f <= n) {
				t.Errorf("mean %v; adaptive %v, fixed %v, nominal %v: want adaptive ≤ fixed ≤ nominal", r.MeanAdaptive, a, f, n)
			}
		})
	}
	out, err := run(t, "simulate", "--arch", "2048x1-128x2-8x4-64x2-5", "--trace", walkingAway)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"120 inferences", "best fixed P=4", "adaptive P", "coded-s8", "Pmax = 4"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestSimulateBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badPHY := write("phy.csv", "time_s,phy,tx_dbm,retransmission_rate\n0,1M,0,0\n1,LE3M,0,0\n")
	badR := write("r.csv", "time_s,phy,tx_dbm,retransmission_rate\n0,1M,0,1.5\n")
	noCol := write("col.csv", "time_s,phy,tx_dbm\n0,1M,0\n")
	badNum := write("num.csv", "time_s,phy,tx_dbm,retransmission_rate\n0,1M,+4dBm,0\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--arch", "2048x1-5", "--trace", badPHY}, "--trace: " + badPHY + `:3: column phy: unknown PHY "LE3M"`},
		{[]string{"--arch", "2048x1-5", "--trace", badR}, badR + ":2: column retransmission_rate: must be in [0, 1), got 1.5"},
		{[]string{"--arch", "2048x1-5", "--trace", noCol}, noCol + ":1: column retransmission_rate: missing column"},
		{[]string{"--arch", "2048x1-5", "--trace", badNum}, badNum + `:2: column tx_dbm: "+4dBm" is not a finite number`},
		{[]string{"--arch", "2048x1-5", "--trace", filepath.Join(dir, "none.csv")}, "--trace: open"},
		{[]string{"--arch", "2048x1-5"}, "--trace is required"},
		{[]string{"--trace", walkingAway}, "give --arch or --model"},
		{[]string{"--arch", "2048x1-5", "--model", "m.snnm", "--trace", walkingAway}, "not both"},
		{[]string{"--arch", "2048x1-5", "--trace", walkingAway, "--profile", "esp32"}, "has no link model"},
		{[]string{"--arch", "2048x1-5", "--trace", walkingAway, "--retrans", "-0.1"}, "--retrans -0.1"},
	} {
		if _, err := run(t, append([]string{"simulate"}, c.args...)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("simulate %v: %v, want %q", c.args, err, c.want)
		}
	}
}

func TestSimulateModel(t *testing.T) {
	model := trainedModel(t)
	q := filepath.Join(t.TempDir(), "m.snqm")
	if _, err := run(t, "quantize", "--model", model, "--out", q); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ model, profile string }{{model, "stm32l476"}, {q, "stm32l476-int8"}} {
		out, err := run(t, "simulate", "--model", c.model, "--trace", walkingAway, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Arch    string `json:"arch"`
			Profile string `json:"profile"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if r.Arch != "2048x1-128x2-8x4-64x2-5" || r.Profile != c.profile {
			t.Errorf("%s: arch %s on %s, want 2048x1-128x2-8x4-64x2-5 on %s", c.model, r.Arch, r.Profile, c.profile)
		}
	}
}
