// Streaming resampler state: the input history one plan needs, kept planar per channel, and the index of the
// next output. process() + flush() give exactly the samples of a one-shot call (same kernels, same group
// layout, same zero padding), for any chunking.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "resample/resample_plan.h"

namespace ishowtts {
namespace resample {

class Stream {
 public:
  Stream(std::shared_ptr<const Plan> plan, const KernelOps& ops, std::int64_t channels);

  const Plan& plan() const { return *plan_; }
  const KernelOps& ops() const { return *ops_; }
  std::int64_t channels() const { return channels_; }
  std::int64_t input_frames() const { return in_total_; }
  std::int64_t output_frames() const { return n_next_; }

  // Frames process() returns for `frames` more input frames.
  std::int64_t outputs_for_process(std::int64_t frames) const;
  // x: `frames` interleaved frames (any alignment); out: outputs_for_process(frames) interleaved frames.
  void process(const float* x, std::int64_t frames, float* out);
  // Frames flush() returns: the rest of ceil(total_input * L / M).
  std::int64_t outputs_for_flush() const;
  // Emits the remaining outputs (input padded with zeros), then resets.
  void flush(float* out);
  void reset();
  // Pre-size the history for `frames` more input frames (one-shot use).
  void reserve(std::int64_t frames);

 private:
  void append(const float* x, std::int64_t frames);
  void pad_zeros_to(std::int64_t input_end);
  void compute(std::int64_t n_end, float* out);
  void trim();

  std::shared_ptr<const Plan> plan_;
  const KernelOps* ops_;
  std::int64_t channels_;
  std::vector<std::vector<float>> buf_;  // per channel, absolute input indices [buf_origin_, ...)
  std::vector<float> scratch_;           // planar output of one channel before interleaving
  std::int64_t buf_origin_ = 0;
  std::int64_t in_total_ = 0;  // real input frames received since reset
  std::int64_t n_next_ = 0;    // next output index
};

// One-shot mono resampling of n_in samples into out[plan.output_length(n_in)] without copying the input: the
// outputs whose filter windows lie inside the input read it in place, the few at each edge read small
// zero-padded copies. x must be 4-byte aligned (callers fall back to Stream otherwise). Same kernels and group
// layout as Stream, hence the same samples bit for bit.
void resample_mono_in_place(const Plan& plan, const KernelOps& ops, const float* x, std::int64_t n_in, float* out);

}  // namespace resample
}  // namespace ishowtts
