package calib

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCyclesByHand converts counts to cycles under the Cortex-M4 table at
// 4 flash wait states, computed by hand.
func TestCyclesByHand(t *testing.T) {
	tab := CortexM4(4)
	// One iteration of the float32 convolution's inner loop at -O2:
	//   vldmia r3!, {s12}   FP multiple load, 1+N = 2
	//   vldmia r8!, {s14}   2
	//   cmp r1, r3          1
	//   vfma.f32 s15, ...   3
	//   bne (taken)         1+P = 3
	loop := Counts{Regs: 2, Taken: 1}
	loop.Insns[FPLoadStoreMul] = 2
	loop.Insns[ALU] = 1
	loop.Insns[FPMulAdd] = 1
	loop.Insns[Branch] = 1
	if got := tab.Cycles(loop); got != 11 {
		t.Errorf("float32 inner loop: %v cycles, want 11", got)
	}
	if loop.Instructions() != 5 {
		t.Errorf("float32 inner loop: %d instructions, want 5", loop.Instructions())
	}
	// The int8 one: ldrsb (2), ldrsb pipelined (2−1), cmp (1),
	// smlabb (1), bne taken (3), and a weight line fetched from flash
	// every 32 bytes: 4 wait states.
	i8 := Counts{Taken: 1, Pipelined: 1, FlashReads: 1, FlashMisses: 1}
	i8.Insns[Load] = 2
	i8.Insns[ALU] = 1
	i8.Insns[Mul] = 1
	i8.Insns[Branch] = 1
	if got := tab.Cycles(i8); got != 12 {
		t.Errorf("int8 inner loop with a flash miss: %v cycles, want 8 + 4", got)
	}
	// Four taps of the int8 kernels' 2x2 block (two channels, two
	// positions, sixteen MACs): four LDR (the last three pipelined),
	// eight SXTB16 (ALU, 1 cycle) and eight SMLAD (1 cycle): 2+1+1+1 +
	// 8 + 8 = 21.
	blk := Counts{Pipelined: 3}
	blk.Insns[Load] = 4
	blk.Insns[ALU] = 8
	blk.Insns[Mul] = 8
	if got := tab.Cycles(blk); got != 21 {
		t.Errorf("2x2 block step: %v cycles, want 21", got)
	}
	// Every term once or more:
	//   classes 10·1 + 2·1 + 1·7 + 4·2 + 3·1 + 2·1 + 5·1 + 1·1 + 4·3 +
	//   2·2 + 1·1 + 1·14 + 1·1 = 70; registers 7; refills 3·2 = 6;
	//   pipelined −2; stalls +1; flash misses 3·4 = 12: 94.
	var c Counts
	c.Insns = [NumClasses]int64{ALU: 10, Mul: 2, Div: 1, Load: 4, Store: 3, LoadStoreMul: 2, Branch: 5,
		FPArith: 1, FPMulAdd: 4, FPLoadStore: 2, FPLoadStoreMul: 1, FPDivSqrt: 1, Other: 1}
	c.Regs, c.Taken, c.Pipelined, c.Stalls, c.FlashReads, c.FlashMisses = 7, 3, 2, 1, 10, 3
	if got := tab.Cycles(c); got != 94 {
		t.Errorf("all terms: %v cycles, want 94", got)
	}
	if got := CortexM4(0).Cycles(c); got != 82 {
		t.Errorf("all terms without wait states: %v cycles, want 82", got)
	}
	if c.Instructions() != 37 {
		t.Errorf("%d instructions, want 37", c.Instructions())
	}
	if d := c.Sub(loop).Add(loop); d != c {
		t.Errorf("Sub then Add: %+v, want %+v", d, c)
	}
}

func TestSTM32L4WaitStates(t *testing.T) {
	for _, c := range []struct {
		hz   float64
		want int
	}{{4e6, 0}, {16e6, 0}, {24e6, 1}, {64e6, 3}, {64.1e6, 4}, {80e6, 4}} {
		got, err := STM32L4WaitStates(c.hz)
		if err != nil || got != c.want {
			t.Errorf("%g Hz: %d, %v; want %d", c.hz, got, err, c.want)
		}
	}
	for _, hz := range []float64{0, -1, 81e6} {
		if _, err := STM32L4WaitStates(hz); err == nil {
			t.Errorf("%g Hz accepted", hz)
		}
	}
}

func TestClassNames(t *testing.T) {
	h := strings.Join(CSVHeader(), ",")
	for _, want := range []string{"kind,l_in,c_in,l_out,c_out,kernel,stride,cycles,instructions,precision",
		"n_alu", "n_fp_mac", "n_other", "flash_misses", "time_us", "energy_uj"} {
		if !strings.Contains(h, want) {
			t.Errorf("header %q lacks %q", h, want)
		}
	}
	if strings.Contains(h, "latency_us") {
		t.Error("header has latency_us: hw.ReadMeasurements rejects it beside cycles")
	}
	if got := len(CSVHeader()); got != 13+int(NumClasses)+len(CountNames())+2 {
		t.Errorf("%d columns", got)
	}
	if numCounts != int(NumClasses)+len(CountNames()) {
		t.Errorf("numCounts %d, want %d", numCounts, int(NumClasses)+len(CountNames()))
	}
}

func TestParsePrecision(t *testing.T) {
	for _, c := range []struct {
		s    string
		want Precision
	}{{"f32", Float32}, {"float32", Float32}, {"int8", Int8}, {"I8", Int8}, {"int4", Int4}, {"i4", Int4}} {
		if p, err := ParsePrecision(c.s); err != nil || p != c.want {
			t.Errorf("%q: %v, %v", c.s, p, err)
		}
	}
	if _, err := ParsePrecision("int2"); err == nil {
		t.Error("int2 accepted")
	}
}

