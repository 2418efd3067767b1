package calib

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/hw"
)

var (
	emuOnce sync.Once
	emu     *Emulator
	emuErr  error
)

// TestMain closes the shared emulator after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if emu != nil {
		emu.Close()
	}
	os.Exit(code)
}

// emulator returns an emulator shared by the tests, or skips the test
// naming the missing tools (CI installs them).
func emulator(t *testing.T) *Emulator {
	t.Helper()
	emuOnce.Do(func() { emu, emuErr = NewEmulator(context.Background(), "") })
	var missing *MissingToolsError
	if errors.As(emuErr, &missing) {
		t.Skipf("skipping emulation: %v", emuErr)
	}
	if emuErr != nil {
		t.Fatal(emuErr)
	}
	return emu
}

// testLayers are small layers of every kind, with and without padding.
func testLayers(t *testing.T) []arch.Layer {
	t.Helper()
	net, err := arch.Parse("256x1-64x2-64x3-128x2-32x4-7", arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	return net.Layers
}

func TestEmulationRepeatable(t *testing.T) {
	e := emulator(t)
	ls := testLayers(t)
	for _, p := range []Precision{Float32, Int8, Int4} {
		im := image{prec: p, layers: append(append([]arch.Layer{}, ls...), ls[0]), seed: 7}
		a, err := e.runImage(context.Background(), im)
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.runImage(context.Background(), im)
		if err != nil {
			t.Fatal(err)
		}
		for i := range a {
			if a[i] != b[i] {
				t.Errorf("%s layer %d: counts differ between runs:\n%+v\n%+v", p, i+1, a[i], b[i])
			}
			if a[i].Instructions() == 0 {
				t.Errorf("%s layer %d: no instructions counted", p, i+1)
			}
		}
		// The same layer on other data executes the same instructions
		// (only ReLU's data-dependent constant loads may differ) in
		// float32; in int8 and int4, TFLite's requantization branches on the sign
		// of the product (the rounding nudge) and on its saturation
		// case, a few instructions per output.
		first, last := a[0], a[len(a)-1]
		if p == Float32 && first.Insns != last.Insns {
			t.Errorf("%s: one layer twice in an image: %v and %v instructions by class", p, first.Insns, last.Insns)
		}
		if d, outs := first.Instructions()-last.Instructions(), int64(ls[0].Out.Size()); p.integer() && (d > 8*outs || d < -8*outs) {
			t.Errorf("%s: one layer twice in an image: %d and %d instructions, more than 8 per output apart",
				p, first.Instructions(), last.Instructions())
		}
	}
}

// TestConvInstructions measures the reference layer: a float32
// Conv1D 2048×1 → 128×2 with kernel 16 and stride 16, 4096 MACs, about six
// instructions per MAC at -O2.
func TestConvInstructions(t *testing.T) {
	e := emulator(t)
	l := arch.Layer{Kind: arch.Conv, In: arch.Shape{Len: 2048, Ch: 1}, Out: arch.Shape{Len: 128, Ch: 2}, Kernel: 16, Stride: 16, ReLU: true}
	start := time.Now()
	rs, err := e.Measure(context.Background(), Config{Precision: Float32, Table: CortexM4(4), Jobs: 1}, []arch.Layer{l})
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	n := r.Counts.Instructions()
	t.Logf("float32 conv1d 2048x1→128x2 k16 s16: %d instructions (%.2f per MAC), %.0f cycles (%.2f per MAC), in %v",
		n, float64(n)/4096, r.Cycles, r.Cycles/4096, time.Since(start))
	if n < 4*4096 || n > 10*4096 {
		t.Errorf("%d instructions for 4096 MACs, want 4 to 10 per MAC", n)
	}
	if r.Counts.Insns[FPMulAdd] != 4096 {
		t.Errorf("%d FP multiply-adds, want one per MAC (4096)", r.Counts.Insns[FPMulAdd])
	}
}

func TestMeasureCSV(t *testing.T) {
	e := emulator(t)
	ls := testLayers(t)
	for _, p := range []Precision{Float32, Int8, Int4} {
		start := time.Now()
		cfg := Config{Precision: p, Table: CortexM4(4), Jobs: 1, PerImage: 3, Seed: 1}
		rs, err := e.Measure(context.Background(), cfg, ls)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d layers in %v", p, len(rs), time.Since(start))
		var b bytes.Buffer
		if err := WriteCSV(&b, rs, 80e6, 26.4); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(b.String(), strings.Join(CSVHeader(), ",")+"\n") {
			t.Fatalf("CSV header: %q", strings.SplitN(b.String(), "\n", 2)[0])
		}
		ms, err := hw.ReadMeasurements(&b, "m.csv", 80e6)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != len(ls) {
			t.Fatalf("%d measurements read back, want %d", len(ms), len(ls))
		}
		for i, m := range ms {
			l := ls[i]
			if m.Kind != l.Kind || m.In != l.In || m.Out != l.Out || m.Cycles != rs[i].Cycles {
				t.Errorf("row %d: read %+v, measured %v with %v cycles", i+1, m, l, rs[i].Cycles)
			}
			if m.Layer().MACs() != l.MACs() {
				t.Errorf("row %d: %d MACs read back, want %d", i+1, m.Layer().MACs(), l.MACs())
			}
			// Every layer costs more than its multiply-accumulates.
			if rs[i].Cycles < float64(l.MACs()) {
				t.Errorf("row %d (%v): %v cycles for %d MACs", i+1, l, rs[i].Cycles, l.MACs())
			}
		}
	}
}

// TestMeasureNetwork compares a whole partition, emulated in one image,
// with the sum of its layers measured one by one: they run the same
// kernel calls, so they agree closely.
func TestMeasureNetwork(t *testing.T) {
	e := emulator(t)
	net, err := arch.Parse("256x1-64x2-64x3-128x2-32x4-7", arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Precision: Float32, Table: CortexM4(4), Jobs: 1}
	for _, P := range []int{1, 3, len(net.Layers)} {
		whole, err := e.MeasureNetwork(context.Background(), cfg, net, P)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := e.Measure(context.Background(), cfg, net.Layers[:P])
		if err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for _, r := range rs {
			sum += r.Cycles
		}
		rel := (whole.Cycles - sum) / sum
		t.Logf("P=%d: whole partition %.0f cycles, sum of layers %.0f (%+.3f%%)", P, whole.Cycles, sum, 100*rel)
		if math.Abs(rel) > 0.01 {
			t.Errorf("P=%d: whole partition %.0f cycles, sum of its layers %.0f: %+.2f%%", P, whole.Cycles, sum, 100*rel)
		}
	}
	if _, err := e.MeasureNetwork(context.Background(), cfg, net, 0); err == nil {
		t.Error("split point 0 accepted")
	}
}

func TestSampleLayers(t *testing.T) {
	s := arch.DefaultSpace(5)
	ls, err := SampleLayers(s, 90, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 90 {
		t.Fatalf("%d layers, want 90", len(ls))
	}
	kinds := map[arch.Kind]int{}
	denseOut := map[int]bool{}
	seen := map[arch.Layer]bool{}
	for i, l := range ls {
		if err := checkLayer(l); err != nil {
			t.Errorf("layer %d: %v", i+1, err)
		}
		if seen[l] {
			t.Errorf("layer %d repeats %v", i+1, l)
		}
		seen[l] = true
		kinds[l.Kind]++
		if l.Kind == arch.Dense {
			denseOut[l.Out.Size()] = true
			if l.ReLU {
				t.Errorf("layer %d: dense with ReLU", i+1)
			}
		} else if !l.ReLU {
			t.Errorf("layer %d: %s without ReLU", i+1, l.Kind)
		}
		if l.Kind == arch.Conv && l.Stride == 1 && (l.Kernel != 3 || l.PadLeft != 1) {
			t.Errorf("layer %d: stride-1 conv with kernel %d, padding %d", i+1, l.Kernel, l.PadLeft)
		}
	}
	for _, k := range []arch.Kind{arch.Conv, arch.ConvTranspose, arch.Dense} {
		if kinds[k] != 30 {
			t.Errorf("%d %s layers, want 30", kinds[k], k)
		}
	}
	if len(denseOut) < 5 {
		t.Errorf("dense layers have only %d different output sizes", len(denseOut))
	}
	again, _ := SampleLayers(s, 90, rand.New(rand.NewPCG(1, 2)))
	for i := range ls {
		if ls[i] != again[i] {
			t.Fatalf("same seed, layer %d differs", i+1)
		}
	}
}

func TestMissingTools(t *testing.T) {
	t.Setenv("PATH", "")
	_, err := NewEmulator(context.Background(), "")
	var missing *MissingToolsError
	if !errors.As(err, &missing) {
		t.Fatalf("empty PATH: got %v, want a MissingToolsError", err)
	}
	want := "apt-get install gcc-arm-none-eabi qemu-system-arm gcc"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestUnknownBoard(t *testing.T) {
	if _, err := NewEmulator(context.Background(), "mps2-an385"); err == nil || !strings.Contains(err.Error(), "mps2-an386") {
		t.Errorf("board mps2-an385: got %v, want an error naming the supported board", err)
	}
}

func TestImageTooLarge(t *testing.T) {
	big := arch.Layer{Kind: arch.Dense, In: arch.Shape{Len: 4096, Ch: 4}, Out: arch.Shape{Len: 64, Ch: 1}}
	if _, err := (image{prec: Float32, layers: []arch.Layer{big}}).mainC(); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("a 4 MB dense layer: got %v, want a too-large error", err)
	}
	if _, err := (image{prec: Int8, layers: []arch.Layer{big}}).mainC(); err != nil {
		t.Errorf("the same layer in int8 (1 MB): %v", err)
	}
	src, err := (image{prec: Int4, layers: []arch.Layer{big}}).mainC()
	if err != nil {
		t.Errorf("the same layer in int4 (512 KB): %v", err)
	} else if !bytes.Contains(src, []byte("static uint8_t W[524288]")) || !bytes.Contains(src, []byte("fill_i8((int8_t *)(W), 524288,")) {
		t.Errorf("the same layer in int4: want 524288 packed bytes of weights, filled as bytes:\n%s", src)
	}
}

// TestPluginVersionRetry builds the plugin for an API version QEMU does not
// accept: the first run must rebuild it for the version QEMU names.
func TestPluginVersionRetry(t *testing.T) {
	e := emulator(t)
	_, before := e.pluginPath()
	if err := e.buildPlugin(context.Background(), 99); err != nil {
		t.Fatal(err)
	}
	cs, err := e.runImage(context.Background(), image{prec: Float32, layers: testLayers(t)[:1]})
	if err != nil {
		t.Fatal(err)
	}
	if _, after := e.pluginPath(); after != before || len(cs) != 1 {
		t.Errorf("plugin API version %d after the retry, want %d", after, before)
	}
}
