/*
 * classify_main.c: the counting plugin's instruction classifier on the host,
 * for TestPluginClassifier. It includes plugin/count.c (the QEMU API it
 * calls is stubbed below, never called), reads one disassembled instruction
 * per line on standard input, as QEMU's disassembler prints them, and
 * prints per line: the class, the registers a multiple load/store moves,
 * whether it is a single load and a single load/store, the integer register
 * it writes (-1 for none) and the mask of its address registers.
 */
#include "count.c"

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb) { (void)id, (void)cb; }
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb, enum qemu_plugin_cb_flags flags, void *userdata) { (void)tb, (void)cb, (void)flags, (void)userdata; }
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_mem_cb_t cb, enum qemu_plugin_cb_flags flags, enum qemu_plugin_mem_rw rw, void *userdata) { (void)insn, (void)cb, (void)flags, (void)rw, (void)userdata; }
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata) { (void)id, (void)cb, (void)userdata; }
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb) { (void)tb; return 0; }
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb) { (void)tb; return 0; }
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx) { (void)tb, (void)idx; return NULL; }
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn) { (void)insn; return 0; }
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn) { (void)insn; return 0; }
char *qemu_plugin_insn_disas(const struct qemu_plugin_insn *insn) { (void)insn; return NULL; }
bool qemu_plugin_mem_is_store(qemu_plugin_meminfo_t info) { (void)info; return false; }

int main(void)
{
	static const char *const names[NCLASS] = {"alu", "mul", "div", "load", "store", "ldm_stm", "branch",
						  "fp_arith", "fp_mac", "fp_ldst", "fp_ldm", "fp_div", "other"};
	char line[256];
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = 0;
		insn_class c = classify(line);
		printf("%s %d %d %d %d %u\n", names[c.cls], c.regs, c.load1, c.ldst1, c.dest, c.addr);
	}
	return 0;
}
