package partition

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/hw"
)

func mustLoad(t *testing.T, name string) hw.Profile {
	t.Helper()
	p, err := hw.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// randomNetworks decodes n random genomes of the default search space.
func randomNetworks(t *testing.T, n, classes int, seed uint64) []arch.Network {
	t.Helper()
	space := arch.DefaultSpace(classes)
	rng := rand.New(rand.NewPCG(seed, 1))
	nets := make([]arch.Network, n)
	for i := range nets {
		net, err := space.Decode(space.Random(rng))
		if err != nil {
			t.Fatal(err)
		}
		nets[i] = net
	}
	return nets
}

func close(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// The paper measured 1.37 mJ to send the raw 2048-value float32 input.
func TestRawInputCostsWhatThePaperMeasured(t *testing.T) {
	prof := mustLoad(t, "stm32l476")
	net, err := arch.Parse("2048x1-128x2-8x4-64x2-5", arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	tab, err := Evaluate(net, prof, Edge, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	p0 := tab.Points[0]
	if p0.SendBytes != 8192 || p0.Packets != 34 {
		t.Errorf("P=0 sends %d bytes in %d packets, want 8192 in 34", p0.SendBytes, p0.Packets)
	}
	if math.Abs(p0.EEdge-1.37) > 0.005 {
		t.Errorf("E_edge(0) = %.4f mJ, want 1.37 ± 0.005", p0.EEdge)
	}
}

// Properties every table must have, on random networks and every built-in
// profile.
func TestProperties(t *testing.T) {
	for _, name := range hw.Builtins() {
		prof := mustLoad(t, name)
		for _, net := range randomNetworks(t, 200, 5, 7) {
			for _, sc := range []Scenario{Edge, Total} {
				tab, err := Evaluate(net, prof, sc, Limits{})
				if err != nil {
					t.Fatalf("%s %v: %v", name, net, err)
				}
				checkTable(t, name, net, prof, tab)
			}
		}
	}
}

func checkTable(t *testing.T, name string, net arch.Network, prof hw.Profile, tab Table) {
	t.Helper()
	L := len(net.Layers)
	if len(tab.Points) != L+1 {
		t.Fatalf("%s %v: %d points, want %d", name, net, len(tab.Points), L+1)
	}
	prec := prof.Edge.Precision()
	in := arch.ByteSize(net.Input().Size(), prec.ActBits)
	p0 := tab.Points[0]
	// At P = 0 the edge stores nothing but, at an integer precision, the
	// scale it quantizes the input with, and computes nothing but that
	// quantization (the input stage).
	if p0.ECompEdge != tab.InputMJ || p0.EEdge != tab.InputMJ+prof.Radio.EnergyMJ(in) || p0.FlashBytes != net.Flash(0, prec) {
		t.Errorf("%s %v: P=0 has E_comp %v, E_edge %v, Flash %d; want the input stage %v, + radio(%d B) = %v, arch's Flash(0)",
			name, net, p0.ECompEdge, p0.EEdge, p0.FlashBytes, tab.InputMJ, in, prof.Radio.EnergyMJ(in))
	}
	if tab.Points[L].EFog != 0 {
		t.Errorf("%s %v: E_fog(L) = %v, want 0", name, net, tab.Points[L].EFog)
	}
	for P := 1; P <= L; P++ {
		a, b := tab.Points[P-1], tab.Points[P]
		if b.FlashBytes < a.FlashBytes {
			t.Errorf("%s %v: Flash(%d) = %d < Flash(%d) = %d", name, net, P, b.FlashBytes, P-1, a.FlashBytes)
		}
		if b.RAMBytes < a.RAMBytes || b.ECompEdge < a.ECompEdge || b.EFog > a.EFog {
			t.Errorf("%s %v: RAM, E_comp_edge must not decrease and E_fog not increase with P (P=%d)", name, net, P)
		}
	}
	for _, p := range tab.Points {
		if !close(p.EEdge, p.ECompEdge+p.ECommEdge, 1e-12) || !close(p.ETotal, p.EEdge+p.EFog, 1e-12) {
			t.Errorf("%s %v P=%d: energies do not add up: %+v", name, net, p.P, p)
		}
		want := int64(p.FlashBytes) <= tab.Limits.FlashBytes && int64(p.RAMBytes) <= tab.Limits.RAMBytes
		if p.Valid != want || (p.Why == "") != want {
			t.Errorf("%s %v P=%d: valid %v (%q), want %v", name, net, p.P, p.Valid, p.Why, want)
		}
	}
	// The optimum is the minimum of its own table; ties go to the later point.
	best, ok := tab.BestPoint()
	if !ok {
		return
	}
	for _, p := range tab.Points {
		if !p.Valid {
			continue
		}
		o, ob := tab.Scenario.Objective(p), tab.Scenario.Objective(best)
		if o < ob || (o == ob && p.P > best.P) {
			t.Errorf("%s %v %v: best P=%d (%v mJ) but P=%d has %v mJ", name, net, tab.Scenario, best.P, ob, p.P, o)
		}
	}
}

// With factor 1 the fog computes at the edge's cost, so offloading saves no
// compute energy: E_comp_edge(P) + E_fog(P) is the same for every P, and
// the total optimum is the split that sends the fewest bytes over the radio
// — all layers on the edge unless some hidden tensor is smaller than the
// class scores.
func TestTotalScenarioFactorOne(t *testing.T) {
	prof := mustLoad(t, "stm32l476")
	prof.Fog = hw.Fog{Factor: 1}
	smallerThanOutput := 0
	for _, net := range randomNetworks(t, 500, 5, 11) {
		tab, err := Evaluate(net, prof, Total, Limits{FlashBytes: math.MaxInt32, RAMBytes: math.MaxInt32})
		if err != nil {
			t.Fatal(err)
		}
		L := len(net.Layers)
		all := tab.Points[L].ECompEdge
		minComm := math.Inf(1)
		for _, p := range tab.Points {
			if !close(p.ECompEdge+p.EFog, all, 1e-9) {
				t.Fatalf("%v P=%d: compute %v + %v ≠ %v", net, p.P, p.ECompEdge, p.EFog, all)
			}
			minComm = math.Min(minComm, p.ECommEdge)
		}
		best, _ := tab.BestPoint()
		if !close(best.ECommEdge, minComm, 1e-12) {
			t.Errorf("%v: best P=%d sends %v mJ, cheapest send is %v mJ", net, best.P, best.ECommEdge, minComm)
		}
		if best.P < L {
			if best.SendBytes >= tab.Points[L].SendBytes {
				t.Errorf("%v: offloading at P=%d wins without sending less (%d ≥ %d bytes)", net, best.P, best.SendBytes, tab.Points[L].SendBytes)
			}
			smallerThanOutput++
		}
	}
	t.Logf("%d of 500 networks have a hidden tensor smaller than the class scores", smallerThanOutput)
}

// A fog with its own device model prices each offloaded layer on it.
func TestFogDevice(t *testing.T) {
	prof := mustLoad(t, "stm32l476-rpi4")
	if prof.Fog.Device == nil {
		t.Fatal("stm32l476-rpi4 has no fog device")
	}
	net, err := arch.Parse("2048x1-128x2-8x4-64x2-5", arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	tab, err := Evaluate(net, prof, Total, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := 0.0
	for _, l := range net.Layers {
		e, err := prof.Fog.Device.LayerEnergyMJ(l)
		if err != nil {
			t.Fatal(err)
		}
		want += e
	}
	if !close(tab.Points[0].EFog, want, 1e-12) {
		t.Errorf("E_fog(0) = %v, want %v", tab.Points[0].EFog, want)
	}
}

// A RAM limit below the input buffer leaves no valid split point.
func TestNoValidPoint(t *testing.T) {
	prof := mustLoad(t, "stm32l476")
	net, err := arch.Parse("2048x1-128x2-8x4-64x2-5", arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	tab, err := Evaluate(net, prof, Edge, Limits{RAMBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tab.BestPoint(); ok {
		t.Fatal("found a best point under a 4 KiB RAM limit for an 8 KiB input")
	}
	if !strings.Contains(tab.Points[0].Why, "RAM 8192 B > limit 4096 B") {
		t.Errorf("why = %q", tab.Points[0].Why)
	}
}

// The paper's VGG11 reference does not fit the STM32L476 beyond the input:
// its first activation alone exceeds 128 KB, so only P = 0 (send the raw
// input, run everything on the fog) is valid.
func TestVGG11(t *testing.T) {
	prof := mustLoad(t, "stm32l476")
	net, err := arch.VGG11(arch.Shape{Len: 2048, Ch: 1}, 5, arch.VGG11Hidden)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range []Scenario{Edge, Total} {
		tab, err := Evaluate(net, prof, sc, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		best, ok := tab.BestPoint()
		if !ok || best.P != 0 {
			t.Errorf("%v: best = %+v, %v; want P = 0", sc, best, ok)
		}
		for _, p := range tab.Points[1:] {
			if p.Valid {
				t.Errorf("%v: P=%d valid with RAM %d, Flash %d", sc, p.P, p.RAMBytes, p.FlashBytes)
			}
		}
		if got := tab.Points[len(net.Layers)].FlashBytes; got != 4*net.Params() {
			t.Errorf("Flash(L) = %d, want 4·params = %d", got, 4*net.Params())
		}
	}
	// Unbounded memory: the edge scenario then keeps everything local only
	// if that is cheaper than the radio; VGG11's compute costs far more.
	tab, err := Evaluate(net, prof, Edge, Limits{FlashBytes: 1 << 40, RAMBytes: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	if best, _ := tab.BestPoint(); best.P != 0 {
		t.Errorf("unbounded edge scenario: best P = %d, want 0 (E_comp_edge(L) = %.1f mJ)", best.P, tab.Points[len(net.Layers)].ECompEdge)
	}
}

func TestParseScenario(t *testing.T) {
	for _, s := range []Scenario{Edge, Total} {
		got, err := ParseScenario(s.String())
		if err != nil || got != s {
			t.Errorf("ParseScenario(%q) = %v, %v", s.String(), got, err)
		}
	}
	if _, err := ParseScenario("fog"); err == nil || !strings.Contains(err.Error(), `"fog"`) {
		t.Errorf("ParseScenario(fog) error = %v", err)
	}
}

// TestScenarioString: a value that is neither Edge nor Total prints as
// invalid, not as a scenario's name.
func TestScenarioString(t *testing.T) {
	for _, c := range []struct {
		s    Scenario
		want string
	}{{Edge, "edge"}, {Total, "total"}, {Scenario(7), "Scenario(7)"}, {Scenario(-1), "Scenario(-1)"}} {
		if got := c.s.String(); got != c.want {
			t.Errorf("Scenario(%d).String() = %q, want %q", int(c.s), got, c.want)
		}
	}
}

// TestEvaluateRefusesInvalidInput: a profile built in Go that would divide
// by zero or give Inf or NaN energies, and an out-of-range scenario, are
// refused before any evaluation, with the profile's *hw.FieldError.
func TestEvaluateRefusesInvalidInput(t *testing.T) {
	net, err := arch.Parse("2048x1-128x2-8x4-64x2-5", arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		edit  func(p *hw.Profile)
		field string
	}{
		{"zero payload", func(p *hw.Profile) { p.Radio.PayloadBytesPerPacket = 0 }, "radio.payload_bytes_per_packet"},
		{"fog factor 0", func(p *hw.Profile) { p.Fog.Factor = 0 }, "fog.factor"},
		{"zero clock", func(p *hw.Profile) { p.Edge.ClockHz = 0 }, "edge.clock_hz"},
		{"missing conv1d model", func(p *hw.Profile) { delete(p.Edge.Latency, "conv1d") }, "edge.latency.conv1d"},
	} {
		t.Run(c.name, func(t *testing.T) {
			prof := mustLoad(t, hw.DefaultProfile)
			c.edit(&prof)
			for _, sc := range []Scenario{Edge, Total} {
				tab, err := Evaluate(net, prof, sc, Limits{})
				var fe *hw.FieldError
				if !errors.As(err, &fe) || fe.Field != c.field {
					t.Errorf("%v: Evaluate = %v, want a *hw.FieldError for %s", sc, err, c.field)
				}
				if tab.Points != nil {
					t.Errorf("%v: a table beside the error", sc)
				}
			}
		})
	}
	t.Run("invalid scenario", func(t *testing.T) {
		_, err := Evaluate(net, mustLoad(t, hw.DefaultProfile), Scenario(2), Limits{})
		if err == nil || !strings.Contains(err.Error(), "invalid scenario Scenario(2)") {
			t.Errorf("Evaluate(Scenario(2)) = %v, want an error naming it as invalid", err)
		}
	})
}

// An integer edge quantizes its window before layer 1, P = 0 included: the
// input stage (input_cycles_per_value · values / clock) is in every point's
// latency and compute energy, and in nothing of a float32 edge.
func TestInputStage(t *testing.T) {
	net, err := arch.Parse("2048x1-128x2-8x4-64x2-5", arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	i8 := mustLoad(t, "stm32l476-int8")
	without := i8
	without.Edge.InputCyclesPerValue = 0
	a, err := Evaluate(net, i8, Edge, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Evaluate(net, without, Edge, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	wantSec := 47.0 * 2048 / 80e6
	if !close(a.InputSeconds, wantSec, 1e-12) || !close(a.InputMJ, wantSec*i8.Edge.ActivePowerMW, 1e-12) {
		t.Errorf("input stage %v s, %v mJ; want %v s at %v mW", a.InputSeconds, a.InputMJ, wantSec, i8.Edge.ActivePowerMW)
	}
	for P := range a.Points {
		pa, pb := a.Points[P], b.Points[P]
		if !close(pa.EdgeSeconds-pb.EdgeSeconds, wantSec, 1e-9) || !close(pa.ECompEdge-pb.ECompEdge, a.InputMJ, 1e-9) || pa.ECommEdge != pb.ECommEdge {
			t.Errorf("P=%d: %+v against %+v without the input stage", P, pa, pb)
		}
	}
	f32, err := Evaluate(net, mustLoad(t, "stm32l476"), Edge, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if f32.InputSeconds != 0 || f32.Points[0].ECompEdge != 0 {
		t.Errorf("float32: input stage %v s, E_comp_edge(0) %v", f32.InputSeconds, f32.Points[0].ECompEdge)
	}
}
