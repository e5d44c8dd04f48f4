// C (+)= A * B for the small per-time-step products of recurrent layers (A: G*H x K weights, B: K x batch
// states), all column-major. Eigen's GEMM packs both operands on every call, which at these sizes costs
// more than the multiply; this kernel keeps a 16 x 4 tile of C in registers and streams A and B from L1.
// Reference semantics: exactly C(i,j) (+)= sum_k A(i,k) B(k,j), summed in increasing k.
#pragma once

namespace rnnas::nn {

void small_gemm(int M, int N, int K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
                bool accumulate);

// C += A * B^T with A: M x K, B: N x K (so B(j,k) = B[k * ldb + j]), for weight gradients, where K is
// the long dimension (time steps x batch) and C is small: a 16 x N tile of C stays in registers while A
// and B stream through once.
void small_gemm_nt(int M, int N, int K, const float* A, long lda, const float* B, long ldb, float* C, long ldc);

}  // namespace rnnas::nn
