/* rnnas_nn.h - int8 inference of rnnas recurrent networks. C99, no malloc, no libm, no floating point
 * in the integer path (only rnnas_model_quantize_input() and rnnas_model_step() take float features).
 *
 * The same source runs on the host (rnnas evaluates every int8 model with it) and on the
 * microcontroller (the code generator copies it next to model.c), so host and device agree bit for bit.
 * The number formats are documented in docs/quantization.md:
 *   weights        int8, symmetric, one scale per output row, folded into a requantisation multiplier
 *   accumulators   int32; requantised as (acc * mult + 2^(shift-1)) >> shift  (mult < 2^31)
 *   pre-activations int32 in Q12 (value * 4096), saturated to +-8 by the activation functions
 *   gates, tanh    int16 Q15 from one 257-entry table of tanh on [0, 8] with linear interpolation
 *   states         int16 with `state_frac` fractional bits (15: |h| < 1); an int8 copy h >> 8 (scale 2^(8 - state_frac))
 *                  is what the matrix-vector products read
 *   LSTM cell      int16 with `cell_frac` fractional bits (chosen by calibration)
 *   outputs        int32 with `out_frac` fractional bits (logits, or regression values in target units)
 *
 * Usage (model.c from `rnnas export` defines `rnnas_model_s8 model` and an arena of model.arena_bytes):
 *   rnnas_runner run;
 *   rnnas_model_init(&run, &model, arena, sizeof arena);
 *   for (t = 0; t < steps; ++t) rnnas_model_step(&run, features + t * model.features);
 *   rnnas_model_output(&run, out);          out[k] / 2^model.out_frac is output k
 *   rnnas_model_reset(&run);                before the next sequence
 *
 * Shift semantics: right shifts of negative values are arithmetic, as on every compiler rnnas supports
 * (GCC and Clang define them so); the build checks this with a static assertion.
 */
#ifndef RNNAS_NN_H
#define RNNAS_NN_H

#include <stddef.h>
#include <stdint.h>

#include "rnnas_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Recurrent cell types (the values are stored in generated descriptors). */
typedef enum {
  RNNAS_CELL_RNN = 0,     /**< h = tanh(W x + U h + b) */
  RNNAS_CELL_GRU = 1,     /**< PyTorch GRU, gate rows r, z, n, reset applied to U_n h + b_hn */
  RNNAS_CELL_LSTM = 2,    /**< PyTorch LSTM, gate rows i, f, g, o */
  RNNAS_CELL_FASTRNN = 3, /**< h = alpha tanh(W x + U h + b) + beta h */
  RNNAS_CELL_FASTGRNN = 4 /**< z = sigma(a + b_z), c = tanh(a + b_h), h = (zeta (1 - z) + nu) c + z h */
} rnnas_cell;

/** How the head reads the last layer: its state after the last step, or the mean over steps. */
typedef enum { RNNAS_HEAD_LAST = 0, RNNAS_HEAD_MEAN = 1 } rnnas_head;

/* Generated 16-bit weight arrays are word-aligned (the assembly loads them with LDM; misaligned ones take
 * the portable loop). Compilers without the GNU attribute: align them by their own means. */
#if defined(__GNUC__) || defined(__clang__)
#define RNNAS_ALIGN4 __attribute__((aligned(4)))
#else
#define RNNAS_ALIGN4
#endif

struct rnnas_mat_s8;
/** The kernels of 16-bit weight matrices (internal: generated code stores rnnas_matvec16 in those
 * matrices, so that firmware without them does not link their code). */
typedef void (*rnnas_matvec16_fn)(const struct rnnas_mat_s8 *a, const int8_t *x, const struct rnnas_mat_s8 *b,
                                  const int8_t *y, const int32_t *bias, void *out, int32_t mode, int32_t lo,
                                  int32_t hi, uint32_t *scratch);

/** An int8 matrix with one requantisation (multiplier, shift) per row. Its weights are stored one of two
 * ways: `w` (int8, row-major), or `w16` (the same int8 values widened to 16 bits, for the DSP kernels:
 * 4-row blocks of 4-column chunks, each chunk 8 words: rows 0-3 of the column pairs (c0, c2), then rows 0-3
 * of (c1, c3); rows and columns padded with zeros to multiples of 4). The other pointer is NULL. Twice the
 * weight flash for about a third fewer instructions on Cortex-M4/M7. In a w16 matrix, row r's weights are
 * scaled by 2^j (j <= 8) and `shift` holds its right shift plus j minus 33 (>= 0): the same values, with
 * the short requantisation only; mult, shift (and the head's biases, scaled too) are padded to a multiple
 * of 4 rows. Row ranges of a w16 matrix (GRU gates, low-rank factors) must start at multiples of 4. */
