package scheme

import "math"

// The fixed-point arithmetic of TensorFlow Lite (Micro)'s integer reference
// kernels, transcribed operation by operation so that splitnas, the C it
// generates and other TFLite-compatible runtimes agree bit for bit
// (tensorflow/lite/kernels/internal/common.h and quantization_util.cc,
// gemmlowp/fixedpoint/fixedpoint.h, TFLITE_SINGLE_ROUNDING not defined:
// the "double rounding" variant TFLite Micro's reference kernels use).
//
// A real multiplier M > 0 is stored as a Q0.31 mantissa m ∈ [2³⁰, 2³¹)
// and an exponent e with M ≈ m·2^(e−31); an int32 accumulator x is scaled
// by it as
//
//	RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x·2^max(e,0), m), max(−e,0))
//
// i.e. two roundings: ties toward +∞ in the first, away from zero in the
// second.

// QuantizeMultiplier splits a real multiplier into the Q0.31 mantissa and
// the power-of-two exponent TFLite stores (QuantizeMultiplier in
// quantization_util.cc): M = frexp fraction q ∈ [0.5, 1) times 2^shift,
// mantissa = round(q·2³¹) (half away from zero), renormalised when it
// rounds up to 2³¹; a multiplier of 0, or one below 2⁻³² (shift < −31),
// becomes (0, 0). M must be finite and non-negative.
func QuantizeMultiplier(m float64) (mult int32, shift int) {
	if m == 0 {
		return 0, 0
	}
	q, e := math.Frexp(m)
	fixed := int64(math.Round(q * (1 << 31)))
	if fixed == 1<<31 {
		fixed /= 2
		e++
	}
	if e < -31 {
		return 0, 0
	}
	return int32(fixed), e
}

// SaturatingRoundingDoublingHighMul returns the high 32 bits of 2·a·b,
// a·b/2³¹ rounded to nearest with ties toward +∞ (1.5 → 2, −1.5 → −1):
// (a·b + nudge) / 2³¹ with nudge = 2³⁰ for a non-negative product and
// 1 − 2³⁰ otherwise, the division truncating toward zero as in C. The one
// product that overflows, MinInt32·MinInt32, saturates to MaxInt32.
func SaturatingRoundingDoublingHighMul(a, b int32) int32 {
	if a == b && a == math.MinInt32 {
		return math.MaxInt32
	}
	ab := int64(a) * int64(b)
	nudge := int64(1 << 30)
	if ab < 0 {
		nudge = 1 - 1<<30
	}
	return int32((ab + nudge) / (1 << 31)) // Go's / truncates toward zero, like C's
}

// RoundingDivideByPOT returns x / 2^exponent rounded to nearest, ties away
// from zero (gemmlowp's RoundingDivideByPOT): the arithmetic shift plus one
// when the remainder exceeds half, where "half" is one less for negative x.
// exponent must be in 0..31.
func RoundingDivideByPOT(x int32, exponent int) int32 {
	mask := int32(1)<<exponent - 1
	remainder := x & mask
	threshold := mask >> 1
	if x < 0 {
		threshold++
	}
	r := x >> exponent
	if remainder > threshold {
		r++
	}
	return r
}

// MultiplyByQuantizedMultiplier scales the accumulator x by the real
// multiplier that QuantizeMultiplier turned into (mult, shift), with
// TFLite's double rounding: a left shift by max(shift, 0) first (wrapping
// like C's int32 arithmetic would not; callers keep |x·2^shift| < 2³¹,
// which requantisation multipliers below 1 guarantee), then the rounding
// doubling high multiply, then a rounding right shift by max(−shift, 0).
func MultiplyByQuantizedMultiplier(x, mult int32, shift int) int32 {
	left, right := 0, 0
	if shift > 0 {
		left = shift
	} else {
		right = -shift
	}
	return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x*(1<<left), mult), right)
}

// RoundLikeMultiplier rounds the real value v = x·M (an accumulator x
// scaled by a multiplier M whose QuantizeMultiplier exponent is shift) as
// MultiplyByQuantizedMultiplier does, in floating point: first to a
// multiple of 2^−r, r = max(−shift, 0), ties toward +∞ (the rounding
// doubling high multiply keeps r fractional bits), then to an integer,
// ties away from zero (RoundingDivideByPOT). With r = 0 it is one rounding
// of ties toward +∞. A fake-quantized float network that rounds this way
// follows the integer kernels instead of drifting from them: rounding v
// once, to nearest, would differ from the double rounding on about one
// output in 2^(r+1), and multipliers near 1 (small r, as int4 weights give)
// are common.
func RoundLikeMultiplier(v float64, shift int) int32 {
	r := max(-shift, 0)
	h := math.Floor(math.Ldexp(v, r) + 0.5)
	return Round(math.Ldexp(h, -r))
}

// Round rounds to the nearest integer, halves away from zero (TfLiteRound,
// C's round), saturating to the int32 range (NaN gives 0).
func Round(v float64) int32 {
	r := math.Round(v)
	switch {
	case r >= math.MaxInt32:
		return math.MaxInt32
	case r <= math.MinInt32:
		return math.MinInt32
	case r != r: // NaN
		return 0
	}
	return int32(r)
}

// clamp8 limits v to [lo, hi] ⊆ [−128, 127] and narrows it to int8.
func clamp8(v, lo, hi int32) int8 {
	return int8(min(max(v, lo), hi))
}

// satAdd adds two int32 without wrapping.
func satAdd(a, b int32) int32 {
	return int32(min(max(int64(a)+int64(b), math.MinInt32), math.MaxInt32))
}

// Requantize turns a layer's int32 accumulator into its int8 output, as
// TFLite Micro's integer kernels do: MultiplyByQuantizedMultiplier(acc,
// mult, shift) + zp, clamped to [lo, 127] (lo = zp for a fused ReLU, −128
// otherwise).
func Requantize(acc, mult int32, shift int, zp, lo int32) int8 {
	return clamp8(satAdd(MultiplyByQuantizedMultiplier(acc, mult, shift), zp), lo, math.MaxInt8)
}

// RequantizeReal is Requantize for the real-valued rescaled accumulator
// v = acc·M of the float reference path: RoundLikeMultiplier(v, shift) +
// zp, clamped to [lo, 127].
func RequantizeReal(v float64, shift int, zp, lo int32) int8 {
	return clamp8(satAdd(RoundLikeMultiplier(v, shift), zp), lo, math.MaxInt8)
}
