// Package export writes the edge part of a trained, split network in the
// forms other tools take. WriteC emits layers 1..P as a self-contained C99
// library: the weights as const arrays (Flash), one static activation arena
// (RAM), the layer kernels package calib measures the latency profiles on,
// a Makefile and a README stating what splitnas computed for it.
package export

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/calib"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/partition"
	"github.com/splitnas/splitnas/quant"
)

// Network is the network to export: a float model, or an integer one
// (exactly one of the two).
type Network struct {
	Float *nn.Model
	Int   *quant.Model
	// Dense stores every layer densely. Otherwise a layer whose weights
	// hold zeros (a pruned network) is stored and run sparse where the
	// profile predicts that faster (partition.EvaluateSparse, SparseFile).
	Dense bool
}

// net returns the architecture and the precision the network is stored in.
func (n Network) net() (arch.Network, arch.Precision, error) {
	switch {
	case (n.Float == nil) == (n.Int == nil):
		return arch.Network{}, arch.Precision{}, errors.New("export: want exactly one of a float and an integer model")
	case n.Float != nil:
		return n.Float.Network(), arch.Float32(), nil
	}
	if n.Int.Bits != 8 && n.Int.Bits != 4 {
		return arch.Network{}, arch.Precision{}, fmt.Errorf("export: int%d weights: the C kernels take int8 or int4 weights", n.Int.Bits)
	}
	return n.Int.Network(), n.Int.Precision(), nil
}

// kernels is the precision of the calib kernels that run a network of
// precision p, and their name suffix.
func kernels(p arch.Precision) (calib.Precision, string) {
	switch {
	case p.Integer() && p.WeightBits == 4:
		return calib.Int4, "i4"
	case p.Integer():
		return calib.Int8, "i8"
	}
	return calib.Float32, "f32"
}

// Summary is what an exported library costs, as splitnas computed it; the
// library's README states it and the tests check the compiled object
// against it.
type Summary struct {
	Arch       string     `json:"arch"`
	Split      int        `json:"split"`  // P: layers 1..P are exported
	Layers     int        `json:"layers"` // L
	Precision  string     `json:"precision"`
	Input      arch.Shape `json:"-"`
	Output     arch.Shape `json:"-"` // tensor P
	FlashBytes int        `json:"flash_bytes"`
	RAMBytes   int        `json:"ram_bytes"`
	MACs       int        `json:"macs"`
	Cycles     float64    `json:"cycles"` // the profile's latency surrogate, layers 1..P
	// InputCycles is the profile's cost of the input stage (splitnas_load:
	// quantizing the window in an integer network), hw.Device.InputCycles.
	InputCycles float64  `json:"input_cycles"`
	EdgeSeconds float64  `json:"edge_seconds"` // input stage and layers 1..P
	ECompMJ     float64  `json:"e_comp_edge_mj"`
	ECommMJ     float64  `json:"e_comm_edge_mj"` // sending tensor P over the profile's radio
	EEdgeMJ     float64  `json:"e_edge_mj"`
	SendBytes   int      `json:"send_bytes"`
	Profile     string   `json:"profile"`
	Files       []string `json:"files"`
	// Policy is the adaptive split policy an adaptive library carries
	// (WriteCAdaptive); nil otherwise. Split is then its Pmax.
	Policy *partition.Policy `json:"policy,omitempty"`
	// SparseLayers are the layers (1..P) stored sparse, NonZero the
	// non-zero weights of layers 1..P.
	SparseLayers []int `json:"sparse_layers,omitempty"`
	NonZero      int   `json:"nonzero_weights"`
}

// sources are the library's C files.
func (s *Summary) sources() []string {
	srcs := []string{SourceFile, KernelsFile}
	if len(s.SparseLayers) > 0 {
		srcs = append(srcs, SparseFile)
	}
	return srcs
}

// The files WriteC writes.
const (
	HeaderFile        = "splitnas_model.h"
	SourceFile        = "splitnas_model.c"
	KernelsHeaderFile = "splitnas_kernels.h"
	KernelsFile       = "splitnas_kernels.c"
	MakefileFile      = "Makefile"
	ReadmeFile        = "README.md"
)

// WriteC writes layers 1..P of n into dir (created if needed) as a C99
// library, costed on prof (whose edge precision must be n's: a float
// profile for a float model, an int8 one for an int8 model, an int4 one for
// an int4 model, whose weights it writes packed two per byte). The library
// has one entry point, splitnas_run, that takes the input window (float,
// channel-major) and returns tensor P — the split tensor, or the class
// scores when P = L — in the arena. The arena is RAM(P) bytes as arch
// computes it: tensor k lies at its start when k is even and at its end
// when k is odd, so that each layer's input and output, the largest pair
// of which RAM(P) is, never overlap. The weight arrays and constants
// (external symbols named splitnas_*) hold exactly Flash(P) bytes — with
// the layers stored sparse (see Network.Dense) counted as
// partition.EvaluateSparse counts them.
func WriteC(dir string, n Network, P int, prof hw.Profile) (*Summary, error) {
	return writeC(dir, n, P, prof, nil)
}

