/* rnnas_nn.c - int8 inference kernels and the model runner. See rnnas_nn.h and docs/quantization.md. */
#include "rnnas_nn.h"

#include <string.h>

/* Cortex-M4/M7/M33 with the DSP extension: dual 16-bit multiply-accumulates (SMLAD) for the int8 dot
 * products. Integer sums are exact in any order, so this path gives the same bytes as the portable one
 * (tests/deploy_test.cpp compares the boards' outputs with the host's). */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !defined(RNNAS_NO_DSP)
#include <arm_acle.h>
#define RNNAS_DSP 1
#endif
/* 16-bit weights (rnnas_mat_s8.w16): on DSP cores and on hosts (where the tests run their portable path).
 * Cores without DSP leave their code out: a model exported with them does not link there (no
 * rnnas_matvec16). */
#if defined(RNNAS_DSP) || !defined(__arm__)
#define RNNAS_W16 1
#endif
#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT && !defined(RNNAS_NO_DSP)
#include <arm_acle.h>
#define RNNAS_SSAT(x, bits) __ssat((x), (bits))
#endif

/* Inner helpers are inlined even at -Os (the per-MAC and per-row work lives in them). */
#if defined(__GNUC__)
#define RNNAS_INLINE static inline __attribute__((always_inline))
#else
#define RNNAS_INLINE static inline
#endif

/* Right shifts of negative numbers must be arithmetic (GCC and Clang guarantee it). */
typedef char rnnas_arithmetic_shift_check[((-8 >> 1) == -4) ? 1 : -1];

/* round(32767 * tanh(k / 32)) for k = 0 .. 256 (tests/quant_test.cpp recomputes it), and a copy of the last
 * entry (read with weight 0 at |x| = 8). */
static const int16_t kTanhQ15[258] = {
  0, 1024, 2045, 3063, 4075, 5079, 6073, 7056, 8025, 8980, 9919, 10840,
  11742, 12625, 13486, 14325, 15142, 15936, 16706, 17451, 18173, 18869, 19541, 20189,
  20812, 21411, 21986, 22537, 23065, 23570, 24053, 24515, 24955, 25375, 25775, 26156,
  26518, 26863, 27190, 27501, 27796, 28075, 28340, 28592, 28829, 29054, 29267, 29469,
  29659, 29839, 30009, 30169, 30321, 30464, 30599, 30726, 30846, 30959, 31066, 31166,
  31261, 31350, 31435, 31514, 31588, 31658, 31725, 31787, 31845, 31900, 31952, 32001,
  32047, 32090, 32131, 32169, 32205, 32239, 32270, 32300, 32328, 32355, 32380, 32403,
  32425, 32446, 32465, 32483, 32500, 32516, 32531, 32546, 32559, 32572, 32583, 32595,
  32605, 32615, 32624, 32633, 32641, 32648, 32656, 32662, 32669, 32675, 32680, 32685,
  32690, 32695, 32699, 32703, 32707, 32711, 32714, 32717, 32720, 32723, 32726, 32728,
  32731, 32733, 32735, 32737, 32739, 32740, 32742, 32744, 32745, 32746, 32748, 32749,
  32750, 32751, 32752, 32753, 32754, 32754, 32755, 32756, 32757, 32757, 32758, 32758,
  32759, 32759, 32760, 32760, 32761, 32761, 32761, 32762, 32762, 32762, 32763, 32763,
  32763, 32763, 32764, 32764, 32764, 32764, 32764, 32765, 32765, 32765, 32765, 32765,
  32765, 32765, 32765, 32766, 32766, 32766, 32766, 32766, 32766, 32766, 32766, 32766,
  32766, 32766, 32766, 32766, 32766, 32766, 32766, 32766, 32766, 32767, 32767, 32767,
  32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
  32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
  32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
  32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
  32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767,
  32767, 32767, 32767, 32767, 32767, 32767
};

RNNAS_INLINE int32_t shift_round(int32_t x, int32_t s) { return s > 0 ? (x + ((int32_t)1 << (s - 1))) >> s : x; }

RNNAS_INLINE int32_t clamp32(int32_t x, int32_t lo, int32_t hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* x saturated to [-2^15, 2^15 - 1] and [-2^16, 2^16 - 1]: one SSAT on Armv7-M and up. */
#ifdef RNNAS_SSAT
#define sat_s16(x) RNNAS_SSAT(x, 16)
#define sat_s17(x) RNNAS_SSAT(x, 17)
#else
#define sat_s16(x) clamp32((x), -32768, 32767)
#define sat_s17(x) clamp32((x), -65536, 65535)
#endif

RNNAS_INLINE int32_t requant(int32_t acc, int32_t mult, int32_t shift) {
  const int64_t prod = (int64_t)acc * mult; /* one SMULL on Cortex-M3 and up */
  if (shift >= 32) {
    /* The usual case (multiplier < 1): round on bit shift-1, then shift the high word only. |prod| < 2^62,
     * so the result is below 2^30 and needs no saturation; the same value as the general formula. */
    const int32_t k = shift - 32;
    const int64_t q = prod + (k == 0 ? (int64_t)0x80000000u : (int64_t)((uint64_t)((uint32_t)1u << (k - 1)) << 32));
    return (int32_t)(q >> 32) >> k;
  } else {
    const int64_t p = (prod + ((int64_t)1 << (shift - 1))) >> shift;
    return p > INT32_MAX ? INT32_MAX : (p < INT32_MIN ? INT32_MIN : (int32_t)p);
  }
}

int32_t rnnas_requant(int32_t acc, int32_t mult, int32_t shift) { return requant(acc, mult, shift); }

/* acc + sum of w[i] * x[i], i < n. */
RNNAS_INLINE int32_t dot_s8(const int8_t *w, const int8_t *x, int32_t n, int32_t acc) {
  const int8_t *end = w + n;
#if RNNAS_DSP
  const int8_t *end4 = w + (n & ~3);
  while (w != end4) {
    uint32_t wv, xv, wr, xr;
    memcpy(&wv, w, 4); /* unaligned word loads are fine on ARMv7E-M */
    memcpy(&xv, x, 4);
    w += 4;
    x += 4;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(wr) : "r"(wv));
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(xr) : "r"(xv));
    acc = __smlad(__sxtb16(wv), __sxtb16(xv), acc); /* w0 x0 + w2 x2 */
    acc = __smlad(wr, xr, acc);                     /* w1 x1 + w3 x3 */
  }
#endif
  while (w != end) acc += (int32_t)*w++ * (int32_t)*x++;
  return acc;
}

/* |x| >= 32767 gives +-32767 through the table (tanh(8) rounds to 32767, and entry 257 makes index 256 safe),
 * so one saturation replaces the range tests. int32_t results: no sign extensions between the steps. */
