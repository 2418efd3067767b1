package export

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/splitnas/splitnas/calib"
)

// Verification is what Verify measured of an exported library.
type Verification struct {
	Windows int `json:"windows"`
	// Host: the library compiled for this machine. Mismatches counts the
	// windows whose tensor differs from the Go reference's: any byte for
	// an integer network, more than 1e-5 of the tensor's largest magnitude
	// for float32 (MaxRelDiff is the largest such difference).
	HostMismatches int     `json:"host_mismatches"`
	MaxRelDiff     float64 `json:"max_rel_diff"`
	// Emulated: the example firmware on QEMU's Cortex-M4. EmuMismatches
	// counts windows whose tensor differs from the host's (any byte for an
	// integer network; as above for float32, whose fused multiply-adds the
	// Cortex-M4 build may round differently).
	EmuMismatches int `json:"emulated_mismatches"`
	// Cycles of splitnas_layers per window on the emulated Cortex-M4 (the
	// first window's; they differ by a few between windows of an int8
	// network), against the profile's prediction (Summary.Cycles).
	EmulatedCycles  float64 `json:"emulated_cycles"`
	PredictedCycles float64 `json:"predicted_cycles"`
	CycleError      float64 `json:"cycle_error"` // (predicted − emulated)/emulated, 0 when there are no layers
	// Cycles of splitnas_load, the input stage (quantizing the window in
	// an integer network, copying it in float32), averaged over the
	// windows (the quantizer's rounding branches depend on the values),
	// against the profile's prediction (Summary.InputCycles).
	EmulatedInputCycles  float64 `json:"emulated_input_cycles"`
	PredictedInputCycles float64 `json:"predicted_input_cycles"`
}

// Verify compiles the library WriteC wrote into dir for the host and runs
// it on inputs, comparing each returned tensor with the Go reference
// (package quant's integer path, or package nn's float one); then writes
// the example firmware (WriteFirmware), runs it on the emulated Cortex-M4
// and compares its tensors with the host's and its cycles with the
// profile's prediction. It needs a host C compiler (gcc or cc) and
// arm-none-eabi-gcc and qemu-system-arm.
func Verify(ctx context.Context, dir string, n Network, s *Summary, inputs [][]float32) (*Verification, error) {
	// The compilers run in other directories: name the library absolutely.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	want := reference(n, s.Split, inputs)
	v := &Verification{Windows: len(inputs), PredictedCycles: s.Cycles, PredictedInputCycles: s.InputCycles}
	host, err := runHost(ctx, dir, s.sources(), inputs, len(want[0]))
	if err != nil {
		return nil, err
	}
	for k := range inputs {
		d := difference(n, want[k], host[k])
		v.MaxRelDiff = max(v.MaxRelDiff, d)
		if d > tolerance {
			v.HostMismatches++
		}
	}
	if err := WriteFirmware(dir, inputs); err != nil {
		return nil, err
	}
	emu, err := calib.NewEmulator(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer emu.Close()
	_, prec, err := n.net()
	if err != nil {
		return nil, err
	}
	cfg := calib.Config{}
	cfg.Precision, _ = kernels(prec)
	fw := filepath.Join(dir, FirmwareDir)
	srcs := []string{filepath.Join(fw, "main.c")}
	for _, f := range s.sources() {
		srcs = append(srcs, filepath.Join(dir, f))
	}
	res, out, err := emu.RunFirmware(ctx, cfg, srcs, []string{dir, fw})
	if err != nil {
		return nil, fmt.Errorf("export: emulating the firmware: %w", err)
	}
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if t, ok := strings.CutPrefix(strings.TrimSpace(l), "y "); ok {
			lines = append(lines, t)
		}
	}
	// Two timed pairs a window: splitnas_load, then splitnas_layers.
	if len(lines) != len(inputs) || len(res) != 2*len(inputs) {
		return nil, fmt.Errorf("export: the firmware printed %d tensors and timed %d runs for %d windows (want 2 a window):\n%s", len(lines), len(res), len(inputs), out)
	}
	for k, line := range lines {
		b, err := hex.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("export: the firmware printed %q: %w", line, err)
		}
		if difference(n, host[k], b) > tolerance {
			v.EmuMismatches++
		}
	}
	for k := range inputs {
		v.EmulatedInputCycles += res[2*k].Cycles / float64(len(inputs))
	}
	v.EmulatedCycles = res[1].Cycles
	if s.Split > 0 && v.EmulatedCycles > 0 {
		v.CycleError = (v.PredictedCycles - v.EmulatedCycles) / v.EmulatedCycles
	}
	return v, nil
}

