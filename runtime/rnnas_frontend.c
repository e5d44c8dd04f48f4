/* rnnas_frontend.c - log-mel / MFCC front end (see rnnas_frontend.h).
 *
 * Determinism: the per-frame path uses only IEEE single-precision +, -, *, / and a logarithm of our own
 * (rnnas_fe_ln below), never libm, so that the host and a Cortex-M FPU compute the same bits when both
 * build with -ffp-contract=off (no fused multiply-add contraction). The tables are built once in double
 * precision and rounded to float. */
#include "rnnas_frontend.h"

#include <kiss_fftr.h>
#include <math.h>
#include <string.h>

#define RNNAS_FE_ALIGN 16u
#define RNNAS_FE_LOG_FLOOR 1e-6f

static size_t fe_align(size_t n) { return (n + (RNNAS_FE_ALIGN - 1u)) & ~(size_t)(RNNAS_FE_ALIGN - 1u); }

static int32_t fe_resolved_fft(const rnnas_fe_config *cfg) {
  int32_t n = 1;
  if (cfg->fft_size != 0) return cfg->fft_size;
  while (n < cfg->window && n < (1 << 15)) n <<= 1;
  return n;
}

static float fe_resolved_high(const rnnas_fe_config *cfg) {
  return cfg->high_hz > 0.0f ? cfg->high_hz : 0.5f * (float)cfg->sample_rate;
}

rnnas_fe_config rnnas_fe_default_config(int32_t sample_rate) {
  rnnas_fe_config c;
  c.sample_rate = sample_rate;
  c.window = (int32_t)(sample_rate / 25); /* 40 ms */
  c.hop = (int32_t)(sample_rate / 50);    /* 20 ms */
  c.fft_size = 0;
  c.num_mels = 40;
  c.num_mfcc = 10;
  c.low_hz = 20.0f;
  c.high_hz = 0.0f;
  return c;
}

rnnas_status rnnas_fe_check_config(const rnnas_fe_config *cfg) {
  int32_t fft;
  if (cfg == NULL) return RNNAS_ERR_NULL;
  if (cfg->sample_rate < 1000 || cfg->sample_rate > 192000) return RNNAS_ERR_CONFIG;
  if (cfg->window < 16 || cfg->window > 8192) return RNNAS_ERR_CONFIG;
  if (cfg->hop < 1 || cfg->hop > cfg->window) return RNNAS_ERR_CONFIG;
  fft = fe_resolved_fft(cfg);
  if (fft < cfg->window || fft > 16384 || (fft & 1) != 0) return RNNAS_ERR_CONFIG;
  if (cfg->num_mels < 1 || cfg->num_mels > 256 || cfg->num_mels > fft / 2) return RNNAS_ERR_CONFIG;
  if (cfg->num_mfcc < 0 || cfg->num_mfcc > cfg->num_mels) return RNNAS_ERR_CONFIG;
  if (!(cfg->low_hz >= 0.0f) || !(cfg->high_hz >= 0.0f)) return RNNAS_ERR_CONFIG;
  if (!(fe_resolved_high(cfg) <= 0.5f * (float)cfg->sample_rate)) return RNNAS_ERR_CONFIG;
  if (!(cfg->low_hz < fe_resolved_high(cfg))) return RNNAS_ERR_CONFIG;
  return RNNAS_OK;
}

/* Sizes of the buffer's parts, in layout order. */
typedef struct {
  size_t hann, bin_lower, bin_weight, dct, frame, spectrum, mel, fft, total;
} fe_layout;

static int fe_plan(const rnnas_fe_config *cfg, fe_layout *l) {
  int32_t fft, bins, mfcc;
  size_t fft_mem = 0;
  if (rnnas_fe_check_config(cfg) != RNNAS_OK) return 0;
  fft = fe_resolved_fft(cfg);
  bins = fft / 2 + 1;
  mfcc = cfg->num_mfcc;
  (void)kiss_fftr_alloc(fft, 0, NULL, &fft_mem); /* query: returns NULL and sets fft_mem */
  if (fft_mem == 0) return 0;
  l->hann = fe_align(sizeof(float) * (size_t)cfg->window);
  l->bin_lower = fe_align(sizeof(int16_t) * (size_t)bins);
  l->bin_weight = fe_align(sizeof(float) * (size_t)bins);
  l->dct = fe_align(sizeof(float) * (size_t)mfcc * (size_t)cfg->num_mels);
  l->frame = fe_align(sizeof(float) * (size_t)fft);
  l->spectrum = fe_align(sizeof(kiss_fft_cpx) * (size_t)bins);
  l->mel = fe_align(sizeof(float) * (size_t)cfg->num_mels);
  l->fft = fe_align(fft_mem);
  l->total = l->hann + l->bin_lower + l->bin_weight + l->dct + l->frame + l->spectrum + l->mel + l->fft +
             RNNAS_FE_ALIGN; /* slack to align an unaligned caller buffer */
  return 1;
}

