/*
 * host_main.c: runs one generated kernel on the host, for the tests that
 * compare the kernels with package nn. Usage:
 *
 *   host PREC KIND IN_LEN IN_CH OUT_LEN OUT_CH KERNEL STRIDE PAD RELU MULT SHIFT SEED
 *
 * PREC is f32 or i8, KIND conv1d, conv1d_transpose or dense. It fills the
 * weights, biases and input as the images do (fill_* from SEED, SEED+1,
 * SEED+2) and prints four lines, "x", "w", "b" and "y", each followed by the
 * values (%a for floats, %d for integers).
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

int main(int argc, char **argv)
{
	if (argc != 14) {
		fprintf(stderr, "usage: host PREC KIND IN_LEN IN_CH OUT_LEN OUT_CH KERNEL STRIDE PAD RELU MULT SHIFT SEED\n");
		return 2;
	}
	const char *prec = argv[1], *kind = argv[2];
	layer_t l = {atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[7]), atoi(argv[8]),
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
			dense_f32(&l, x, w, b, y);
		else if (strcmp(kind, "conv1d") == 0)
			conv1d_f32(&l, x, w, b, y);
		else
			conv1d_transpose_f32(&l, x, w, b, y);
		print_f32("x", x, nx);
		print_f32("w", w, nw);
		print_f32("b", b, nb);
		print_f32("y", y, ny);
	} else {
		int8_t *x = malloc(nx), *w = malloc(nw), *y = malloc(ny);
		int32_t *b = malloc(sizeof *b * nb);
		fill_i8(w, nw, seed);
		fill_i32(b, nb, seed + 1);
		fill_i8(x, nx, seed + 2);
		if (dense)
			dense_i8(&l, x, w, b, y);
		else if (strcmp(kind, "conv1d") == 0)
			conv1d_i8(&l, x, w, b, y);
		else
			conv1d_transpose_i8(&l, x, w, b, y);
		print_i8("x", x, nx);
		print_i8("w", w, nw);
		print_i32("b", b, nb);
		print_i8("y", y, ny);
	}
	return 0;
}
