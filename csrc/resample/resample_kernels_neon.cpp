// NEON resampler kernels (aarch64, where NEON is baseline). Includes only arm_neon.h and the plain
// kernel_ops.h header; everything else is file-local.
#include <arm_neon.h>

#include "resample/kernel_ops.h"

namespace ishowtts {
namespace resample {
namespace {

// Each group of 8 lanes is two float32x4_t accumulators; R groups share each coefficient load.
template <int R>
void rows_block(const float* table, int64_t K, const float* x, int64_t x_step, float* y, int64_t y_step) {
  float32x4_t lo[R], hi[R];
  for (int r = 0; r < R; ++r) {
    lo[r] = vdupq_n_f32(0.0f);
    hi[r] = vdupq_n_f32(0.0f);
  }
  for (int64_t k = 0; k < K; ++k) {
    const float32x4_t c_lo = vld1q_f32(table + k * 8);
    const float32x4_t c_hi = vld1q_f32(table + k * 8 + 4);
    for (int r = 0; r < R; ++r) {
      const float xv = x[r * x_step + k];
      lo[r] = vfmaq_n_f32(lo[r], c_lo, xv);  // lo + c_lo * xv, fused
      hi[r] = vfmaq_n_f32(hi[r], c_hi, xv);
    }
  }
  for (int r = 0; r < R; ++r) {
    vst1q_f32(y + r * y_step, lo[r]);
    vst1q_f32(y + r * y_step + 4, hi[r]);
  }
}

void rows(const float* table, int64_t K, const float* x, int64_t x_step, float* y, int64_t y_step,
          int64_t nrows) {
  int64_t r = 0;
  for (; r + 4 <= nrows; r += 4) rows_block<4>(table, K, x + r * x_step, x_step, y + r * y_step, y_step);
  for (; r < nrows; ++r) rows_block<1>(table, K, x + r * x_step, x_step, y + r * y_step, y_step);
}

float single(const float* lane_coeffs, int64_t K, const float* x) {
  // Same sequence as one lane of rows_block: fused multiply-add, k ascending (vfmas_f32 would need a lane
  // form; vfma_n_f32 on a 2-lane vector with one lane used is the plainest fused scalar form).
  float32x2_t acc = vdup_n_f32(0.0f);
  for (int64_t k = 0; k < K; ++k) acc = vfma_n_f32(acc, vdup_n_f32(lane_coeffs[k * 8]), x[k]);
  return vget_lane_f32(acc, 0);
}

}  // namespace

extern const KernelOps kernel_ops_neon = {rows, single, "neon"};

}  // namespace resample
}  // namespace ishowtts
