/*
 * count.c: a QEMU TCG plugin that counts the instructions an emulated
 * Cortex-M4 executes between two marker functions, per instruction class,
 * with the extra events the cycle model of package calib needs.
 *
 * Debian ships no qemu-plugin.h, so the few API functions used are declared
 * below by hand, as in QEMU's include/qemu/qemu-plugin.h. Their signatures
 * are those of plugin API version 1 (QEMU 7.2 in Debian 12, which accepts
 * versions 0 to 1) and did not change when later QEMU versions raised the
 * minimum version to 2. The plugin declares the version given with
 * -DCALIB_PLUGIN_API=N; package calib picks it from the QEMU version and
 * rebuilds with the one QEMU names if it refuses the plugin.
 *
 * QEMU 7.2 delivers stores, not loads, to a memory callback registered for
 * QEMU_PLUGIN_MEM_R (as measured here), so the plugin registers for
 * QEMU_PLUGIN_MEM_RW and drops the stores itself
 * (qemu_plugin_mem_is_store).
 *
 * Arguments (-plugin count.so,begin=ADDR,end=ADDR,out=FILE):
 *   begin, end  entry addresses of marker_begin and marker_end (hex or decimal)
 *   out         file the counts are written to
 *
 * Counting. At translation, each translation block (TB) gets a vector of
 * per-class instruction counts, classified from the disassembly of each
 * instruction (qemu_plugin_insn_disas), and one exec callback that adds the
 * vector to running totals. A TB runs to its end unless an exception
 * interrupts it, which the images never let happen between markers. When
 * the TB at the begin address starts, the totals are saved and the
 * simulated flash data cache is emptied; when the TB at the end address
 * starts, one line with the totals minus the saved ones is written:
 *
 *   m <alu> <mul> <div> <load> <store> <ldm> <branch> <fp_arith> <fp_mac>
 *     <fp_ldst> <fp_ldm> <fp_div> <other> <regs> <taken> <piped> <stalls>
 *     <flash_reads> <flash_misses>
 *
 * (one line, space separated), where
 *   regs          registers transferred by LDM/STM/PUSH/POP/LDRD/STRD and
 *                 VLDM/VSTM/VPUSH/VPOP (the N of their 1+N cycles)
 *   taken         control transfers: a TB that does not start where the
 *                 previous one ended (taken branches, calls, returns)
 *   piped         single loads directly after a single load whose result
 *                 does not form their address (pipelined, one cycle less)
 *   stalls        single loads/stores whose address uses the result of the
 *                 directly preceding data-processing instruction
 *   flash_reads   data reads below FLASH_END (the emulated flash)
 *   flash_misses  of those, misses of a simulated ART data cache
 *                 (DCACHE_LINES lines of DCACHE_LINE bytes, LRU)
 * The line's counts include the marker calls themselves; the images run an
 * empty marker pair first, whose counts package calib subtracts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CALIB_PLUGIN_API
#define CALIB_PLUGIN_API 1
#endif

/* ---- the QEMU plugin API subset, declared by hand ---- */
typedef uint64_t qemu_plugin_id_t;
typedef uint32_t qemu_plugin_meminfo_t;
typedef struct qemu_info_t qemu_info_t; /* not read */
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_mem_rw { QEMU_PLUGIN_MEM_R = 1, QEMU_PLUGIN_MEM_W, QEMU_PLUGIN_MEM_RW };
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_mem_cb_t)(unsigned int vcpu_index, qemu_plugin_meminfo_t info, uint64_t vaddr, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb, enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_mem_cb_t cb, enum qemu_plugin_cb_flags flags, enum qemu_plugin_mem_rw rw, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
char *qemu_plugin_insn_disas(const struct qemu_plugin_insn *insn);
bool qemu_plugin_mem_is_store(qemu_plugin_meminfo_t info);

__attribute__((visibility("default"))) int qemu_plugin_version = CALIB_PLUGIN_API;

/* ---- counting ---- */
enum {
	C_ALU, C_MUL, C_DIV, C_LOAD, C_STORE, C_LDM, C_BRANCH,
	C_FP_ARITH, C_FP_MAC, C_FP_LDST, C_FP_LDM, C_FP_DIV, C_OTHER,
	NCLASS
};
enum { E_REGS = NCLASS, E_TAKEN, E_PIPED, E_STALLS, E_FLASH_READS, E_FLASH_MISSES, NCOUNT };

#define FLASH_END 0x00400000u
#define DCACHE_LINES 8
#define DCACHE_LINE 32

typedef struct {
	uint64_t start, end; /* address of the TB and just past its last instruction */
	uint32_t n[NCOUNT];  /* per-TB counts of the static events: classes, E_REGS, E_PIPED, E_STALLS */
} tbinfo;

static uint64_t total[NCOUNT], saved[NCOUNT];
static uint64_t begin_addr, end_addr, prev_end = UINT64_MAX;
static FILE *out;
static uint64_t lines[DCACHE_LINES]; /* line tags, most recently used first; ~0 = empty */

static void cache_reset(void)
{
	for (int i = 0; i < DCACHE_LINES; i++)
		lines[i] = UINT64_MAX;
}

static void mem_cb(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
	(void)vcpu, (void)udata;
	if (vaddr >= FLASH_END || qemu_plugin_mem_is_store(info))
		return;
	total[E_FLASH_READS]++;
	uint64_t tag = vaddr / DCACHE_LINE;
	int i = 0;
	while (i < DCACHE_LINES && lines[i] != tag)
		i++;
	if (i == DCACHE_LINES) {
		total[E_FLASH_MISSES]++;
		i = DCACHE_LINES - 1;
	}
	memmove(&lines[1], &lines[0], (size_t)i * sizeof lines[0]);
	lines[0] = tag;
}

static void tb_exec(unsigned int vcpu, void *udata)
{
	(void)vcpu;
	const tbinfo *tb = udata;
	if (prev_end != UINT64_MAX && tb->start != prev_end)
		total[E_TAKEN]++;
	prev_end = tb->end;
	if (tb->start == begin_addr) {
		memcpy(saved, total, sizeof saved);
		cache_reset();
	} else if (tb->start == end_addr && out) {
		fputc('m', out);
		for (int i = 0; i < NCOUNT; i++)
			fprintf(out, " %llu", (unsigned long long)(total[i] - saved[i]));
		fputc('\n', out);
	}
	for (int i = 0; i <= E_REGS; i++)
		total[i] += tb->n[i];
	total[E_PIPED] += tb->n[E_PIPED];
	total[E_STALLS] += tb->n[E_STALLS];
}

/* ---- classification of a disassembled instruction ---- */

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static bool is_cond(const char *s)
{
	static const char *const conds[] = {"eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs",
					    "vc", "hi", "ls", "ge", "lt", "gt", "le", "al"};
	for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++)
		if (strcmp(s, conds[i]) == 0)
			return true;
	return false;
}

