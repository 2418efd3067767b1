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
