package hw

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/splitnas/splitnas/arch"
)

// LatencyModel is the latency surrogate of one layer kind on one device: a
// linear model of the layer's shape, in clock cycles,
//
//	cycles = PerMAC·MACs + PerInput·inputs + PerOutput·outputs + Fixed,
//
// where MACs is the layer's multiply-accumulate count (arch.Layer.MACs),
// inputs and outputs the sizes of its input and output tensors, and Fixed
// the per-call overhead. The output term also carries the bias and ReLU of
// each output. Latency is cycles / clock. Coefficients come from a least
// squares fit on measured latencies (Fit); they may be slightly negative,
// and a prediction below zero is taken as zero.
type LatencyModel struct {
	PerMAC    float64 `toml:"per_mac"`
	PerInput  float64 `toml:"per_input"`
	PerOutput float64 `toml:"per_output"`
	Fixed     float64 `toml:"fixed"`
}

// NumFeatures is the number of terms of a LatencyModel.
const NumFeatures = 4

// FeatureNames names the terms of a LatencyModel, in the order of Features
// and Coefficients: the TOML keys of a profile's latency tables.
func FeatureNames() [NumFeatures]string {
	return [NumFeatures]string{"per_mac", "per_input", "per_output", "fixed"}
}

// Features returns the terms a LatencyModel multiplies for layer l: MACs,
// input size, output size and 1.
func Features(l arch.Layer) [NumFeatures]float64 {
	return [NumFeatures]float64{float64(l.MACs()), float64(l.In.Size()), float64(l.Out.Size()), 1}
}

// Coefficients returns the model's coefficients in the order of Features.
func (m LatencyModel) Coefficients() [NumFeatures]float64 {
	return [NumFeatures]float64{m.PerMAC, m.PerInput, m.PerOutput, m.Fixed}
}

// modelFromCoefficients is the inverse of Coefficients.
func modelFromCoefficients(c [NumFeatures]float64) LatencyModel {
	return LatencyModel{PerMAC: c[0], PerInput: c[1], PerOutput: c[2], Fixed: c[3]}
}

// Cycles predicts the clock cycles of layer l, never below zero.
func (m LatencyModel) Cycles(l arch.Layer) float64 {
	f, c := Features(l), m.Coefficients()
	s := 0.0
	for i := range f {
		s += f[i] * c[i]
	}
	return max(s, 0)
}

// check returns a *FieldError naming the first coefficient that is not a
// finite number, as a field of table (e.g. "edge.latency.dense"), or nil.
func (m LatencyModel) check(table string) error {
	names := FeatureNames()
	for i, c := range m.Coefficients() {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return fieldErr(table+"."+names[i], "must be a finite number, got %v", c)
		}
	}
	return nil
}

// Kinds lists the layer kinds a latency model may describe, by the names
// profiles use for them (arch.Kind.String()).
func Kinds() []string {
	return []string{arch.Conv.String(), arch.ConvTranspose.String(), arch.Dense.String(), arch.MaxPool.String()}
}

// requiredKinds are the kinds every device must model: the ones a searched
// network is made of. MaxPool, used only by reference networks, is optional.
func requiredKinds() []string {
	return []string{arch.Conv.String(), arch.ConvTranspose.String(), arch.Dense.String()}
}

// ParseKind returns the layer kind a profile names, e.g. "conv1d".
func ParseKind(name string) (arch.Kind, error) {
	for _, k := range []arch.Kind{arch.Conv, arch.ConvTranspose, arch.Dense, arch.MaxPool} {
		if k.String() == name {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown layer kind %q (known: %s)", name, strings.Join(Kinds(), ", "))
}

func knownKind(name string) bool { return slices.Contains(Kinds(), name) }