RNNAS_INLINE int32_t tanh_q15(int32_t x) {
  const int32_t c = sat_s16(x);
  const int32_t a = c < 0 ? -c : c;
  const int32_t i = a >> 7, f = a & 127;
#if RNNAS_DSP
  /* t + ((t1 - t) f + 64) >> 7 == (t (128 - f) + t1 f + 64) >> 7: one SMLAD of the pair (t, t1), read with
   * one unaligned word load, by (128 - f, f). */
  uint32_t pair;
  memcpy(&pair, &kTanhQ15[i], 4);
  const int32_t r = __smlad(pair, ((uint32_t)f << 16) | (uint32_t)(128 - f), 64) >> 7;
#else
  const int32_t t = kTanhQ15[i];
  const int32_t r = t + (((kTanhQ15[i + 1] - t) * f + 64) >> 7);
#endif
  return c < 0 ? -r : r;
}

/* (32768 + tanh(x / 2) + 1) / 2, at most 32767; clamping x to 65535 rather than 65536 gives the same half. */
RNNAS_INLINE int32_t sigmoid_q15(int32_t x) { return sat_s16((32768 + tanh_q15((sat_s17(x) + 1) >> 1) + 1) >> 1); }

int16_t rnnas_tanh_q15(int32_t x) { return (int16_t)tanh_q15(x); }
int16_t rnnas_sigmoid_q15(int32_t x) { return (int16_t)sigmoid_q15(x); }

#if RNNAS_DSP
/* Columns the unpacked input holds (on the stack); longer inputs use the one-row loop. */
#define RNNAS_XE_COLS 128

/* x unpacked to 16-bit pairs in the order SXTB16 unpacks a weight word: per 4 columns (x0, x2), (x1, x3). */
RNNAS_INLINE void unpack_x(const int8_t *x, int32_t n4, uint32_t *xe) {
  int32_t k;
  for (k = 0; k < n4; k += 4) {
    uint32_t v, r;
    memcpy(&v, x + k, 4);
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    *xe++ = __sxtb16(v);
    *xe++ = r;
  }
}

/* unpack_x() of all cols columns, the last chunk padded with zeros (the w16 layout's column padding). */
RNNAS_INLINE void unpack_x_pad(const int8_t *x, int32_t cols, uint32_t *xe) {
  const int32_t n4 = cols & ~3;
  unpack_x(x, n4, xe);
  if (cols & 3) {
    int8_t t[4] = {0, 0, 0, 0};
    int32_t i;
    for (i = 0; i < (cols & 3); ++i) t[i] = x[n4 + i];
    unpack_x(t, 4, xe + n4 / 2);
  }
}

/* One assembly instruction per line. */
/* clang-format off */
/* requant()'s short path: k = r11 = shift - 33 >= 0, REG = (((REG * r10) >> 32 >> k) + 1) >> 1. */
#define RNNAS_RQ_SHORT(reg)       \
  "smmul " reg ", " reg ", r10\n\t" \
  "asr " reg ", " reg ", r11\n\t"   \
  "add " reg ", " reg ", #1\n\t"    \
  "asr " reg ", " reg ", #1\n\t"
/* requant() of accumulator REG in 8 instructions when the multiplier is below 1/4 (shift >= 33, the usual
 * case): adding a multiple of 2^32 commutes with taking the high word, and (hi + 2^(k-1)) >> k ==
 * ((hi >> (k-1)) + 1) >> 1. r8/r9 walk the mult and shift arrays; the other cases jump to RNNAS_RQ_SLOW. */
#define RNNAS_RQ(reg, n)    \
  "ldr r10, [r8], #4\n\t"   \
  "ldrsb r11, [r9], #1\n\t" \
  "subs r11, r11, #33\n\t"  \
  "bmi 5" n                 \
  "f\n\t"                   \
  RNNAS_RQ_SHORT(reg)       \
  "6" n ":\n\t"
/* shift 32: SMMULR rounds. Shift s <= 31: when acc << p, p = 33 - s, still fits in 32 bits (the usual case:
 * a multiplier of 1/4 or more goes with a small accumulator), (acc << p) * mult >> (s + p) is the same value
 * and takes the short path with k = 0, 15 instructions; otherwise the 64-bit sum is shifted in halves and
 * saturated when its high word overflows, 26 instructions. */
#define RNNAS_RQ_SLOW(reg, n)      \
  "5" n                            \
  ":\n\t"                          \
  "cmp r11, #-1\n\t"               \
  "bne 7" n                        \
  "f\n\t"                          \
  "smmulr " reg ", " reg           \
  ", r10\n\t"                      \
  "b 6" n                          \
  "b\n\t"                          \
  "7" n                            \
  ":\n\t"                          \
  "rsb r12, r11, #0\n\t"           \
  "lsl lr, " reg                   \
  ", r12\n\t"                      \
  "asr r12, lr, r12\n\t"           \
  "cmp r12, " reg                  \
  "\n\t"                           \
  "bne 8" n                        \
  "f\n\t"                          \
  "smmul " reg ", lr, r10\n\t"     \
  "add " reg ", " reg              \
  ", #1\n\t"                       \
  "asr " reg ", " reg              \
  ", #1\n\t"                       \
  "b 6" n                          \
  "b\n\t"                          \
  "8" n                            \
  ":\n\t"                          \
  "add r11, r11, #33\n\t"          \
  "smull r10, " reg ", " reg       \
  ", r10\n\t"                      \
  "sub r12, r11, #1\n\t"           \
  "mov lr, #1\n\t"                 \
  "lsl lr, lr, r12\n\t"            \
  "adds r10, r10, lr\n\t"          \
  "adc " reg ", " reg              \
  ", #0\n\t"                       \
  "asr r12, " reg                  \
  ", r12\n\t"                      \
  "cmp r12, " reg                  \
  ", asr #31\n\t"                  \
  "bne 9" n                        \
  "f\n\t"                          \
  "lsr r10, r10, r11\n\t"          \
  "rsb r11, r11, #32\n\t"          \
  "lsl " reg ", " reg              \
  ", r11\n\t"                      \
  "orr " reg ", " reg              \
  ", r10\n\t"                      \
  "b 6" n                          \
  "b\n\t"                          \
  "9" n                            \
  ":\n\t"                          \
  "mvn r10, #0x80000000\n\t"       \
  "eor " reg ", r10, " reg         \
  ", asr #31\n\t"                  \
  "b 6" n "b\n\t"
/* One row's multiply-accumulate of 4 columns: the weight word at ADDR, sign-extended in pairs (w0, w2),
 * (w1, w3), times the input pairs r8 = (x0, x2), r9 = (x1, x3). */
#define RNNAS_MAC4(acc, addr)    \
  "ldr r10, " addr               \
  "\n\t"                         \
  "sxtb16 r11, r10, ror #8\n\t"  \
  "sxtb16 r10, r10\n\t"          \
  "smlad " acc ", r10, r8, " acc \
  "\n\t"                         \
  "smlad " acc ", r11, r9, " acc "\n\t"
/* v = clamp(REG, r8, r9) stored as int8 at r12 (mode 2). */
#define RNNAS_CLAMP8(reg) \
  "cmp " reg              \
  ", r8\n\t"              \
  "it lt\n\t"             \
  "movlt " reg            \
  ", r8\n\t"              \
  "cmp " reg              \
  ", r9\n\t"              \
  "it gt\n\t"             \
  "movgt " reg            \
  ", r9\n\t"              \
  "strb " reg ", [r12], #1\n\t"
#define RNNAS_UNUSED __attribute__((unused))

