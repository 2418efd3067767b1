/*
 * calib.h: shared declarations of the calibration images that package calib
 * builds for the emulated Cortex-M4 (mps2-an386), and of the host harness
 * its tests compile the same kernels with. The kernels themselves are
 * declared in splitnas_kernels.h, which the exported C libraries (package
 * export) ship unchanged.
 */
#ifndef CALIB_H
#define CALIB_H

#include <stdint.h>
#include <stddef.h>

#include "splitnas_kernels.h"

/* runtime.c: deterministic test data (xorshift32 from seed, never 0). */
void fill_f32(float *p, int32_t n, uint32_t seed);
void fill_i8(int8_t *p, int32_t n, uint32_t seed);
void fill_i32(int32_t *p, int32_t n, uint32_t seed);
/* runtime.c compiled with CALIB_SPARSE (the images of layers stored
 * sparse): the input offsets idx and counts cnt of rows rows of row_len
 * weights, nnz of them stored in each, at pseudo-random positions. */
void fill_sparse(uint16_t *idx, uint16_t *cnt, int32_t rows, int32_t row_len, int32_t k, int32_t in_len, int32_t nnz,
		 uint32_t seed);

/* runtime.c: the measurement markers. The counting plugin is given the
 * addresses of these two functions; it counts what executes from the entry
 * of marker_begin to the entry of marker_end. */
void marker_begin(void);
void marker_end(void);

/* semihost.c (bare metal only). */
void semihost_write0(const char *s);
void semihost_exit(int status) __attribute__((noreturn));

/* Where the images keep their buffers: weights and biases in (emulated)
 * flash, where a deployed network keeps them, filled at run time before
 * the measured calls; activations in SRAM, not zeroed at reset. */
#if defined(__arm__)
#define CALIB_FLASH __attribute__((section(".flashdata"), aligned(8)))
#define CALIB_RAM __attribute__((section(".noinit"), aligned(8)))
#else
#define CALIB_FLASH
#define CALIB_RAM
#endif

#endif
