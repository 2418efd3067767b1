package export

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
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
// (even i) or int8 (odd i, PTQ on noise), each at a random split point.
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
		if i%2 == 1 {
			qm, err := quant.PostTraining(fm, noise(32, net.Input(), rng.Uint64()), quant.MinMax, 8)
			if err != nil {
				t.Fatal(err)
			}
			e.n, e.prof = Network{Int: qm}, i8
		}
		out = append(out, e)
	}
	return out
}

// runHost compiles the library in dir with the harness and runs it on the
// samples of d, returning the raw output.
func runHost(t *testing.T, cc, dir string, d *dataset.Dataset) []byte {
	t.Helper()
	bin := filepath.Join(dir, "harness")
	harness, err := filepath.Abs(filepath.Join("testdata", "host_main.c"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", dir,
		filepath.Join(dir, SourceFile), filepath.Join(dir, KernelsFile), harness, "-o", bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("compiling the exported library: %v\n%s", err, out)
	}
	var in bytes.Buffer
	for _, v := range d.X {
		binary.Write(&in, binary.LittleEndian, v)
	}
	run := exec.Command(bin)
	run.Stdin = &in
	out, err := run.Output()
	if err != nil {
		t.Fatalf("running the harness: %v", err)
	}
	return out
}

// TestExportMatchesGo checks exported C against the Go references on random
// networks of the search space at random split points: compiled for the
// host, its int8 tensors equal package quant's integer path byte for byte
// and its float32 ones package nn's within 1e-5 (relative to the tensor's
// largest value).
func TestExportMatchesGo(t *testing.T) {
	cc := hostCC(t)
	for i, e := range randomExports(t, 20) {
		prec := "float32"
		if e.n.Int != nil {
			prec = "int8"
		}
		t.Run(fmt.Sprintf("%d_%s_P%d_%s", i, prec, e.P, e.net), func(t *testing.T) {
			dir := t.TempDir()
			s, err := WriteC(dir, e.n, e.P, e.prof)
			if err != nil {
				t.Fatal(err)
			}
			d := noise(10, e.net.Input(), uint64(i))
			out := runHost(t, cc, dir, d)
			size := e.net.Tensor(e.P).Size()
			if e.n.Int != nil {
				if len(out) != d.Len()*size {
					t.Fatalf("%d output bytes, want %d", len(out), d.Len()*size)
				}
				for k := range d.Len() {
					q := make([]int8, d.SampleSize())
					e.n.Int.QuantizeInput(d.Sample(k), q)
					want := e.n.Int.Run(q, 0, e.P)
					for j, v := range want {
						if got := int8(out[k*size+j]); got != v {
							t.Fatalf("sample %d value %d: C %d, Go %d", k, j, got, v)
						}
					}
				}
				return
			}
			if len(out) != 4*d.Len()*size {
				t.Fatalf("%d output bytes, want %d", len(out), 4*d.Len()*size)
			}
			for k := range d.Len() {
				var want []float32
				e.n.Float.Tensors(d.Sample(k), func(ti int, v []float32) {
					if ti == e.P {
						want = append([]float32(nil), v...)
					}
				})
				top := 1e-30
				for _, v := range want {
					top = max(top, math.Abs(float64(v)))
				}
				for j, v := range want {
					got := math.Float32frombits(binary.LittleEndian.Uint32(out[4*(k*size+j):]))
					if math.Abs(float64(got-v)) > 1e-5*top {
						t.Fatalf("sample %d value %d: C %v, Go %v", k, j, got, v)
					}
				}
			}
			_ = s
		})
	}
}

// symbolSizes returns the sizes of the symbols an object file defines.
func symbolSizes(t *testing.T, nm, obj string) map[string]int {
	t.Helper()
	out, err := exec.Command(nm, "-S", obj).Output()
	if err != nil {
		t.Fatalf("%s -S %s: %v", nm, obj, err)
	}
	sizes := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 { // address size type name
			n, err := strconv.ParseInt(f[1], 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			sizes[f[3]] = int(n)
		}
	}
	return sizes
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
			sizes := symbolSizes(t, nm, obj)
			flash := 0
			for name, n := range sizes {
				if name != "splitnas_arena" && name != "splitnas_run" && strings.HasPrefix(name, "splitnas_") {
					flash += n
				}
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
		{"int4", Network{Int: q4}, 1, i8, "int4 weights"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := WriteC(t.TempDir(), c.n, c.P, c.prof)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
	if _, err := os.Stat("testdata/host_main.c"); err != nil {
		t.Fatal(err)
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
