/*
 * host_main.c: runs one generated kernel on the host, for the tests that
 * compare the kernels with package nn. Usage:
 *
 *   host PREC KIND IN_LEN IN_CH OUT_LEN OUT_CH KERNEL STRIDE PAD RELU IN_OFFSET OUT_OFFSET SEED
 *
 * PREC is f32, i8 or i4, KIND conv1d, conv1d_transpose or dense; IN_OFFSET
 * and OUT_OFFSET are the int8 splitnas_layer_t fields (0 for f32). For
 * i8 and i4 it reads the per-channel multipliers, then the shifts, one per
 * bias, from standard input. It fills the weights, biases and input as the
 * images do (fill_* from SEED, SEED+1, SEED+2; i4 weights: random packed
 * bytes, two nibbles each, in an array of exactly the packed size, the high
 * nibble of an odd count's last byte 0, biases divided by 16) and prints
 * four lines, "x", "w", "b" and "y", each followed by the values (%a for
 * floats, %d for integers; i4 weights unpacked, in [-8, 7]).
 *
 *   host rq N OUT_OFFSET RELU
 *
 * checks the int8 requantization alone: it reads N lines "ACC MULT SHIFT"
 * from standard input and runs dense_i8 on one input with zero weights, so
 * that output i's accumulator is its bias ACC, requantized with MULT and
 * SHIFT; it prints the line "y" and the N outputs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"

static void print_f32(const char *name, const float *p, int n)
{
	printf("%s", name);
	for (int i = 0; i < n; i++)
		printf(" %a", (double)p[i]);
	printf("\n");
}

static void print_i8(const char *name, const int8_t *p, int n)
{
	printf("%s", name);
	for (int i = 0; i < n; i++)
		printf(" %d", p[i]);
	printf("\n");
}

static void print_i32(const char *name, const int32_t *p, int n)
{
	printf("%s", name);
	for (int i = 0; i < n; i++)
		printf(" %d", p[i]);
	printf("\n");
}

static int requant_only(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: host rq N OUT_OFFSET RELU\n");
		return 2;
	}
	int n = atoi(argv[2]);
	int32_t *b = malloc(sizeof *b * n), *mult = malloc(sizeof *mult * n), *shift = malloc(sizeof *shift * n);
	int8_t x = 0, *w = calloc(n, 1), *y = malloc(n);
	for (int i = 0; i < n; i++) {
		if (scanf("%d %d %d", &b[i], &mult[i], &shift[i]) != 3) {
			fprintf(stderr, "host rq: want %d lines ACC MULT SHIFT on standard input\n", n);
			return 2;
		}
	}
	splitnas_layer_t l = {1, 1, n, 1, 0, 0, 0, atoi(argv[4]), 0, atoi(argv[3])};
	splitnas_dense_i8(&l, &x, w, b, mult, shift, y);
	print_i8("y", y, n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "rq") == 0)
		return requant_only(argc, argv);
	if (argc != 14) {
		fprintf(stderr, "usage: host PREC KIND IN_LEN IN_CH OUT_LEN OUT_CH KERNEL STRIDE PAD RELU IN_OFFSET OUT_OFFSET SEED\n");
		return 2;
	}
	const char *prec = argv[1], *kind = argv[2];
	splitnas_layer_t l = {atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[7]), atoi(argv[8]),
		     atoi(argv[9]), atoi(argv[10]), atoi(argv[11]), atoi(argv[12])};
	uint32_t seed = (uint32_t)strtoul(argv[13], NULL, 10);
	int dense = strcmp(kind, "dense") == 0;
	int nx = l.in_len * l.in_ch, ny = l.out_len * l.out_ch;
	int nw = dense ? nx * ny : l.kernel * l.in_ch * l.out_ch, nb = dense ? ny : l.out_ch;
	if (strcmp(prec, "f32") == 0) {
		float *x = malloc(sizeof *x * nx), *w = malloc(sizeof *w * nw), *b = malloc(sizeof *b * nb), *y = malloc(sizeof *y * ny);
		fill_f32(w, nw, seed);
		fill_f32(b, nb, seed + 1);
		fill_f32(x, nx, seed + 2);
		if (dense)
			splitnas_dense_f32(&l, x, w, b, y);
		else if (strcmp(kind, "conv1d") == 0)
			splitnas_conv1d_f32(&l, x, w, b, y);
		else
			splitnas_conv1d_transpose_f32(&l, x, w, b, y);
		print_f32("x", x, nx);
		print_f32("w", w, nw);
		print_f32("b", b, nb);
		print_f32("y", y, ny);
	} else {
		int8_t *x = malloc(nx), *w = malloc(nw), *y = malloc(ny);
		int32_t *b = malloc(sizeof *b * nb), *mult = malloc(sizeof *mult * nb), *shift = malloc(sizeof *shift * nb);
		for (int i = 0; i < 2 * nb; i++) {
			int32_t *v = i < nb ? &mult[i] : &shift[i - nb];
			if (scanf("%d", v) != 1) {
				fprintf(stderr, "host: want %d multipliers and %d shifts on standard input\n", nb, nb);
				return 2;
			}
		}
		fill_i32(b, nb, seed + 1);
		fill_i8(x, nx, seed + 2);
		if (strcmp(prec, "i4") == 0) {
			/* Exactly the packed bytes, so that a read beyond them is
			 * a heap overflow (caught by -fsanitize=address). */
			int nwb = (nw + 1) / 2;
			uint8_t *wp = malloc(nwb);
			/* Biases in [-256, 255]: int4 accumulators are about 16
			 * times smaller than int8 ones. */
			for (int i = 0; i < nb; i++)
				b[i] /= 16;
			fill_i8((int8_t *)wp, nwb, seed);
			if (nw % 2)
				wp[nwb - 1] &= 0x0f;
			for (int i = 0; i < nw; i++)
				w[i] = (int8_t)((((wp[i / 2] >> (4 * (i % 2))) & 0x0f) ^ 8) - 8);
			if (dense)
				splitnas_dense_i4(&l, x, wp, b, mult, shift, y);
			else if (strcmp(kind, "conv1d") == 0)
				splitnas_conv1d_i4(&l, x, wp, b, mult, shift, y);
			else
				splitnas_conv1d_transpose_i4(&l, x, wp, b, mult, shift, y);
			free(wp);
		} else {
			fill_i8(w, nw, seed);
			if (dense)
				splitnas_dense_i8(&l, x, w, b, mult, shift, y);
			else if (strcmp(kind, "conv1d") == 0)
				splitnas_conv1d_i8(&l, x, w, b, mult, shift, y);
			else
				splitnas_conv1d_transpose_i8(&l, x, w, b, mult, shift, y);
		}
		print_i8("x", x, nx);
		print_i8("w", w, nw);
		print_i32("b", b, nb);
		print_i8("y", y, ny);
	}
	return 0;
}
