package size

import (
	"math"
	"testing"
)

func TestMul(t *testing.T) {
	for _, tt := range []struct {
		name    string
		factors []int
		want    int
		ok      bool
	}{
		{"none", nil, 1, true},
		{"small", []int{3, 4, 5}, 60, true},
		{"zero", []int{0, math.MaxInt, math.MaxInt}, 0, true},
		{"max", []int{math.MaxInt, 1}, math.MaxInt, true},
		{"2^32 squared", []int{1 << 32, 1 << 32}, 0, false},
		{"three that overflow", []int{1 << 21, 1 << 21, 1 << 21}, 0, false},
		{"negative", []int{-1, 2}, 0, false},
		{"negative times zero", []int{0, -1}, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := Mul(tt.factors...); got != tt.want || ok != tt.ok {
				t.Errorf("Mul(%v) = %d, %v; want %d, %v", tt.factors, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestMul64(t *testing.T) {
	if got, ok := Mul64(1<<31, 1<<31); got != 1<<62 || !ok {
		t.Errorf("Mul64(2^31, 2^31) = %d, %v", got, ok)
	}
	if _, ok := Mul64(1<<32, 1<<31); ok {
		t.Error("Mul64(2^32, 2^31) did not report the overflow")
	}
	if _, ok := Mul64(-2, 3); ok {
		t.Error("Mul64 accepted a negative factor")
	}
}

func TestAdd(t *testing.T) {
	if got, ok := Add(1, 2, 3); got != 6 || !ok {
		t.Errorf("Add(1, 2, 3) = %d, %v", got, ok)
	}
	if _, ok := Add(math.MaxInt, 1); ok {
		t.Error("Add(MaxInt, 1) did not report the overflow")
	}
	if _, ok := Add(5, -1); ok {
		t.Error("Add accepted a negative term")
	}
	if got, ok := Add64(math.MaxInt64-1, 1); got != math.MaxInt64 || !ok {
		t.Errorf("Add64 = %d, %v", got, ok)
	}
	if _, ok := Add64(math.MaxInt64, 1); ok {
		t.Error("Add64(MaxInt64, 1) did not report the overflow")
	}
}
