/*
 * host_main.c: the test harness of package export. It reads input windows
 * (SPLITNAS_INPUT_SIZE little-endian floats each) from standard input, runs
 * the exported layers on each, and writes the returned tensors
 * (SPLITNAS_OUTPUT_SIZE values each) to standard output.
 */
#include <stdio.h>

#include "splitnas_model.h"

int main(void)
{
	static float x[SPLITNAS_INPUT_SIZE];
	while (fread(x, sizeof x[0], SPLITNAS_INPUT_SIZE, stdin) == SPLITNAS_INPUT_SIZE) {
		const splitnas_value_t *y = splitnas_run(x);
		if (fwrite(y, sizeof y[0], SPLITNAS_OUTPUT_SIZE, stdout) != SPLITNAS_OUTPUT_SIZE)
			return 1;
	}
	return 0;
}
