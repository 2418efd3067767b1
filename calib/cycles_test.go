package calib

import (
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
	}{{"f32", Float32}, {"float32", Float32}, {"int8", Int8}, {"I8", Int8}} {
		if p, err := ParsePrecision(c.s); err != nil || p != c.want {
			t.Errorf("%q: %v, %v", c.s, p, err)
		}
	}
	if _, err := ParsePrecision("int4"); err == nil {
		t.Error("int4 accepted")
	}
}
