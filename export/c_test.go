package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/fog"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/partition"
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
	var (
		mu    sync.Mutex
		worst float64
	)
	// The networks run in parallel (QEMU counts cycles, so the load does
	// not change them); the group returns when all of them have.
	t.Run("networks", func(t *testing.T) {
		for i, e := range randomExports(t, 20) {
			_, p, err := e.n.net()
			if err != nil {
				t.Fatal(err)
			}
			prec := p.Name
			t.Run(fmt.Sprintf("%d_%s_P%d_%s", i, prec, e.P, e.net), func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				s, err := WriteC(dir, e.n, e.P, e.prof)
				if err != nil {
					t.Fatal(err)
				}
				v := verified(t, dir, e.n, s, noiseWindows(4, e.net.Input(), uint64(i)))
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
				mu.Lock()
				worst = max(worst, math.Abs(v.CycleError))
				mu.Unlock()
				t.Logf("emulated %.0f cycles, predicted %+.2f %%; input stage %.0f cycles, predicted %.0f; float difference %.2g",
					v.EmulatedCycles, 100*v.CycleError, v.EmulatedInputCycles, v.PredictedInputCycles, v.MaxRelDiff)
			})
		}
	})
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

// noiseWindows returns n windows of standard normal noise of the given
// shape.
func noiseWindows(n int, shape arch.Shape, seed uint64) [][]float32 {
	d := noise(n, shape, seed)
	w := make([][]float32, n)
	for k := range w {
		w[k] = d.Sample(k)
	}
	return w
}

// verified runs Verify on the library in dir and fails t if a window's
// tensor differs from the Go reference on the host or between host and
// emulation.
func verified(t *testing.T, dir string, n Network, s *Summary, inputs [][]float32) *Verification {
	t.Helper()
	v, err := Verify(context.Background(), dir, n, s, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if v.HostMismatches != 0 || v.EmuMismatches != 0 {
		t.Errorf("%d of %d windows differ from Go on the host (largest difference %.3g), %d between host and emulation",
			v.HostMismatches, v.Windows, v.MaxRelDiff, v.EmuMismatches)
	}
	return v
}

// compiledFlash cross-compiles the library's model source in dir for the
// Cortex-M4 and returns the bytes of the read-only data it exports (the
// splitnas_* weights and constants), with every symbol's size and nm type.
func compiledFlash(t *testing.T, cc, nm, dir string) (int, map[string]int, map[string]string) {
	t.Helper()
	obj := filepath.Join(dir, "model.o")
	cmd := exec.Command(cc, "-std=c99", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2",
		"-ffreestanding", "-Wall", "-Werror", "-I", dir, "-c", filepath.Join(dir, SourceFile), "-o", obj)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cross-compiling: %v\n%s", err, out)
	}
	sizes, types := symbolSizes(t, nm, obj)
	flash := 0
	for name, n := range sizes {
		if strings.HasPrefix(name, "splitnas_") && types[name] == "R" {
			flash += n
		}
	}
	return flash, sizes, types
}