typedef struct rnnas_mat_s8 {
  int32_t rows;          /**< output rows */
  int32_t cols;          /**< input length */
  const int8_t *w;       /**< rows x cols, row-major (or NULL: w16) */
  const int32_t *mult;   /**< per row: multiplier, below 2^31 (in [2^30, 2^31) unless tiny) */
  const int8_t *shift;   /**< per row: right shift, 1 .. 62 (w16: shift + j - 33, see above) */
  const int16_t *w16;    /**< blocked 16-bit layout (or NULL: w) */
  rnnas_matvec16_fn matvec16; /**< rnnas_matvec16 with w16, else NULL */
} rnnas_mat_s8;

/** y = W x with W full (rank 0: `a` is W) or factorised W = W1 W2 (`a` = W1 [rows x rank],
 *  `b` = W2 [rank x cols], whose product W2 x is requantised to an int8 intermediate). */
typedef struct {
  int32_t rank;     /**< 0 = full rank */
  rnnas_mat_s8 a;   /**< W, or W1 */
  rnnas_mat_s8 b;   /**< W2 (low rank only) */
} rnnas_linear_s8;

/** One recurrent layer. */
typedef struct {
  int32_t cell;            /**< rnnas_cell */
  int32_t width;           /**< hidden units H */
  int32_t input;           /**< input length */
  rnnas_linear_s8 w;       /**< input matrix: gates*H x input, to Q12 */
  rnnas_linear_s8 u;       /**< recurrent matrix: gates*H x H, to Q12 */
  const int32_t *bias;     /**< Q12: gates*H (FastGRNN: b_z then b_h, 2H) */
  const int32_t *bias_hn;  /**< GRU only: b_hn in Q12, H; NULL otherwise */
  int32_t a;               /**< FastRNN alpha, FastGRNN zeta: Q15 */
  int32_t b;               /**< FastRNN beta, FastGRNN nu: Q15 */
  int32_t state_frac;      /**< fractional bits of the int16 state: 15 (RNN, GRU, LSTM: |h| < 1); FastRNN and
                                FastGRNN 8 .. 22, from calibration (their states can be large or small) */
  int32_t cell_frac;       /**< LSTM: fractional bits of the int16 cell state, 4 .. 15 */
  uint32_t off_state;      /**< arena offset: int16 h[H] then int8 h8[H] */
  uint32_t off_cell;       /**< arena offset: LSTM int16 c[H] */
  uint32_t off_gates;      /**< arena offset: int32 pre-activations, gates*H (+H for GRU) */
  uint32_t off_lowrank;    /**< arena offset: int8 low-rank intermediate, max(ranks) */
} rnnas_layer_s8;

/** A whole network: input quantisation, layers, head. Arena offsets come from the rnnas memory planner. */
typedef struct {
  int32_t features;            /**< input features per step */
  int32_t outputs;             /**< classes (logits) or regression outputs */
  int32_t stride;              /**< every stride-th input step is used, from step 0 */
  int32_t num_layers;          /**< 1 .. 4 */
  int32_t head;                /**< rnnas_head */
  int32_t dense;               /**< width of the hidden ReLU layer, 0 = none */
  const float *in_scale;       /**< per feature: q = round(x * in_scale + in_offset), saturated */
  const float *in_offset;      /**< (normalisation and quantisation folded together) */
  const rnnas_layer_s8 *layers;
  rnnas_mat_s8 dense_w;        /**< dense x H_last, to int8 (ReLU) */
  const int32_t *dense_bias;   /**< accumulator domain */
  rnnas_mat_s8 out_w;          /**< outputs x (dense or H_last), to Q(out_frac) */
  const int32_t *out_bias;     /**< accumulator domain */
  int32_t out_frac;            /**< fractional bits of the int32 outputs */
  uint32_t off_input;          /**< arena offset: int8 input[features] */
  uint32_t off_mean;           /**< arena offset: int32 sum[H_last] (mean head) */
  uint32_t off_pooled;         /**< arena offset: int8 pooled[H_last] (mean head) */
  uint32_t off_dense;          /**< arena offset: int8 dense[dense] */
  uint32_t off_output;         /**< arena offset: int32 output[outputs] */
  uint32_t arena_bytes;        /**< bytes of arena the offsets address */
} rnnas_model_s8;

/** A model bound to its arena, with its position in the current sequence. */
typedef struct {
  const rnnas_model_s8 *model;
  uint8_t *arena;
  int32_t step;   /**< input steps fed since the last reset */
  int32_t used;   /**< steps the network processed (every stride-th) */
} rnnas_runner;

/* ---- Arithmetic (exposed for tests and for the code generator's documentation) ---- */

