// Portable float32 -> PCM16 kernel (the reference for the SIMD ones, and the ISHOWTTS_FORCE_SCALAR path).
// Written branch-free so the compiler may auto-vectorise it with the baseline ISA (SSE2 on x86-64): the
// selects below map onto cmpord/and, maxps and minps, and irintf onto cvtps2dq.
#include <math.h>

#include "wav/pcm16_kernels.h"

namespace ishowtts {
namespace wav {

static inline int32_t round_half_even(float v) {
#if defined(__GNUC__)
  return __builtin_irintf(v);  // current rounding mode (nearest-even by default), like lrintf, but 32-bit
#else
  return static_cast<int32_t>(lrintf(v));
#endif
}

void pcm16_scalar(const float* in, int16_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    float v = in[i] * 32768.0f;         // exact (power-of-two scale); overflow gives +-inf, clamped below
    v = (v == v) ? v : 0.0f;            // NaN -> 0 first: a NaN reaching the clamp would become -32768
    v = v > -32768.0f ? v : -32768.0f;  // the bounds are integers, so clamping before rounding is exact
    v = v < 32767.0f ? v : 32767.0f;
    out[i] = static_cast<int16_t>(round_half_even(v));
  }
}

}  // namespace wav
}  // namespace ishowtts
