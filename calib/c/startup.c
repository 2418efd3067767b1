/*
 * startup.c: vector table, reset handler and the few C library functions
 * GCC may emit calls to, for the bare-metal calibration images (no libc).
 */
#include "calib.h"

extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;
int main(void);

void Reset_Handler(void);

static void Fault_Handler(void)
{
	semihost_write0("calib: unexpected exception\n");
	semihost_exit(1);
}

/* ARMv7-M vector table: initial stack pointer, reset, then the 14 system
 * exceptions (NMI ... SysTick); no device interrupts are enabled. */
__attribute__((section(".vectors"), used)) void (*const calib_vectors[16])(void) = {
	(void (*)(void))&_estack,
	Reset_Handler,
	Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
	Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
	Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
};

void Reset_Handler(void)
{
	uint32_t *src = &_sidata, *dst = &_sdata;
	while (dst < &_edata)
		*dst++ = *src++;
	for (dst = &_sbss; dst < &_ebss;)
		*dst++ = 0;
	/* Enable the FPU: full access to coprocessors 10 and 11 (CPACR). */
	*(volatile uint32_t *)0xE000ED88 |= 0xFu << 20;
	__asm__ volatile("dsb\n\tisb" ::: "memory");
	semihost_exit(main());
}

void *memset(void *s, int c, size_t n)
{
	unsigned char *p = s;
	while (n--)
		*p++ = (unsigned char)c;
	return s;
}

void *memcpy(void *restrict d, const void *restrict s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;
	if (p < q)
		while (n--)
			*p++ = *q++;
	else
		while (n--)
			p[n] = q[n];
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}