/* Rows [0, 4 groups) of w (cols columns) times x, requantised and stored like put_row() (mode 0: out = v,
 * 1: out += v, 2: int8 out = clamp(v, lo, hi)), v = requant(bias + row . x), with the same values as the
 * portable loop. x comes unpacked from xe to end (its first cols & ~3 columns) and from xtail on (the last
 * rest = cols & 3). In assembly: GCC at -Os keeps the loop's pointers on the stack. Per 4 rows: the
 * multiply-accumulate loop (per 4 columns one LDRD of the input pairs, then per row one LDR, two SXTB16
 * and two SMLAD: 23 instructions per 16 MACs), then requant() in 8 instructions a row. Registers: r0 row 0,
 * lr row 2, r1 cols, r2 xe, r3 end, r4-r7 the accumulators, r12 the input cursor. Stack arguments from
 * sp + 40 after the push: mult, shift, bias (or NULL), out, groups, mode, xtail, rest, lo, hi. */
__attribute__((naked, noinline)) static void pass4(
    RNNAS_UNUSED const int8_t* w, RNNAS_UNUSED int32_t cols, RNNAS_UNUSED const uint32_t* xe,
    RNNAS_UNUSED const uint32_t* end, RNNAS_UNUSED const int32_t* mult, RNNAS_UNUSED const int8_t* shift,
    RNNAS_UNUSED const int32_t* bias, RNNAS_UNUSED void* out, RNNAS_UNUSED int32_t groups,
    RNNAS_UNUSED int32_t mode, RNNAS_UNUSED const int8_t* xtail, RNNAS_UNUSED int32_t rest,
    RNNAS_UNUSED int32_t lo, RNNAS_UNUSED int32_t hi) {
  __asm__ volatile(
      "push {r3, r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t" /* 40 bytes: the stack stays 8-byte aligned */
      "0:\n\t"                                               /* next 4 rows: the bias, or zero */
      "ldr r12, [sp, #48]\n\t"
      "cmp r12, #0\n\t"
      "beq 1f\n\t"
      "ldm r12!, {r4, r5, r6, r7}\n\t"
      "str r12, [sp, #48]\n\t"
      "b 2f\n\t"
      "1:\n\t"
      "movs r4, #0\n\t"
      "movs r5, #0\n\t"
      "movs r6, #0\n\t"
      "movs r7, #0\n\t"
      "2:\n\t"
      "add lr, r0, r1, lsl #1\n\t"
      "mov r12, r2\n\t"
      "cmp r12, r3\n\t"
      "beq 9f\n\t"
      "3:\n\t"
      "ldrd r8, r9, [r12], #8\n\t"
      RNNAS_MAC4("r5", "[r0, r1]")
      RNNAS_MAC4("r4", "[r0], #4")
      RNNAS_MAC4("r7", "[lr, r1]")
      RNNAS_MAC4("r6", "[lr], #4")
      "cmp r12, r3\n\t"
      "bne 3b\n\t"
      "9:\n\t" /* the last cols & 3 columns, one at a time */
      "ldr r12, [sp, #68]\n\t"
      "cmp r12, #0\n\t"
      "beq 10f\n\t"
      "ldr r8, [sp, #64]\n\t"
      "11:\n\t"
      "ldrsb r9, [r8], #1\n\t"
      "ldrsb r10, [r0, r1]\n\t"
      "ldrsb r11, [r0], #1\n\t"
      "mla r5, r10, r9, r5\n\t"
      "mla r4, r11, r9, r4\n\t"
      "ldrsb r10, [lr, r1]\n\t"
      "ldrsb r11, [lr], #1\n\t"
      "mla r7, r10, r9, r7\n\t"
      "mla r6, r11, r9, r6\n\t"
      "subs r12, r12, #1\n\t"
      "bne 11b\n\t"
      "10:\n\t"
      "add r0, r0, r1, lsl #1\n\t" /* the next 4 rows: row 0 ended at w + cols */
      "add r0, r0, r1\n\t"
      "ldrd r8, r9, [sp, #40]\n\t"
      RNNAS_RQ("r4", "1") RNNAS_RQ("r5", "2") RNNAS_RQ("r6", "3") RNNAS_RQ("r7", "4")
      "strd r8, r9, [sp, #40]\n\t"
      "ldr r12, [sp, #52]\n\t" /* out, by mode */
      "ldr r11, [sp, #60]\n\t"
      "cmp r11, #1\n\t"
      "blt 4f\n\t"
      "bgt 12f\n\t"
      "ldm r12, {r8, r9, r11, lr}\n\t"
      "add r4, r4, r8\n\t"
      "add r5, r5, r9\n\t"
      "add r6, r6, r11\n\t"
      "add r7, r7, lr\n\t"
      "4:\n\t"
      "stm r12!, {r4, r5, r6, r7}\n\t"
      "b 13f\n\t"
      "12:\n\t"
      "ldrd r8, r9, [sp, #72]\n\t"
      RNNAS_CLAMP8("r4") RNNAS_CLAMP8("r5") RNNAS_CLAMP8("r6") RNNAS_CLAMP8("r7")
      "13:\n\t"
      "str r12, [sp, #52]\n\t"
      "ldr r10, [sp, #56]\n\t"
      "subs r10, r10, #1\n\t"
      "str r10, [sp, #56]\n\t"
      "bne 0b\n\t"
      "pop {r3, r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t"
      RNNAS_RQ_SLOW("r4", "1") RNNAS_RQ_SLOW("r5", "2") RNNAS_RQ_SLOW("r6", "3") RNNAS_RQ_SLOW("r7", "4"));
}

/* requant() of REG for w16 matrices, whose stored shift is k = shift - 33 >= 0 (rnnas_nn.h): always the
 * short path of RNNAS_RQ, 6 instructions. */
#define RNNAS_RQ16(reg)     \
  "ldr r10, [r8], #4\n\t"   \
  "ldrsb r11, [r9], #1\n\t" \
  RNNAS_RQ_SHORT(reg)

/* One 4-column chunk of 4 rows: the input pairs, two LDM of 4 weight words, 8 SMLAD. */
#define RNNAS_CHUNK16                   \
  "ldrd r8, r9, [r12], #8\n\t"          \
  "ldm r0!, {r1, r2, r10, r11}\n\t"     \
  "smlad r4, r1, r8, r4\n\t"            \
  "smlad r5, r2, r8, r5\n\t"            \
  "smlad r6, r10, r8, r6\n\t"           \
  "smlad r7, r11, r8, r7\n\t"           \
  "ldm r0!, {r1, r2, r10, r11}\n\t"     \
  "smlad r4, r1, r9, r4\n\t"            \
  "smlad r5, r2, r9, r5\n\t"            \
  "smlad r6, r10, r9, r6\n\t"           \
  "smlad r7, r11, r9, r7\n\t"

