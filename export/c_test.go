package export

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/quant"
)

// hostCC returns the host C compiler, or skips the test.
func hostCC(t *testing.T) string {
	t.Helper()
	for _, cc := range []string{"gcc", "cc"} {
		if p, err := exec.LookPath(cc); err == nil {
			return p
		}
	}
	t.Skip("no host C compiler (gcc or cc) on PATH; install Debian's gcc")
	return ""
}

// armTools returns arm-none-eabi-gcc and arm-none-eabi-nm, or skips.
func armTools(t *testing.T) (cc, nm string) {
	t.Helper()
	cc, err1 := exec.LookPath("arm-none-eabi-gcc")
	nm, err2 := exec.LookPath("arm-none-eabi-nm")
	if err1 != nil || err2 != nil {
		t.Skip("arm-none-eabi-gcc/nm not on PATH; install Debian's gcc-arm-none-eabi")
	}
	return cc, nm
}

// noise returns n samples of standard normal noise of the given shape.
func noise(n int, shape arch.Shape, seed uint64) *dataset.Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := dataset.New([]string{"A", "B", "C", "D", "E"}, shape.Ch, shape.Len)
	x := make([]float32, shape.Size())
	for i := range n {
		for j := range x {
			x[j] = float32(rng.NormFloat64())
		}
		if err := d.Add(x, i%5, "r"); err != nil {
			panic(err)
		}
	}
	return d
}

// exported is one network exported at one split point.
type exported struct {
	n    Network
	net  arch.Network
	P    int
	prof hw.Profile
}

// randomExports returns count networks of the search space (256-sample
// inputs, the overlap gene), with random weights and biases, in float32
// (i mod 3 = 0), int8 (1) or int4 (2; PTQ on noise), each at a random split
// point.
func randomExports(t *testing.T, count int) []exported {
	t.Helper()
	space := arch.DefaultSpace(5)
	space.InputLength = 256
	space.Overlaps = []int{1, 2}
	rng := rand.New(rand.NewPCG(11, 12))
	f32, err := hw.Load("stm32l476")
	if err != nil {
		t.Fatal(err)
	}
	i8, err := hw.Load("stm32l476-int8")
	if err != nil {
		t.Fatal(err)
	}
	i4, err := hw.Load("stm32l476-int4")
	if err != nil {
		t.Fatal(err)
	}
	var out []exported
	for i := range count {
		net, err := space.Decode(space.Random(rng))
		if err != nil {
			t.Fatal(err)
		}
		fm, err := nn.NewModel(net, rng.Uint64())
		if err != nil {
			t.Fatal(err)
		}
		for li := range net.Layers {
			_, b := fm.Weights(li)
			for j := range b {
				b[j] = float32(rng.NormFloat64() * 0.1)
			}
		}
		e := exported{net: net, P: rng.IntN(len(net.Layers) + 1), prof: f32, n: Network{Float: fm}}
		if i%3 > 0 {
			bits, prof := 8, i8
			if i%3 == 2 {
				bits, prof = 4, i4
			}
			qm, err := quant.PostTraining(fm, noise(32, net.Input(), rng.Uint64()), quant.MinMax, bits)
			if err != nil {
				t.Fatal(err)
			}
			e.n, e.prof = Network{Int: qm}, prof
		}
		out = append(out, e)
	}
	return out
}

// TestExportVerified checks exported C against the Go references on random
// networks of the search space at random split points (Verify): compiled for
// the host, its integer tensors (int8 and int4 weights) equal package
// quant's integer path byte for byte and its float32 ones package nn's
// within 1e-5 (of the tensor's largest magnitude); run on the emulated
// Cortex-M4, the same tensors as on the host, and its cycles within 5 % of
// the profile's prediction, in every precision and with kernel overlaps 1
// and 2 (every built-in STM32 profile predicts from its layer table).
func TestExportVerified(t *testing.T) {
	hostCC(t)
	armTools(t)
	if _, err := exec.LookPath("qemu-system-arm"); err != nil {
		t.Skip("qemu-system-arm not on PATH; install Debian's qemu-system-arm")
	}
	var worst float64
	for i, e := range randomExports(t, 20) {
		_, p, err := e.n.net()
		if err != nil {
			t.Fatal(err)
		}
		prec := p.Name
		t.Run(fmt.Sprintf("%d_%s_P%d_%s", i, prec, e.P, e.net), func(t *testing.T) {
			dir := t.TempDir()
			s, err := WriteC(dir, e.n, e.P, e.prof)
			if err != nil {
				t.Fatal(err)
			}
			d := noise(4, e.net.Input(), uint64(i))
			inputs := make([][]float32, d.Len())
			for k := range inputs {
				inputs[k] = d.Sample(k)
			}
			v, err := Verify(context.Background(), dir, e.n, s, inputs)
			if err != nil {
				t.Fatal(err)
			}
			if v.HostMismatches != 0 || v.EmuMismatches != 0 {
				t.Errorf("%d of %d windows differ from Go on the host (largest difference %.3g), %d between host and emulation",
					v.HostMismatches, v.Windows, v.MaxRelDiff, v.EmuMismatches)
			}
			if math.Abs(v.CycleError) > 0.05 {
				t.Errorf("emulated %.0f cycles, profile predicts %.0f (%+.1f %%), want within 5 %%", v.EmulatedCycles, v.PredictedCycles, 100*v.CycleError)
			}
			// The input stage: an integer network's quantizer, as the
			// profile's input_cycles_per_value predicts it.
			if e.n.Int != nil {
				if d := (v.PredictedInputCycles - v.EmulatedInputCycles) / v.EmulatedInputCycles; math.Abs(d) > 0.05 {
					t.Errorf("input stage: emulated %.0f cycles, profile predicts %.0f (%+.1f %%), want within 5 %%", v.EmulatedInputCycles, v.PredictedInputCycles, 100*d)
				}
			}
			worst = max(worst, math.Abs(v.CycleError))
			t.Logf("emulated %.0f cycles, predicted %+.2f %%; input stage %.0f cycles, predicted %.0f; float difference %.2g",
				v.EmulatedCycles, 100*v.CycleError, v.EmulatedInputCycles, v.PredictedInputCycles, v.MaxRelDiff)
		})
	}
	t.Logf("largest cycle error %.2f %%", 100*worst)
}

