/*
 * semihost.c: Arm semihosting (BKPT 0xAB on M-profile) for the calibration
 * images: QEMU runs them with -semihosting-config enable=on,target=native.
 */
#include "calib.h"

#define SYS_WRITE0 0x04
#define SYS_EXIT 0x18
#define ADP_Stopped_ApplicationExit 0x20026
#define ADP_Stopped_RunTimeErrorUnknown 0x20023

static int32_t semihost_call(int32_t op, const void *arg)
{
	register int32_t r0 __asm__("r0") = op;
	register const void *r1 __asm__("r1") = arg;
	__asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
	return r0;
}

void semihost_write0(const char *s)
{
	semihost_call(SYS_WRITE0, s);
}

/* On 32-bit Arm, SYS_EXIT takes the reason code itself; QEMU exits with
 * status 0 for ApplicationExit and 1 otherwise. */
void semihost_exit(int status)
{
	semihost_call(SYS_EXIT, (const void *)(uintptr_t)(status == 0 ? ADP_Stopped_ApplicationExit : ADP_Stopped_RunTimeErrorUnknown));
	for (;;)
		;
}