/* pass4() for the w16 layout (rnnas_nn.h), one function per store mode (no dispatch per group): rows
 * [0, 4 groups) of w (chunks 4-column chunks, zero-padded) times the unpacked, zero-padded input xe. Per 4
 * rows and 4 columns: one LDRD of the input pairs, two LDM of 4 weight words (one row each) and 8 SMLAD: 13
 * instructions per 16 MACs (two chunks an iteration), with no sign extension and no remainder columns;
 * requantisation in 6 a row.
 * Registers: r0 the weights (the blocks are contiguous), r3 the chunk count, r12 the input cursor, r1 r2
 * r10 r11 the weight words, r4-r7 the accumulators. The push keeps chunks at sp and xe at sp + 4; stack
 * arguments from sp + 48: mult, shift, bias, bias_step (16 bytes, or 0 to read the same zeros again), out,
 * groups, lo, hi. STORE stores r4-r7 at r12 (advancing it). */
#define RNNAS_PASS16(name, store)                                                                                \
  __attribute__((naked, noinline)) static void name(                                                            \
      RNNAS_UNUSED const int16_t* w, RNNAS_UNUSED int32_t chunks, RNNAS_UNUSED const uint32_t* xe,               \
      RNNAS_UNUSED int32_t unused, RNNAS_UNUSED const int32_t* mult, RNNAS_UNUSED const int8_t* shift,          \
      RNNAS_UNUSED const int32_t* bias, RNNAS_UNUSED int32_t bias_step, RNNAS_UNUSED void* out,                 \
      RNNAS_UNUSED int32_t groups, RNNAS_UNUSED int32_t lo, RNNAS_UNUSED int32_t hi) {                          \
    __asm__ volatile(                                                                                            \
        "push {r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t" /* 48 bytes: 8-byte aligned */             \
        "0:\n\t"                                                       /* next 4 rows: their bias */             \
        "ldrd r12, r11, [sp, #56]\n\t"                                                                           \
        "ldm r12, {r4, r5, r6, r7}\n\t"                                                                          \
        "add r12, r12, r11\n\t"                                                                                  \
        "str r12, [sp, #56]\n\t"                                                                                 \
        "ldrd r3, r12, [sp]\n\t"                                                                                 \
        "lsrs r3, r3, #1\n\t" /* chunk pairs; an odd chunk first */                                             \
        "bcc 3f\n\t"                                                                                             \
        RNNAS_CHUNK16                                                                                            \
        "cbz r3, 4f\n\t"                                                                                         \
        "3:\n\t"                                                                                                 \
        RNNAS_CHUNK16 RNNAS_CHUNK16                                                                              \
        "subs r3, r3, #1\n\t"                                                                                    \
        "bne 3b\n\t"                                                                                             \
        "4:\n\t"                                                                                                 \
        "ldrd r8, r9, [sp, #48]\n\t"                                                                             \
        RNNAS_RQ16("r4") RNNAS_RQ16("r5") RNNAS_RQ16("r6") RNNAS_RQ16("r7")                                      \
        "strd r8, r9, [sp, #48]\n\t"                                                                             \
        "ldr r12, [sp, #64]\n\t"                                                                                 \
        store                                                                                                    \
        "str r12, [sp, #64]\n\t"                                                                                 \
        "ldr r10, [sp, #68]\n\t"                                                                                 \
        "subs r10, r10, #1\n\t"                                                                                  \
        "str r10, [sp, #68]\n\t"                                                                                 \
        "bne 0b\n\t"                                                                                             \
        "pop {r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t");                                          \
  }
/* out = v, out += v, int8 out = clamp(v, lo, hi). */
RNNAS_PASS16(pass16_set, "stm r12!, {r4, r5, r6, r7}\n\t")
RNNAS_PASS16(pass16_add,
             "ldm r12, {r8, r9, r11, lr}\n\t"
             "add r4, r4, r8\n\t"
             "add r5, r5, r9\n\t"
             "add r6, r6, r11\n\t"
             "add r7, r7, lr\n\t"
             "stm r12!, {r4, r5, r6, r7}\n\t")
RNNAS_PASS16(pass16_clamp,
             "ldrd r8, r9, [sp, #72]\n\t"
             RNNAS_CLAMP8("r4") RNNAS_CLAMP8("r5") RNNAS_CLAMP8("r6") RNNAS_CLAMP8("r7"))

/* The bias of rows that have none, read again for every group. */
static const int32_t kZero4[4] = {0, 0, 0, 0};

/* tanh_q15() of X (already saturated to 16 bits) into Y, with one temporary A: the pair (t, t1) read with
 * one unaligned load, weighted by (128 - f, f) = f * 65535 + 128 (the halves do not borrow), plus lr = 64.
 * r7: the table. */
#define RNNAS_TANH(x, y, a)            \
  "eor " y ", " x ", " x ", asr #31\n\t" \
  "sub " y ", " y ", " x ", asr #31\n\t" \
  "and " a ", " y ", #127\n\t"          \
  "lsr " y ", " y ", #7\n\t"            \
  "ldr " y ", [r7, " y ", lsl #1]\n\t"  \
  "rsb " a ", " a ", " a ", lsl #16\n\t" \
  "add " a ", " a ", #128\n\t"          \
  "smlad " y ", " y ", " a ", lr\n\t"   \
  "asr " y ", " y ", #7\n\t"            \
  "cmp " x ", #0\n\t"                   \
  "it lt\n\t"                           \
  "rsblt " y ", " y ", #0\n\t"
/* sigmoid_q15() of X into Y: sat16((32768 + tanh((sat17(x) + 1) >> 1) + 1) >> 1). */
#define RNNAS_SIGMOID(x, y, a)         \
  "ssat " x ", #17, " x "\n\t"          \
  "add " x ", " x ", #1\n\t"            \
  "ssat " x ", #16, " x ", asr #1\n\t"  \
  RNNAS_TANH(x, y, a)                   \
  "add " y ", " y ", #32768\n\t"        \
  "add " y ", " y ", #1\n\t"            \
  "ssat " y ", #16, " y ", asr #1\n\t"

/* The constants of an LSTM layer's step: c = sat16(((f c + 2^14) >> 15) + ((i g + rc) >> sc)); the cell
 * in Q12 for tanh is ((c << 8) + rr) >> s (the portable code's shift by cf - 12 either way). */
typedef struct {
  int32_t rc, sc, rr, s;
  const int16_t *table;
} lstm_consts;

/* The LSTM units after the gate products, as the portable loop computes them (then h8 too): first g += bias
 * (4 at a time), then per unit the three sigmoids, two tanh, the cell and the state, every pointer in a
 * register. Registers: r0 the i pre-activations (f at +4H bytes, g at +8H), r1 o, r2 cell, r3 h, r4 4H,
 * r5 h8, r6 the count, r7 the tanh table, lr 64; r8-r12 temporaries. Stack arguments from sp + 40 after
 * the push: h8, H, the constants (copied to sp .. sp + 15 during the loop). */
