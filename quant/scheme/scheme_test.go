package scheme

import "testing"

func TestQParams(t *testing.T) {
	q := QParams{Scale: 0.5, ZeroPoint: -10}
	for _, tc := range []struct {
		x    float32
		want int8
	}{
		{0, -10}, {0.25, -9}, {-0.25, -11}, // halves away from zero
		{0.24, -10}, {100, 127}, {-100, -128},
	} {
		if got := q.Quantize(tc.x); got != tc.want {
			t.Errorf("Quantize(%v) = %d, want %d", tc.x, got, tc.want)
		}
	}
	if got := q.Dequantize(-8); got != 1 {
		t.Errorf("Dequantize(-8) = %v, want 1", got)
	}
	relu := Range{0, 2.55}.Params()
	if relu.ZeroPoint != -128 || relu.Scale != float32(0.01) {
		t.Errorf("ReLU range [0, 2.55]: %+v, want scale 0.01, zero point -128", relu)
	}
}

func TestWeights(t *testing.T) {
	for _, tc := range []struct {
		bits   int
		maxAbs float64
		w      float64
		want   int8
	}{
		{8, 1.27, 0.004, 0}, {8, 1.27, 0.006, 1}, {8, 1.27, 0.015, 2}, {8, 1.27, -0.015, -2}, {8, 1.27, 1.27, 127}, {8, 1.27, -2, -127},
		{4, 0.7, 0.16, 2}, {4, 0.7, -0.16, -2}, {4, 0.7, 0.14, 1}, {4, 0.7, 0.7, 7}, {4, 0.7, 5, 7},
	} {
		s := WeightScale(tc.maxAbs, tc.bits)
		if got := QuantizeWeight(tc.w, s, tc.bits); got != tc.want {
			t.Errorf("%d bits, max %v: QuantizeWeight(%v) = %d, want %d", tc.bits, tc.maxAbs, tc.w, got, tc.want)
		}
	}
	if s := WeightScale(0, 8); s != 1 {
		t.Errorf("WeightScale(0) = %v, want 1", s)
	}
}
