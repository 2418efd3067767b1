package calib

import (
	"fmt"
	"math"
)

// Class is an instruction class the counting plugin tells apart, from the
// instruction's disassembly.
type Class int

// The instruction classes, in the order of the plugin's output.
const (
	ALU            Class = iota // data processing: MOV, ADD, CMP, shifts, extends (SXTB16, SXTAB16), packs (PKHBT, PKHTB), bit fields, saturation (SSAT, USAT), SIMD adds and SEL…
	Mul                         // MUL, MLA, MLS, SMULL, SMLAL, UMULL, UMLAL, SMUL*, SMLA* (SMLAD, SMLABB…), SMMUL(R), SMMLA(R) and the other DSP multiplies
	Div                         // SDIV, UDIV
	Load                        // single loads: LDR, LDRB, LDRSB, LDRH, LDRSH, LDREX…
	Store                       // single stores: STR, STRB, STRH, STREX…
	LoadStoreMul                // LDM, STM, PUSH, POP, LDRD, STRD
	Branch                      // B, B<cond>, BL, BX, BLX, CBZ, CBNZ, TBB, TBH
	FPArith                     // VADD, VSUB, VMUL, VNMUL, VABS, VNEG, VCMP, VCVT, VMOV, VMRS, VMSR
	FPMulAdd                    // VMLA, VMLS, VNMLA, VNMLS, VFMA, VFMS, VFNMA, VFNMS
	FPLoadStore                 // VLDR, VSTR
	FPLoadStoreMul              // VLDM, VSTM, VPUSH, VPOP
	FPDivSqrt                   // VDIV, VSQRT
	Other                       // IT, NOP, barriers, MRS, MSR, CPS, BKPT, SVC…
	NumClasses
)

var classNames = [NumClasses]string{"alu", "mul", "div", "load", "store", "ldm_stm", "branch",
	"fp_arith", "fp_mac", "fp_ldst", "fp_ldm", "fp_div", "other"}

