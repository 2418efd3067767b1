// Package scheme is the arithmetic of splitnas's integer networks, in one
// place: the affine int8 quantization of tensors (QParams, chosen from a
// Range), the symmetric per-channel quantization of weights, and the
// fixed-point requantization with TensorFlow Lite Micro's rounding
// (fixedpoint.go). The integer reference (package quant), quantization-aware
// training (package nn) and the code generators use these functions and
// nothing else, so that they agree bit for bit.
package scheme

import "math"

// QParams is one tensor's affine quantization: a value q stands for the
// real number Scale·(q − ZeroPoint).
type QParams struct {
	Scale     float32 `json:"scale"`      // real value of one step, > 0
	ZeroPoint int32   `json:"zero_point"` // the int8 that stands for 0, in −128..127
}

// Quantize returns clamp(round(x/Scale) + ZeroPoint, −128, 127), the
// division in float32 and the rounding half away from zero, as TFLite's
// Quantize kernel does.
func (q QParams) Quantize(x float32) int8 {
	return clamp8(satAdd(Round(float64(x/q.Scale)), q.ZeroPoint), math.MinInt8, math.MaxInt8)
}

// Dequantize returns the real value Scale·(v − ZeroPoint).
func (q QParams) Dequantize(v int8) float32 {
	return q.Scale * float32(int32(v)-q.ZeroPoint)
}

// FakeQuantize returns Dequantize(Quantize(x)): x as the int8 tensor holds
// it.
func (q QParams) FakeQuantize(x float32) float32 { return q.Dequantize(q.Quantize(x)) }

// Range is the real interval a tensor is quantized over.
type Range struct{ Min, Max float32 }

// Params returns the int8 quantization of r, as TFLite chooses it: the
// range is widened to hold 0 (so that 0, a padding or a ReLU output, is
// exact), Scale = (Max − Min)/255, and ZeroPoint = round(−128 − Min/Scale)
// clamped to −128..127. A range of zero width gets Scale 1.
func (r Range) Params() QParams {
	lo, hi := min(float64(r.Min), 0), max(float64(r.Max), 0)
	scale := float32((hi - lo) / 255)
	if !(scale > 0) || math.IsInf(float64(scale), 0) {
		return QParams{Scale: 1, ZeroPoint: 0}
	}
	zp := Round(-128 - lo/float64(scale))
	return QParams{Scale: scale, ZeroPoint: min(max(zp, math.MinInt8), math.MaxInt8)}
}

// WeightMax is the largest magnitude of a bits-bit symmetric weight,
// 2^(bits−1) − 1: 127 for int8, 7 for int4.
func WeightMax(bits int) int32 { return int32(1)<<(bits-1) - 1 }

// WeightScale is the scale of an output channel whose largest weight
// magnitude is maxAbs: maxAbs/WeightMax(bits) in float32, or 1 for a
// channel of zero (or non-finite) weights.
func WeightScale(maxAbs float64, bits int) float32 {
	s := float32(maxAbs / float64(WeightMax(bits)))
	if !(s > 0) || math.IsInf(float64(s), 0) {
		return 1
	}
	return s
}

// QuantizeWeight is the bits-bit weight that stands for w at scale s:
// round(w/s) (halves away from zero) clamped to ±WeightMax(bits).
func QuantizeWeight(w float64, s float32, bits int) int8 {
	m := WeightMax(bits)
	return int8(min(max(Round(w/float64(s)), -m), m))
}
