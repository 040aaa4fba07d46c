#include "cpu/cpu_features.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

namespace ishowtts {
namespace cpu {
namespace {

#if defined(__x86_64__) || defined(_M_X64)
unsigned long long read_xcr0() {
  unsigned int eax = 0, edx = 0;
  // xgetbv(0); encoded as bytes so no -mxsave flag is needed for this file.
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

bool x86_has_avx2_fma() {
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  const bool osxsave = (ecx & (1u << 27)) != 0;
  const bool avx = (ecx & (1u << 28)) != 0;
  const bool fma = (ecx & (1u << 12)) != 0;
  if (!osxsave || !avx || !fma) return false;
  if ((read_xcr0() & 0x6) != 0x6) return false;  // OS saves XMM and YMM state
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  return (ebx & (1u << 5)) != 0;  // AVX2
}

bool x86_has_avx512_bf16() {
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || (ecx & (1u << 27)) == 0) return false;  // OSXSAVE
  if ((read_xcr0() & 0xe6) != 0xe6) return false;  // the OS saves XMM, YMM, opmask and ZMM state
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool f = ebx & (1u << 16), bw = ebx & (1u << 30), vl = ebx & (1u << 31);
  __cpuid_count(7, 1, eax, ebx, ecx, edx);
  return f && bw && vl && (eax & (1u << 5)) != 0;  // AVX512F, BW, VL, BF16
}
#endif

bool env_forces_scalar() {
  const char* v = std::getenv("ISHOWTTS_FORCE_SCALAR");
  return v != nullptr && v[0] != '\0' && std::strcmp(v, "0") != 0;
}

}  // namespace

Isa detect_isa() {
#if defined(__x86_64__) || defined(_M_X64)
  return x86_has_avx2_fma() ? Isa::Avx2Fma : Isa::Scalar;
#elif defined(__aarch64__) && defined(ISHOWTTS_HAVE_NEON)
  return Isa::Neon;
#else
  return Isa::Scalar;
#endif
}

Isa active_isa() {
  static const Isa chosen = [] {
    if (env_forces_scalar()) return Isa::Scalar;
    Isa hw = detect_isa();
#if !defined(ISHOWTTS_HAVE_AVX2)
    if (hw == Isa::Avx2Fma) hw = Isa::Scalar;  // kernels not compiled in
#endif
    return hw;
  }();
  return chosen;
}

bool has_avx512_bf16() {
#if defined(__x86_64__) || defined(_M_X64)
  static const bool ok = !env_forces_scalar() && x86_has_avx512_bf16();
  return ok;
#else
  return false;
#endif
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx2Fma: return "avx2+fma";
    case Isa::Neon: return "neon";
    case Isa::Scalar: default: return "scalar";
  }
}

}  // namespace cpu
}  // namespace ishowtts
