#include "resample/resample_stream.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace ishowtts {
namespace resample {

Stream::Stream(std::shared_ptr<const Plan> plan, const KernelOps& ops, std::int64_t channels)
    : plan_(std::move(plan)), ops_(&ops), channels_(channels), buf_(static_cast<std::size_t>(channels)) {
  reset();
}

void Stream::reset() {
  // Inputs before sample 0 are zeros: the first group reads from -A.
  buf_origin_ = plan_->identity ? 0 : -plan_->A;
  for (auto& b : buf_) b.assign(static_cast<std::size_t>(plan_->identity ? 0 : plan_->A), 0.0f);
  in_total_ = 0;
  n_next_ = 0;
}

void Stream::reserve(std::int64_t frames) {
  if (plan_->identity) return;
  const std::size_t want = buf_[0].size() + static_cast<std::size_t>(frames + plan_->K + plan_->D + 16);
  for (auto& b : buf_) b.reserve(want);
}

std::int64_t Stream::outputs_for_process(std::int64_t frames) const {
  if (plan_->identity) return frames;
  const std::int64_t end = in_total_ + frames;
  const std::int64_t n_end = std::min(plan_->ready_outputs(end), plan_->output_length(end));
  return std::max<std::int64_t>(0, n_end - n_next_);
}

std::int64_t Stream::outputs_for_flush() const {
  if (plan_->identity) return 0;
  return std::max<std::int64_t>(0, plan_->output_length(in_total_) - n_next_);
}

void Stream::append(const float* x, std::int64_t frames) {
  const auto* src = reinterpret_cast<const unsigned char*>(x);  // input may be misaligned: copy bytes
  if (channels_ == 1) {
    auto& b = buf_[0];
    const std::size_t old = b.size();
    b.resize(old + static_cast<std::size_t>(frames));
    if (frames > 0) std::memcpy(b.data() + old, src, static_cast<std::size_t>(frames) * sizeof(float));
  } else {
    for (std::int64_t c = 0; c < channels_; ++c) {
      auto& b = buf_[static_cast<std::size_t>(c)];
      const std::size_t old = b.size();
      b.resize(old + static_cast<std::size_t>(frames));
      float* dst = b.data() + old;
      for (std::int64_t f = 0; f < frames; ++f)
        std::memcpy(dst + f, src + static_cast<std::size_t>(f * channels_ + c) * sizeof(float), sizeof(float));
    }
  }
  in_total_ += frames;
}

void Stream::pad_zeros_to(std::int64_t input_end) {
  for (auto& b : buf_) {
    const std::int64_t have = buf_origin_ + static_cast<std::int64_t>(b.size());
    if (input_end > have) b.resize(b.size() + static_cast<std::size_t>(input_end - have), 0.0f);
  }
}

void Stream::compute(std::int64_t n_end, float* out) {
  const std::int64_t n = n_end - n_next_;
  if (n <= 0) return;
  const std::int64_t buf_end = buf_origin_ + static_cast<std::int64_t>(buf_[0].size());
  if (plan_->group_input_start(n_next_) < buf_origin_ || plan_->group_input_end(n_end - 1) > buf_end) {
    throw std::logic_error("resampler history does not cover the outputs requested (internal error)");
  }
  if (channels_ == 1) {
    plan_->run(*ops_, buf_[0].data(), buf_origin_, n_next_, n_end, out);
  } else {
    scratch_.resize(static_cast<std::size_t>(n));
    for (std::int64_t c = 0; c < channels_; ++c) {
      plan_->run(*ops_, buf_[static_cast<std::size_t>(c)].data(), buf_origin_, n_next_, n_end, scratch_.data());
      for (std::int64_t i = 0; i < n; ++i) out[i * channels_ + c] = scratch_[static_cast<std::size_t>(i)];
    }
  }
  n_next_ = n_end;
}

void Stream::trim() {
  // Keep what the group of the next output reads; everything before it is never read again.
  const std::int64_t keep_from = plan_->group_input_start(n_next_);
  std::int64_t drop = keep_from - buf_origin_;
  drop = std::min<std::int64_t>(drop, static_cast<std::int64_t>(buf_[0].size()));
  if (drop <= 0) return;
  for (auto& b : buf_) b.erase(b.begin(), b.begin() + drop);
  buf_origin_ += drop;
}

void Stream::process(const float* x, std::int64_t frames, float* out) {
  if (plan_->identity) {
    if (frames > 0) std::memcpy(out, x, static_cast<std::size_t>(frames * channels_) * sizeof(float));
    in_total_ += frames;
    n_next_ += frames;
    return;
  }
  const std::int64_t n_out = outputs_for_process(frames);
  append(x, frames);
  compute(n_next_ + n_out, out);
  trim();
}

void Stream::flush(float* out) {
  if (!plan_->identity) {
    const std::int64_t n_total = plan_->output_length(in_total_);
    if (n_total > n_next_) {
      pad_zeros_to(plan_->group_input_end(n_total - 1));
      compute(n_total, out);
    }
  }
  reset();
}

namespace {

// Outputs [n_begin, n_end) from a zero-padded copy of the part of x their windows read.
void run_padded(const Plan& plan, const KernelOps& ops, const float* x, std::int64_t n_in, std::int64_t n_begin,
                std::int64_t n_end, float* out) {
  if (n_end <= n_begin) return;
  const std::int64_t lo = plan.group_input_start(n_begin);
  const std::int64_t hi = plan.group_input_end(n_end - 1);
  std::vector<float> padded(static_cast<std::size_t>(hi - lo), 0.0f);
  const std::int64_t c_lo = std::max<std::int64_t>(lo, 0), c_hi = std::min<std::int64_t>(hi, n_in);
  if (c_hi > c_lo) {
    std::memcpy(padded.data() + (c_lo - lo), x + c_lo, static_cast<std::size_t>(c_hi - c_lo) * sizeof(float));
  }
  plan.run(ops, padded.data(), lo, n_begin, n_end, out + n_begin);
}

}  // namespace

void resample_mono_in_place(const Plan& plan, const KernelOps& ops, const float* x, std::int64_t n_in, float* out) {
  const std::int64_t n_total = plan.output_length(n_in);
  if (n_total == 0) return;
  // First group reading no negative index (group_input_start is non-decreasing): binary search over groups.
  std::int64_t g_lo = 0, g_hi = (n_total + 7) / 8;
  while (g_lo < g_hi) {
    const std::int64_t mid = (g_lo + g_hi) / 2;
    if (plan.group_input_start(8 * mid) < 0) g_lo = mid + 1; else g_hi = mid;
  }
  const std::int64_t mid_begin = std::min(8 * g_lo, n_total);
  const std::int64_t mid_end = std::max(mid_begin, std::min(plan.ready_outputs(n_in), n_total));
  run_padded(plan, ops, x, n_in, 0, mid_begin, out);
  if (mid_end > mid_begin) plan.run(ops, x, 0, mid_begin, mid_end, out + mid_begin);
  run_padded(plan, ops, x, n_in, mid_end, n_total, out);
}

}  // namespace resample
}  // namespace ishowtts
