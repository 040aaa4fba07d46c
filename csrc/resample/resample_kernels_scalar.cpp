// Baseline-ISA resampler kernels ("scalar": no ISA flags). Each output lane is a sequential
// multiply-then-add chain over k, identical to single(), so group and single paths agree bit for bit.
#include <cstring>

#include "resample/kernel_ops.h"

namespace ishowtts {
namespace resample {
namespace {

constexpr int kLanes = 8;

// Four-float vector in the compiler's portable vector extension (GCC/Clang): lowered to the baseline SIMD
// (SSE2 on x86-64, NEON on aarch64) without ISA flags. Written lane-wise so the vectoriser cannot reorder the
// per-lane sums: every lane is acc = acc + c * x, k ascending, exactly like single().
typedef float v4f __attribute__((vector_size(16)));

v4f load4(const float* p) {
  v4f v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <int R>
void rows_block(const float* table, int64_t K, const float* x, int64_t x_step, float* y, int64_t y_step) {
  v4f lo[R], hi[R];
  for (int r = 0; r < R; ++r) {
    lo[r] = v4f{0.0f, 0.0f, 0.0f, 0.0f};
    hi[r] = v4f{0.0f, 0.0f, 0.0f, 0.0f};
  }
  for (int64_t k = 0; k < K; ++k) {
    const v4f c_lo = load4(table + k * kLanes);
    const v4f c_hi = load4(table + k * kLanes + 4);
    for (int r = 0; r < R; ++r) {
      const float xv = x[r * x_step + k];
      lo[r] = lo[r] + c_lo * xv;
      hi[r] = hi[r] + c_hi * xv;
    }
  }
  for (int r = 0; r < R; ++r) {
    std::memcpy(y + r * y_step, &lo[r], sizeof(v4f));
    std::memcpy(y + r * y_step + 4, &hi[r], sizeof(v4f));
  }
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
