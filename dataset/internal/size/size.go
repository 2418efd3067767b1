// Package size multiplies and adds the sizes read from untrusted files
// (sample counts, channel counts, record lengths, byte widths) without
// overflowing, so that a reader can refuse a file whose sizes do not fit
// instead of silently wrapping around to a small, wrong number.
package size

import "math"

// Mul returns the product of the factors and true, or 0 and false when a
// factor is negative or the product does not fit in an int. The product of
// no factors is 1.
func Mul(factors ...int) (int, bool) {
	p := 1
	for _, f := range factors {
		if f < 0 {
			return 0, false
		}
		if f != 0 && p > math.MaxInt/f {
			return 0, false
		}
		p *= f
	}
	return p, true
}

// Mul64 is Mul for int64 sizes, such as byte offsets in large files.
func Mul64(factors ...int64) (int64, bool) {
	p := int64(1)
	for _, f := range factors {
		if f < 0 {
			return 0, false
		}
		if f != 0 && p > math.MaxInt64/f {
			return 0, false
		}
		p *= f
	}
	return p, true
}

// Add returns the sum of the terms and true, or 0 and false when a term is
// negative or the sum does not fit in an int.
func Add(terms ...int) (int, bool) {
	s := 0
	for _, t := range terms {
		if t < 0 || s > math.MaxInt-t {
			return 0, false
		}
		s += t
	}
	return s, true
}

// Add64 is Add for int64 sizes.
func Add64(terms ...int64) (int64, bool) {
	s := int64(0)
	for _, t := range terms {
		if t < 0 || s > math.MaxInt64-t {
			return 0, false
		}
		s += t
	}
	return s, true
}
