/*
 * sparse_main.c: runs one layer through a dense kernel and the sparse
 * kernel of the same precision on the host, for the tests that check the
 * sparse kernels against the dense ones. It reads from standard input:
 *
 *   PREC KIND IN_LEN IN_CH OUT_LEN OUT_CH KERNEL STRIDE PAD RELU IN_OFFSET OUT_OFFSET
 *   N x...          the input
 *   N w...          the dense weights (i4: the packed bytes of the tensor)
 *   N b...          the biases
 *   N mult...       (i8, i4) the multipliers
 *   N shift...      (i8, i4) the shifts
 *   N cnt...        the rows' counts
 *   N idx...        the stored weights' input offsets
 *   N ws...         the stored weights (i4: each row's packed bytes)
 *
 * PREC is f32, i8 or i4, KIND conv1d or dense; each list is its length N
 * then N values (f32 values in C's hexadecimal notation). Every array is
 * allocated to exactly its length, so that a read beyond one is a heap
 * overflow under -fsanitize=address; an empty idx or ws list is passed as
 * a null pointer. It prints two lines, "dense" and "sparse", each followed
 * by the outputs (%a for f32, %d for the integers).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "splitnas_kernels.h"

static void fail(const char *what)
{
	fprintf(stderr, "sparse harness: bad input: %s\n", what);
	exit(2);
}

/* A list's length, then an array of exactly that many elements of size
 * sz (NULL if empty), read by get. */
static void *read_list(size_t sz, int *n, void (*get)(void *, int))
{
	if (scanf("%d", n) != 1 || *n < 0)
		fail("list length");
	if (*n == 0)
		return NULL;
	void *p = malloc(sz * (size_t)*n);
	if (!p)
		fail("out of memory");
	for (int i = 0; i < *n; i++)
		get(p, i);
	return p;
}

static void get_f32(void *p, int i)
{
	double v;
	if (scanf("%la", &v) != 1)
		fail("float");
	((float *)p)[i] = (float)v;
}

static void get_i8(void *p, int i)
{
	int v;
	if (scanf("%d", &v) != 1)
		fail("int8");
	((int8_t *)p)[i] = (int8_t)v;
}

static void get_u8(void *p, int i)
{
	int v;
	if (scanf("%d", &v) != 1)
		fail("byte");
	((uint8_t *)p)[i] = (uint8_t)v;
}

static void get_u16(void *p, int i)
{
	int v;
	if (scanf("%d", &v) != 1)
		fail("uint16");
	((uint16_t *)p)[i] = (uint16_t)v;
}

static void get_i32(void *p, int i)
{
	int v;
	if (scanf("%d", &v) != 1)
		fail("int32");
	((int32_t *)p)[i] = (int32_t)v;
}

int main(void)
{
	char prec[8], kind[32];
	splitnas_layer_t l;
	if (scanf("%7s %31s %d %d %d %d %d %d %d %d %d %d", prec, kind, &l.in_len, &l.in_ch, &l.out_len, &l.out_ch, &l.kernel,
		  &l.stride, &l.pad_left, &l.relu, &l.input_offset, &l.output_offset) != 12)
		fail("layer");
	const int dense = strcmp(kind, "dense") == 0, f32 = strcmp(prec, "f32") == 0, i4 = strcmp(prec, "i4") == 0;
	const int ny = l.out_len * l.out_ch;
	int nx, nw, nb, nm, ns, nc, ni, nws;
	if (f32) {
		float *x = read_list(4, &nx, get_f32), *w = read_list(4, &nw, get_f32), *b = read_list(4, &nb, get_f32);
		uint16_t *cnt = read_list(2, &nc, get_u16), *idx = read_list(2, &ni, get_u16);
		float *ws = read_list(4, &nws, get_f32);
		float *yd = malloc(sizeof *yd * ny), *ys = malloc(sizeof *ys * ny);
		if (dense) {
			splitnas_dense_f32(&l, x, w, b, yd);
			splitnas_dense_sparse_f32(&l, x, ws, idx, cnt, b, ys);
		} else {
			splitnas_conv1d_f32(&l, x, w, b, yd);
			splitnas_conv1d_sparse_f32(&l, x, ws, idx, cnt, b, ys);
		}
		printf("dense");
		for (int i = 0; i < ny; i++)
			printf(" %a", (double)yd[i]);
		printf("\nsparse");
		for (int i = 0; i < ny; i++)
			printf(" %a", (double)ys[i]);
		printf("\n");
		free(x), free(w), free(b), free(cnt), free(idx), free(ws), free(yd), free(ys);
		return 0;
	}
	int8_t *x = read_list(1, &nx, get_i8);
	void *w = read_list(1, &nw, i4 ? get_u8 : get_i8);
	int32_t *b = read_list(4, &nb, get_i32), *mult = read_list(4, &nm, get_i32), *shift = read_list(4, &ns, get_i32);
	uint16_t *cnt = read_list(2, &nc, get_u16), *idx = read_list(2, &ni, get_u16);
	void *ws = read_list(1, &nws, i4 ? get_u8 : get_i8);
	int8_t *yd = malloc(ny), *ys = malloc(ny);
	if (i4 && dense) {
		splitnas_dense_i4(&l, x, w, b, mult, shift, yd);
		splitnas_dense_sparse_i4(&l, x, ws, idx, cnt, b, mult, shift, ys);
	} else if (i4) {
		splitnas_conv1d_i4(&l, x, w, b, mult, shift, yd);
		splitnas_conv1d_sparse_i4(&l, x, ws, idx, cnt, b, mult, shift, ys);
	} else if (dense) {
		splitnas_dense_i8(&l, x, w, b, mult, shift, yd);
		splitnas_dense_sparse_i8(&l, x, ws, idx, cnt, b, mult, shift, ys);
	} else {
		splitnas_conv1d_i8(&l, x, w, b, mult, shift, yd);
		splitnas_conv1d_sparse_i8(&l, x, ws, idx, cnt, b, mult, shift, ys);
	}
	printf("dense");
	for (int i = 0; i < ny; i++)
		printf(" %d", yd[i]);
	printf("\nsparse");
	for (int i = 0; i < ny; i++)
		printf(" %d", ys[i]);
	printf("\n");
	free(x), free(w), free(b), free(mult), free(shift), free(cnt), free(idx), free(ws), free(yd), free(ys);
	return 0;
}
