// AVX2+FMA resampler kernels. Compiled with -mavx2 -mfma (x86-64 only); includes only intrinsics and the
// plain kernel_ops.h header, keeps everything in an anonymous namespace (no code shared with baseline files).
#include <immintrin.h>

#include "resample/kernel_ops.h"

namespace ishowtts {
namespace resample {
namespace {

// R output groups (8 lanes each) that share one coefficient table: one aligned coefficient load and R
// broadcast loads feed R independent FMA chains per tap. R = 8 keeps both FMA pipes busy (latency 4).
template <int R>
void rows_block(const float* table, int64_t K, const float* x, int64_t x_step, float* y, int64_t y_step) {
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    const __m256 c = _mm256_load_ps(table + k * 8);
    for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(c, _mm256_broadcast_ss(x + r * x_step + k), acc[r]);
  }
  for (int r = 0; r < R; ++r) _mm256_storeu_ps(y + r * y_step, acc[r]);
}

void rows(const float* table, int64_t K, const float* x, int64_t x_step, float* y, int64_t y_step,
          int64_t nrows) {
  int64_t r = 0;
  for (; r + 8 <= nrows; r += 8) rows_block<8>(table, K, x + r * x_step, x_step, y + r * y_step, y_step);
  if (r + 4 <= nrows) {
    rows_block<4>(table, K, x + r * x_step, x_step, y + r * y_step, y_step);
    r += 4;
  }
  if (r + 2 <= nrows) {
    rows_block<2>(table, K, x + r * x_step, x_step, y + r * y_step, y_step);
    r += 2;
  }
  for (; r < nrows; ++r) rows_block<1>(table, K, x + r * x_step, x_step, y + r * y_step, y_step);
}

float single(const float* lane_coeffs, int64_t K, const float* x) {
  // Same operation sequence as one lane of rows_block: acc = fma(c, x, acc), k ascending.
  __m128 acc = _mm_setzero_ps();
  for (int64_t k = 0; k < K; ++k)
    acc = _mm_fmadd_ss(_mm_load_ss(lane_coeffs + k * 8), _mm_load_ss(x + k), acc);
  return _mm_cvtss_f32(acc);
}

}  // namespace

extern const KernelOps kernel_ops_avx2 = {rows, single, "avx2+fma"};

}  // namespace resample
}  // namespace ishowtts