// String returns the class's CSV column name without its "n_" prefix,
// e.g. "fp_mac".
func (c Class) String() string {
	if c >= 0 && c < NumClasses {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// Counts are what the plugin counted over one measured call.
type Counts struct {
	Insns [NumClasses]int64 // executed instructions per class
	// Regs is the registers moved by the LoadStoreMul and FPLoadStoreMul
	// instructions (the N of their 1+N cycles; a D register counts 2).
	Regs int64
	// Taken is the control transfers: taken branches, calls and returns,
	// each refilling the pipeline.
	Taken int64
	// Pipelined is the single loads that directly follow a single load
	// whose result does not form their address: they take one cycle less.
	Pipelined int64
	// Stalls is the single loads and stores whose address uses the result
	// of the directly preceding data-processing instruction: one cycle more.
	Stalls int64
	// FlashReads is the data reads from flash (weights, biases, constants);
	// FlashMisses those that miss the simulated ART data cache (8 lines of
	// 32 bytes, LRU, emptied at marker_begin).
	FlashReads, FlashMisses int64
}

// numCounts is the number of values on a plugin output line.
const numCounts = int(NumClasses) + 6

// Instructions is the total executed instructions.
func (c Counts) Instructions() int64 {
	s := int64(0)
	for _, n := range c.Insns {
		s += n
	}
	return s
}

// values lists the counts in the plugin's output order.
func (c *Counts) values() []*int64 {
	v := make([]*int64, 0, numCounts)
	for i := range c.Insns {
		v = append(v, &c.Insns[i])
	}
	return append(v, &c.Regs, &c.Taken, &c.Pipelined, &c.Stalls, &c.FlashReads, &c.FlashMisses)
}

// Sub returns c − o, count by count.
func (c Counts) Sub(o Counts) Counts {
	r := c
	rv, ov := r.values(), o.values()
	for i := range rv {
		*rv[i] -= *ov[i]
	}
	return r
}

// Add returns c + o, count by count.
func (c Counts) Add(o Counts) Counts {
	r := c
	rv, ov := r.values(), o.values()
	for i := range rv {
		*rv[i] += *ov[i]
	}
	return r
}

// CountNames names the extra counts after the classes (Regs … FlashMisses),
// as CSV columns. The slice is new on every call.
func CountNames() []string {
	return []string{"regs", "taken", "pipelined", "stalls", "flash_reads", "flash_misses"}
}

// CycleTable turns counts into clock cycles:
//
//	cycles = Σ_class Class[c]·Insns[c] + PerRegister·Regs + Refill·Taken
//	         − Pipelined + Stalls + FlashMiss·FlashMisses
//
// (one cycle saved per pipelined load, one lost per stall).
type CycleTable struct {
	Class       [NumClasses]float64 // cycles per instruction of each class, before the terms below
	PerRegister float64             // per register of a multiple load/store (the N of 1+N)
	Refill      float64             // pipeline refill per control transfer (the P of 1+P)
	FlashMiss   float64             // stall per flash read that misses the ART data cache
}

// CortexM4 returns the cycle table of a Cortex-M4F whose flash has the
// given wait states, behind an ART-like accelerator (an instruction cache
// that holds the kernels' loops, and a data cache).
//
// Sources: Arm Cortex-M4 Processor Technical Reference Manual r0p1 (ARM DDI
// 0439B), table 3-1 "Cortex-M4 instruction set summary" and section 3.3.2
// "Load/store timings"; table 7-1 "FPU instruction set" for the FPv4-SP
// timings; STM32L4x6 reference manual RM0351, section 3.3.3 "Read access
// latency" (table 11: 4 wait states at 64–80 MHz in range 1) and 3.3.4
// "Adaptive real-time memory accelerator (ART Accelerator)" (1 KB
// instruction cache, 32 lines of 4×64 bits; 256-byte data cache, 8 lines
// of 4×64 bits). Assumptions are marked as such; they are the model's, not
// the manuals'.
func CortexM4(flashWaitStates int) CycleTable {
	var t CycleTable
	t.Class = [NumClasses]float64{
		// TRM 3-1: MOV, ADD, SUB, CMP, logical, shifts, extends
		// (including the DSP extension's SXTB16 and SXTAB16, with or
		// without rotation), PKHBT/PKHTB, bit fields, SSAT/USAT, the
		// parallel adds and subtracts (SSUB8…), SEL, USADA8, ADR: 1 cycle.
		ALU: 1,
		// TRM 3-1: on the Cortex-M4, MUL, MLA, MLS, SMULL, UMULL, SMLAL,
		// UMLAL and the DSP multiplies (SMLAD, SMLAxy, SMUAD, SMMUL(R),
		// SMMLA(R)…) all take 1 cycle.
		Mul: 1,
		// TRM 3-1: SDIV, UDIV take 2 to 12 cycles depending on the
		// operands (early termination). Assumption: 7, the midpoint; the
		// kernels never divide in a loop.
		Div: 7,
		// TRM 3-1: LDR 2 cycles (address and data phase); the 1-cycle
		// pipelined case is the Pipelined term. Assumption: an unaligned
		// LDR (the int8 kernels' word loads) costs as an aligned one; the
		// M4's bus splits it into aligned transfers, which the model does
		// not charge.
		Load: 2,
		// TRM 3.3.2: "STR Rx,[Ry,#imm] is always one cycle": the data
		// phase overlaps the next instruction through the write buffer.
		Store: 1,
		// TRM 3-1: LDM, STM, PUSH, POP take 1+N (N in PerRegister); LDRD
		// and STRD likewise with N = 2.
		LoadStoreMul: 1,
		// TRM 3-1: B, BL, BX, BLX 1+P, B<cond> 1 not taken and 1+P taken,
		// CBZ/CBNZ likewise (P in Refill).
		Branch: 1,
		// TRM 7-1: VADD, VSUB, VMUL, VNMUL, VABS, VNEG, VCMP, VCVT, VMOV,
		// VMRS, VMSR: 1 cycle (2 for moves of two core registers, rare).
		FPArith: 1,
		// TRM 7-1: VMLA, VMLS, VNMLA, VNMLS, VFMA, VFMS, VFNMA, VFNMS: 3.
		FPMulAdd: 3,
		// TRM 7-1: VLDR, VSTR: 2 cycles; a VLDR after a load pipelines as
		// integer loads do (Pipelined term).
		FPLoadStore: 2,
		// TRM 7-1: VLDM, VSTM, VPUSH, VPOP: 1+N.
		FPLoadStoreMul: 1,
		// TRM 7-1: VDIV, VSQRT: 14 cycles.
		FPDivSqrt: 14,
		// TRM 3-1: NOP, IT, MRS, MSR, CPS 1 cycle (IT may fold into the
		// preceding instruction; assumption: it does not).
		Other: 1,
	}
	t.PerRegister = 1
	// TRM 3-1: P, the pipeline refill, is 1 to 3 cycles "depending on the
	// alignment and width of the target instruction, and whether the
	// processor manages to speculate the address early". Assumption: 2.
	// The ART instruction cache (RM0351 3.3.4) holds the kernels' loops,
	// so a refill adds no flash wait states; the first pass through each
	// loop, which would, is not modelled.
	t.Refill = 2
	// RM0351 3.3.3–3.3.4: a data read that misses the ART data cache waits
	// for the flash: the wait states of the clock. Assumption: a miss
	// stalls the core for exactly the wait states, and the rest of the
	// 32-byte line is filled in the background.
	t.FlashMiss = float64(flashWaitStates)
	return t
}

// Cycles returns the clock cycles the counts take under the table.
func (t CycleTable) Cycles(c Counts) float64 {
	s := 0.0
	for i, n := range c.Insns {
		s += t.Class[i] * float64(n)
	}
	s += t.PerRegister*float64(c.Regs) + t.Refill*float64(c.Taken)
	s += float64(c.Stalls) - float64(c.Pipelined)
	s += t.FlashMiss * float64(c.FlashMisses)
	return s
}

// STM32L4WaitStates returns the flash wait states an STM32L4 needs at clock
// hz in voltage range 1 (RM0351 table 11: 0 WS up to 16 MHz, then one more
// per 16 MHz, 4 WS up to 80 MHz). It fails above 80 MHz.
func STM32L4WaitStates(hz float64) (int, error) {
	if math.IsNaN(hz) || hz <= 0 || hz > 80e6 {
		return 0, fmt.Errorf("calib: clock %g Hz outside the STM32L4's range (0, 80 MHz]", hz)
	}
	return int(math.Ceil(hz/16e6)) - 1, nil
}