// symbolSizes returns the sizes of the symbols an object file defines,
// and the nm type letter of each (R/r read-only data, B/b zeroed data, T/t
// code).
func symbolSizes(t *testing.T, nm, obj string) (map[string]int, map[string]string) {
	t.Helper()
	out, err := exec.Command(nm, "-S", obj).Output()
	if err != nil {
		t.Fatalf("%s -S %s: %v", nm, obj, err)
	}
	sizes, types := map[string]int{}, map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 { // address size type name
			n, err := strconv.ParseInt(f[1], 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			sizes[f[3]], types[f[3]] = int(n), f[2]
		}
	}
	return sizes, types
}

// TestExportMemoryAsPromised cross-compiles the exported library for the
// Cortex-M4 and reads its symbols: the arena is exactly arch's RAM(P), the
// weight and constant arrays exactly Flash(P) — measured on the object
// file, not taken from the generator's arithmetic.
func TestExportMemoryAsPromised(t *testing.T) {
	cc, nm := armTools(t)
	for i, e := range randomExports(t, 20) {
		t.Run(fmt.Sprintf("%d_P%d_%s", i, e.P, e.net), func(t *testing.T) {
			dir := t.TempDir()
			s, err := WriteC(dir, e.n, e.P, e.prof)
			if err != nil {
				t.Fatal(err)
			}
			obj := filepath.Join(dir, "model.o")
			cmd := exec.Command(cc, "-std=c99", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2",
				"-ffreestanding", "-Wall", "-Werror", "-I", dir, "-c", filepath.Join(dir, SourceFile), "-o", obj)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("cross-compiling: %v\n%s", err, out)
			}
			sizes, types := symbolSizes(t, nm, obj)
			flash := 0 // the read-only data the library exports: weights and constants
			for name, n := range sizes {
				if strings.HasPrefix(name, "splitnas_") && types[name] == "R" {
					flash += n
				}
			}
			if types["splitnas_arena"] != "B" {
				t.Errorf("splitnas_arena has nm type %q, want B (zeroed RAM)", types["splitnas_arena"])
			}
			_, prec, _ := e.n.net()
			if want := e.net.Flash(e.P, prec); flash != want || s.FlashBytes != want {
				t.Errorf("weight symbols hold %d B, arch Flash(%d) = %d (summary %d)", flash, e.P, want, s.FlashBytes)
			}
			if want := e.net.RAM(e.P, prec); sizes["splitnas_arena"] != want {
				t.Errorf("splitnas_arena is %d B, arch RAM(%d) = %d", sizes["splitnas_arena"], e.P, want)
			}
		})
	}
}

func TestWriteCRefuses(t *testing.T) {
	fm, err := nn.NewModel(mustParse(t, "256x1-64x4-16x4-5/o2"), 1)
	if err != nil {
		t.Fatal(err)
	}
	f32, _ := hw.Load("stm32l476")
	i8, _ := hw.Load("stm32l476-int8")
	q4, err := quant.PostTraining(fm, noise(8, fm.Network().Input(), 1), quant.MinMax, 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		n    Network
		P    int
		prof hw.Profile
		want string
	}{
		{"no model", Network{}, 1, f32, "exactly one"},
		{"split beyond", Network{Float: fm}, 4, f32, "split point 4: the network has layers 1..3"},
		{"profile precision", Network{Float: fm}, 1, i8, "profile stm32l476-int8 is int8, the model float32"},
		{"int4 on an int8 profile", Network{Int: q4}, 1, i8, "profile stm32l476-int8 is int8, the model int4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := WriteC(t.TempDir(), c.n, c.P, c.prof)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

func mustParse(t *testing.T, s string) arch.Network {
	t.Helper()
	n, err := arch.Parse(s, arch.DefaultKernelRule())
	if err != nil {
		t.Fatal(err)
	}
	return n
}