size_t rnnas_fe_get_buffer_size(const rnnas_fe_config *cfg) {
  fe_layout l;
  return fe_plan(cfg, &l) ? l.total : 0u;
}

int32_t rnnas_fe_num_features(const rnnas_fe_config *cfg) {
  if (rnnas_fe_check_config(cfg) != RNNAS_OK) return 0;
  return cfg->num_mfcc > 0 ? cfg->num_mfcc : cfg->num_mels;
}

int32_t rnnas_fe_num_frames(const rnnas_fe_config *cfg, int32_t num_samples) {
  if (rnnas_fe_check_config(cfg) != RNNAS_OK || num_samples < cfg->window) return 0;
  return 1 + (num_samples - cfg->window) / cfg->hop;
}

static double fe_hz_to_mel(double hz) { return 2595.0 * log10(1.0 + hz / 700.0); }
static double fe_mel_to_hz(double mel) { return 700.0 * (pow(10.0, mel / 2595.0) - 1.0); }

rnnas_status rnnas_fe_init(rnnas_fe *fe, const rnnas_fe_config *cfg, void *buffer, size_t buffer_size) {
  fe_layout l;
  unsigned char *p;
  size_t fft_mem;
  int32_t k, b, c, j, bins, fft, mels;
  double mel_lo, mel_hi, pts[258];
  const double pi = 3.14159265358979323846;
  if (fe == NULL || cfg == NULL || buffer == NULL) return RNNAS_ERR_NULL;
  if (!fe_plan(cfg, &l)) return RNNAS_ERR_CONFIG;
  if (buffer_size < l.total) return RNNAS_ERR_BUFFER_SIZE;
  memset(fe, 0, sizeof *fe);
  fe->cfg = *cfg;
  fft = fe_resolved_fft(cfg);
  fe->cfg.fft_size = fft;
  fe->cfg.high_hz = fe_resolved_high(cfg);
  bins = fft / 2 + 1;
  mels = cfg->num_mels;
  fe->num_bins = bins;

  p = (unsigned char *)buffer;
  p += (RNNAS_FE_ALIGN - ((uintptr_t)p & (RNNAS_FE_ALIGN - 1u))) & (RNNAS_FE_ALIGN - 1u);
  fe->hann = (float *)(void *)p;
  p += l.hann;
  fe->bin_lower = (int16_t *)(void *)p;
  p += l.bin_lower;
  fe->bin_weight = (float *)(void *)p;
  p += l.bin_weight;
  fe->dct = (float *)(void *)p;
  p += l.dct;
  fe->frame = (float *)(void *)p;
  p += l.frame;
  fe->spectrum = (float *)(void *)p;
  p += l.spectrum;
  fe->mel = (float *)(void *)p;
  p += l.mel;
  fft_mem = l.fft;
  fe->fft = kiss_fftr_alloc(fft, 0, p, &fft_mem);
  if (fe->fft == NULL) return RNNAS_ERR_BUFFER_SIZE;

  /* Periodic Hann window. */
  for (k = 0; k < cfg->window; ++k)
    fe->hann[k] = (float)(0.5 - 0.5 * cos(2.0 * pi * (double)k / (double)cfg->window));

  /* Mel points p_0 .. p_{M+1} in Hz, equally spaced on the mel scale. */
  mel_lo = fe_hz_to_mel((double)fe->cfg.low_hz);
  mel_hi = fe_hz_to_mel((double)fe->cfg.high_hz);
  for (j = 0; j <= mels + 1; ++j) pts[j] = fe_mel_to_hz(mel_lo + (mel_hi - mel_lo) * (double)j / (double)(mels + 1));
  for (k = 0; k < bins; ++k) {
    const double f = (double)k * (double)cfg->sample_rate / (double)fft;
    fe->bin_lower[k] = -1;
    fe->bin_weight[k] = 0.0f;
    for (j = 0; j <= mels; ++j) {
      if (f >= pts[j] && f < pts[j + 1]) {
        fe->bin_lower[k] = (int16_t)j;
        fe->bin_weight[k] = (float)((f - pts[j]) / (pts[j + 1] - pts[j]));
        break;
      }
    }
  }

  /* Orthonormal DCT-II. */
  for (c = 0; c < cfg->num_mfcc; ++c) {
    const double scale = c == 0 ? sqrt(1.0 / (double)mels) : sqrt(2.0 / (double)mels);
    for (b = 0; b < mels; ++b)
      fe->dct[c * mels + b] = (float)(scale * cos(pi * (double)c * ((double)b + 0.5) / (double)mels));
  }
  return RNNAS_OK;
}