// WriteCAdaptive writes an adaptive library: layers 1..Pmax of n, Pmax the
// largest split point pol needs (partition.NewPolicy of n's architecture on
// prof), as WriteC does — arena RAM(Pmax), weights Flash(Pmax), and
// splitnas_run returning tensor Pmax — plus the policy:
//
//	const splitnas_value_t *splitnas_run_to(const float *input, int split);
//
// runs layers 1..split (0 ≤ split ≤ SPLITNAS_PMAX; NULL otherwise) and
// returns tensor split, of splitnas_output_size(split) values;
// splitnas_policy_table is the policy's table (condition → split point,
// as const data), splitnas_link_levels the link model's effective µJ per
// byte and per packet at each PHY and TX level with no retransmissions,
// and
//
//	int splitnas_policy_split(int phy, double tx_dbm, double retransmission_rate);
//
// maps a measured condition to its split point as partition.Policy.Choose
// does, in the same double arithmetic (−1 for a condition the link model
// does not cover). The policy's tables are not part of Flash(Pmax), like
// the layers' shapes. Every layer is stored dense (the policy was made on
// the dense costs).
func WriteCAdaptive(dir string, n Network, prof hw.Profile, pol partition.Policy) (*Summary, error) {
	net, _, err := n.net()
	if err != nil {
		return nil, err
	}
	if pol.Arch != net.String() || pol.Profile != prof.Name {
		return nil, fmt.Errorf("export: the policy is for %s on %s, the model is %s on %s", pol.Arch, pol.Profile, net, prof.Name)
	}
	if prof.Link == nil || len(pol.Candidates) == 0 || pol.Pmax > len(net.Layers) {
		return nil, fmt.Errorf("export: not a policy of %s on %s (make one with partition.NewPolicy)", net, prof.Name)
	}
	return writeC(dir, n, pol.Pmax, prof, &pol)
}

func writeC(dir string, n Network, P int, prof hw.Profile, pol *partition.Policy) (*Summary, error) {
	net, prec, err := n.net()
	if err != nil {
		return nil, err
	}
	L := len(net.Layers)
	if P < 0 || P > L {
		return nil, fmt.Errorf("export: split point %d: the network has layers 1..%d (P = 0..%d)", P, L, L)
	}
	if pp := prof.Edge.Precision(); pp.WeightBits != prec.WeightBits || pp.ActBits != prec.ActBits {
		return nil, fmt.Errorf("export: profile %s is %s, the model %s: cost it on a profile of its precision (e.g. stm32l476 for float32, stm32l476-int8 for int8, stm32l476-int4 for int4)", prof.Name, pp.Name, prec.Name)
	}
	for _, l := range net.Layers[:P] {
		if l.Kind == arch.MaxPool {
			return nil, errors.New("export: max pooling has no C kernel")
		}
	}
	var rows [][]int
	if !n.Dense && pol == nil {
		rows = n.Rows()
	}
	tab, err := partition.EvaluateSparse(net, prof, partition.Edge, partition.Limits{}, rows)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	pt := tab.Points[P]
	macs, layerSec := 0, 0.0
	sparse := make([]bool, P)
	var sparseLayers []int
	for i, l := range net.Layers[:P] {
		macs += l.MACs()
		layerSec += tab.Layers[i].EdgeSeconds
		if sparse[i] = tab.Layers[i].Sparse; sparse[i] {
			sparseLayers = append(sparseLayers, i+1)
		}
	}
	s := &Summary{
		Arch: net.String(), Split: P, Layers: L, Precision: prec.Name, Input: net.Input(), Output: net.Tensor(P),
		FlashBytes: pt.FlashBytes, RAMBytes: net.RAM(P, prec), MACs: macs,
		Cycles: layerSec * prof.Edge.ClockHz, InputCycles: tab.InputSeconds * prof.Edge.ClockHz,
		EdgeSeconds: pt.EdgeSeconds,
		ECompMJ:     pt.ECompEdge, ECommMJ: pt.ECommEdge, EEdgeMJ: pt.EEdge, SendBytes: pt.SendBytes, Profile: prof.Name,
		Policy: pol, SparseLayers: sparseLayers, NonZero: nonZero(n, P),
	}
	g := gen{s: s, net: net, prec: prec, n: n, P: P, pol: pol, prof: prof, sparse: sparse}
	src, err := g.source()
	if err != nil {
		return nil, err
	}
	cp, _ := kernels(prec)
	kh, kc, err := calib.Kernels(cp)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	files := []struct {
		name string
		body []byte
	}{
		{HeaderFile, g.header()}, {SourceFile, src}, {KernelsHeaderFile, kh}, {KernelsFile, kc},
		{MakefileFile, makefile(s.sources())}, {ReadmeFile, g.readme()},
	}
	if len(sparseLayers) > 0 {
		sc, err := calib.SparseKernels(cp)
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		files = append(files, struct {
			name string
			body []byte
		}{SparseFile, sc})
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.body, 0o644); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		s.Files = append(s.Files, f.name)
	}
	return s, nil
}

