// Baseline-ISA resampler kernels (the compiler may vectorise the lane loops with the baseline SIMD, e.g.
// SSE2 on x86-64; each lane is still a sequential multiply-then-add chain, identical to single()).
#include "resample/kernel_ops.h"

namespace ishowtts {
namespace resample {
namespace {

constexpr int kLanes = 8;

template <int R>
void rows_block(const float* table, int64_t K, const float* x, int64_t x_step, float* y, int64_t y_step) {
  float acc[R][kLanes];
  for (int r = 0; r < R; ++r)
    for (int l = 0; l < kLanes; ++l) acc[r][l] = 0.0f;
  for (int64_t k = 0; k < K; ++k) {
    const float* c = table + k * kLanes;
    for (int r = 0; r < R; ++r) {
      const float xv = x[r * x_step + k];
      for (int l = 0; l < kLanes; ++l) acc[r][l] = acc[r][l] + c[l] * xv;
    }
  }
  for (int r = 0; r < R; ++r)
    for (int l = 0; l < kLanes; ++l) y[r * y_step + l] = acc[r][l];
}

void rows(const float* table, int64_t K, const float* x, int64_t x_step, float* y, int64_t y_step,
          int64_t nrows) {
  int64_t r = 0;
  for (; r + 4 <= nrows; r += 4) rows_block<4>(table, K, x + r * x_step, x_step, y + r * y_step, y_step);
  for (; r < nrows; ++r) rows_block<1>(table, K, x + r * x_step, x_step, y + r * y_step, y_step);
}

float single(const float* lane_coeffs, int64_t K, const float* x) {
  float acc = 0.0f;
  for (int64_t k = 0; k < K; ++k) acc = acc + lane_coeffs[k * kLanes] * x[k];
  return acc;
}

}  // namespace

extern const KernelOps kernel_ops_scalar = {rows, single, "scalar"};

}  // namespace resample
}  // namespace ishowtts
