// Activation functions for the fused cell kernels, written as plain scalar code that the compiler
// vectorises inside the kernels' loops.
// float: the rational tanh approximation Eigen uses for its vectorised float tanh (13/6-degree, clamped;
//        a few ulp); sigmoid(x) = (1 + tanh(x/2)) / 2.
// double: the exact library functions, so the double-precision gradient check tests the formulas.
#pragma once

#include <cmath>

namespace rnnas::nn {

inline float act_tanh(float a) {
  constexpr float kClamp = 7.99881172180175781f;
  const float x = a > kClamp ? kClamp : (a < -kClamp ? -kClamp : a);
  const float x2 = x * x;
  float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = x2 * p + -8.60467152213735e-11f;
  p = x2 * p + 5.12229709037114e-08f;
  p = x2 * p + 1.48572235717979e-05f;
  p = x2 * p + 6.37261928875436e-04f;
  p = x2 * p + 4.89352455891786e-03f;
  p = x * p;
  float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = x2 * q + 2.26843463243900e-03f;
  q = x2 * q + 4.89352518554385e-03f;
  const float r = p / q;
  return (a < 0.0004f && a > -0.0004f) ? a : r;
}

inline float act_sigmoid(float x) { return 0.5f + 0.5f * act_tanh(0.5f * x); }

// Exact logistic function; also used in float for the cells' learned gate scalars (one value per step).
template <class S>
S exact_sigmoid(S x) {
  return S(1) / (S(1) + std::exp(-x));
}

inline double act_tanh(double x) { return std::tanh(x); }
inline double act_sigmoid(double x) { return exact_sigmoid(x); }

}  // namespace rnnas::nn
