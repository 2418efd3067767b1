/*
 * splitnas_kernels.h: the layer kernels of splitnas (package calib measures
 * them on the emulated Cortex-M4; package export ships them with every
 * exported network). Portable C99, no library calls. Compiled for a
 * Cortex-M4 (or any core with the Arm DSP extension, __ARM_FEATURE_DSP),
 * the int8 and int4 kernels use its SIMD multiply-accumulates; elsewhere a plain-C
 * model of the same instructions, with identical outputs.
 *
 * Tensors are channel-major: value (t, c) of a Len x Ch tensor is at
 * c*Len + t. Weights are w[out channel][in channel][tap] for Conv1D and
 * transposed Conv1D, w[output][flattened input] for Dense, each layer's
 * biases one per output channel (per output for Dense).
 */
#ifndef SPLITNAS_KERNELS_H
#define SPLITNAS_KERNELS_H

#include <stdint.h>

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
} splitnas_layer_t;

/* Kernels: kernels.c, generated from kernels.c.tmpl for each precision. */
void splitnas_conv1d_f32(const splitnas_layer_t *l, const float *x, const float *w, const float *b, float *y);
void splitnas_conv1d_transpose_f32(const splitnas_layer_t *l, const float *x, const float *w, const float *b, float *y);
void splitnas_dense_f32(const splitnas_layer_t *l, const float *x, const float *w, const float *b, float *y);
void splitnas_conv1d_i8(const splitnas_layer_t *l, const int8_t *x, const int8_t *w, const int32_t *b, const int32_t *mult,
	       const int32_t *shift, int8_t *y);
void splitnas_conv1d_transpose_i8(const splitnas_layer_t *l, const int8_t *x, const int8_t *w, const int32_t *b, const int32_t *mult,
			 const int32_t *shift, int8_t *y);
void splitnas_dense_i8(const splitnas_layer_t *l, const int8_t *x, const int8_t *w, const int32_t *b, const int32_t *mult,
	      const int32_t *shift, int8_t *y);
/* int4: the same with int4 weights, w the layer's packed tensor (two weights
 * per byte, the first in the low nibble; a final odd weight in the low
 * nibble of the last byte, whose high nibble is 0): ceil(n/2) bytes for n
 * weights, of which the kernels read no byte beyond. */
void splitnas_conv1d_i4(const splitnas_layer_t *l, const int8_t *x, const uint8_t *w, const int32_t *b, const int32_t *mult,
	       const int32_t *shift, int8_t *y);
void splitnas_conv1d_transpose_i4(const splitnas_layer_t *l, const int8_t *x, const uint8_t *w, const int32_t *b, const int32_t *mult,
			 const int32_t *shift, int8_t *y);
void splitnas_dense_i4(const splitnas_layer_t *l, const int8_t *x, const uint8_t *w, const int32_t *b, const int32_t *mult,
	      const int32_t *shift, int8_t *y);

/* Sparse kernels: splitnas_sparse.c, generated from sparse.c.tmpl for each
 * precision, for Conv1D and Dense layers whose weights are stored sparse:
 * only the non-zero ones. A row is an output channel of a Conv1D (its
 * in_ch*kernel weights, in the dense order [ci][tap]) or one output of a
 * Dense layer (its in_len*in_ch weights, in the flattened input's order);
 * rows = out_ch for a Conv1D, out_len*out_ch for Dense. Stored row after
 * row, each row's weights in its dense order:
 *
 *   cnt[r]  the number of weights stored for row r;
 *   idx[p]  for the p-th stored weight (counted over all rows), its offset
 *           in the input tensor: ci*in_len + tap for a Conv1D (whose
 *           kernel must then be at most in_len, so that the offsets ascend
 *           along a row), the flattened input index c*in_len + t for Dense;
 *           the input tensor holds at most 65,535 values;
 *   w       the stored weights: float32 and int8 one element each; int4
 *           packed per row from a byte boundary, two per byte, the first in
 *           the low nibble (a row with an odd count leaves the high nibble
 *           of its last byte 0), so that row r takes ceil(cnt[r]/2) bytes.
 *
 * Biases, and the int8/int4 multipliers and shifts, as for the dense
 * kernels. The kernels compute what the dense kernel of the same precision
 * computes with the weights not stored equal to 0: byte for byte for int8
 * and int4, and for float32 the same sums in the same order without the
 * zero products (equal but for the sign of a zero). Rows with a count of 0
 * read nothing through w and idx (a layer without stored weights may pass
 * null pointers). */
void splitnas_conv1d_sparse_f32(const splitnas_layer_t *l, const float *x, const float *w, const uint16_t *idx, const uint16_t *cnt,
				const float *b, float *y);
void splitnas_dense_sparse_f32(const splitnas_layer_t *l, const float *x, const float *w, const uint16_t *idx, const uint16_t *cnt,
			       const float *b, float *y);
void splitnas_conv1d_sparse_i8(const splitnas_layer_t *l, const int8_t *x, const int8_t *w, const uint16_t *idx, const uint16_t *cnt,
			       const int32_t *b, const int32_t *mult, const int32_t *shift, int8_t *y);
void splitnas_dense_sparse_i8(const splitnas_layer_t *l, const int8_t *x, const int8_t *w, const uint16_t *idx, const uint16_t *cnt,
			      const int32_t *b, const int32_t *mult, const int32_t *shift, int8_t *y);
void splitnas_conv1d_sparse_i4(const splitnas_layer_t *l, const int8_t *x, const uint8_t *w, const uint16_t *idx, const uint16_t *cnt,
			       const int32_t *b, const int32_t *mult, const int32_t *shift, int8_t *y);
void splitnas_dense_sparse_i4(const splitnas_layer_t *l, const int8_t *x, const uint8_t *w, const uint16_t *idx, const uint16_t *cnt,
			      const int32_t *b, const int32_t *mult, const int32_t *shift, int8_t *y);

#endif
