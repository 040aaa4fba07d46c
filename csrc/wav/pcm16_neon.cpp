// NEON float32 -> PCM16 kernel (aarch64 only; NEON is baseline there). Intrinsics and plain-C headers only.
//
// No explicit NaN mask or clamp is needed here: FCVTNS (vcvtnq_s32_f32) rounds to nearest with ties to
// even regardless of FPCR, converts NaN to 0 and saturates out-of-range values, and SQXTN (vqmovn_s32)
// saturates to int16. Rounding x*32768 first and saturating after gives the same result as clamping to
// [-32768, 32767] first, because the bounds are integers.
// NOTE: not compiled or tested on the x86-64 development machines; CI on aarch64 must run the
// SIMD-vs-scalar equality tests (tests/native/test_wav.py) to cover it.
#include <arm_neon.h>

#include "wav/pcm16_kernels.h"

namespace ishowtts {
namespace wav {

static inline int16x8_t neon_pack8(const float* in, float32x4_t scale) {
  const int32x4_t a = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(in), scale));
  const int32x4_t b = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(in + 4), scale));
  return vcombine_s16(vqmovn_s32(a), vqmovn_s32(b));
}

void pcm16_neon(const float* in, int16_t* out, size_t n) {
  const float32x4_t scale = vdupq_n_f32(32768.0f);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    vst1q_s16(out + i, neon_pack8(in + i, scale));
    vst1q_s16(out + i + 8, neon_pack8(in + i + 8, scale));
  }
  for (; i + 8 <= n; i += 8) vst1q_s16(out + i, neon_pack8(in + i, scale));
  if (i < n) {  // tail: same vector path on a zero-padded copy
    float tmp_in[8] = {0.0f};
    int16_t tmp_out[8];
    const size_t rest = n - i;
    for (size_t k = 0; k < rest; ++k) tmp_in[k] = in[i + k];
    vst1q_s16(tmp_out, neon_pack8(tmp_in, scale));
    for (size_t k = 0; k < rest; ++k) out[i + k] = tmp_out[k];
  }
}

}  // namespace wav
}  // namespace ishowtts