// gen generates the network's C.
type gen struct {
	s    *Summary
	net  arch.Network
	prec arch.Precision
	n    Network
	P    int
	// pol is the adaptive policy, nil for a fixed split; link the radio
	// whose link model it was made on.
	pol  *partition.Policy
	prof hw.Profile
	// sparse[i]: layer i+1 is stored sparse.
	sparse []bool
}

// bytes is the size of tensor k in the arena.
func (g *gen) bytes(k int) int { return arch.ByteSize(g.net.Tensor(k).Size(), g.prec.ActBits) }

// offset is where tensor k lies in the arena, in elements of the
// activation type: the start for even k, the end for odd k.
func (g *gen) offset(k int) int {
	if k%2 == 0 {
		return 0
	}
	return (g.s.RAMBytes - g.bytes(k)) * 8 / g.prec.ActBits
}

func (g *gen) actType() string {
	if g.prec.Integer() {
		return "int8_t"
	}
	return "float"
}

// cFloat is v as a C float literal that parses back to the same float32.
func cFloat(v float32) (string, error) {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return "", fmt.Errorf("export: the model holds %v: it cannot be exported", v)
	}
	t := strconv.FormatFloat(float64(v), 'g', -1, 32)
	if !strings.ContainsAny(t, ".en") {
		t += ".0"
	}
	return t + "f", nil
}

// array writes a const array definition, 12 values a line.
func array[T any](b *bytes.Buffer, ctype, name string, v []T, format func(T) (string, error)) error {
	fmt.Fprintf(b, "const %s %s[%d] = {", ctype, name, len(v))
	for i, x := range v {
		if i%12 == 0 {
			b.WriteString("\n\t")
		} else {
			b.WriteByte(' ')
		}
		t, err := format(x)
		if err != nil {
			return err
		}
		b.WriteString(t)
		b.WriteByte(',')
	}
	b.WriteString("\n};\n")
	return nil
}

func intText[T int8 | uint8 | uint16 | int32](v T) (string, error) { return strconv.Itoa(int(v)), nil }

