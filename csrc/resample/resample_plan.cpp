#include "resample/resample_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>

#include "cpu/cpu_features.h"

namespace ishowtts {
namespace resample {
namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) {  // b > 0
  std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// Modified Bessel function of the first kind, order 0 (power series; converges fast for the betas we use).
double bessel_i0(double x) {
  double sum = 1.0, term = 1.0;
  const double q = x * x / 4.0;
  for (int k = 1; k < 200; ++k) {
    term *= q / (static_cast<double>(k) * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

struct Weight {
  double fc, half, beta, inv_i0_beta;
  double operator()(double t) const {  // t in input samples
    const double r = t / half;
    if (r < -1.0 || r > 1.0) return 0.0;
    const double x = M_PI * fc * t;
    const double sinc = (x == 0.0) ? 1.0 : std::sin(x) / x;
    return fc * sinc * bessel_i0(beta * std::sqrt(std::max(0.0, 1.0 - r * r))) * inv_i0_beta;
  }
};

}  // namespace

void Plan::FreeDeleter::operator()(float* p) const noexcept { std::free(p); }

Plan::Plan(std::int64_t src, std::int64_t dst) : src_rate(src), dst_rate(dst) {
  const std::int64_t g = std::gcd(src, dst);
  L = dst / g;
  M = src / g;
  identity = (L == M);
  if (identity) return;
  S = std::lcm<std::int64_t>(8, L);
  D = S / L * M;
  G = S / 8;
  const double down = static_cast<double>(M) / static_cast<double>(L);  // > 1 when downsampling
  half_width_in = design.half_width * std::max(1.0, down);
  const double fc = design.cutoff * std::min(1.0, 1.0 / down);
  A = static_cast<std::int64_t>(std::floor(half_width_in));

  // Exact rows needed: lane l of group j covers inputs ceil(tau - h) .. floor(tau + h), tau = (8j + l) M / L.
  group_off_.resize(static_cast<std::size_t>(G));
  std::int64_t k_needed = 0;
  for (std::int64_t j = 0; j < G; ++j) {
    group_off_[j] = floor_div(8 * j * M, L) - A;
    for (std::int64_t l = 0; l < 8; ++l) {
      const double tau = static_cast<double>((8 * j + l) * M) / static_cast<double>(L);
      const std::int64_t last = static_cast<std::int64_t>(std::floor(tau + half_width_in));
      k_needed = std::max(k_needed, last - group_off_[j] + 1);
    }
  }
  K = k_needed;
  const double bytes = static_cast<double>(G) * static_cast<double>(K) * 8.0 * sizeof(float);
  if (bytes > static_cast<double>(kMaxTableBytes)) {
    throw std::invalid_argument(
        "resampling " + std::to_string(src) + " Hz -> " + std::to_string(dst) + " Hz reduces to the ratio " +
        std::to_string(L) + "/" + std::to_string(M) + ", whose polyphase tables would need " +
        std::to_string(static_cast<long long>(bytes / (1 << 20))) + " MiB (limit " +
        std::to_string(kMaxTableBytes >> 20) + " MiB); use rates with a simpler ratio");
  }
  const std::size_t n_floats = static_cast<std::size_t>(G * K * 8);
  const std::size_t alloc = (n_floats * sizeof(float) + 63) / 64 * 64;
  float* mem = static_cast<float*>(std::aligned_alloc(64, alloc ? alloc : 64));
  if (mem == nullptr) throw std::bad_alloc();
  table_.reset(mem);

  const Weight w{fc, half_width_in, design.beta, 1.0 / bessel_i0(design.beta)};
  double lookahead = 0.0;
  for (std::int64_t j = 0; j < G; ++j) {
    float* tab = mem + j * K * 8;
    for (std::int64_t l = 0; l < 8; ++l) {
      const std::int64_t out_num = (8 * j + l) * M;  // tau * L
      for (std::int64_t k = 0; k < K; ++k) {
        const std::int64_t in_idx = group_off_[j] + k;
        const double t = static_cast<double>(in_idx * L - out_num) / static_cast<double>(L);
        tab[k * 8 + l] = static_cast<float>(w(t));
      }
      lookahead = std::max(lookahead, static_cast<double>(group_off_[j] + K) -
                                          static_cast<double>(out_num) / static_cast<double>(L));
    }
  }
  latency_in = lookahead;
}

std::shared_ptr<const Plan> Plan::get(std::int64_t src_rate, std::int64_t dst_rate) {
  for (std::int64_t r : {src_rate, dst_rate}) {
    if (r < 1 || r > kMaxRate) {
      throw std::invalid_argument("sample rates must be integers in [1, " + std::to_string(kMaxRate) +
                                  "] Hz, got " + std::to_string(r));
    }
  }
  static std::mutex mu;
  static std::map<std::pair<std::int64_t, std::int64_t>, std::shared_ptr<const Plan>> cache;
  const auto key = std::make_pair(src_rate, dst_rate);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  auto plan = std::make_shared<const Plan>(src_rate, dst_rate);  // built outside the lock
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= 64) cache.clear();  // bounded: a server uses a handful of rate pairs
  cache.emplace(key, plan);
  return plan;
}

std::int64_t Plan::output_length(std::int64_t n_in) const {
  if (n_in <= 0) return 0;
  return (n_in * L + M - 1) / M;
}

std::int64_t Plan::group_input_start(std::int64_t n) const {
  const std::int64_t q = floor_div(n, S);
  const std::int64_t j = (n - q * S) / 8;
  return q * D + group_off_[static_cast<std::size_t>(j)];
}

std::int64_t Plan::ready_outputs(std::int64_t input_end) const {
  // group_input_end is non-decreasing in the group index; find the first group that is not ready.
  const std::int64_t last_off = group_off_.back();
  std::int64_t q = std::max<std::int64_t>(0, floor_div(input_end - K - last_off, D));
  for (;; ++q) {
    for (std::int64_t j = 0; j < G; ++j) {
      if (q * D + group_off_[static_cast<std::size_t>(j)] + K > input_end) return q * S + 8 * j;
    }
  }
}

void Plan::run(const KernelOps& ops, const float* x, std::int64_t x_origin, std::int64_t n_begin,
               std::int64_t n_end, float* y) const {
  auto single = [&](std::int64_t n) {
    const std::int64_t q = floor_div(n, S);
    const std::int64_t j = (n - q * S) / 8;
    y[n - n_begin] = ops.single(group_table(j) + n % 8, K, x + (q * D + group_off_[j] - x_origin));
  };
  // Whole groups of 8 live in [a, b); the outputs outside it go one at a time (same bits, see kernel_ops.h).
  const std::int64_t a = std::min(n_end, (n_begin + 7) / 8 * 8);
  const std::int64_t b = std::max(a, n_end / 8 * 8);
  for (std::int64_t n = n_begin; n < a; ++n) single(n);
  if (b > a) {
    // Groups with the same index j share a table and sit S outputs (D inputs) apart: run each table over
    // all of its groups in [a, b) at once, so the kernels can interleave several independent groups.
    const std::int64_t qa = floor_div(a, S);
    for (std::int64_t j = 0; j < G; ++j) {
      std::int64_t g0 = qa * S + 8 * j;
      if (g0 < a) g0 += S;
      if (g0 + 8 > b) continue;
      const std::int64_t count = (b - 8 - g0) / S + 1;
      const std::int64_t q0 = g0 / S;
      ops.rows(group_table(j), K, x + (q0 * D + group_off_[j] - x_origin), D, y + (g0 - n_begin), S, count);
    }
  }
  for (std::int64_t n = b; n < n_end; ++n) single(n);
}

const KernelOps& kernel_ops_for(const char* isa_name) {
  const std::string name = isa_name;
  if (name == "scalar") return kernel_ops_scalar;
  if (name == "avx2+fma") {
#if defined(ISHOWTTS_HAVE_AVX2)
    if (cpu::detect_isa() == cpu::Isa::Avx2Fma) return kernel_ops_avx2;
    throw std::invalid_argument("isa 'avx2+fma' is not supported by this CPU");
#else
    throw std::invalid_argument("isa 'avx2+fma' is not compiled into this build");
#endif
  }
  if (name == "neon") {
#if defined(ISHOWTTS_HAVE_NEON)
    return kernel_ops_neon;
#else
    throw std::invalid_argument("isa 'neon' is not compiled into this build");
#endif
  }
  throw std::invalid_argument("unknown isa '" + name + "'; expected 'scalar', 'avx2+fma' or 'neon'");
}

const KernelOps& active_kernel_ops() {
  static const KernelOps& ops = kernel_ops_for(cpu::isa_name(cpu::active_isa()));
  return ops;
}

}  // namespace resample
}  // namespace ishowtts