// TestPluginClassifier runs the counting plugin's classifier (plugin/count.c,
// compiled for the host with testdata/classify_main.c) on instructions as
// QEMU 7.2 disassembles them in the int8 kernels: the DSP extension's
// multiplies (SMLAD, SMLAxy, SMMLAR, SMMULR, SMUAD) are multiplies, its
// extends, packs, saturations and byte selects (SXTB16, SXTAB16 with or
// without ROR, PKHBT, PKHTB, SSAT, USAT, SSUB8, SEL, USADA8) and bit
// fields data processing, unaligned and register-offset loads single loads, LDRD
// and STRD double transfers; and the Cortex-M4 table charges each one
// cycle as TRM table 3-1 does (a double transfer 1+2).
func TestPluginClassifier(t *testing.T) {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		if cc, err = exec.LookPath("cc"); err != nil {
			t.Skip("no host C compiler (gcc or cc) on PATH; install Debian's gcc")
		}
	}
	dir := t.TempDir()
	b, err := source("plugin/count.c")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "count.c"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "classify")
	if out, err := exec.Command(cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", dir, "-o", bin,
		filepath.Join("testdata", "classify_main.c")).CombinedOutput(); err != nil {
		t.Fatalf("compiling the classifier: %v\n%s", err, out)
	}
	cases := []struct {
		dis   string
		class Class
		dest  int // register written, -1 for none
		addr  []int
		regs  int
	}{
		{"smlad r7, r0, r8, fp", Mul, 7, nil, 0},
		{"smlabb r5, r4, r0, r5", Mul, 5, nil, 0},
		{"smlabt r5, r4, r0, r5", Mul, 5, nil, 0},
		{"smlatb r7, r4, r0, r7", Mul, 7, nil, 0},
		{"smlatt r3, r4, r0, r3", Mul, 3, nil, 0},
		{"smmlar r1, r4, sb, r1", Mul, 1, nil, 0},
		{"smmulr r0, r0, r2", Mul, 0, nil, 0},
		{"smuad r0, r1, r2", Mul, 0, nil, 0},
		{"sxtb16 r8, r7", ALU, 8, nil, 0},
		{"sxtb16 r4, r4, ror #8", ALU, 4, nil, 0},
		{"sxtab16 r5, sl, r2", ALU, 5, nil, 0},
		{"sxtab16 ip, r6, ip, ror #8", ALU, 12, nil, 0},
		{"pkhbt r0, r4, r2, lsl #16", ALU, 0, nil, 0},
		{"pkhtb r2, r2, r4, asr #16", ALU, 2, nil, 0},
		{"ssat r6, #8, r6", ALU, 6, nil, 0},
		{"usat r0, #8, r1", ALU, 0, nil, 0},
		{"ssub8 r4, r0, r1", ALU, 4, nil, 0},
		{"sel r0, r0, r1", ALU, 0, nil, 0},
		{"sbfx r1, r1, #0x1e, #1", ALU, 1, nil, 0},
		{"bfi r0, r1, #8, #8", ALU, 0, nil, 0},
		{"uxtb16 r1, r2", ALU, 1, nil, 0},
		{"usada8 r0, r3, r0, r0", ALU, 0, nil, 0},
		{"ldr r6, [r1, #2]", Load, 6, []int{1}, 0},
		{"ldr.w r2, [ip, r2]", Load, 2, []int{12, 2}, 0},
		{"ldrsb.w r8, [lr], #1", Load, 8, []int{14}, 0},
		{"strb.w r3, [r5, #1]", Store, 3, []int{5}, 0},
		{"ldrd r3, r2, [r0, #8]", LoadStoreMul, -1, []int{0}, 2},
		{"strd fp, r8, [sp]", LoadStoreMul, -1, []int{13}, 2},
	}
	var in strings.Builder
	for _, c := range cases {
		in.WriteString(c.dis + "\n")
	}
	cmd := exec.Command(bin)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("%d lines from the classifier, want %d", len(lines), len(cases))
	}
	tab := CortexM4(4)
	for i, c := range cases {
		f := strings.Fields(lines[i])
		var regs, load1, ldst1, dest int
		var addr uint32
		if _, err := fmt.Sscan(strings.Join(f[1:], " "), &regs, &load1, &ldst1, &dest, &addr); err != nil || len(f) != 6 {
			t.Fatalf("%q: classifier line %q", c.dis, lines[i])
		}
		if f[0] != c.class.String() || regs != c.regs {
			t.Errorf("%q: class %s with %d registers, want %s with %d", c.dis, f[0], regs, c.class, c.regs)
		}
		if c.class != LoadStoreMul && c.class != Store && dest != c.dest {
			t.Errorf("%q: writes r%d, want r%d", c.dis, dest, c.dest)
		}
		var want uint32
		for _, r := range c.addr {
			want |= 1 << r
		}
		if addr != want {
			t.Errorf("%q: address registers %#x, want %#x", c.dis, addr, want)
		}
		if single := c.class == Load || c.class == Store; (ldst1 == 1) != single || (load1 == 1) != (c.class == Load) {
			t.Errorf("%q: single load %d, single load/store %d", c.dis, load1, ldst1)
		}
		// TRM table 3-1: the DSP multiplies, extends, packs, saturations
		// and SEL take one cycle; LDR two (one pipelined); LDRD 1+2.
		var cnt Counts
		cnt.Insns[c.class] = 1
		cnt.Regs = int64(regs)
		want1 := map[Class]float64{Mul: 1, ALU: 1, Load: 2, Store: 1, LoadStoreMul: 3}[c.class]
		if got := tab.Cycles(cnt); got != want1 {
			t.Errorf("%q: %v cycles, want %v", c.dis, got, want1)
		}
	}
}