// source is splitnas_model.c.
func (g *gen) source() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, `/*
 * splitnas_model.c: layers 1..%d of %s (%s), generated by splitnas export.
 * Flash: the splitnas_* arrays below, %d bytes. RAM: splitnas_arena, %d bytes.
 */
#include <stdint.h>
#include <string.h>

#include "splitnas_kernels.h"
#include "splitnas_model.h"

`, g.P, g.s.Arch, g.prec.Name, g.s.FlashBytes, g.s.RAMBytes)
	act := g.actType()
	var calls bytes.Buffer
	var ends []int // ends[i]: where layer i+1's calls end in calls
	if g.prec.Integer() {
		m := g.n.Int
		in := m.Tensor(0)
		sc, err := cFloat(in.Scale)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "const float splitnas_input_scale = %s;\n\n", sc)
		fmt.Fprintf(&b, quantizeC, in.ZeroPoint)
		var zps []int32
		for i := range m.Layers[:g.P] {
			l := &m.Layers[i]
			zps = append(zps, l.InQ.ZeroPoint, l.OutQ.ZeroPoint)
			k := i + 1
			wArg, err := g.intWeights(&b, i)
			if err != nil {
				return nil, err
			}
			for _, a := range []struct {
				name string
				v    []int32
			}{{"b", l.B}, {"mult", l.Mult}, {"shift", l.Shift}} {
				if err := array(&b, "int32_t", fmt.Sprintf("splitnas_%s%d", a.name, k), a.v, intText[int32]); err != nil {
					return nil, err
				}
			}
			fmt.Fprintf(&calls, "\tl = layer_shapes[%d];\n\tl.input_offset = -splitnas_zero_points[%d];\n\tl.output_offset = splitnas_zero_points[%d];\n", i, 2*i, 2*i+1)
			fmt.Fprintf(&calls, "\t%s(&l, t%d, %s, splitnas_b%d, splitnas_mult%d, splitnas_shift%d, t%d);\n",
				g.kernel(i), i, wArg, k, k, k, k)
			ends = append(ends, calls.Len())
		}
		if g.P > 0 {
			if err := array(&b, "int32_t", "splitnas_zero_points", zps, intText[int32]); err != nil {
				return nil, err
			}
		}
	} else {
		var err error
		for i := range g.P {
			w, bias := g.n.Float.Weights(i)
			k := i + 1
			wArg := fmt.Sprintf("splitnas_w%d", k)
			if g.sparse[i] {
				sp := arch.EncodeSparse(g.net.Layers[i], w)
				if wArg, err = sparseArrays(&b, k, "float", sp.Values, cFloat, sp); err != nil {
					return nil, err
				}
			} else if err := array(&b, "float", wArg, w, cFloat); err != nil {
				return nil, err
			}
			if err := array(&b, "float", fmt.Sprintf("splitnas_b%d", k), bias, cFloat); err != nil {
				return nil, err
			}
			fmt.Fprintf(&calls, "\t%s(&layer_shapes[%d], t%d, %s, splitnas_b%d, t%d);\n",
				g.kernel(i), i, i, wArg, k, k)
			ends = append(ends, calls.Len())
		}
	}
	if g.P > 0 {
		b.WriteString("\n/* The layers' shapes (read-only data like the code, not counted in Flash above). */\n")
		fmt.Fprintf(&b, "static const splitnas_layer_t layer_shapes[%d] = {\n", g.P)
		for _, l := range g.net.Layers[:g.P] {
			fmt.Fprintf(&b, "\t%s,\n", calib.LayerC(l))
		}
		b.WriteString("};\n")
	}
	elems := g.s.RAMBytes * 8 / g.prec.ActBits
	fmt.Fprintf(&b, "\n/* The activation arena: tensor k at its start (even k) or its end (odd k). */\n%s splitnas_arena[%d] __attribute__((aligned(8)));\n\n", act, elems)
	b.WriteString("void splitnas_load(const float *input)\n{\n")
	fmt.Fprintf(&b, "\t%s *const t0 = splitnas_arena;\n", act)
	if g.prec.Integer() {
		fmt.Fprintf(&b, "\tfor (int32_t i = 0; i < %d; i++)\n\t\tt0[i] = splitnas_quantize(input[i]);\n}\n\n", g.net.Input().Size())
	} else {
		fmt.Fprintf(&b, "\tmemcpy(t0, input, %d * sizeof(float));\n}\n\n", g.net.Input().Size())
	}
	if g.pol != nil {
		if err := g.adaptiveSource(&b, calls.Bytes(), ends); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	fmt.Fprintf(&b, "const %s *splitnas_layers(void)\n{\n", act)
	for k := 0; k <= g.P; k++ {
		if k > 0 || g.P > 0 {
			fmt.Fprintf(&b, "\t%s *const t%d = splitnas_arena + %d;\n", act, k, g.offset(k))
		}
	}
	if g.prec.Integer() && g.P > 0 {
		b.WriteString("\tsplitnas_layer_t l;\n")
	}
	b.Write(calls.Bytes())
	if g.P == 0 {
		b.WriteString("\treturn splitnas_arena;\n}\n\n")
	} else {
		fmt.Fprintf(&b, "\treturn t%d;\n}\n\n", g.P)
	}
	fmt.Fprintf(&b, "const %s *splitnas_run(const float *input)\n{\n\tsplitnas_load(input);\n\treturn splitnas_layers();\n}\n", act)
	return b.Bytes(), nil
}

// quantizeC is the input quantizer (its %d: the input zero point), TFLite's
// Quantize as package quant computes it: x / scale in float32, rounded
// halves away from zero — exactly, since q − trunc(q) is exact in float32
// for |q| < 256, beyond which the result clamps anyway — plus the zero
// point, clamped to int8; NaN gives the zero point.
const quantizeC = `/* The input quantizer (TFLite's Quantize): clamp(round(x / scale) + zero
 * point) with round() halving away from zero, in float32. */
static int8_t splitnas_quantize(float x)
{
	const float q = x / splitnas_input_scale;
	const int32_t zero_point = %d;
	int32_t r;
	if (q != q)
		return (int8_t)zero_point;
	if (q >= 256.0f)
		return 127;
	if (q <= -256.0f)
		return -128;
	r = (int32_t)q; /* toward zero */
	if (q - (float)r >= 0.5f)
		r++;
	else if (q - (float)r <= -0.5f)
		r--;
	r += zero_point;
	return (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);
}

`