/** round(acc * mult / 2^shift), ties away from zero on the positive side as (x + 2^(shift-1)) >> shift. */
int32_t rnnas_requant(int32_t acc, int32_t mult, int32_t shift);
/** tanh of a Q12 value as Q15 (table with linear interpolation; |x| >= 8 saturates to +-32767). */
int16_t rnnas_tanh_q15(int32_t x_q12);
/** logistic sigmoid of a Q12 value as Q15: (32768 + tanh(x / 2)) / 2, at most 32767. */
int16_t rnnas_sigmoid_q15(int32_t x_q12);

/* ---- Kernels ---- */

/** out[r] (+)= requant(sum_c W[r][c] x[c] + bias[r]) for r < rows. bias (accumulator domain) may be NULL;
 *  accumulate != 0 adds to out instead of overwriting. */
void rnnas_matvec_s8_q(const rnnas_mat_s8 *m, const int8_t *x, const int32_t *bias, int32_t *out, int accumulate);
/** out[r] = clamp(requant(sum_c W[r][c] x[c] + bias[r]), lo, hi) as int8 (lo, hi within -128 .. 127). */
void rnnas_matvec_s8_s8(const rnnas_mat_s8 *m, const int8_t *x, const int32_t *bias, int8_t *out, int32_t lo,
                        int32_t hi);
/** The products of matrices with 16-bit weights (either or both of a and b; internal, see rnnas_mat_s8):
 * out = requant(A x + bias) (+ requant(B y)), stored as out = v (mode 0), out += v (1), int8 clamp(v, lo, hi)
 * (2); scratch: 64 words. */
void rnnas_matvec16(const rnnas_mat_s8 *a, const int8_t *x, const rnnas_mat_s8 *b, const int8_t *y,
                    const int32_t *bias, void *out, int32_t mode, int32_t lo, int32_t hi, uint32_t *scratch);
/** Scratch bytes rnnas_linear_s8_q() needs: the low-rank intermediate (0 for full rank). */
size_t rnnas_linear_s8_get_buffer_size(const rnnas_linear_s8 *l);
/** out (+)= requant(W x) in Q12, full or low rank; scratch: rnnas_linear_s8_get_buffer_size() bytes. */
void rnnas_linear_s8_q(const rnnas_linear_s8 *l, const int8_t *x, int8_t *scratch, int32_t *out, int accumulate);

/** Bytes of scratch one cell step needs: int32 pre-activations (gates*H, +H for GRU), then the int8
 *  low-rank intermediate. */
size_t rnnas_cell_step_s8_get_buffer_size(const rnnas_layer_s8 *l);
/** One step of a layer: reads x (int8, l->input) and the state h (int16 state_frac, with its int8 copy
 *  h8), writes both; cell (int16, LSTM only, else NULL) is updated in place. `gates` and `lowrank`
 *  are scratch of the sizes above (lowrank may be NULL for full-rank layers). */
rnnas_status rnnas_cell_step_s8(const rnnas_layer_s8 *l, const int8_t *x, int16_t *h, int8_t *h8, int16_t *cell,
                                int32_t *gates, int8_t *lowrank);

/* ---- Whole model ---- */

/** Bytes of arena the model needs (model->arena_bytes, after checking the descriptor). */
size_t rnnas_model_get_buffer_size(const rnnas_model_s8 *model);
/** Binds the model to an arena of at least rnnas_model_get_buffer_size() bytes (4-byte aligned) and resets. */
rnnas_status rnnas_model_init(rnnas_runner *run, const rnnas_model_s8 *model, void *arena, size_t arena_bytes);
/** Clears the states for a new sequence (only the persistent buffers: other bytes of the arena are kept). */
void rnnas_model_reset(rnnas_runner *run);
/** Quantises one step of raw features (float, the dataset's units) to the int8 the network reads. */
void rnnas_model_quantize_input(const rnnas_model_s8 *model, const float *x, int8_t *q);
/** Feeds one input step (int8, already quantised). Steps between strides only advance the counter. */
rnnas_status rnnas_model_step_s8(rnnas_runner *run, const int8_t *x);
/** Feeds one input step of raw features: rnnas_model_quantize_input() then rnnas_model_step_s8(). */
rnnas_status rnnas_model_step(rnnas_runner *run, const float *x);
/** Runs the head on the state so far and writes model->outputs int32 values in Q(out_frac).
 *  RNNAS_ERR_SHAPE before the first step. */
rnnas_status rnnas_model_output(rnnas_runner *run, int32_t *out);
/** Whole sequence: reset, `steps` steps of `x` (steps x features, row-major), output. */
rnnas_status rnnas_model_run(rnnas_runner *run, const float *x, int32_t steps, int32_t *out);
/** Index of the largest of n values (the first one on ties). */
int32_t rnnas_argmax_s32(const int32_t *v, int32_t n);

#ifdef __cplusplus
}
#endif

#endif /* RNNAS_NN_H */