__attribute__((naked, noinline)) static void lstm_units(RNNAS_UNUSED int32_t *g, RNNAS_UNUSED const int32_t *bias,
                                                       RNNAS_UNUSED int16_t *cell, RNNAS_UNUSED int16_t *h,
                                                       RNNAS_UNUSED int8_t *h8, RNNAS_UNUSED int32_t units,
                                                       RNNAS_UNUSED const lstm_consts *k) {
  __asm__ volatile(
      "push {r3, r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
      "ldr r4, [sp, #44]\n\t"
      "mov r12, r0\n\t"
      "1:\n\t" /* g += bias over the 4H pre-activations */
      "ldm r12, {r5, r6, r7, r8}\n\t"
      "ldm r1!, {r9, r10, r11, lr}\n\t"
      "add r5, r5, r9\n\t"
      "add r6, r6, r10\n\t"
      "add r7, r7, r11\n\t"
      "add r8, r8, lr\n\t"
      "stm r12!, {r5, r6, r7, r8}\n\t"
      "subs r4, r4, #1\n\t"
      "bne 1b\n\t"
      "ldr r12, [sp, #48]\n\t"
      "ldm r12, {r5, r6, r7, r8, r9}\n\t"
      "sub sp, sp, #16\n\t"
      "stm sp, {r5, r6, r7, r8}\n\t"
      "mov r7, r9\n\t"
      "ldr r6, [sp, #60]\n\t"
      "lsl r4, r6, #2\n\t"
      "add r1, r0, r4, lsl #1\n\t"
      "add r1, r1, r4\n\t"
      "ldr r5, [sp, #56]\n\t"
      "mov lr, #64\n\t"
      "2:\n\t"
      "ldr r8, [r0, r4, lsl #1]\n\t" /* g */
      "ssat r8, #16, r8\n\t"
      RNNAS_TANH("r8", "r12", "r9")
      "ldr r8, [r0, r4]\n\t" /* f, times the cell */
      RNNAS_SIGMOID("r8", "r10", "r9")
      "ldrsh r9, [r2]\n\t"
      "mul r10, r10, r9\n\t"
      "add r10, r10, #16384\n\t"
      "ldr r8, [r0], #4\n\t" /* i */
      RNNAS_SIGMOID("r8", "r11", "r9")
      "mul r12, r11, r12\n\t" /* the cell */
      "ldrd r8, r9, [sp]\n\t"
      "add r12, r12, r8\n\t"
      "asr r12, r12, r9\n\t"
      "add r12, r12, r10, asr #15\n\t"
      "ssat r12, #16, r12\n\t"
      "strh r12, [r2], #2\n\t"
      "ldrd r8, r9, [sp, #8]\n\t" /* h = o tanh(c) */
      "add r8, r8, r12, lsl #8\n\t"
      "asr r8, r8, r9\n\t"
      "ssat r8, #16, r8\n\t"
      RNNAS_TANH("r8", "r12", "r9")
      "ldr r8, [r1], #4\n\t" /* o */
      RNNAS_SIGMOID("r8", "r10", "r9")
      "mul r10, r10, r12\n\t"
      "add r10, r10, #16384\n\t"
      "asr r10, r10, #15\n\t"
      "strh r10, [r3], #2\n\t"
      "add r10, r10, #128\n\t" /* h8 = clamp((h + 128) >> 8, -127, 127) */
      "ssat r10, #8, r10, asr #8\n\t"
      "cmn r10, #128\n\t"
      "it eq\n\t"
      "mvneq r10, #126\n\t"
      "strb r10, [r5], #1\n\t"
      "subs r6, r6, #1\n\t"
      "bne 2b\n\t"
      "add sp, sp, #16\n\t"
      "pop {r3, r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t");
}
/* clang-format on */
#endif

/* Stores one requantised row: out = v (mode 0), out += v (1), int8 out = clamp(v, lo, hi) (2). */
RNNAS_INLINE void put_row(void *out, int32_t r, int32_t v, int mode, int32_t lo, int32_t hi) {
  if (mode == 0) ((int32_t *)out)[r] = v;
  else if (mode == 1) ((int32_t *)out)[r] += v;
  else ((int8_t *)out)[r] = (int8_t)clamp32(v, lo, hi);
}

/* Rows [r0, r0 + n) of a matrix. */
static rnnas_mat_s8 mat_rows(const rnnas_mat_s8 *m, int32_t r0, int32_t n) {
  rnnas_mat_s8 v = *m;
  v.rows = n;
#if RNNAS_W16
  if (m->w16)
    v.w16 = m->w16 + (size_t)(r0 >> 2) * (size_t)((m->cols + 3) >> 2) * 16u; /* r0 is a multiple of 4 */
  else
#endif
    v.w = m->w + (size_t)r0 * (size_t)m->cols;
  v.mult = m->mult + r0;
  v.shift = m->shift + r0;
  return v;
}

/* out = requant(A x + bias), plus requant(B y) when B (as many rows as A) is given, stored by put_row();
 * xe holds the unpacked inputs on the DSP path. A layer's input and recurrent products thus take one pass,
 * with the same values as two (each requantised, then added). */
RNNAS_INLINE void matvec_into(const rnnas_mat_s8 *a, const int8_t *x, const rnnas_mat_s8 *b, const int8_t *y,
                              const int32_t *bias, void *out, int mode, int32_t lo, int32_t hi, uint32_t *xe) {
  const int32_t rows = a->rows;
  int32_t r = 0;
#if RNNAS_DSP
  const int32_t na = a->cols & ~3, nb = b ? b->cols & ~3 : 0;
  if (na + nb <= RNNAS_XE_COLS && rows >= 4 && !(b && mode == 2)) {
    uint32_t* ea = xe + na / 2;
    unpack_x(x, na, xe);
    pass4(a->w, a->cols, xe, ea, a->mult, a->shift, bias, out, rows >> 2, mode, x + na, a->cols - na, lo, hi);
    if (b) {
      unpack_x(y, nb, ea);
      pass4(b->w, b->cols, ea, ea + nb / 2, b->mult, b->shift, NULL, out, rows >> 2, 1, y + nb, b->cols - nb,
            0, 0);
    }
    r = rows & ~3; /* the rows left: both products in the loop below */
  }
#else
  (void)xe;
#endif
  for (; r < rows; ++r) {
    int32_t v = requant(dot_s8(a->w + (size_t)r * (size_t)a->cols, x, a->cols, bias ? bias[r] : 0), a->mult[r],
                        a->shift[r]);
    if (b) v += requant(dot_s8(b->w + (size_t)r * (size_t)b->cols, y, b->cols, 0), b->mult[r], b->shift[r]);
    put_row(out, r, v, mode, lo, hi);
  }
}

#if RNNAS_W16
/* Columns of m the unpacked input holds: all of them, padded, for w16; the multiple of 4 for w. */
RNNAS_INLINE int32_t xe_cols(const rnnas_mat_s8 *m) { return m->w16 ? (m->cols + 3) & ~3 : m->cols & ~3; }

/* Row r's requantisation shift: w16 matrices store shift - 33 (rnnas_nn.h). */
RNNAS_INLINE int32_t row_shift(const rnnas_mat_s8 *m, int32_t r) { return m->w16 ? m->shift[r] + 33 : m->shift[r]; }

/* acc + row r of m times x, in either layout. */
RNNAS_INLINE int32_t row_dot(const rnnas_mat_s8 *m, int32_t r, const int8_t *x, int32_t acc) {
  if (m->w16) {
    /* Column c of row r: chunk c / 4, word (c & 1) * 4 + r % 4, half (c >> 1) & 1. */
    const int16_t *blk = m->w16 + (size_t)(r >> 2) * (size_t)((m->cols + 3) >> 2) * 16u + 2 * (r & 3);
    int32_t c;
    for (c = 0; c < m->cols; ++c) acc += (int32_t)blk[(c >> 2) * 16 + (c & 1) * 8 + ((c >> 1) & 1)] * x[c];
    return acc;
  }
  return dot_s8(m->w + (size_t)r * (size_t)m->cols, x, m->cols, acc);
}