// header is splitnas_model.h.
func (g *gen) header() []byte {
	var b bytes.Buffer
	act := g.actType()
	in, out := g.s.Input, g.s.Output
	fmt.Fprintf(&b, `/*
 * splitnas_model.h: layers 1..%[1]d of %[2]s, %[3]s, generated by splitnas export.
 *
 * const %[4]s *splitnas_run(const float *input);
 *
 * takes one input window of SPLITNAS_INPUT_SIZE floats, channel-major (value
 * (t, c) at c*SPLITNAS_INPUT_LEN + t), and returns tensor %[1]d — %[5]s — of
 * SPLITNAS_OUTPUT_SIZE values, channel-major, inside the library's arena:
 * valid until the next call. Not reentrant (one arena).
 */
#ifndef SPLITNAS_MODEL_H
#define SPLITNAS_MODEL_H

#include <stdint.h>

#define SPLITNAS_INPUT_LEN %[6]d
#define SPLITNAS_INPUT_CHANNELS %[7]d
#define SPLITNAS_INPUT_SIZE %[8]d
#define SPLITNAS_SPLIT %[1]d
#define SPLITNAS_LAYERS %[9]d
#define SPLITNAS_OUTPUT_LEN %[10]d
#define SPLITNAS_OUTPUT_CHANNELS %[11]d
#define SPLITNAS_OUTPUT_SIZE %[12]d
#define SPLITNAS_FLASH_BYTES %[13]d
#define SPLITNAS_RAM_BYTES %[14]d
`, g.P, g.s.Arch, g.prec.Name, act, g.outputWhat(), in.Len, in.Ch, in.Size(), g.s.Layers, out.Len, out.Ch, out.Size(), g.s.FlashBytes, g.s.RAMBytes)
	if g.prec.Integer() {
		q := g.n.Int.Tensor(g.P)
		sc, _ := cFloat(q.Scale)
		fmt.Fprintf(&b, "\n/* The output's quantization: real value = SPLITNAS_OUTPUT_SCALE * (q - SPLITNAS_OUTPUT_ZERO_POINT). */\n#define SPLITNAS_OUTPUT_SCALE %s\n#define SPLITNAS_OUTPUT_ZERO_POINT %d\n", sc, q.ZeroPoint)
	}
	fmt.Fprintf(&b, `
/* The type of the returned tensor's values. */
typedef %s splitnas_value_t;

/* splitnas_run is splitnas_load then splitnas_layers: the first puts the
 * input window into the arena (%s), the second runs the layers and
 * returns tensor %d. Call them apart to time the layers alone. */
const splitnas_value_t *splitnas_run(const float *input);
void splitnas_load(const float *input);
const splitnas_value_t *splitnas_layers(void);

`, act, g.loadWhat(), g.P)
	if g.pol != nil {
		g.adaptiveHeader(&b)
	}
	b.WriteString("\n#endif\n")
	return b.Bytes()
}

func (g *gen) loadWhat() string {
	if g.prec.Integer() {
		return "quantized to int8"
	}
	return "copied"
}

func (g *gen) outputWhat() string {
	if g.P == g.s.Layers {
		return "the class scores"
	}
	if g.P == 0 {
		return "the input itself, to send to the fog"
	}
	return "the split tensor to send to the fog"
}

// makefile builds the library of C files srcs for the host (make host)
// and for the Cortex-M4 (make arm), with the flags the latency profiles are
// measured with.
func makefile(srcs []string) []byte {
	return []byte(strings.Replace(makefileText, "@SRCS@", strings.Join(srcs, " "), 1))
}

const makefileText = `# Generated by splitnas export.
#   make host   libsplitnas.a for this machine (cc)
#   make arm    libsplitnas_arm.a for the Cortex-M4F (arm-none-eabi-gcc), the
#               flags splitnas's latency profiles are measured with
#   make run    the example firmware (firmware/, if exported) under QEMU
CC ?= cc
ARM_CC ?= arm-none-eabi-gcc
ARM_AR ?= arm-none-eabi-ar
CFLAGS ?= -std=c99 -O2 -Wall -Wextra
ARM_CFLAGS ?= -std=c99 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2 -ffreestanding -Wall
SRCS = @SRCS@
HDRS = splitnas_model.h splitnas_kernels.h

host: libsplitnas.a
arm: libsplitnas_arm.a

libsplitnas.a: $(SRCS:.c=.o)
	$(AR) rcs $@ $^
libsplitnas_arm.a: $(SRCS:.c=_arm.o)
	$(ARM_AR) rcs $@ $^
%_arm.o: %.c $(HDRS)
	$(ARM_CC) $(ARM_CFLAGS) -c $< -o $@
%.o: %.c $(HDRS)
	$(CC) $(CFLAGS) -c $< -o $@

# The example firmware (if exported with it, in firmware/): QEMU's mps2-an386.
QEMU ?= qemu-system-arm
firmware/firmware.elf: $(SRCS) firmware/main.c firmware/input.h
	$(ARM_CC) $(ARM_CFLAGS) -nostdlib -I. -Ifirmware -T firmware/link.ld -o $@ firmware/startup.c \
		firmware/semihost.c firmware/runtime.c firmware/main.c $(SRCS) -lgcc
run: firmware/firmware.elf
	$(QEMU) -M mps2-an386 -cpu cortex-m4 -nodefaults -display none -monitor none \
		-semihosting-config enable=on,target=native -kernel firmware/firmware.elf

clean:
	rm -f *.o *.a firmware/firmware.elf

.PHONY: host arm run clean
`

