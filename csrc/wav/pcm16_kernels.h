// float32 -> PCM16 conversion kernels: out[i] = round_half_even(clamp(in[i] * 32768, -32768, 32767)),
// NaN -> 0, in the default floating-point environment (round to nearest). One implementation per ISA, each
// in its own source file; dispatch lives in wav_format.cpp.
// Plain header: safe to include from *_avx2.cpp / *_neon.cpp (no STL, no inline code).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace ishowtts {
namespace wav {

typedef void (*Pcm16Kernel)(const float* in, int16_t* out, size_t n);

void pcm16_scalar(const float* in, int16_t* out, size_t n);
#if defined(ISHOWTTS_HAVE_AVX2)
void pcm16_avx2(const float* in, int16_t* out, size_t n);  // needs AVX2 (pcm16_avx2.cpp)
#endif
#if defined(ISHOWTTS_HAVE_NEON)
void pcm16_neon(const float* in, int16_t* out, size_t n);  // aarch64 (pcm16_neon.cpp)
#endif

}  // namespace wav
}  // namespace ishowtts