#if RNNAS_DSP
/* acc + row r of a w16 matrix times the unpacked input: per chunk, the row's two words by the two pairs. */
RNNAS_INLINE int32_t row_dot16(const rnnas_mat_s8 *m, int32_t r, const uint32_t *xe, int32_t acc) {
  const int32_t chunks = (m->cols + 3) >> 2;
  const int16_t *w = m->w16 + ((size_t)(r >> 2) * (size_t)chunks * 8u + (size_t)(r & 3)) * 2u;
  int32_t k;
  for (k = 0; k < chunks; ++k, w += 16, xe += 2) {
    uint32_t w02, w13;
    memcpy(&w02, w, 4);
    memcpy(&w13, w + 8, 4);
    acc = __smlad(w02, xe[0], acc);
    acc = __smlad(w13, xe[1], acc);
  }
  return acc;
}
#endif

void rnnas_matvec16(const rnnas_mat_s8 *a, const int8_t *x, const rnnas_mat_s8 *b, const int8_t *y,
                    const int32_t *bias, void *out, int32_t mode, int32_t lo, int32_t hi, uint32_t *xe) {
  const int32_t rows = a->rows;
  int32_t r = 0;
#if RNNAS_DSP
  const int32_t na = xe_cols(a), nb = b ? xe_cols(b) : 0;
  /* The inputs unpacked once; whole 4-row groups in assembly (LDM needs word-aligned weights: the generated
   * arrays are), the other rows by row_dot16(). */
  if (a->w16 && (!b || b->w16) && na + nb <= RNNAS_XE_COLS &&
      !(((uintptr_t)a->w16 | (b ? (uintptr_t)b->w16 : 0u)) & 3u)) {
    uint32_t *eb = xe + na / 2;
    unpack_x_pad(x, a->cols, xe);
    if (b) unpack_x_pad(y, b->cols, eb);
    if (!(b && mode == 2)) {
      const int32_t g = rows >> 2, rest = rows & 3;
      const int32_t *bz = bias ? bias : kZero4, bstep = bias ? 16 : 0;
      if (g) {
        (mode == 0 ? pass16_set : (mode == 1 ? pass16_add : pass16_clamp))(a->w16, na / 4, xe, 0, a->mult, a->shift,
                                                                           bz, bstep, out, g, lo, hi);
        if (b) pass16_add(b->w16, nb / 4, eb, 0, b->mult, b->shift, kZero4, 0, out, g, 0, 0);
      }
      if (rest) {
        /* The last group with its zero padding rows (whose mult and shift arrays, and the head's biases, the
         * generated code pads too), into t, then its real rows. */
        int32_t t[4], i;
        const int32_t r0 = g * 4;
        pass16_set(a->w16 + (size_t)r0 * (size_t)na, na / 4, xe, 0, a->mult + r0, a->shift + r0, bias ? bias + r0 : bz,
                   bstep, t, 1, 0, 0);
        if (b) pass16_add(b->w16 + (size_t)r0 * (size_t)nb, nb / 4, eb, 0, b->mult + r0, b->shift + r0, kZero4, 0, t, 1, 0, 0);
        for (i = 0; i < rest; ++i) put_row(out, r0 + i, t[i], mode, lo, hi);
      }
      return;
    }
    for (; r < rows; ++r) {
      int32_t v = requant(row_dot16(a, r, xe, bias ? bias[r] : 0), a->mult[r], a->shift[r] + 33);
      if (b) v += requant(row_dot16(b, r, eb, 0), b->mult[r], b->shift[r] + 33);
      put_row(out, r, v, mode, lo, hi);
    }
    return;
  }
#else
  (void)xe;
#endif
  for (; r < rows; ++r) {
    int32_t v = requant(row_dot(a, r, x, bias ? bias[r] : 0), a->mult[r], row_shift(a, r));
    if (b) v += requant(row_dot(b, r, y, 0), b->mult[r], row_shift(b, r));
    put_row(out, r, v, mode, lo, hi);
  }
}
#endif

/* matvec_into() with its scratch. Every product of a model goes through here, so the stack's peak does
 * not depend on the architecture. When A and B together are too long for the scratch, B is added in a
 * second pass; a matrix wider than the scratch uses the one-row loop. 16-bit weights go to their own
 * kernels (only where they are built: on the M0 and M3 this test alone cost the int8 loops registers, up
 * to 14% more instructions and 80 B more stack). */
__attribute__((noinline)) static void matvec(const rnnas_mat_s8 *a, const int8_t *x, const rnnas_mat_s8 *b,
                                             const int8_t *y, const int32_t *bias, void *out, int mode, int32_t lo,
                                             int32_t hi) {
#if RNNAS_DSP
  uint32_t xe[RNNAS_XE_COLS / 2];
  int split = b && (a->cols & ~3) + (b->cols & ~3) > RNNAS_XE_COLS;
#else
  uint32_t *xe = NULL;
  int split = 0;
#endif
#if RNNAS_W16
  if (a->w16 || (b && b->w16)) {
    (a->w16 ? a->matvec16 : b->matvec16)(a, x, b, y, bias, out, mode, lo, hi, xe);
    return;
  }
#endif
  for (;;) {
    matvec_into(a, x, split ? NULL : b, y, bias, out, mode, lo, hi, xe);
    if (!split) return;
    a = b;
    x = y;
    b = NULL;
    bias = NULL;
    mode = 1;
    split = 0;
  }
}

void rnnas_matvec_s8_q(const rnnas_mat_s8 *m, const int8_t *x, const int32_t *bias, int32_t *out, int accumulate) {
  matvec(m, x, NULL, NULL, bias, out, accumulate ? 1 : 0, 0, 0);
}

void rnnas_matvec_s8_s8(const rnnas_mat_s8 *m, const int8_t *x, const int32_t *bias, int8_t *out, int32_t lo,
                        int32_t hi) {
  matvec(m, x, NULL, NULL, bias, out, 2, lo, hi);
}

size_t rnnas_linear_s8_get_buffer_size(const rnnas_linear_s8 *l) { return l->rank > 0 ? (size_t)l->rank : 0; }

/* out (+)= rows [r0, r0 + n) of W x; the low-rank intermediate is computed when `fresh`. */
RNNAS_INLINE void linear_rows(const rnnas_linear_s8 *l, const int8_t *x, int8_t *scratch, int fresh, int32_t r0,
                              int32_t n, int32_t *out, int accumulate) {
  const rnnas_mat_s8 a = mat_rows(&l->a, r0, n);
  if (l->rank == 0) {
    matvec(&a, x, NULL, NULL, NULL, out, accumulate ? 1 : 0, 0, 0);
    return;
  }
  if (fresh) matvec(&l->b, x, NULL, NULL, NULL, scratch, 2, -127, 127);
  matvec(&a, scratch, NULL, NULL, NULL, out, accumulate ? 1 : 0, 0, 0);
}