// readme is the library's README.md.
func (g *gen) readme() []byte {
	s := g.s
	return []byte(fmt.Sprintf(`# splitnas export: %s, layers 1..%d of %d (%s)

Generated by splitnas export. Layers 1..%d run on the edge; tensor %d (%s, %d values, %d B at %s) is
what splitnas_run returns%s.

| quantity | value (as splitnas computed it, profile %s) |
|---|---|
| Flash (weights, biases%s) | %d B |
| RAM (the activation arena: the largest pair of successive tensors) | %d B |
| MACs per inference | %d |
| cycles per inference: layers (splitnas_layers) + input stage (splitnas_load) | %.0f + %.0f |
| edge time per inference | %.3f ms |
| edge energy: compute / radio (sending %d B) / total | %.5f / %.5f / %.5f mJ |

Build: make host (cc) or make arm (arm-none-eabi-gcc, Cortex-M4F). Use: include splitnas_model.h, link
libsplitnas.a (or compile the two .c files into your project), call splitnas_run(window). No malloc, no libc
beyond <stdint.h> and <string.h>; the only state is the arena.
`, s.Arch, g.P, s.Layers, s.Precision, g.P, g.P, s.Output, s.Output.Size(), s.SendBytes, s.Precision, sendWhat(g.P, s.Layers),
		s.Profile, requantNote(g.prec), s.FlashBytes, s.RAMBytes, s.MACs, s.Cycles, s.InputCycles, 1000*s.EdgeSeconds, s.SendBytes, s.ECompMJ, s.ECommMJ, s.EEdgeMJ) + g.sparseReadme() + g.adaptiveReadme())
}

// adaptiveReadme is the README's section on an adaptive library's policy.
func (g *gen) adaptiveReadme() string {
	if g.pol == nil {
		return ""
	}
	var splits []string
	for _, c := range g.pol.Candidates {
		splits = append(splits, strconv.Itoa(c.P))
	}
	return fmt.Sprintf(`
Adaptive split: the library holds layers 1..%d (Pmax), the largest split point any condition of its policy needs
(%d conditions, split points %s; nominal split %d). splitnas_run_to(window, P) stops after layer P and returns
tensor P; splitnas_policy_split(phy, tx_dbm, retransmission_rate) gives the policy's P for a measured link, and
splitnas_policy_table is the policy's table. The energies above are those of P = Pmax at the nominal condition.
`, g.P, len(g.pol.Rows), strings.Join(splits, ", "), g.pol.NominalSplit)
}

func sendWhat(P, L int) string {
	if P == L {
		return ": the class scores, computed wholly on the edge"
	}
	return ", to send to the fog node, which runs the rest"
}

func requantNote(p arch.Precision) string {
	if p.Integer() {
		return ", per-channel multipliers and shifts, zero points, input scale"
	}
	return ""
}

// Network returns the architecture of the model n holds (n must hold one).
func (n Network) Network() arch.Network {
	if n.Int != nil {
		return n.Int.Network()
	}
	return n.Float.Network()
}

// cDouble is v as a C double literal that parses back to the same float64.
func cDouble(v float64) (string, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "", fmt.Errorf("export: the policy holds %v: it cannot be exported", v)
	}
	t := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(t, ".en") {
		t += ".0"
	}
	return t, nil
}

// phyMacro is the C macro of a PHY: SPLITNAS_PHY_ and its name in upper
// case, other characters than letters and digits as '_'.
func phyMacro(name string) string {
	return "SPLITNAS_PHY_" + strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, name)
}

