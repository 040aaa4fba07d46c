// Portable float32 -> PCM16 kernel (the reference for the SIMD ones, and the ISHOWTTS_FORCE_SCALAR path).
#include <math.h>

#include "wav/pcm16_kernels.h"

namespace ishowtts {
namespace wav {

void pcm16_scalar(const float* in, int16_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    float v = in[i] * 32768.0f;  // exact (power-of-two scale); overflow goes to +-inf and is clamped below
    if (v != v) v = 0.0f;        // NaN -> 0 (fmaxf would turn it into -32768)
    v = v < -32768.0f ? -32768.0f : v;
    v = v > 32767.0f ? 32767.0f : v;
    // lrintf rounds half to even in the default rounding mode; with -fno-math-errno it is one cvtss2si.
    out[i] = static_cast<int16_t>(lrintf(v));
  }
}

}  // namespace wav
}  // namespace ishowtts