void rnnas_linear_s8_q(const rnnas_linear_s8 *l, const int8_t *x, int8_t *scratch, int32_t *out, int accumulate) {
  linear_rows(l, x, scratch, 1, 0, l->a.rows, out, accumulate);
}

static int32_t gate_rows(int32_t cell) {
  return cell == RNNAS_CELL_GRU ? 3 : (cell == RNNAS_CELL_LSTM ? 4 : 1);
}

size_t rnnas_cell_step_s8_get_buffer_size(const rnnas_layer_s8 *l) {
  const int32_t H = l->width;
  const size_t gates = 4u * (size_t)(gate_rows(l->cell) * H + (l->cell == RNNAS_CELL_GRU ? H : 0));
  const int32_t rank = l->w.rank > l->u.rank ? l->w.rank : l->u.rank;
  return gates + (size_t)rank;
}

static int16_t sat16(int32_t x) { return (int16_t)sat_s16(x); }

rnnas_status rnnas_cell_step_s8(const rnnas_layer_s8 *l, const int8_t *x, int16_t *h, int8_t *h8, int16_t *cell,
                                int32_t *g, int8_t *lowrank) {
  int32_t H, sf, i;
  if (!l || !x || !h || !h8 || !g || (!lowrank && (l->w.rank > 0 || l->u.rank > 0))) return RNNAS_ERR_NULL;
  if (l->cell == RNNAS_CELL_LSTM && !cell) return RNNAS_ERR_NULL;
  H = l->width;
  sf = l->state_frac;
  if (l->w.rank == 0 && l->u.rank == 0) {
    /* Full rank: the gates' rows of W x + U h in one pass (GRU: r and z; its n rows stay apart). */
    const int32_t shared = l->cell == RNNAS_CELL_GRU ? 2 * H : l->w.a.rows;
    const rnnas_mat_s8 w = mat_rows(&l->w.a, 0, shared), u = mat_rows(&l->u.a, 0, shared);
    matvec(&w, x, &u, h8, NULL, g, 0, 0, 0);
    if (l->cell == RNNAS_CELL_GRU) {
      const rnnas_mat_s8 wn = mat_rows(&l->w.a, 2 * H, H), un = mat_rows(&l->u.a, 2 * H, H);
      matvec(&wn, x, NULL, NULL, NULL, g + 2 * H, 0, 0, 0);
      matvec(&un, h8, NULL, NULL, NULL, g + 3 * H, 0, 0, 0);
    }
  } else {
    linear_rows(&l->w, x, lowrank, 1, 0, l->w.a.rows, g, 0);
    if (l->cell == RNNAS_CELL_GRU) {
      linear_rows(&l->u, h8, lowrank, 1, 0, 2 * H, g, 1);
      linear_rows(&l->u, h8, lowrank, 0, 2 * H, H, g + 3 * H, 0);
    } else {
      linear_rows(&l->u, h8, lowrank, 1, 0, l->u.a.rows, g, 1);
    }
  }
  switch (l->cell) {
    case RNNAS_CELL_RNN:
      for (i = 0; i < H; ++i) h[i] = (int16_t)tanh_q15(g[i] + l->bias[i]);
      break;
    case RNNAS_CELL_GRU:
      for (i = 0; i < H; ++i) {
        const int32_t r = sigmoid_q15(g[i] + l->bias[i]);
        const int32_t z = sigmoid_q15(g[H + i] + l->bias[H + i]);
        const int32_t rn = clamp32(g[3 * H + i] + l->bias_hn[i], -32767, 32767);
        const int32_t n = tanh_q15(g[2 * H + i] + l->bias[2 * H + i] + shift_round(r * rn, 15));
        h[i] = sat16(n + shift_round(z * (h[i] - n), 15));
      }
      break;
    case RNNAS_CELL_LSTM: {
      /* Gate pointers and shifts hoisted: 30 - cf is at least 15. */
      const int32_t cf = l->cell_frac, sc = 30 - cf, rc = (int32_t)1 << (29 - cf);
#if RNNAS_DSP
      {
        const int32_t s = cf - 4;
        const lstm_consts k = {rc, sc, s > 0 ? (int32_t)1 << (s - 1) : 0, s, kTanhQ15};
        lstm_units(g, l->bias, cell, h, h8, H, &k);
        return RNNAS_OK;
      }
#else
      const int32_t *gi = g, *gf = g + H, *gg = g + 2 * H, *go = g + 3 * H;
      const int32_t *bi = l->bias, *bf = bi + H, *bg = bi + 2 * H, *bo = bi + 3 * H;
      for (i = 0; i < H; ++i) {
        const int32_t ig = sigmoid_q15(gi[i] + bi[i]);
        const int32_t fg = sigmoid_q15(gf[i] + bf[i]);
        const int32_t cg = tanh_q15(gg[i] + bg[i]);
        const int32_t og = sigmoid_q15(go[i] + bo[i]);
        const int32_t c = sat16(((fg * cell[i] + 16384) >> 15) + ((ig * cg + rc) >> sc));
        const int32_t c12 = cf >= 12 ? shift_round(c, cf - 12) : c * (1 << (12 - cf));
        cell[i] = (int16_t)c;
        h[i] = (int16_t)((og * tanh_q15(c12) + 16384) >> 15);
      }
      break;
#endif
    }
    case RNNAS_CELL_FASTRNN:
      for (i = 0; i < H; ++i) {
        const int32_t ht = tanh_q15(g[i] + l->bias[i]);
        h[i] = sat16(shift_round(l->a * ht, 30 - sf) + shift_round(l->b * h[i], 15));
      }
      break;
    case RNNAS_CELL_FASTGRNN:
      for (i = 0; i < H; ++i) {
        const int32_t z = sigmoid_q15(g[i] + l->bias[i]);
        const int32_t c = tanh_q15(g[i] + l->bias[H + i]);
        const int32_t k = shift_round(l->a * (32768 - z), 15) + l->b;
        const int32_t kc = (int32_t)(((int64_t)k * c + ((int64_t)1 << (29 - sf))) >> (30 - sf));
        h[i] = sat16(kc + shift_round(z * h[i], 15));
      }
      break;
    default:
      return RNNAS_ERR_CONFIG;
  }
  for (i = 0; i < H; ++i) h8[i] = (int8_t)clamp32(shift_round(h[i], 8), -127, 127);
  return RNNAS_OK;
}

/* ---- Model runner ---- */

static int model_ok(const rnnas_model_s8 *m) {
  int32_t i;
  if (!m || !m->layers || !m->in_scale || !m->in_offset || (!m->out_w.w && !m->out_w.w16) || m->features < 1 || m->outputs < 1 ||
      m->stride < 1 || m->num_layers < 1 || m->num_layers > 4)
    return 0;
  for (i = 0; i < m->num_layers; ++i) {
    const rnnas_layer_s8 *l = &m->layers[i];
    if (l->state_frac < 8 || l->state_frac > 22 || l->width < 1) return 0;
    if (l->cell != RNNAS_CELL_FASTRNN && l->cell != RNNAS_CELL_FASTGRNN && l->state_frac != 15) return 0;
    if (l->cell == RNNAS_CELL_LSTM && (l->cell_frac < 4 || l->cell_frac > 15)) return 0;
  }
  return 1;
}