// adaptiveSource writes the adaptive library's layer functions (calls
// holds the layers' calls, ends[i] where layer i+1's end) and its policy.
func (g *gen) adaptiveSource(b *bytes.Buffer, calls []byte, ends []int) error {
	act := g.actType()
	fmt.Fprintf(b, "const %s *splitnas_layers_to(int split)\n{\n", act)
	for k := 0; k <= g.P; k++ {
		fmt.Fprintf(b, "\t%s *const t%d = splitnas_arena + %d;\n", act, k, g.offset(k))
	}
	if g.prec.Integer() && g.P > 0 {
		b.WriteString("\tsplitnas_layer_t l;\n")
	}
	fmt.Fprintf(b, "\tif (split < 0 || split > %d)\n\t\treturn 0;\n", g.P)
	start := 0
	for k := 0; k <= g.P; k++ {
		if k > 0 {
			b.Write(calls[start:ends[k-1]])
			start = ends[k-1]
		}
		if k < g.P {
			fmt.Fprintf(b, "\tif (split == %d)\n\t\treturn t%d;\n", k, k)
		}
	}
	fmt.Fprintf(b, "\treturn t%d;\n}\n\n", g.P)
	fmt.Fprintf(b, "const %[1]s *splitnas_layers(void)\n{\n\treturn splitnas_layers_to(%[2]d);\n}\n\n", act, g.P)
	fmt.Fprintf(b, "const %[1]s *splitnas_run(const float *input)\n{\n\tsplitnas_load(input);\n\treturn splitnas_layers_to(%[2]d);\n}\n\n", act, g.P)
	fmt.Fprintf(b, "const %[1]s *splitnas_run_to(const float *input, int split)\n{\n\tif (split < 0 || split > %[2]d)\n\t\treturn 0;\n\tsplitnas_load(input);\n\treturn splitnas_layers_to(split);\n}\n\n", act, g.P)

	// Tensor sizes (and int8 quantization) per split point.
	sizes := make([]int32, g.P+1)
	for k := range sizes {
		sizes[k] = int32(g.net.Tensor(k).Size())
	}
	b.WriteString("/* Tensor k's values, for k = 0..SPLITNAS_PMAX (not in Flash(Pmax), like the shapes). */\n")
	fmt.Fprintf(b, "static const int32_t tensor_size[%d] = {", len(sizes))
	for i, v := range sizes {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(b, v)
	}
	b.WriteString("};\n\nint32_t splitnas_output_size(int split)\n{\n")
	fmt.Fprintf(b, "\treturn split < 0 || split > %d ? 0 : tensor_size[split];\n}\n\n", g.P)
	if g.prec.Integer() {
		var scales, zps []string
		for k := 0; k <= g.P; k++ {
			q := g.n.Int.Tensor(k)
			sc, err := cFloat(q.Scale)
			if err != nil {
				return err
			}
			scales, zps = append(scales, sc), append(zps, strconv.Itoa(int(q.ZeroPoint)))
		}
		fmt.Fprintf(b, "static const float tensor_scale[%d] = {%s};\n", g.P+1, strings.Join(scales, ", "))
		fmt.Fprintf(b, "static const int32_t tensor_zero_point[%d] = {%s};\n\n", g.P+1, strings.Join(zps, ", "))
		fmt.Fprintf(b, "float splitnas_output_scale(int split)\n{\n\treturn split < 0 || split > %d ? 0.0f : tensor_scale[split];\n}\n\n", g.P)
		fmt.Fprintf(b, "int32_t splitnas_output_zero_point(int split)\n{\n\treturn split < 0 || split > %d ? 0 : tensor_zero_point[split];\n}\n\n", g.P)
	}

	pol, link := g.pol, g.prof.Link
	d := func(v float64) string {
		t, _ := cDouble(v) // checked by the callers below
		return t
	}
	check := func(vs ...float64) error {
		for _, v := range vs {
			if _, err := cDouble(v); err != nil {
				return err
			}
		}
		return nil
	}
	fmt.Fprintf(b, "/* The adaptive policy (splitnas inspect --link-sweep): %s on %s, scenario %s. */\n", pol.Arch, pol.Profile, pol.Scenario)
	fmt.Fprintf(b, "const splitnas_candidate_t splitnas_policy_candidates[%d] = {\n", len(pol.Candidates))
	for _, c := range pol.Candidates {
		if err := check(c.ECompEdgeMJ, c.EFogMJ); err != nil {
			return err
		}
		fmt.Fprintf(b, "\t{%d, %d, %d, %s, %s},\n", c.P, c.SendBytes, c.Packets, d(c.ECompEdgeMJ), d(c.EFogMJ))
	}
	b.WriteString("};\n\n")
	fmt.Fprintf(b, "const splitnas_policy_row_t splitnas_policy_table[%d] = {\n", len(pol.Rows))
	for _, r := range pol.Rows {
		if err := check(r.Cond.TXdBm, r.Cond.Retrans, r.PerByteUJ, r.PerPacketUJ); err != nil {
			return err
		}
		fmt.Fprintf(b, "\t{%s, %s, %s, %s, %s, %d},\n", phyMacro(r.Cond.PHY), d(r.Cond.TXdBm), d(r.Cond.Retrans), d(r.PerByteUJ), d(r.PerPacketUJ), r.Split)
	}
	b.WriteString("};\n\n")
	var levels []string
	for _, ph := range link.PHYs {
		for _, dbm := range ph.TXdBm {
			r, err := g.prof.RadioAt(hw.Condition{PHY: ph.Name, TXdBm: dbm})
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if err := check(dbm, r.EnergyPerByteUJ, r.EnergyPerPacketUJ); err != nil {
				return err
			}
			levels = append(levels, fmt.Sprintf("\t{%s, %s, %s, %s},\n", phyMacro(ph.Name), d(dbm), d(r.EnergyPerByteUJ), d(r.EnergyPerPacketUJ)))
		}
	}
	fmt.Fprintf(b, "const splitnas_link_level_t splitnas_link_levels[%d] = {\n%s};\n\n", len(levels), strings.Join(levels, ""))
	fog := ""
	if pol.Scenario == partition.Total {
		fog = "\n\t\te += c->e_fog_mj;"
	}
	fmt.Fprintf(b, `int splitnas_policy_choose(double uj_per_byte, double uj_per_packet)
{
	int best = -1;
	double best_e = 0.0;
	for (int i = 0; i < %[1]d; i++) {
		const splitnas_candidate_t *c = &splitnas_policy_candidates[i];
		double e = c->e_comp_edge_mj + ((double)c->send_bytes * uj_per_byte + (double)c->packets * uj_per_packet) / 1000.0;%[2]s
		if (best < 0 || e <= best_e) {
			best = c->split;
			best_e = e;
		}
	}
	return best;
}

int splitnas_policy_split(int phy, double tx_dbm, double retransmission_rate)
{
	if (!(retransmission_rate >= 0.0 && retransmission_rate < 1.0))
		return -1;
	for (int i = 0; i < %[3]d; i++) {
		const splitnas_link_level_t *lv = &splitnas_link_levels[i];
		if (lv->phy == phy && lv->tx_dbm == tx_dbm) {
			const double tx = 1.0 / (1.0 - retransmission_rate);
			return splitnas_policy_choose(lv->uj_per_byte * tx, lv->uj_per_packet * tx);
		}
	}
	return -1;
}
`, len(pol.Candidates), fog, len(levels))
	return nil
}