/* Natural logarithm for x > 0 with the Cephes single-precision polynomial (about 1 ulp): x = m * 2^e with
 * m in [sqrt(1/2), sqrt(2)), ln x = e ln 2 + ln m. Only float arithmetic and bit operations. */
static float rnnas_fe_ln(float x) {
  union {
    float f;
    uint32_t u;
  } v;
  int32_t e;
  float m, z, y;
  v.f = x;
  e = (int32_t)((v.u >> 23) & 0xffu) - 126; /* x = m * 2^e, m in [0.5, 1) */
  v.u = (v.u & 0x007fffffu) | 0x3f000000u;
  m = v.f;
  if (m < 0.70710678f) {
    e -= 1;
    m = m + m - 1.0f;
  } else {
    m = m - 1.0f;
  }
  z = m * m;
  y = (((((((( 7.0376836292e-2f * m - 1.1514610310e-1f) * m + 1.1676998740e-1f) * m - 1.2420140846e-1f) * m +
          1.4249322787e-1f) * m - 1.6668057665e-1f) * m + 2.0000714765e-1f) * m - 2.4999993993e-1f) * m +
       3.3333331174e-1f) * m * z;
  y += -2.12194440e-4f * (float)e;
  y += -0.5f * z;
  return m + y + 0.693359375f * (float)e;
}

rnnas_status rnnas_fe_compute_frame(rnnas_fe *fe, const int16_t *pcm, float *out) {
  int32_t k, b, c;
  const int32_t win = fe != NULL ? fe->cfg.window : 0;
  const int32_t mels = fe != NULL ? fe->cfg.num_mels : 0;
  kiss_fft_cpx *spec;
  if (fe == NULL || pcm == NULL || out == NULL || fe->fft == NULL) return RNNAS_ERR_NULL;
  for (k = 0; k < win; ++k) fe->frame[k] = ((float)pcm[k] * (1.0f / 32768.0f)) * fe->hann[k];
  for (k = win; k < fe->cfg.fft_size; ++k) fe->frame[k] = 0.0f;
  spec = (kiss_fft_cpx *)(void *)fe->spectrum;
  kiss_fftr((kiss_fftr_cfg)fe->fft, fe->frame, spec);
  for (b = 0; b < mels; ++b) fe->mel[b] = 0.0f;
  for (k = 0; k < fe->num_bins; ++k) {
    const int32_t j = fe->bin_lower[k];
    const float power = spec[k].r * spec[k].r + spec[k].i * spec[k].i;
    const float w = fe->bin_weight[k];
    if (j < 0) continue;
    if (j < mels) fe->mel[j] += w * power;
    if (j >= 1) fe->mel[j - 1] += (1.0f - w) * power;
  }
  for (b = 0; b < mels; ++b) fe->mel[b] = rnnas_fe_ln(fe->mel[b] + RNNAS_FE_LOG_FLOOR);
  if (fe->cfg.num_mfcc == 0) {
    for (b = 0; b < mels; ++b) out[b] = fe->mel[b];
    return RNNAS_OK;
  }
  for (c = 0; c < fe->cfg.num_mfcc; ++c) {
    const float *row = fe->dct + c * mels;
    float acc = 0.0f;
    for (b = 0; b < mels; ++b) acc += row[b] * fe->mel[b];
    out[c] = acc;
  }
  return RNNAS_OK;
}

rnnas_status rnnas_fe_compute(rnnas_fe *fe, const int16_t *pcm, int32_t num_samples, float *out,
                              int32_t max_frames, int32_t *num_frames) {
  int32_t f, frames, nf;
  rnnas_status st;
  if (fe == NULL || pcm == NULL || out == NULL || num_frames == NULL) return RNNAS_ERR_NULL;
  *num_frames = 0;
  frames = rnnas_fe_num_frames(&fe->cfg, num_samples);
  nf = rnnas_fe_num_features(&fe->cfg);
  if (frames < 1 || frames > max_frames) return RNNAS_ERR_SHAPE;
  for (f = 0; f < frames; ++f) {
    st = rnnas_fe_compute_frame(fe, pcm + f * fe->cfg.hop, out + f * nf);
    if (st != RNNAS_OK) return st;
  }
  *num_frames = frames;
  return RNNAS_OK;
}
