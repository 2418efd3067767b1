/*
 * calib.h: shared declarations of the calibration images that package calib
 * builds for the emulated Cortex-M4 (mps2-an386), and of the host harness
 * its tests compile the same kernels with.
 *
 * Tensors are channel-major as in package nn: value (t, c) of a Len x Ch
 * tensor is at c*Len + t. Weights are w[out channel][in channel][tap] for
 * Conv1D and transposed Conv1D, w[output][flattened input] for Dense, each
 * layer's biases one per output channel (per output for Dense).
 */
#ifndef CALIB_H
#define CALIB_H

#include <stdint.h>
#include <stddef.h>

/* One layer's shape, as the kernels take it at run time (like a deployed
 * kernel library, so that every layer runs the same code and the count of a
 * call depends on the shape only through loop trip counts). pad_left is the
 * zero padding of a Conv1D's input, or the crop of a transposed Conv1D's
 * full output; relu is 0 or 1.
 *
 * input_offset and output_offset quantize an int8 layer as TFLite Micro's
 * kernels take it (0 and unused in float32): input_offset is minus the
 * input's zero point, output_offset the output's zero point; with relu the
 * outputs are clamped below at output_offset (real 0), otherwise at -128.
 * The int8 kernels take the per-output-channel (per-output for Dense)
 * multipliers and shifts that rescale the int32 accumulator (TFLite's
 * QuantizeMultiplier: Q0.31 mantissa, power-of-two exponent) as arrays,
 * like TFLM's per-channel kernels. */
typedef struct {
	int32_t in_len, in_ch, out_len, out_ch;
	int32_t kernel, stride, pad_left, relu;
	int32_t input_offset, output_offset;
} layer_t;

/* Kernels: kernels.c, generated from kernels.c.tmpl for each precision. */
void conv1d_f32(const layer_t *l, const float *x, const float *w, const float *b, float *y);
void conv1d_transpose_f32(const layer_t *l, const float *x, const float *w, const float *b, float *y);
void dense_f32(const layer_t *l, const float *x, const float *w, const float *b, float *y);
void conv1d_i8(const layer_t *l, const int8_t *x, const int8_t *w, const int32_t *b, const int32_t *mult,
	       const int32_t *shift, int8_t *y);
void conv1d_transpose_i8(const layer_t *l, const int8_t *x, const int8_t *w, const int32_t *b, const int32_t *mult,
			 const int32_t *shift, int8_t *y);
void dense_i8(const layer_t *l, const int8_t *x, const int8_t *w, const int32_t *b, const int32_t *mult,
	      const int32_t *shift, int8_t *y);

/* runtime.c: deterministic test data (xorshift32 from seed, never 0). */
void fill_f32(float *p, int32_t n, uint32_t seed);
void fill_i8(int8_t *p, int32_t n, uint32_t seed);
void fill_i32(int32_t *p, int32_t n, uint32_t seed);

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