// adaptiveHeader declares the adaptive library's functions and tables.
func (g *gen) adaptiveHeader(b *bytes.Buffer) {
	pol, link := g.pol, g.prof.Link
	fmt.Fprintf(b, `
/* Adaptive split (splitnas inspect --link-sweep; examples/traces/README.md):
 * layers 1..SPLITNAS_PMAX are here; splitnas_run_to runs layers 1..split
 * (0 <= split <= SPLITNAS_PMAX, else it returns NULL) and returns tensor
 * split, of splitnas_output_size(split) values — send them with the split
 * point to the fog, which runs the rest. splitnas_policy_split maps a
 * measured link condition — SPLITNAS_PHY_*, TX power (dBm, a level of the
 * link model) and retransmission rate in [0, 1) — to the policy's split
 * point (-1 for a condition the link model does not cover):
 *   the candidate of least e_comp_edge_mj (+ e_fog_mj in the total scenario)
 *   + (send_bytes * uj_per_byte + packets * uj_per_packet) / 1000 [mJ],
 * with the level's uj_per_byte and uj_per_packet divided by (1 - r); the later
 * split on a tie. */
#define SPLITNAS_PMAX %d
#define SPLITNAS_NOMINAL_SPLIT %d
#define SPLITNAS_POLICY_ROWS %d
#define SPLITNAS_POLICY_CANDIDATES %d
`, g.P, pol.NominalSplit, len(pol.Rows), len(pol.Candidates))
	for i, ph := range link.PHYs {
		fmt.Fprintf(b, "#define %s %d /* %s, %g Mbit/s */\n", phyMacro(ph.Name), i, ph.Name, ph.BitRateMbps)
	}
	b.WriteString(`
typedef struct {
	int32_t split;          /* the split point P */
	int32_t send_bytes;     /* tensor P's bytes */
	int32_t packets;        /* the packets that carry them */
	double e_comp_edge_mj;  /* the edge's compute energy, layers 1..P and the input stage */
	double e_fog_mj;        /* the fog's, layers P+1..L */
} splitnas_candidate_t;

typedef struct {
	int32_t phy;                /* SPLITNAS_PHY_* */
	double tx_dbm;
	double retransmission_rate;
	double uj_per_byte;         /* the link's effective energies under this condition */
	double uj_per_packet;
	int32_t split;              /* the best split point */
} splitnas_policy_row_t;

typedef struct {
	int32_t phy;                /* SPLITNAS_PHY_* */
	double tx_dbm;
	double uj_per_byte;         /* with no retransmissions */
	double uj_per_packet;
} splitnas_link_level_t;

extern const splitnas_candidate_t splitnas_policy_candidates[SPLITNAS_POLICY_CANDIDATES];
extern const splitnas_policy_row_t splitnas_policy_table[SPLITNAS_POLICY_ROWS];
extern const splitnas_link_level_t splitnas_link_levels[];

const splitnas_value_t *splitnas_run_to(const float *input, int split);
const splitnas_value_t *splitnas_layers_to(int split);
int32_t splitnas_output_size(int split);
int splitnas_policy_choose(double uj_per_byte, double uj_per_packet);
int splitnas_policy_split(int phy, double tx_dbm, double retransmission_rate);
`)
	if g.prec.Integer() {
		b.WriteString("/* Tensor split's quantization: real value = scale * (q - zero point). */\nfloat splitnas_output_scale(int split);\nint32_t splitnas_output_zero_point(int split);\n")
	}
}
