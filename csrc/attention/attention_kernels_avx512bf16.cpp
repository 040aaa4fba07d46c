// AVX512-BF16 kernel of attention.h (compiled with -mavx512f -mavx512bw -mavx512vl -mavx512bf16 -mfma).
//
// Per (batch, head) slice: K and V are packed into the pair layouts vdpbf16ps reads (K as [D/2][Np][2],
// V as [Np/2][D][2], Np = frames rounded up to 32, the tail zero), then blocks of 8 query rows go through
//   1. S = scale * q K^T + key_bias (8 rows x 32 keys per tile, 16 fp32 accumulators), the row max kept;
//   2. P = exp(S - max) in bf16 (round to nearest even), the row sum kept in fp32;
//   3. O = P V / sum (4 rows x 64 dims per pass, 16 accumulators).
// A block's S is 8 x Np fp32 (30 KB at 960 frames), so a query block sees all keys at once: the softmax
// is exact, with no online rescaling.
#include "attention/attention.h"

#include <immintrin.h>

#include <math.h>
#include <string.h>

namespace ishowtts {
namespace attention {
namespace {

// No STL here: an inline template instantiated in this file would carry AVX-512 code that the linker may
// pick for the baseline files too (DEVELOPERS.md, native core). Threads and buffers live in bind_attention.cpp.
constexpr int D = kHeadDim;

inline int min_int(int a, int b) { return a < b ? a : b; }
constexpr int kRows = kRowBlock;
constexpr int kCols = kFrameStep;  // keys per score tile

// exp(x) for x <= 0: 2^n * p(r), r = x - n ln2, |r| <= ln2 / 2, p the degree-6 Taylor polynomial
// (relative error < 2e-7, far below bf16's 4e-3). x <= -104 gives 0 (2^-150 underflows).
inline __m512 exp_ps(__m512 x) {
  const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
  const __m512 ln2 = _mm512_set1_ps(0.69314718055994531f);
  x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_fnmadd_ps(n, ln2, x);
  __m512 p = _mm512_set1_ps(1.0f / 720);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

inline __m512bh pair_of(const uint16_t* two) {  // two adjacent bf16, broadcast to every 32-bit lane
  uint32_t bits;
  memcpy(&bits, two, sizeof bits);
  return (__m512bh)_mm512_set1_epi32(static_cast<int>(bits));
}

struct Slice {  // one (batch, head): rows of q / out with a row stride, packed K and V, the key bias
  const uint16_t* q;
  uint16_t* out;
  long row_stride;
  const uint16_t* kp;  // [D/2][np][2]
  const uint16_t* vp;  // [np/2][D][2]
  const float* bias;   // [np]: key_bias, -inf on the padding keys
  int frames, np;
  float scale;
};

void attend_block(const Slice& s, int i0, float* scores, uint16_t* probs) {
  const int rows = min_int(kRows, s.frames - i0);
  const __m512 vscale = _mm512_set1_ps(s.scale);
  __m512 vmax[kRows];
  for (auto& m : vmax) m = _mm512_set1_ps(-INFINITY);
  for (int j0 = 0; j0 < s.np; j0 += kCols) {
    __m512 acc[kRows][2];
    for (auto& a : acc) a[0] = a[1] = _mm512_setzero_ps();
    for (int p = 0; p < D / 2; ++p) {
      const uint16_t* kp = s.kp + (static_cast<long>(p) * s.np + j0) * 2;
      const __m512bh b0 = (__m512bh)_mm512_loadu_si512(kp);
      const __m512bh b1 = (__m512bh)_mm512_loadu_si512(kp + 32);
      for (int r = 0; r < kRows; ++r) {
        const __m512bh a = pair_of(s.q + (i0 + min_int(r, rows - 1)) * s.row_stride + 2 * p);
        acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a, b0);
        acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a, b1);
      }
    }
    const __m512 bias0 = _mm512_loadu_ps(s.bias + j0), bias1 = _mm512_loadu_ps(s.bias + j0 + 16);
    for (int r = 0; r < kRows; ++r) {
      const __m512 x0 = _mm512_fmadd_ps(acc[r][0], vscale, bias0);
      const __m512 x1 = _mm512_fmadd_ps(acc[r][1], vscale, bias1);
      vmax[r] = _mm512_max_ps(vmax[r], _mm512_max_ps(x0, x1));
      _mm512_storeu_ps(scores + static_cast<long>(r) * s.np + j0, x0);
      _mm512_storeu_ps(scores + static_cast<long>(r) * s.np + j0 + 16, x1);
    }
  }
  float inv_sum[kRows];
  for (int r = 0; r < rows; ++r) {
    const float* x = scores + static_cast<long>(r) * s.np;
    uint16_t* pr = probs + static_cast<long>(r) * s.np;
    float mx = _mm512_reduce_max_ps(vmax[r]);
    if (mx == -INFINITY) mx = 0.0f;  // every key masked: all weights 0, output 0
    const __m512 vm = _mm512_set1_ps(mx);
    __m512 sum = _mm512_setzero_ps();
    for (int j = 0; j < s.np; j += 32) {
      const __m512 a = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(x + j), vm));
      const __m512 b = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(x + j + 16), vm));
      sum = _mm512_add_ps(sum, _mm512_add_ps(a, b));
      _mm512_storeu_si512(pr + j, (__m512i)_mm512_cvtne2ps_pbh(b, a));
    }
    const float total = _mm512_reduce_add_ps(sum);
    inv_sum[r] = total > 0.0f ? 1.0f / total : 0.0f;
  }
  for (int r0 = 0; r0 < rows; r0 += 4) {
    const int n = min_int(4, rows - r0);
    __m512 o[4][4];
    for (auto& row : o)
      for (auto& c : row) c = _mm512_setzero_ps();
    for (int jp = 0; jp < s.np / 2; ++jp) {
      const uint16_t* vp = s.vp + static_cast<long>(jp) * D * 2;
      __m512bh b[4];
      for (int c = 0; c < 4; ++c) b[c] = (__m512bh)_mm512_loadu_si512(vp + 32 * c);
      for (int r = 0; r < 4; ++r) {
        const __m512bh a = pair_of(probs + static_cast<long>(r0 + min_int(r, n - 1)) * s.np + 2 * jp);
        for (int c = 0; c < 4; ++c) o[r][c] = _mm512_dpbf16_ps(o[r][c], a, b[c]);
      }
    }
    for (int r = 0; r < n; ++r) {
      uint16_t* orow = s.out + (i0 + r0 + r) * s.row_stride;
      const __m512 w = _mm512_set1_ps(inv_sum[r0 + r]);
      for (int c = 0; c < 4; ++c)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(orow + 16 * c),
                            (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(o[r][c], w)));
    }
  }
}

}  // namespace

