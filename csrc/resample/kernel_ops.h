// Per-ISA inner loops of the polyphase resampler. Plain header: included by resample_kernels_{scalar,avx2,neon}.cpp,
// so it holds declarations only (no STL, no inline code; see DEVELOPERS.md "Native source rules").
//
// Data layout (built by resample_design.cpp): outputs are processed in groups of 8 consecutive output samples.
// Each group has a coefficient table of K rows x 8 lanes (row k, lane l = weight of input sample
// `group_input_start + k` for output `group_output_start + l`), 32-byte aligned. Every output is the sequential
// sum over k = 0..K-1 of table[k][lane] * x[k], accumulated in that order with one fused multiply-add per term
// (or multiply then add on targets without FMA), so the group path and the single-output path give
// bit-identical results for the same ISA. This is what makes streaming output equal one-shot output exactly.
#pragma once

#include <stdint.h>

namespace ishowtts {
namespace resample {

// rows(): computes `nrows` groups that share one table: group r reads x + r * x_step and writes 8 outputs at
// y + r * y_step.
typedef void (*RowsFn)(const float* table, int64_t K, const float* x, int64_t x_step, float* y, int64_t y_step,
                       int64_t nrows);
// single(): one output; `lane_coeffs` points at table[0][lane] (stride 8 floats between rows).
typedef float (*SingleFn)(const float* lane_coeffs, int64_t K, const float* x);

struct KernelOps {
  RowsFn rows;
  SingleFn single;
  const char* isa;
};

// Defined in the per-ISA files. kernel_ops_avx2 / kernel_ops_neon exist only when compiled in
// (ISHOWTTS_HAVE_AVX2 / ISHOWTTS_HAVE_NEON).
extern const KernelOps kernel_ops_scalar;
extern const KernelOps kernel_ops_avx2;
extern const KernelOps kernel_ops_neon;

}  // namespace resample
}  // namespace ishowtts
