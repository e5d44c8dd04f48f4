#include "small_gemm.h"

#include <cstring>

namespace rnnas::nn {
namespace {

// GCC/Clang vector extensions: one register of 16 (8, 4) floats on targets that have it, split by the
// compiler on narrower ones.
typedef float v16 __attribute__((vector_size(64)));
typedef float v8 __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));
typedef float v1 __attribute__((vector_size(4)));

template <class V>
inline V load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <class V>
inline void store(float* p, V v) {
  std::memcpy(p, &v, sizeof(V));
}

// One (lanes x NR) tile of C kept in registers; A and B stream from cache.
template <class V, int NR>
inline void tile(int K, const float* A, long lda, const float* B, long ldb, float* C, long ldc, bool accumulate) {
  V acc[NR];
  for (int j = 0; j < NR; ++j) acc[j] = accumulate ? load<V>(C + j * ldc) : V{};
  for (int k = 0; k < K; ++k) {
    const V a = load<V>(A + k * lda);
    for (int j = 0; j < NR; ++j) acc[j] += a * B[j * ldb + k];
  }
  for (int j = 0; j < NR; ++j) store<V>(C + j * ldc, acc[j]);
}

template <class V>
void row_block(int i0, int N, int K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
               bool accumulate) {
  constexpr int kCols = 4;
  int j = 0;
  for (; j + kCols <= N; j += kCols)
    tile<V, kCols>(K, A + i0, lda, B + j * ldb, ldb, C + j * ldc + i0, ldc, accumulate);
  for (; j < N; ++j) tile<V, 1>(K, A + i0, lda, B + j * ldb, ldb, C + j * ldc + i0, ldc, accumulate);
}

// One (lanes x NR) tile of C += A B^T over the whole of K.
template <class V, int NR>
inline void tile_nt(int K, const float* A, long lda, const float* B, long ldb, float* C, long ldc) {
  V acc[NR];
  for (int j = 0; j < NR; ++j) acc[j] = load<V>(C + j * ldc);
  for (int k = 0; k < K; ++k) {
    const V a = load<V>(A + k * lda);
    const float* b = B + k * ldb;
    for (int j = 0; j < NR; ++j) acc[j] += a * b[j];
  }
  for (int j = 0; j < NR; ++j) store<V>(C + j * ldc, acc[j]);
}

template <class V>
void row_block_nt(int i0, int N, int K, const float* A, long lda, const float* B, long ldb, float* C, long ldc) {
  int j = 0;
  for (; j + 16 <= N; j += 16) tile_nt<V, 16>(K, A + i0, lda, B + j, ldb, C + j * ldc + i0, ldc);
  for (; j + 8 <= N; j += 8) tile_nt<V, 8>(K, A + i0, lda, B + j, ldb, C + j * ldc + i0, ldc);
  for (; j + 4 <= N; j += 4) tile_nt<V, 4>(K, A + i0, lda, B + j, ldb, C + j * ldc + i0, ldc);
  for (; j < N; ++j) tile_nt<V, 1>(K, A + i0, lda, B + j, ldb, C + j * ldc + i0, ldc);
}

}  // namespace

void small_gemm_nt(int M, int N, int K, const float* A, long lda, const float* B, long ldb, float* C, long ldc) {
  int i = 0;
  for (; i + 16 <= M; i += 16) row_block_nt<v16>(i, N, K, A, lda, B, ldb, C, ldc);
  for (; i + 8 <= M; i += 8) row_block_nt<v8>(i, N, K, A, lda, B, ldb, C, ldc);
  for (; i + 4 <= M; i += 4) row_block_nt<v4>(i, N, K, A, lda, B, ldb, C, ldc);
  for (; i < M; ++i) row_block_nt<v1>(i, N, K, A, lda, B, ldb, C, ldc);
}

void small_gemm(int M, int N, int K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
                bool accumulate) {
  int i = 0;
  for (; i + 16 <= M; i += 16) row_block<v16>(i, N, K, A, lda, B, ldb, C, ldc, accumulate);
  for (; i + 8 <= M; i += 8) row_block<v8>(i, N, K, A, lda, B, ldb, C, ldc, accumulate);
  for (; i + 4 <= M; i += 4) row_block<v4>(i, N, K, A, lda, B, ldb, C, ldc, accumulate);
  for (; i < M; ++i) row_block<v1>(i, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

}  // namespace rnnas::nn
