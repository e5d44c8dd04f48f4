/* rnnas_frontend.h - audio front end: 16-bit PCM -> log-mel energies or MFCCs, one frame at a time.
 *
 * The same C source runs on the host (rnnas computes training features with it) and on the
 * microcontroller, so the features a model was trained on are the features it sees on the device.
 * No malloc: the caller provides one buffer of rnnas_fe_get_buffer_size() bytes, which holds the
 * tables (Hann window, mel filterbank, DCT matrix, FFT twiddles) and the scratch space of one frame.
 *
 * Per frame of `window` samples:
 *   x[n] = pcm[n] / 32768 * hann[n]               (zero-padded to fft_size)
 *   P[k] = |FFT(x)[k]|^2, k = 0 .. fft_size/2      (kissfft real FFT)
 *   E[b] = sum_k P[k] * tri_b(f_k)                 (HTK-style triangles, equally spaced on the mel scale
 *                                                   2595 log10(1 + f/700) between low_hz and high_hz)
 *   L[b] = ln(E[b] + 1e-6)                         (log-mel energies; the output when num_mfcc == 0)
 *   C[c] = sum_b L[b] * dct[c][b]                  (orthonormal DCT-II, c < num_mfcc)
 *
 * Usage:
 *   rnnas_fe_config cfg = rnnas_fe_default_config(16000);
 *   static uint8_t buf[8192];                        (at least rnnas_fe_get_buffer_size(&cfg))
 *   rnnas_fe fe;
 *   if (rnnas_fe_init(&fe, &cfg, buf, sizeof buf) != RNNAS_OK) { ... }
 *   rnnas_fe_compute_frame(&fe, pcm_window, features);   (every `hop` samples)
 */
#ifndef RNNAS_FRONTEND_H
#define RNNAS_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

#include "rnnas_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Front-end parameters. Ranges are checked by rnnas_fe_check_config(). */
typedef struct {
  int32_t sample_rate; /**< input rate in Hz, 1000 .. 192000 */
  int32_t window;      /**< samples per frame (Hann window), 16 .. 8192 */
  int32_t hop;         /**< samples between frame starts, 1 .. window */
  int32_t fft_size;    /**< FFT length: even, >= window, <= 16384; 0 = smallest power of two >= window */
  int32_t num_mels;    /**< mel bands, 1 .. 256, and at most fft_size / 2 */
  int32_t num_mfcc;    /**< cepstral coefficients, 0 .. num_mels; 0 = output the log-mel energies */
  float low_hz;        /**< lowest filterbank edge, >= 0 */
  float high_hz;       /**< highest filterbank edge, <= sample_rate / 2; 0 = sample_rate / 2 */
} rnnas_fe_config;

/** An initialised front end. Its pointers point into the caller's buffer; treat as opaque. */
typedef struct {
  rnnas_fe_config cfg;
  int32_t num_bins;     /* fft_size / 2 + 1 */
  float *hann;          /* [window] */
  int16_t *bin_lower;   /* [num_bins] mel point index j with f in [p_j, p_j+1), or -1 outside */
  float *bin_weight;    /* [num_bins] (f - p_j) / (p_j+1 - p_j): weight in band j; band j-1 gets 1 - w */
  float *dct;           /* [num_mfcc x num_mels] */
  void *fft;            /* kiss_fftr_cfg in the buffer */
  float *frame;         /* [fft_size] scratch */
  float *spectrum;      /* [2 * num_bins] scratch, interleaved re/im */
  float *mel;           /* [num_mels] scratch */
} rnnas_fe;

/** Defaults for a sample rate: 40 ms Hann window, 20 ms hop, 40 mel bands from 20 Hz to rate/2,
 *  10 MFCCs (the keyword-spotting front end of Zhang et al., "Hello Edge", 2017). */
rnnas_fe_config rnnas_fe_default_config(int32_t sample_rate);

/** Checks every field of `cfg` (after resolving fft_size 0).
 *  @param cfg the configuration; NULL gives RNNAS_ERR_NULL.
 *  @return RNNAS_OK or RNNAS_ERR_CONFIG. */
rnnas_status rnnas_fe_check_config(const rnnas_fe_config *cfg);

/** Bytes the front end needs for `cfg`, or 0 when the configuration is invalid.
 *  @param cfg the configuration. */
size_t rnnas_fe_get_buffer_size(const rnnas_fe_config *cfg);

/** Features per frame: num_mfcc, or num_mels when num_mfcc is 0. 0 for an invalid configuration.
 *  @param cfg the configuration. */
int32_t rnnas_fe_num_features(const rnnas_fe_config *cfg);

/** Frames in a signal of `num_samples`: 1 + (num_samples - window) / hop, 0 when shorter than a window.
 *  @param cfg the configuration.
 *  @param num_samples signal length in samples. */
int32_t rnnas_fe_num_frames(const rnnas_fe_config *cfg, int32_t num_samples);

/** Builds the tables in `buffer`. The buffer must stay alive and untouched while `fe` is used.
 *  @param fe the front end to initialise.
 *  @param cfg the configuration (copied; fft_size 0 is resolved).
 *  @param buffer caller memory, any alignment.
 *  @param buffer_size its size in bytes, at least rnnas_fe_get_buffer_size(cfg).
 *  @return RNNAS_OK, RNNAS_ERR_NULL, RNNAS_ERR_CONFIG or RNNAS_ERR_BUFFER_SIZE. */
rnnas_status rnnas_fe_init(rnnas_fe *fe, const rnnas_fe_config *cfg, void *buffer, size_t buffer_size);

/** Features of one frame.
 *  @param fe an initialised front end.
 *  @param pcm `window` samples of 16-bit PCM.
 *  @param out rnnas_fe_num_features() floats.
 *  @return RNNAS_OK or RNNAS_ERR_NULL. */
rnnas_status rnnas_fe_compute_frame(rnnas_fe *fe, const int16_t *pcm, float *out);

/** Features of a whole signal: frame f starts at sample f * hop.
 *  @param fe an initialised front end.
 *  @param pcm the signal.
 *  @param num_samples its length.
 *  @param out room for max_frames * rnnas_fe_num_features() floats, row-major [frame][feature].
 *  @param max_frames capacity of `out` in frames.
 *  @param num_frames receives the number of frames written.
 *  @return RNNAS_OK, RNNAS_ERR_NULL, or RNNAS_ERR_SHAPE when the signal is shorter than one window or
 *          `out` is too small for every frame. */
rnnas_status rnnas_fe_compute(rnnas_fe *fe, const int16_t *pcm, int32_t num_samples, float *out,
                              int32_t max_frames, int32_t *num_frames);

#ifdef __cplusplus
}
#endif

#endif /* RNNAS_FRONTEND_H */
