/*
 * runtime.c: the measurement markers and the deterministic test data of the
 * calibration images; the host harness of the tests links it too.
 */
#include "calib.h"

/* The markers must stay two distinct, never inlined functions: the plugin
 * finds them by address. Distinct volatile stores keep the compiler from
 * merging them (identical code folding). */
volatile int32_t calib_marker_state;

__attribute__((noinline)) void marker_begin(void)
{
	calib_marker_state = 1;
}

__attribute__((noinline)) void marker_end(void)
{
	calib_marker_state = 2;
}

/* xorshift32 (Marsaglia 2003); a zero seed becomes 1. */
static uint32_t next(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

/* fill_f32 draws multiples of 2^-23 in [-1, 1), exact in float32. */
void fill_f32(float *p, int32_t n, uint32_t seed)
{
	uint32_t s = seed ? seed : 1;
	for (int32_t i = 0; i < n; i++)
		p[i] = (float)((int32_t)(next(&s) >> 8) - (1 << 23)) * (1.0f / (1 << 23));
}

void fill_i8(int8_t *p, int32_t n, uint32_t seed)
{
	uint32_t s = seed ? seed : 1;
	for (int32_t i = 0; i < n; i++)
		p[i] = (int8_t)(next(&s) >> 24);
}

/* fill_i32 draws biases in [-4096, 4095]. */
void fill_i32(int32_t *p, int32_t n, uint32_t seed)
{
	uint32_t s = seed ? seed : 1;
	for (int32_t i = 0; i < n; i++)
		p[i] = (int32_t)(next(&s) >> 19) - 4096;
}

#if defined(CALIB_SPARSE)
/* fill_sparse fills the offsets and counts of a layer stored sparse
 * (splitnas_kernels.h) with nnz weights in each of its rows of row_len:
 * each row a pseudo-random subset of nnz of its positions, ascending
 * (Knuth's selection sampling, TAOCP 3.4.2 algorithm S), position j at the
 * input offset (j / k) * in_len + j % k (a Conv1D row's [ci][tap]; Dense:
 * k = in_len = row_len). Only the sparse images define it (runtime.c
 * compiled with CALIB_SPARSE), so that the dense images' runtime, and their
 * layout, stay as they were measured. */
void fill_sparse(uint16_t *idx, uint16_t *cnt, int32_t rows, int32_t row_len, int32_t k, int32_t in_len, int32_t nnz,
		 uint32_t seed)
{
	uint32_t s = seed ? seed : 1;
	for (int32_t r = 0; r < rows; r++) {
		int32_t m = 0, base = 0, tap = 0;
		for (int32_t j = 0; j < row_len && m < nnz; j++) {
			/* Select j with probability (nnz - m) / (row_len - j). */
			if ((int32_t)(((uint64_t)next(&s) * (uint32_t)(row_len - j)) >> 32) < nnz - m) {
				*idx++ = (uint16_t)(base + tap);
				m++;
			}
			if (++tap == k) {
				tap = 0;
				base += in_len;
			}
		}
		cnt[r] = (uint16_t)m;
	}
}
#endif
