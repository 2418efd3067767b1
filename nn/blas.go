package nn

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// The Dense layer goes through gonum's BLAS, whose float32 and float64
// matrix-vector kernels are written in SIMD assembly on amd64: about 3×
// faster than the plain loops for a 128→5 layer (BenchmarkDense). Both
// precisions take this path, so the float64 gradient tests check the same
// calls the float32 engine makes. The plain loops remain for other element
// types (named float types) and are tested against it.

// gemv sets y = A·x + beta·y (trans false) or y = Aᵀ·x + beta·y (trans
// true) for the row-major m×n matrix A, and reports whether it could use
// BLAS for T.
func gemv[T float](trans bool, m, n int, a, x []T, beta T, y []T) bool {
	tr := blas.NoTrans
	if trans {
		tr = blas.Trans
	}
	switch a := any(a).(type) {
	case []float32:
		gonum.Implementation{}.Sgemv(tr, m, n, 1, a, n, any(x).([]float32), 1, float32(beta), any(y).([]float32), 1)
	case []float64:
		gonum.Implementation{}.Dgemv(tr, m, n, 1, a, n, any(x).([]float64), 1, float64(beta), any(y).([]float64), 1)
	default:
		return false
	}
	return true
}

// ger adds x·yᵀ to the row-major m×n matrix A and reports whether it could
// use BLAS for T.
func ger[T float](m, n int, x, y, a []T) bool {
	switch a := any(a).(type) {
	case []float32:
		gonum.Implementation{}.Sger(m, n, 1, any(x).([]float32), 1, any(y).([]float32), 1, a, n)
	case []float64:
		gonum.Implementation{}.Dger(m, n, 1, any(x).([]float64), 1, any(y).([]float64), 1, a, n)
	default:
		return false
	}
	return true
}