void attend_slice_avx512(const SliceArgs& a) {
  const long row_stride = static_cast<long>(a.heads) * D;
  const int np = a.padded_frames;
  for (int p = 0; p < D / 2; ++p)
    for (int j = 0; j < np; ++j) {
      uint16_t* dst = a.kp + (static_cast<long>(p) * np + j) * 2;
      if (j < a.frames) {
        memcpy(dst, a.k + j * row_stride + 2 * p, 2 * sizeof(uint16_t));
      } else {
        dst[0] = dst[1] = 0;
      }
    }
  for (int jp = 0; jp < np / 2; ++jp)
    for (int d = 0; d < D; ++d) {
      const int j = 2 * jp;
      uint16_t* dst = a.vp + (static_cast<long>(jp) * D + d) * 2;
      dst[0] = j < a.frames ? a.v[j * row_stride + d] : 0;
      dst[1] = j + 1 < a.frames ? a.v[(j + 1) * row_stride + d] : 0;
    }
  for (int j = 0; j < np; ++j)
    a.bias[j] = j >= a.frames ? -INFINITY : (a.key_bias != nullptr ? a.key_bias[j] : 0.0f);
  const Slice s{a.q, a.out, row_stride, a.kp, a.vp, a.bias, a.frames, np, a.scale};
  for (int i0 = 0; i0 < a.frames; i0 += kRows) attend_block(s, i0, a.scores, a.probs);
}

}  // namespace attention
}  // namespace ishowtts
