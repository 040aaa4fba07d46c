// Standalone check of the resampler kernels without Python, for ISAs this machine cannot run natively
// (NEON under qemu-user). Not part of the module build (CMake globs *.cpp only). Run:
//   aarch64-linux-gnu-g++ -std=c++17 -O3 -fno-math-errno -DISHOWTTS_HAVE_NEON=1 -Icsrc \
//     csrc/resample/cross_check.cc csrc/resample/resample_{plan,stream,kernels_scalar,kernels_neon}.cpp \
//     csrc/cpu/cpu_features.cpp -static -o /tmp/rs_check && qemu-aarch64 /tmp/rs_check
// (on x86-64: g++ ... -DISHOWTTS_HAVE_AVX2=1 with resample_kernels_avx2.cpp compiled -mavx2 -mfma).
// Checks, for every pair of 8/11.025/16/22.05/24/32/44.1/48 kHz: SIMD vs scalar within 1e-6 of full scale,
// random-chunk streaming == one-shot bit for bit (mono and stereo) with the SIMD kernels, and Plan::run over
// arbitrary output ranges (single-output path) == the grouped path, bit for bit, for both kernel sets.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "cpu/cpu_features.h"
#include "resample/resample_plan.h"
#include "resample/resample_stream.h"

using namespace ishowtts::resample;

int main() {
  const char* simd = ishowtts::cpu::isa_name(ishowtts::cpu::detect_isa());
  const KernelOps& fast = kernel_ops_for(simd);
  const KernelOps& scalar = kernel_ops_for("scalar");
  const long rates[] = {8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000};
  std::mt19937 rng(1234);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  int failures = 0;
  double worst = 0.0;
  for (long src : rates) {
    for (long dst : rates) {
      auto plan = Plan::get(src, dst);
      if (plan->identity) continue;
      for (int channels = 1; channels <= 2; ++channels) {
        const std::int64_t n = 1000 + static_cast<std::int64_t>(rng() % 2000);
        std::vector<float> x(static_cast<std::size_t>(n * channels));
        for (auto& v : x) v = noise(rng);
        const std::int64_t n_out = plan->output_length(n);
        std::vector<float> a(static_cast<std::size_t>(n_out * channels)), b(a.size()), s(a.size());
        for (const KernelOps* ops : {&fast, &scalar}) {
          Stream st(plan, *ops, channels);
          std::vector<float>& out = ops == &fast ? a : b;
          const std::int64_t first = st.outputs_for_process(n);
          st.process(x.data(), n, out.data());
          st.flush(out.data() + first * channels);
        }
        if (channels == 1) {
          // Plan::run over pieces split at arbitrary (unaligned) outputs: the single-output path must give the
          // same bits as the grouped path it replaces.
          const std::int64_t lo = plan->group_input_start(0), hi = plan->group_input_end(n_out - 1);
          std::vector<float> padded(static_cast<std::size_t>(hi - lo), 0.0f);
          for (std::int64_t i = 0; i < n; ++i) padded[static_cast<std::size_t>(i - lo)] = x[static_cast<std::size_t>(i)];
          for (const KernelOps* ops : {&fast, &scalar}) {
            std::vector<float> whole(a.size()), pieces(a.size());
            plan->run(*ops, padded.data(), lo, 0, n_out, whole.data());
            std::int64_t at = 0;
            while (at < n_out) {
              const std::int64_t end = std::min<std::int64_t>(n_out, at + 1 + static_cast<std::int64_t>(rng() % 40));
              plan->run(*ops, padded.data(), lo, at, end, pieces.data() + at);
              at = end;
            }
            if (whole != pieces) {
              std::printf("FAIL %s: single-output path != grouped path %ld->%ld\n", ops->isa, src, dst);
              ++failures;
            }
          }
          std::vector<float> c(a.size());
          resample_mono_in_place(*plan, fast, x.data(), n, c.data());
          if (c != a) {
            std::printf("FAIL in-place one-shot != stream %ld->%ld\n", src, dst);
            ++failures;
          }
        }
        for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(double(a[i]) - b[i]));
        Stream st(plan, fast, channels);
        std::int64_t pos = 0, done = 0;
        while (pos < n) {
          std::int64_t len = static_cast<std::int64_t>(rng() % 300);
          if (rng() % 4 == 0) len = rng() % 2;
          len = std::min(len, n - pos);
          const std::int64_t k = st.outputs_for_process(len);
          st.process(x.data() + pos * channels, len, s.data() + done * channels);
          pos += len;
          done += k;
        }
        st.flush(s.data() + done * channels);
        if (s != a) {
          std::printf("FAIL streaming != one-shot %ld->%ld channels=%d\n", src, dst, channels);
          ++failures;
        }
      }
    }
  }
  std::printf("%s vs scalar worst abs diff %.3g (limit 1e-6 * 1.5); failures %d\n", simd, worst, failures);
  return (failures == 0 && worst <= 1.5e-6) ? 0 : 1;
}
