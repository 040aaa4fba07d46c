// AVX2 float32 -> PCM16 kernel. The only wav source compiled with -mavx2 -mfma: intrinsics and plain-C
// headers only, static helpers, no STL (see DEVELOPERS.md).
//
// _mm256_cvtps_epi32 rounds with MXCSR (nearest-even by default) but maps NaN and out-of-range values to
// INT_MIN, so the value is sanitised in float first: NaN -> 0 with an ordered-compare mask, then clamped to
// [-32768, 32767] (the integer bounds are exact floats, so clamping before rounding equals clamping after).
// _mm256_packs_epi32 then narrows two vectors per 128-bit lane, and a 0xD8 (0,2,1,3) 64-bit permute
// restores sample order.
#include <immintrin.h>

#include "wav/pcm16_kernels.h"

namespace ishowtts {
namespace wav {

static inline __m256i avx2_to_i32(__m256 x) {
  const __m256 v = _mm256_mul_ps(x, _mm256_set1_ps(32768.0f));
  const __m256 ordered = _mm256_cmp_ps(v, v, _CMP_ORD_Q);  // all-ones unless NaN
  const __m256 clean = _mm256_and_ps(v, ordered);
  const __m256 clamped =
      _mm256_min_ps(_mm256_max_ps(clean, _mm256_set1_ps(-32768.0f)), _mm256_set1_ps(32767.0f));
  return _mm256_cvtps_epi32(clamped);
}

static inline __m256i avx2_pack16(const float* in) {
  const __m256i a = avx2_to_i32(_mm256_loadu_ps(in));
  const __m256i b = avx2_to_i32(_mm256_loadu_ps(in + 8));
  return _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);
}

void pcm16_avx2(const float* in, int16_t* out, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i r0 = avx2_pack16(in + i);
    const __m256i r1 = avx2_pack16(in + i + 16);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), r0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i + 16), r1);
  }
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), avx2_pack16(in + i));
  }
  if (i < n) {  // tail: run the same vector code on a zero-padded copy so every sample takes one path
    float tmp_in[16] = {0.0f};
    int16_t tmp_out[16];
    const size_t rest = n - i;
    for (size_t k = 0; k < rest; ++k) tmp_in[k] = in[i + k];
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(tmp_out), avx2_pack16(tmp_in));
    for (size_t k = 0; k < rest; ++k) out[i + k] = tmp_out[k];
  }
}

}  // namespace wav
}  // namespace ishowtts
