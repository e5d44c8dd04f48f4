/* harness.c - rnnas deployment firmware: streams a test set from the host through ARM semihosting,
 * runs the generated model on every sequence and writes its outputs back; marker functions frame each
 * inference for the instruction-counting QEMU plugin. C99; no libc (semihosting calls of its own).
 *
 * inputs.bin : int32 count, int32 features, then per sequence int32 steps and steps x features floats
 * outputs.bin: per sequence MODEL_OUTPUTS int32 outputs
 * stack.txt  : the peak stack in bytes (stack painting)
 */
#include <stdint.h>

#include "model.h"

uint32_t rnnas_stack_peak(void);
void rnnas_exit(int code);

enum { SYS_OPEN = 0x01, SYS_CLOSE = 0x02, SYS_WRITE = 0x05, SYS_READ = 0x06, SYS_EXIT = 0x18 };

static int32_t semihost(int32_t op, void *arg) {
  register int32_t r0 __asm("r0") = op;
  register void *r1 __asm("r1") = arg;
  __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void rnnas_exit(int code) {
  /* ADP_Stopped_ApplicationExit (status 0) or ADP_Stopped_RunTimeErrorUnknown (QEMU exits with 1). */
  semihost(SYS_EXIT, (void *)(uintptr_t)(code == 0 ? 0x20026u : 0x20023u));
  for (;;) {
  }
}

static int32_t open_file(const char *name, int32_t mode) {
  int32_t len = 0;
  uint32_t args[3];
  while (name[len]) ++len;
  args[0] = (uint32_t)(uintptr_t)name;
  args[1] = (uint32_t)mode; /* 1 = "rb", 5 = "wb" */
  args[2] = (uint32_t)len;
  return semihost(SYS_OPEN, args);
}

static int read_all(int32_t fd, void *buf, uint32_t n) {
  uint32_t args[3];
  args[0] = (uint32_t)fd;
  args[1] = (uint32_t)(uintptr_t)buf;
  args[2] = n;
  return semihost(SYS_READ, args) == 0;
}

static int write_all(int32_t fd, const void *buf, uint32_t n) {
  uint32_t args[3];
  args[0] = (uint32_t)fd;
  args[1] = (uint32_t)(uintptr_t)buf;
  args[2] = n;
  return semihost(SYS_WRITE, args) == 0;
}

/* Markers for the instruction counter: counting runs between start and stop; done ends an inference.
 * Distinct bodies keep the compiler from merging them. */
volatile uint32_t rnnas_marker;
__attribute__((noinline, used)) void rnnas_mark_start(void) { rnnas_marker = 1u; }
__attribute__((noinline, used)) void rnnas_mark_stop(void) { rnnas_marker = 2u; }
__attribute__((noinline, used)) void rnnas_mark_done(void) { rnnas_marker = 3u; }

static float x[MODEL_FEATURES];
static int32_t out[MODEL_OUTPUTS];

int main(void) {
  int32_t in, res, count, features, i, t;
  char text[16];
  uint32_t peak, len = 0, k;
  if (model_init() != RNNAS_OK) return 1;
  in = open_file("inputs.bin", 1);
  res = open_file("outputs.bin", 5);
  if (in < 0 || res < 0) return 2;
  if (!read_all(in, &count, 4) || !read_all(in, &features, 4) || features != MODEL_FEATURES) return 3;
  for (i = 0; i < count; ++i) {
    int32_t steps;
    rnnas_status s;
    if (!read_all(in, &steps, 4)) return 4;
    rnnas_mark_start();
    model_reset();
    rnnas_mark_stop();
    for (t = 0; t < steps; ++t) {
      if (!read_all(in, x, sizeof x)) return 5;
      rnnas_mark_start();
      s = model_step(x);
      rnnas_mark_stop();
      if (s != RNNAS_OK) return 6;
    }
    rnnas_mark_start();
    s = model_output(out);
    rnnas_mark_stop();
    rnnas_mark_done();
    if (s != RNNAS_OK || !write_all(res, out, sizeof out)) return 7;
  }
  semihost(SYS_CLOSE, &res);
  peak = rnnas_stack_peak();
  do {
    text[len++] = (char)('0' + peak % 10u);
    peak /= 10u;
  } while (peak);
  for (k = 0; k < len / 2; ++k) {
    const char c = text[k];
    text[k] = text[len - 1 - k];
    text[len - 1 - k] = c;
  }
  text[len++] = '\n';
  res = open_file("stack.txt", 5);
  if (res < 0 || !write_all(res, text, len)) return 8;
  semihost(SYS_CLOSE, &res);
  return 0;
}