// reference returns tensor P of each input as the Go reference computes
// it, in the library's byte layout (int8 values, or little-endian float32).
func reference(n Network, P int, inputs [][]float32) [][]byte {
	out := make([][]byte, len(inputs))
	for k, x := range inputs {
		if n.Int != nil {
			q := make([]int8, len(x))
			n.Int.QuantizeInput(x, q)
			for _, v := range n.Int.Run(q, 0, P) {
				out[k] = append(out[k], byte(v))
			}
			continue
		}
		n.Float.Tensors(x, func(i int, t []float32) {
			if i == P {
				for _, v := range t {
					out[k] = binary.LittleEndian.AppendUint32(out[k], math.Float32bits(v))
				}
			}
		})
	}
	return out
}

// tolerance is the largest difference (see difference) Verify accepts: in
// float32, 1e-5 of the tensor's largest magnitude; in int8, none.
const tolerance = 1e-5

// difference returns how far got is from want: 0, or 1 if any byte
// differs, for an integer network; for float32 the largest difference
// relative to want's largest magnitude (+Inf for tensors of other sizes).
func difference(n Network, want, got []byte) float64 {
	if len(want) != len(got) {
		return math.Inf(1)
	}
	if n.Int != nil {
		if bytes.Equal(want, got) {
			return 0
		}
		return 1
	}
	top, worst := 1e-30, 0.0
	for i := 0; i+4 <= len(want); i += 4 {
		top = max(top, math.Abs(float64(math.Float32frombits(binary.LittleEndian.Uint32(want[i:])))))
	}
	for i := 0; i+4 <= len(want); i += 4 {
		a := float64(math.Float32frombits(binary.LittleEndian.Uint32(want[i:])))
		b := float64(math.Float32frombits(binary.LittleEndian.Uint32(got[i:])))
		worst = max(worst, math.Abs(a-b)/top)
	}
	return worst
}

// hostHarness reads input windows from standard input and writes the
// returned tensors to standard output.
const hostHarness = `#include <stdio.h>
#include "splitnas_model.h"

int main(void)
{
	static float x[SPLITNAS_INPUT_SIZE];
	while (fread(x, sizeof x[0], SPLITNAS_INPUT_SIZE, stdin) == SPLITNAS_INPUT_SIZE) {
		const splitnas_value_t *y = splitnas_run(x);
		if (fwrite(y, sizeof y[0], SPLITNAS_OUTPUT_SIZE, stdout) != SPLITNAS_OUTPUT_SIZE)
			return 1;
	}
	return 0;
}
`

// runHost compiles the library with hostHarness and returns each window's
// tensor, size bytes each.
func runHost(ctx context.Context, dir string, srcs []string, inputs [][]float32, size int) ([][]byte, error) {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		if cc, err = exec.LookPath("cc"); err != nil {
			return nil, fmt.Errorf("export: no host C compiler (gcc or cc) on PATH; install Debian's gcc")
		}
	}
	tmp, err := os.MkdirTemp("", "splitnas-host-")
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer os.RemoveAll(tmp)
	harness, bin := filepath.Join(tmp, "harness.c"), filepath.Join(tmp, "harness")
	if err := os.WriteFile(harness, []byte(hostHarness), 0o644); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	args := []string{"-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", dir}
	for _, f := range srcs {
		args = append(args, filepath.Join(dir, f))
	}
	cmd := exec.CommandContext(ctx, cc, append(args, harness, "-o", bin)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("export: compiling the library for the host: %w\n%s", err, out)
	}
	var in bytes.Buffer
	for _, x := range inputs {
		for _, v := range x {
			in.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)))
		}
	}
	run := exec.CommandContext(ctx, bin)
	run.Stdin = &in
	out, err := run.Output()
	if err != nil {
		return nil, fmt.Errorf("export: running the host build: %w", err)
	}
	if len(out) != size*len(inputs) {
		return nil, fmt.Errorf("export: the host build wrote %d bytes for %d windows of %d", len(out), len(inputs), size)
	}
	res := make([][]byte, len(inputs))
	for k := range res {
		res[k] = out[k*size : (k+1)*size]
	}
	return res, nil
}