/* is_op reports whether m is op, optionally with a condition suffix. */
static bool is_op(const char *m, const char *op)
{
	size_t n = strlen(op);
	return strncmp(m, op, n) == 0 && (m[n] == 0 || is_cond(m + n));
}

/* reglist_count counts the registers of a {r4, r5-r7, pc} list. */
static int reglist_count(const char *ops)
{
	const char *p = strchr(ops, '{');
	if (!p)
		return 1;
	int n = 0;
	for (p++; *p && *p != '}';) {
		while (*p == ' ' || *p == ',')
			p++;
		char a[8] = {0}, b[8] = {0};
		int i = 0;
		while (*p && *p != ',' && *p != '}' && *p != '-' && i < 7)
			a[i++] = *p++;
		if (*p == '-') {
			p++;
			i = 0;
			while (*p && *p != ',' && *p != '}' && i < 7)
				b[i++] = *p++;
			n += atoi(b + 1) - atoi(a + 1) + 1;
		} else if (a[0]) {
			n++;
		}
	}
	/* A d register is two s registers' worth of transfers on FPv4-SP. */
	if (strstr(ops, "{d"))
		n *= 2;
	return n;
}

/* reg_num parses r0-r15, sb, sl, fp, ip, sp, lr, pc at s, or returns -1. */
static int reg_num(const char *s)
{
	static const char *const names[] = {"sb", "sl", "fp", "ip", "sp", "lr", "pc"};
	static const int nums[] = {9, 10, 11, 12, 13, 14, 15};
	if (s[0] == 'r' && s[1] >= '0' && s[1] <= '9')
		return atoi(s + 1);
	for (int i = 0; i < 7; i++)
		if (strncmp(s, names[i], 2) == 0)
			return nums[i];
	return -1;
}

