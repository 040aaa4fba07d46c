// Polyphase resampler plan: the Kaiser-windowed sinc design for one rate pair and its grouped coefficient
// tables (see kernel_ops.h for the layout), plus the index arithmetic shared by the streaming and one-shot
// paths. Baseline ISA; the per-ISA inner loops are reached through KernelOps.
//
// Conventions (documented for users in python/ishowtts/audio/resample.py):
//  - dst/src reduces to L/M. Output n sits at input time t_n = n * M / L (input samples); it is
//      y[n] = sum_i x[i] * w(i - t_n),   x[i] = 0 outside [0, N),
//    with w a zero-phase Kaiser-windowed sinc, so the output is time-aligned with the input (filter delay
//    compensated) and a one-shot call of N samples yields ceil(N * L / M) outputs.
//  - Design (lower of the two rates = "Nyquist"): cutoff 0.94 Nyquist, half-width 36 lower-rate samples,
//    Kaiser beta 12.25: passband ripple < 0.005 dB to 0.85 Nyquist, rejection > 119 dB at >= 1.05 Nyquist and
//    > 129 dB at >= 1.25 Nyquist (continuous-kernel figures; the tests measure the real ones).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "resample/kernel_ops.h"

namespace ishowtts {
namespace resample {

struct Design {
  double cutoff = 0.94;      // of the lower Nyquist
  double half_width = 36.0;  // lower-rate samples on each side of the centre
  double beta = 12.25;       // Kaiser window shape
};

constexpr std::int64_t kMaxRate = 1000000;                  // Hz
constexpr std::int64_t kMaxTableBytes = std::int64_t{64} << 20;
constexpr std::int64_t kMaxCallSamples = (std::int64_t{1} << 31) - 1;  // per process()/resample() call

class Plan {
 public:
  // Validated, cached plan for src_rate -> dst_rate. Throws std::invalid_argument for bad rates or a ratio
  // whose tables would exceed kMaxTableBytes.
  static std::shared_ptr<const Plan> get(std::int64_t src_rate, std::int64_t dst_rate);

  std::int64_t src_rate = 0, dst_rate = 0;
  std::int64_t L = 1, M = 1;  // dst/src = L/M, reduced
  bool identity = false;      // L == M: resampling is a copy
  std::int64_t S = 8;         // outputs per superblock: lcm(8, L)
  std::int64_t D = 0;         // input advance per superblock: S * M / L
  std::int64_t G = 1;         // groups (of 8 outputs) per superblock: S / 8
  std::int64_t K = 0;         // table rows (taps) per group
  std::int64_t A = 0;         // input samples the first output reaches back before sample 0
  double half_width_in = 0;   // filter half-width in input samples
  double latency_in = 0;      // input samples an output waits for beyond its own time (streaming look-ahead)
  Design design;

  // Output count for n_in input samples: ceil(n_in * L / M).
  std::int64_t output_length(std::int64_t n_in) const;
  // First input index read by the group of 8 outputs that contains output n.
  std::int64_t group_input_start(std::int64_t n) const;
  // One past the last input index read by the group that contains output n.
  std::int64_t group_input_end(std::int64_t n) const { return group_input_start(n) + K; }
  // Largest output count c (a multiple of 8) such that every output < c only reads inputs < input_end.
  std::int64_t ready_outputs(std::int64_t input_end) const;
  // y[n - n_begin] for n in [n_begin, n_end); x[i - x_origin] must be valid for every input the outputs read.
  void run(const KernelOps& ops, const float* x, std::int64_t x_origin, std::int64_t n_begin,
           std::int64_t n_end, float* y) const;

  const float* group_table(std::int64_t j) const { return table_.get() + j * K * 8; }
  std::int64_t table_bytes() const { return G * K * 8 * static_cast<std::int64_t>(sizeof(float)); }

  Plan(std::int64_t src, std::int64_t dst);  // use get(); public for make_shared

 private:
  struct FreeDeleter {
    void operator()(float* p) const noexcept;
  };
  std::unique_ptr<float, FreeDeleter> table_;  // G * K * 8 floats, 64-byte aligned
  std::vector<std::int64_t> group_off_;        // per group j: input start relative to q * D
};

// Kernel table for an ISA name ("scalar", "avx2+fma", "neon"); throws std::invalid_argument when that ISA is
// unknown, not compiled in, or not supported by this CPU.
const KernelOps& kernel_ops_for(const char* isa_name);
// The kernels chosen at import (cpu::active_isa()).
const KernelOps& active_kernel_ops();

}  // namespace resample
}  // namespace ishowtts