size_t rnnas_model_get_buffer_size(const rnnas_model_s8 *model) { return model_ok(model) ? model->arena_bytes : 0; }

rnnas_status rnnas_model_init(rnnas_runner *run, const rnnas_model_s8 *model, void *arena, size_t arena_bytes) {
  if (!run || !model || !arena) return RNNAS_ERR_NULL;
  if (!model_ok(model)) return RNNAS_ERR_CONFIG;
  if (arena_bytes < model->arena_bytes || ((uintptr_t)arena & 3u) != 0) return RNNAS_ERR_BUFFER_SIZE;
  run->model = model;
  run->arena = (uint8_t *)arena;
  rnnas_model_reset(run);
  return RNNAS_OK;
}

/* Zeroes what persists across steps (states, LSTM cells, the mean head's sums); every other buffer is
 * written before it is read, and the arena may hold other users' data (an audio front end's tables). */
void rnnas_model_reset(rnnas_runner *run) {
  const rnnas_model_s8 *m = run->model;
  int32_t i;
  for (i = 0; i < m->num_layers; ++i) {
    const rnnas_layer_s8 *l = &m->layers[i];
    memset(run->arena + l->off_state, 0, 3u * (size_t)l->width);
    if (l->cell == RNNAS_CELL_LSTM) memset(run->arena + l->off_cell, 0, 2u * (size_t)l->width);
  }
  if (m->head == RNNAS_HEAD_MEAN) memset(run->arena + m->off_mean, 0, 4u * (size_t)m->layers[m->num_layers - 1].width);
  run->step = 0;
  run->used = 0;
}

void rnnas_model_quantize_input(const rnnas_model_s8 *m, const float *x, int8_t *q) {
  /* Locals: the int8 stores could alias the descriptor's pointers. */
  const float *scale = m->in_scale, *offset = m->in_offset, *end = x + m->features;
  if (x == end) return;
  do {
    const float v = *x++ * *scale++ + *offset++;
    uint32_t bits, half_bits;
    float half;
    int32_t k;
    memcpy(&bits, &v, sizeof bits);
    if ((bits & 0x7fffffffu) < 0x42fe0000u) { /* |v| < 127 on the IEEE bits: the usual case (false for NaN) */
      half_bits = (bits & 0x80000000u) | 0x3f000000u; /* 0.5 with the sign of v: rounds half away from zero */
      memcpy(&half, &half_bits, sizeof half);
      k = (int32_t)(v + half);
    } else {
      k = v >= 127.0f ? 127 : (v <= -127.0f ? -127 : 0); /* saturated, or NaN */
    }
    *q++ = (int8_t)k;
  } while (x != end);
}

rnnas_status rnnas_model_step_s8(rnnas_runner *run, const int8_t *x) {
  const rnnas_model_s8 *m;
  const int8_t *in;
  int32_t i;
  if (!run || !run->model || !x) return RNNAS_ERR_NULL;
  m = run->model;
  if (run->step++ % m->stride != 0) return RNNAS_OK;
  in = x;
  for (i = 0; i < m->num_layers; ++i) {
    const rnnas_layer_s8 *l = &m->layers[i];
    int16_t *h = (int16_t *)(void *)(run->arena + l->off_state);
    int8_t *h8 = (int8_t *)(run->arena + l->off_state + 2u * (uint32_t)l->width);
    int16_t *c = l->cell == RNNAS_CELL_LSTM ? (int16_t *)(void *)(run->arena + l->off_cell) : NULL;
    int32_t *g = (int32_t *)(void *)(run->arena + l->off_gates);
    int8_t *lr = (l->w.rank > 0 || l->u.rank > 0) ? (int8_t *)(run->arena + l->off_lowrank) : NULL;
    const rnnas_status s = rnnas_cell_step_s8(l, in, h, h8, c, g, lr);
    if (s != RNNAS_OK) return s;
    in = h8;
  }
  if (m->head == RNNAS_HEAD_MEAN) {
    const rnnas_layer_s8 *l = &m->layers[m->num_layers - 1];
    const int16_t *h = (const int16_t *)(const void *)(run->arena + l->off_state);
    int32_t *sum = (int32_t *)(void *)(run->arena + m->off_mean);
    for (i = 0; i < l->width; ++i) sum[i] += h[i];
  }
  ++run->used;
  return RNNAS_OK;
}

rnnas_status rnnas_model_step(rnnas_runner *run, const float *x) {
  int8_t *q;
  if (!run || !run->model || !x) return RNNAS_ERR_NULL;
  if (run->step % run->model->stride != 0) {  /* a skipped step: nothing to quantise */
    ++run->step;
    return RNNAS_OK;
  }
  q = (int8_t *)(run->arena + run->model->off_input);
  rnnas_model_quantize_input(run->model, x, q);
  return rnnas_model_step_s8(run, q);
}

rnnas_status rnnas_model_output(rnnas_runner *run, int32_t *out) {
  const rnnas_model_s8 *m;
  const rnnas_layer_s8 *last;
  const int8_t *z;
  int32_t i;
  if (!run || !run->model || !out) return RNNAS_ERR_NULL;
  if (run->used == 0) return RNNAS_ERR_SHAPE;
  m = run->model;
  last = &m->layers[m->num_layers - 1];
  if (m->head == RNNAS_HEAD_MEAN) {
    const int32_t *sum = (const int32_t *)(const void *)(run->arena + m->off_mean);
    int8_t *pooled = (int8_t *)(run->arena + m->off_pooled);
    const int32_t n = run->used;
    for (i = 0; i < last->width; ++i) {
      const int32_t mean = (sum[i] >= 0 ? sum[i] + n / 2 : sum[i] - n / 2) / n;
      pooled[i] = (int8_t)clamp32(shift_round(mean, 8), -127, 127);
    }
    z = pooled;
  } else {
    z = (const int8_t *)(run->arena + last->off_state + 2u * (uint32_t)last->width);
  }
  if (m->dense > 0) {
    int8_t *d = (int8_t *)(run->arena + m->off_dense);
    rnnas_matvec_s8_s8(&m->dense_w, z, m->dense_bias, d, 0, 127);
    z = d;
  }
  {
    int32_t *o = (int32_t *)(void *)(run->arena + m->off_output);
    rnnas_matvec_s8_q(&m->out_w, z, m->out_bias, o, 0);
    for (i = 0; i < m->outputs; ++i) out[i] = o[i];
  }
  return RNNAS_OK;
}

rnnas_status rnnas_model_run(rnnas_runner *run, const float *x, int32_t steps, int32_t *out) {
  int32_t t;
  if (!run || !run->model || !x || !out) return RNNAS_ERR_NULL;
  if (steps < 1) return RNNAS_ERR_SHAPE;
  rnnas_model_reset(run);
  for (t = 0; t < steps; ++t) {
    const rnnas_status s = rnnas_model_step(run, x + (size_t)t * (size_t)run->model->features);
    if (s != RNNAS_OK) return s;
  }
  return rnnas_model_output(run, out);
}

int32_t rnnas_argmax_s32(const int32_t *v, int32_t n) {
  int32_t i, best = 0;
  for (i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return best;
}
