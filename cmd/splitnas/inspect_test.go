package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/hw"
)

// inspectJSON mirrors the documented JSON contract of `splitnas inspect`.
type inspectJSON struct {
	Layers []struct {
		Kind   string `json:"kind"`
		Shape  string `json:"shape"`
		Params int    `json:"params"`
		MACs   int    `json:"macs"`
	} `json:"layers"`
	Partitions []partitionJSON `json:"partitions"`
	Best       *partitionJSON  `json:"best"`
}

type partitionJSON struct {
	Point      int      `json:"point"`
	FlashBytes int      `json:"flash_bytes"`
	RAMBytes   int      `json:"ram_bytes"`
	ECompEdge  *float64 `json:"e_comp_edge_mj"`
	ECommEdge  *float64 `json:"e_comm_edge_mj"`
	EEdge      float64  `json:"e_edge_mj"`
	EFog       *float64 `json:"e_fog_mj"`
	ETotal     float64  `json:"e_total_mj"`
	Valid      bool     `json:"valid"`
}

func inspect(t *testing.T, args ...string) inspectJSON {
	t.Helper()
	out, err := run(t, append([]string{"inspect", "--json"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var r inspectJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("inspect --json printed no JSON object: %v\n%s", err, out)
	}
	return r
}

func TestInspectJSON(t *testing.T) {
	r := inspect(t, "--arch", "2048x1-128x2-8x4-64x2-5")
	if len(r.Layers) != 4 || len(r.Partitions) != 5 {
		t.Fatalf("%d layers, %d partitions; want 4, 5", len(r.Layers), len(r.Partitions))
	}
	if l := r.Layers[0]; l.Kind != "conv1d" || l.Shape != "2048x1->128x2" || l.Params != 34 || l.MACs != 4096 {
		t.Errorf("layer 1 = %+v", l)
	}
	p0 := r.Partitions[0]
	if p0.ECompEdge == nil || p0.ECommEdge == nil || p0.EFog == nil {
		t.Fatalf("partition fields missing: %+v", p0)
	}
	if math.Abs(p0.EEdge-1.37) > 0.005 || p0.RAMBytes != 8192 || p0.FlashBytes != 0 {
		t.Errorf("P=0: %+v, want E_edge ≈ 1.37 mJ, RAM 8192, Flash 0", p0)
	}
	if r.Best == nil {
		t.Fatal("no best")
	}
	for _, p := range r.Partitions {
		if p.Valid && p.EEdge < r.Best.EEdge {
			t.Errorf("best P=%d (%v mJ) but P=%d has %v mJ", r.Best.Point, r.Best.EEdge, p.Point, p.EEdge)
		}
	}
	// The total scenario with a fog as costly as the edge still reports a
	// consistent optimum.
	tot := inspect(t, "--arch", "2048x1-128x2-8x4-64x2-5", "--scenario", "total", "--fog-factor", "1")
	for _, p := range tot.Partitions {
		if p.Valid && p.ETotal < tot.Best.ETotal {
			t.Errorf("total: best P=%d (%v) but P=%d has %v", tot.Best.Point, tot.Best.ETotal, p.Point, p.ETotal)
		}
	}
}

func TestInspectVGG11(t *testing.T) {
	r := inspect(t, "--arch", "vgg11")
	if r.Best == nil || r.Best.Point != 0 {
		t.Errorf("vgg11 best = %+v, want P = 0 (it fits nowhere else on the STM32L476)", r.Best)
	}
	params := 0
	for _, l := range r.Layers {
		params += l.Params
	}
	if params < 30e6 || params > 40e6 {
		t.Errorf("vgg11 has %d params, want ≈ 34–38 M", params)
	}
}

func TestInspectText(t *testing.T) {
	out, err := run(t, "inspect", "--arch", "2048x1-128x2-8x4-64x2-5", "--profile", "esp32")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ESP32-WROOM-32", "split points", "best (edge): P = ", "conv1d_transpose"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// A RAM limit below the input buffer: no valid point, said plainly.
	out, err = run(t, "inspect", "--arch", "2048x1-128x2-8x4-64x2-5", "--ram-limit", "4KiB")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "no split point fits: even P = 0 needs RAM 8192 B > limit 4096 B") {
		t.Errorf("output:\n%s", out)
	}
}

func TestInspectProfileFile(t *testing.T) {
	text, _ := hw.BuiltinTOML("stm32l476")
	dir := t.TempDir()
	path := filepath.Join(dir, "mine.toml")
	if err := os.WriteFile(path, []byte(strings.Replace(string(text), "active_power_mw = 26.4", "active_power_mw = 52.8", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The profile's tables go beside it, as a user copies them all.
	for _, f := range []string{"stm32l476-layers.csv", "stm32l476-sparse.csv"} {
		table, err := os.ReadFile(filepath.Join("..", "..", "hw", "profiles", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), table, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a := inspect(t, "--arch", "2048x1-128x2-8x4-64x2-5")
	b := inspect(t, "--arch", "2048x1-128x2-8x4-64x2-5", "--profile", path)
	last := len(a.Partitions) - 1
	if got, want := *b.Partitions[last].ECompEdge, 2**a.Partitions[last].ECompEdge; math.Abs(got-want) > 1e-12 {
		t.Errorf("doubling the power: E_comp_edge %v, want %v", got, want)
	}
}

func TestInspectBadFlags(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(bad, []byte("name = \"x\"\n[edge]\nname = \"m\"\nclock_hz = -1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"inspect"}, `"arch" not set`},
		{[]string{"inspect", "--arch", "2048x1-100x2-5"}, "--arch: "},
		{[]string{"inspect", "--arch", "vgg11", "--classes", "1"}, "--arch vgg11 --classes 1"},
		{[]string{"inspect", "--arch", "2048x1-5", "--profile", "nosuch"}, `--profile: hw: no built-in profile "nosuch"`},
		{[]string{"inspect", "--arch", "2048x1-5", "--profile", bad}, "--profile: profile " + bad + ": edge.active_power_mw: missing field"},
		{[]string{"inspect", "--arch", "2048x1-5", "--scenario", "fog"}, `--scenario: unknown scenario "fog"`},
		{[]string{"inspect", "--arch", "2048x1-5", "--fog-factor", "0"}, "--fog-factor 0: must be positive"},
		{[]string{"inspect", "--arch", "2048x1-5", "--fog-factor", "inf"}, "--fog-factor +Inf: must be positive and finite"},
		{[]string{"inspect", "--arch", "2048x1-5", "--ram-limit", "lots"}, `--ram-limit "lots": not a size`},
	} {
		_, stderr, code := runProcess(t, c.args...)
		if code == 0 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "panic") {
			t.Errorf("splitnas %v: exit %d, stderr %q; want non-zero and %q", c.args, code, stderr, c.want)
		}
	}
}

// An integer profile costs the network at its precision and shows each
// layer's requantization constants: 256x1-64x4-16x4-5/o2 in int8 has layer
// 1 at 32 weights + 4 int32 biases + 4·8 B of multipliers and shifts + 8 B
// of zero points = 88 B, 40 B of it constants; the 4 B input scale is
// Flash already at P = 0.
func TestInspectInt8Profile(t *testing.T) {
	text, _ := hw.BuiltinTOML("stm32l476")
	s := strings.Replace(string(text), "bytes_per_weight = 4", "bytes_per_weight = 1", 1)
	s = strings.Replace(s, "bytes_per_activation = 4", "bytes_per_activation = 1", 1)
	s = strings.Replace(s, `layer_table = "stm32l476-layers.csv"`, "", 1) // measured on the float32 kernels
	s = strings.Replace(s, `sparse_table = "stm32l476-sparse.csv"`, "", 1)
	path := filepath.Join(t.TempDir(), "int8.toml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "inspect", "--arch", "256x1-64x4-16x4-5/o2", "--profile", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(int8)", "of it requant B", "256x1->64x4      36  2048       88               40"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestInspectLinkSweep(t *testing.T) {
	out, err := run(t, "inspect", "--arch", "2048x1-128x2-8x4-64x2-5", "--link-sweep", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Scenario     string `json:"scenario"`
		NominalSplit int    `json:"nominal_split"`
		Pmax         int    `json:"pmax"`
		Rows         []struct {
			Cond struct {
				PHY     string  `json:"phy"`
				TXdBm   float64 `json:"tx_dbm"`
				Retrans float64 `json:"retransmission_rate"`
			} `json:"condition"`
			PerByte   float64 `json:"uj_per_byte"`
			PerPacket float64 `json:"uj_per_packet"`
			Split     int     `json:"split"`
			E         float64 `json:"e_mj"`
			ENominal  float64 `json:"e_nominal_split_mj"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.Scenario != "edge" || len(r.Rows) != 120 || r.NominalSplit != 4 || r.Pmax != 4 {
		t.Fatalf("scenario %q, %d rows, nominal %d, Pmax %d; want edge, 120, 4, 4", r.Scenario, len(r.Rows), r.NominalSplit, r.Pmax)
	}
	adapted := 0
	for _, row := range r.Rows {
		if row.Cond.PHY == "1M" && row.Cond.TXdBm == 0 && row.Cond.Retrans == 0 && (row.PerByte != 0.1272 || row.PerPacket != 9.65 || row.Split != 4) {
			t.Errorf("nominal row %+v", row)
		}
		if row.E > row.ENominal {
			t.Errorf("%+v: best worse than the nominal split", row)
		}
		if row.Split != r.NominalSplit {
			adapted++
		}
	}
	if adapted == 0 {
		t.Error("no condition moves the split")
	}
	text, err := run(t, "inspect", "--arch", "2048x1-128x2-8x4-64x2-5", "--link-sweep", "--retrans", "0,0.5")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"nominal:  1M/0dBm/r=0: best split P = 4", "coded-s8", "Pmax = 4", "0.1272      9.650       4"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"inspect", "--arch", "2048x1-5", "--link-sweep", "--profile", "esp32"}, "has no link model"},
		{[]string{"inspect", "--arch", "2048x1-5", "--link-sweep", "--retrans", "1"}, "--retrans 1: a retransmission rate is in [0, 1)"},
		{[]string{"inspect", "--arch", "2048x1-5", "--retrans", "0.1"}, "--retrans applies to --link-sweep only"},
	} {
		if _, err := run(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("splitnas %v: %v, want %q", c.args, err, c.want)
		}
	}
}
