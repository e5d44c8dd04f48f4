/* insn_count.c - a QEMU TCG plugin counting the guest instructions executed between the firmware's
 * marker functions (src/deploy/firmware/harness.c): rnnas_mark_start enables counting,
 * rnnas_mark_stop disables it, rnnas_mark_done closes one inference. Writes one count per inference,
 * one per line, to the file given as out=PATH.
 *
 *   qemu-system-arm ... -plugin ./librnnas_insn_count.so,start=0x..,stop=0x..,done=0x..,out=counts.txt
 *
 * Debian's QEMU ships no qemu-plugin.h, but its binary exports the plugin API (version 1, QEMU 7.2);
 * the few declarations this plugin uses follow (the API's types and signatures, stable since v1). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* not read */
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);

#define EXPORT __attribute__((visibility("default")))
EXPORT int qemu_plugin_version = 1;

static uint64_t addr_start, addr_stop, addr_done;
static int counting;
static uint64_t current;
static FILE *out;

/* A block's instructions are added when it starts executing while counting is on. Markers are
 * function entries, which always begin a block; their own callbacks run after the block's. */
static void on_block(unsigned int vcpu, void *n) {
  (void)vcpu;
  if (counting) current += (uint64_t)(uintptr_t)n;
}
static void on_start(unsigned int vcpu, void *u) {
  (void)vcpu;
  (void)u;
  counting = 1;
}
static void on_stop(unsigned int vcpu, void *u) {
  (void)vcpu;
  (void)u;
  counting = 0;
}
static void on_done(unsigned int vcpu, void *u) {
  (void)vcpu;
  (void)u;
  if (out) fprintf(out, "%llu\n", (unsigned long long)current);
  current = 0;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  const size_t n = qemu_plugin_tb_n_insns(tb);
  size_t i;
  (void)id;
  qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)n);
  for (i = 0; i < n; ++i) {
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
    const uint64_t a = qemu_plugin_insn_vaddr(insn);
    if (a == addr_start) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_start, QEMU_PLUGIN_CB_NO_REGS, NULL);
    if (a == addr_stop) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_stop, QEMU_PLUGIN_CB_NO_REGS, NULL);
    if (a == addr_done) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_done, QEMU_PLUGIN_CB_NO_REGS, NULL);
  }
}

static void on_exit_cb(qemu_plugin_id_t id, void *u) {
  (void)id;
  (void)u;
  if (out) fclose(out);
  out = NULL;
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
  int i;
  (void)info;
  for (i = 0; i < argc; ++i) {
    const char *a = argv[i];
    if (strncmp(a, "start=", 6) == 0) addr_start = strtoull(a + 6, NULL, 0) & ~1ull;
    else if (strncmp(a, "stop=", 5) == 0) addr_stop = strtoull(a + 5, NULL, 0) & ~1ull;
    else if (strncmp(a, "done=", 5) == 0) addr_done = strtoull(a + 5, NULL, 0) & ~1ull;
    else if (strncmp(a, "out=", 4) == 0) out = fopen(a + 4, "w");
  }
  if (!out || !addr_start || !addr_stop || !addr_done) {
    fprintf(stderr, "rnnas insn_count: needs start=, stop=, done= addresses and a writable out=\n");
    return 1;
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
  return 0;
}