typedef struct {
	int cls;
	int regs;       /* registers transferred by a multiple load/store */
	bool load1;     /* a single load (LDR*, VLDR) */
	bool ldst1;     /* a single load or store */
	int dest;       /* integer register written by a load or data-processing instruction, or -1 */
	uint32_t addr;  /* bit mask of the registers forming a load/store address */
} insn_class;

static insn_class classify(const char *dis)
{
	insn_class c = {C_ALU, 0, false, false, -1, 0};
	char m[32] = {0};
	size_t i = 0;
	while (dis[i] && dis[i] != ' ' && dis[i] != '\t' && i < sizeof m - 1) {
		m[i] = dis[i];
		i++;
	}
	const char *ops = dis + i;
	while (*ops == ' ' || *ops == '\t')
		ops++;
	/* Drop the .w/.n width and .f32/.s32/... type qualifiers. */
	char *dot = strchr(m, '.');
	if (dot)
		*dot = 0;

	/* Registers of the address: inside [...]. */
	const char *br = strchr(ops, '[');
	if (br) {
		for (const char *p = br + 1; *p && *p != ']'; p++) {
			if (p == br + 1 || p[-1] == ' ' || p[-1] == ',') {
				int r = reg_num(p);
				if (r >= 0)
					c.addr |= 1u << r;
			}
		}
	}
	int first = reg_num(ops);

	if (m[0] == 'v') {
		if (is_op(m, "vldr") || is_op(m, "vstr")) {
			c.cls = C_FP_LDST;
			c.ldst1 = true;
			c.load1 = m[1] == 'l';
		} else if (has_prefix(m, "vldm") || has_prefix(m, "vstm") || is_op(m, "vpush") || is_op(m, "vpop")) {
			c.cls = C_FP_LDM;
			c.regs = reglist_count(ops);
		} else if (has_prefix(m, "vmla") || has_prefix(m, "vmls") || has_prefix(m, "vnmla") || has_prefix(m, "vnmls") ||
			   has_prefix(m, "vfma") || has_prefix(m, "vfms") || has_prefix(m, "vfnma") || has_prefix(m, "vfnms")) {
			c.cls = C_FP_MAC;
		} else if (has_prefix(m, "vdiv") || has_prefix(m, "vsqrt")) {
			c.cls = C_FP_DIV;
		} else {
			c.cls = C_FP_ARITH; /* vadd vsub vmul vnmul vabs vneg vcmp vcvt vmov vmrs vmsr */
			if (has_prefix(m, "vmov") && first >= 0)
				c.dest = first;
		}
		return c;
	}
	if (has_prefix(m, "ldm") || has_prefix(m, "stm") || is_op(m, "push") || is_op(m, "pop")) {
		c.cls = C_LDM;
		c.regs = reglist_count(ops);
		return c;
	}
	if (is_op(m, "ldrd") || is_op(m, "strd")) {
		c.cls = C_LDM; /* LDRD/STRD: 1+N with N = 2, not pipelined */
		c.regs = 2;
		return c;
	}
	if (has_prefix(m, "ldr") || has_prefix(m, "ldrex")) {
		c.cls = C_LOAD;
		c.ldst1 = c.load1 = true;
		c.dest = first;
		return c;
	}
	if (has_prefix(m, "str")) {
		c.cls = C_STORE;
		c.ldst1 = true;
		return c;
	}
	if (is_op(m, "b") || is_op(m, "bl") || is_op(m, "blx") || is_op(m, "bx") || is_op(m, "cbz") ||
	    is_op(m, "cbnz") || is_op(m, "tbb") || is_op(m, "tbh")) {
		c.cls = C_BRANCH;
		return c;
	}
	if (has_prefix(m, "sdiv") || has_prefix(m, "udiv")) {
		c.cls = C_DIV;
		c.dest = first;
		return c;
	}
	if (has_prefix(m, "mul") || has_prefix(m, "mla") || has_prefix(m, "mls") || has_prefix(m, "smul") ||
	    has_prefix(m, "smla") || has_prefix(m, "smls") || has_prefix(m, "smmul") || has_prefix(m, "smmla") ||
	    has_prefix(m, "smmls") || has_prefix(m, "smuad") || has_prefix(m, "smusd") || has_prefix(m, "umul") ||
	    has_prefix(m, "umla") || has_prefix(m, "umaal")) {
		c.cls = C_MUL;
		c.dest = first;
		return c;
	}
	if (has_prefix(m, "it") || is_op(m, "nop") || is_op(m, "bkpt") || is_op(m, "svc") || has_prefix(m, "cps") ||
	    is_op(m, "dmb") || is_op(m, "dsb") || is_op(m, "isb") || is_op(m, "mrs") || is_op(m, "msr") ||
	    is_op(m, "wfi") || is_op(m, "wfe") || is_op(m, "sev") || is_op(m, "yield") || is_op(m, "udf")) {
		c.cls = C_OTHER;
		return c;
	}
	/* Data processing. Compares and tests write no register. */
	if (!(is_op(m, "cmp") || is_op(m, "cmn") || is_op(m, "tst") || is_op(m, "teq")))
		c.dest = first;
	return c;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	(void)id;
	size_t n = qemu_plugin_tb_n_insns(tb);
	tbinfo *info = calloc(1, sizeof *info); /* lives as long as the TB may */
	if (!info)
		abort();
	info->start = qemu_plugin_tb_vaddr(tb);
	info->end = info->start;
	insn_class prev = {C_OTHER, 0, false, false, -1, 0};
	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		char *dis = qemu_plugin_insn_disas(insn);
		insn_class c = classify(dis ? dis : "");
		free(dis);
		info->n[c.cls]++;
		info->n[E_REGS] += (uint32_t)c.regs;
		if (c.ldst1 && prev.load1 && (prev.dest < 0 || !(c.addr & (1u << prev.dest))) && c.load1)
			info->n[E_PIPED]++;
		if (c.ldst1 && (prev.cls == C_ALU || prev.cls == C_MUL || prev.cls == C_DIV) && prev.dest >= 0 &&
		    (c.addr & (1u << prev.dest)))
			info->n[E_STALLS]++;
		prev = c;
		info->end = qemu_plugin_insn_vaddr(insn) + qemu_plugin_insn_size(insn);
		/* QEMU_PLUGIN_MEM_R passes stores, not loads, in QEMU 7.2:
		 * take every access and drop the stores in mem_cb. */
		qemu_plugin_register_vcpu_mem_cb(insn, mem_cb, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW, NULL);
	}
	qemu_plugin_register_vcpu_tb_exec_cb(tb, tb_exec, QEMU_PLUGIN_CB_NO_REGS, info);
}

static void at_exit(qemu_plugin_id_t id, void *udata)
{
	(void)id, (void)udata;
	if (out)
		fclose(out);
	out = NULL;
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
	(void)info;
	const char *path = NULL;
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "begin=", 6) == 0)
			begin_addr = strtoull(argv[i] + 6, NULL, 0);
		else if (strncmp(argv[i], "end=", 4) == 0)
			end_addr = strtoull(argv[i] + 4, NULL, 0);
		else if (strncmp(argv[i], "out=", 4) == 0)
			path = argv[i] + 4;
		else {
			fprintf(stderr, "count: unknown argument %s (want begin=ADDR,end=ADDR,out=FILE)\n", argv[i]);
			return -1;
		}
	}
	if (!begin_addr || !end_addr || !path) {
		fprintf(stderr, "count: need begin=ADDR,end=ADDR,out=FILE\n");
		return -1;
	}
	out = fopen(path, "w");
	if (!out) {
		perror(path);
		return -1;
	}
	cache_reset();
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
