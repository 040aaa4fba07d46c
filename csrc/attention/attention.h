// Key-masked multi-head attention for the F5 DiT on the CPU: bf16 in and out, fp32 scores and softmax.
// Plain header: safe to include from *_avx512bf16.cpp (no STL, no inline code).
#pragma once
#include <cstdint>

namespace ishowtts {
namespace attention {

constexpr int kHeadDim = 64;  // the only head size the kernel is written for (every F5 / F5 v1 config)

constexpr int kRowBlock = 8;    // query rows the kernel scores at once
constexpr int kFrameStep = 32;  // keys are padded to a multiple of this (padded_frames)

// One (batch, head) slice of softmax(scale * q k^T + key_bias) v, exactly (a block of query rows sees every
// key: no online rescaling). q, k, v, out point at the slice's first element in (B, N, H, kHeadDim) bf16
// (uint16) tensors, so rows are heads * kHeadDim apart; key_bias: the slice's batch row of (B, N) fp32, 0 for
// an attended key and -inf for a masked one (nullptr: every key). The rest is the caller's workspace for
// padded_frames = frames rounded up to kFrameStep: kp and vp padded_frames * kHeadDim each, bias
// padded_frames, scores kRowBlock * padded_frames floats, probs kRowBlock * padded_frames.
struct SliceArgs {
  const uint16_t* q;
  const uint16_t* k;
  const uint16_t* v;
  const float* key_bias;
  uint16_t* out;
  int frames, heads;
  float scale;
  int padded_frames;
  uint16_t* kp;
  uint16_t* vp;
  float* bias;
  float* scores;
  uint16_t* probs;
};

// AVX512-BF16 (attention_kernels_avx512bf16.cpp); call only when has_avx512_bf16().
void attend_slice_avx512(const SliceArgs& args);

// The CPU and OS support AVX512F/BW/VL + AVX512-BF16 and this build compiled the kernel in (x86-64), and
// ISHOWTTS_FORCE_SCALAR is not set.
bool has_avx512_bf16();

}  // namespace attention
}  // namespace ishowtts