// TestExportMemoryAsPromised cross-compiles the exported library for the
// Cortex-M4 and reads its symbols: the arena is exactly arch's RAM(P), the
// weight and constant arrays exactly Flash(P) — measured on the object
// file, not taken from the generator's arithmetic.
func TestExportMemoryAsPromised(t *testing.T) {
	cc, nm := armTools(t)
	for i, e := range randomExports(t, 20) {
		// Every layer dense, as arch counts them (an int4 model's zeros
		// could make a layer sparse; TestExportSparse checks those).
		e.n.Dense = true
		t.Run(fmt.Sprintf("%d_P%d_%s", i, e.P, e.net), func(t *testing.T) {
			dir := t.TempDir()
			s, err := WriteC(dir, e.n, e.P, e.prof)
			if err != nil {
				t.Fatal(err)
			}
			flash, sizes, types := compiledFlash(t, cc, nm, dir)
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

// adaptiveHarness: with argument "tensors", reads input windows from
// standard input and writes, for each, tensor k of splitnas_run_to(x, k)
// for k = 0..SPLITNAS_PMAX; with "policy", reads lines "phy tx_dbm r" and
// prints splitnas_policy_split's answer for each; "bad" prints what
// splitnas_run_to gives for split points outside 0..SPLITNAS_PMAX.
const adaptiveHarness = `#include <stdio.h>
#include <string.h>
#include "splitnas_model.h"

int main(int argc, char **argv)
{
	static float x[SPLITNAS_INPUT_SIZE];
	if (argc == 2 && strcmp(argv[1], "tensors") == 0) {
		while (fread(x, sizeof x[0], SPLITNAS_INPUT_SIZE, stdin) == SPLITNAS_INPUT_SIZE) {
			for (int k = 0; k <= SPLITNAS_PMAX; k++) {
				const splitnas_value_t *y = splitnas_run_to(x, k);
				size_t n = (size_t)splitnas_output_size(k);
				if (y == 0 || fwrite(y, sizeof y[0], n, stdout) != n)
					return 1;
			}
		}
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "policy") == 0) {
		int phy;
		double dbm, r;
		while (scanf("%d %lf %lf", &phy, &dbm, &r) == 3)
			printf("%d\n", splitnas_policy_split(phy, dbm, r));
		return 0;
	}
	memset(x, 0, sizeof x);
	printf("%d %d %d\n", splitnas_run_to(x, -1) == 0, splitnas_run_to(x, SPLITNAS_PMAX + 1) == 0, splitnas_run(x) == splitnas_run_to(x, SPLITNAS_PMAX));
	return 0;
}
`

// TestExportAdaptive exports networks with an adaptive policy and checks
// the host build: for every split point 0..Pmax (so every one the policy
// chooses), splitnas_run_to's tensor equals the Go reference (byte for byte
// in int8 and int4, within 1e-5 in float32) and the fog, fed it, gives the
// unsplit network's class; splitnas_policy_split gives the policy's split
// for every condition of its table and of the walking-away trace; the
// arena is RAM(Pmax) and the weights Flash(Pmax).
func TestExportAdaptive(t *testing.T) {
	cc := hostCC(t)
	nmPath, err := exec.LookPath("nm")
	if err != nil {
		t.Skip("nm not on PATH; install Debian's binutils")
	}
	const a = "256x1-16x3-512x2-16x2-512x4-512x1-256x4-5/o2"
	for _, tc := range []struct {
		profile string
		bits    int // 0: float32
		sc      partition.Scenario
	}{
		{"stm32l476", 0, partition.Edge},
		{"stm32l476-int8", 8, partition.Edge},
		{"stm32l476-int4", 4, partition.Total},
	} {
		t.Run(tc.profile+"/"+tc.sc.String(), func(t *testing.T) {
			net := mustParse(t, a)
			prof, err := hw.Load(tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			fm, err := nn.NewModel(net, 3)
			if err != nil {
				t.Fatal(err)
			}
			n := Network{Float: fm}
			if tc.bits > 0 {
				qm, err := quant.PostTraining(fm, noise(32, net.Input(), 4), quant.MinMax, tc.bits)
				if err != nil {
					t.Fatal(err)
				}
				n = Network{Int: qm}
			}
			pol, err := partition.NewPolicy(net, prof, tc.sc, partition.Limits{}, prof.Link.Conditions(hw.DefaultRetransRates()))
			if err != nil {
				t.Fatal(err)
			}
			if len(pol.Candidates) < 2 {
				t.Fatalf("the policy has one split point (%+v): nothing to adapt", pol.Candidates)
			}
			dir := t.TempDir()
			s, err := WriteCAdaptive(dir, n, prof, pol)
			if err != nil {
				t.Fatal(err)
			}
			if s.Split != pol.Pmax || s.Policy == nil {
				t.Fatalf("summary split %d, want Pmax %d", s.Split, pol.Pmax)
			}
			bin := filepath.Join(dir, "harness")
			harness := filepath.Join(dir, "harness.c")
			if err := os.WriteFile(harness, []byte(adaptiveHarness), 0o644); err != nil {
				t.Fatal(err)
			}
			obj := filepath.Join(dir, "model.o")
			for _, args := range [][]string{
				{"-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", dir, "-c", filepath.Join(dir, SourceFile), "-o", obj},
				{"-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", dir, obj, filepath.Join(dir, KernelsFile), harness, "-o", bin},
			} {
				if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
					t.Fatalf("compiling: %v\n%s", err, out)
				}
			}
			// Memory: the arena is RAM(Pmax), the weights Flash(Pmax).
			sizes, types := symbolSizes(t, nmPath, obj)
			_, prec, _ := n.net()
			flash := 0
			for name, sz := range sizes {
				if strings.HasPrefix(name, "splitnas_") && types[name] == "R" && !strings.HasPrefix(name, "splitnas_policy_") && !strings.HasPrefix(name, "splitnas_link_") {
					flash += sz
				}
			}
			if want := net.Flash(pol.Pmax, prec); flash != want {
				t.Errorf("weights %d B, Flash(%d) = %d", flash, pol.Pmax, want)
			}
			if want := net.RAM(pol.Pmax, prec); sizes["splitnas_arena"] != want {
				t.Errorf("arena %d B, RAM(%d) = %d", sizes["splitnas_arena"], pol.Pmax, want)
			}

			// Tensors at every split point, and the fog's class.
			d := noise(6, net.Input(), 9)
			var in bytes.Buffer
			inputs := make([][]float32, d.Len())
			for k := range inputs {
				inputs[k] = d.Sample(k)
				for _, v := range inputs[k] {
					in.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)))
				}
			}
			cmd := exec.Command(bin, "tensors")
			cmd.Stdin = &in
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			fm2, qm2 := n.Float, n.Int
			m, err := fog.NewModel("adaptive", fm2, qm2)
			if err != nil {
				t.Fatal(err)
			}
			refs := make([][][]byte, pol.Pmax+1)
			for P := range refs {
				refs[P] = reference(n, P, inputs)
			}
			pos := 0
			for k, x := range inputs {
				unsplit := 0
				if qm2 != nil {
					unsplit = qm2.Predict(x)
				} else {
					unsplit = fm2.Predict(x)
				}
				for P := 0; P <= pol.Pmax; P++ {
					size := m.Bytes(P)
					if pos+size > len(out) {
						t.Fatalf("the harness wrote %d bytes, too few", len(out))
					}
					got := out[pos : pos+size]
					pos += size
					if diff := difference(n, refs[P][k], got); diff > tolerance {
						t.Errorf("window %d, split %d: C differs from the Go reference by %.3g", k, P, diff)
					}
					r, err := m.Finish(P, got)
					if err != nil {
						t.Fatal(err)
					}
					if r.Class != unsplit {
						t.Errorf("window %d, split %d: fog class %d, unsplit network %d", k, P, r.Class, unsplit)
					}
				}
			}
			if pos != len(out) {
				t.Errorf("the harness wrote %d bytes, want %d", len(out), pos)
			}

			// The policy in C: every row of its table, the example trace,
			// and conditions it does not cover.
			phyIndex := map[string]int{}
			for i, ph := range prof.Link.PHYs {
				phyIndex[ph.Name] = i
			}
			var conds bytes.Buffer
			var want []int
			for _, r := range pol.Rows {
				fmt.Fprintf(&conds, "%d %s %s\n", phyIndex[r.Cond.PHY], strconv.FormatFloat(r.Cond.TXdBm, 'g', -1, 64), strconv.FormatFloat(r.Cond.Retrans, 'g', -1, 64))
				want = append(want, r.Split)
			}
			f, err := os.Open("../examples/traces/walking-away.csv")
			if err != nil {
				t.Fatal(err)
			}
			trace, err := partition.ReadTrace(f, "walking-away.csv", prof.Link)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range trace {
				r, err := prof.RadioAt(row.Cond)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&conds, "%d %s %s\n", phyIndex[row.Cond.PHY], strconv.FormatFloat(row.Cond.TXdBm, 'g', -1, 64), strconv.FormatFloat(row.Cond.Retrans, 'g', -1, 64))
				want = append(want, pol.Choose(r.EnergyPerByteUJ, r.EnergyPerPacketUJ))
			}
			conds.WriteString("0 3 0\n0 0 1\n0 0 -0.5\n9 0 0\n")
			want = append(want, -1, -1, -1, -1)
			cmd = exec.Command(bin, "policy")
			cmd.Stdin = &conds
			out, err = cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Fields(string(out))
			if len(got) != len(want) {
				t.Fatalf("the harness answered %d conditions of %d", len(got), len(want))
			}
			for i, w := range want {
				if got[i] != strconv.Itoa(w) {
					t.Errorf("condition %d: C split %s, policy %d", i, got[i], w)
				}
			}
			out, err = exec.Command(bin, "bad").Output()
			if err != nil || strings.TrimSpace(string(out)) != "1 1 1" {
				t.Errorf("out-of-range splits: %q, %v; want NULL, NULL, and splitnas_run = splitnas_run_to(Pmax)", out, err)
			}
			t.Logf("Pmax %d, candidates %d, %d policy rows, %d trace rows checked", pol.Pmax, len(pol.Candidates), len(pol.Rows), len(trace))
		})
	}
}

func TestWriteCAdaptiveRefuses(t *testing.T) {
	net := mustParse(t, "256x1-64x4-16x4-5/o2")
	fm, err := nn.NewModel(net, 1)
	if err != nil {
		t.Fatal(err)
	}
	prof, _ := hw.Load("stm32l476")
	other, err := partition.NewPolicy(mustParse(t, "256x1-16x4-5/o2"), prof, partition.Edge, partition.Limits{}, prof.Link.Conditions([]float64{0}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteCAdaptive(t.TempDir(), Network{Float: fm}, prof, other); err == nil || !strings.Contains(err.Error(), "the policy is for 256x1-16x4-5") {
		t.Errorf("a policy of another network: %v", err)
	}
}
