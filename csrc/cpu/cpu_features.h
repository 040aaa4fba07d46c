// Runtime CPU feature detection and the process-wide kernel choice.
// Plain header: safe to include from *_avx2.cpp / *_neon.cpp files (no STL, no inline code).
#pragma once

namespace ishowtts {
namespace cpu {

enum class Isa { Scalar = 0, Avx2Fma = 1, Neon = 2 };

// Best ISA the hardware and OS support (cpuid + xgetbv on x86-64, baseline NEON on aarch64).
Isa detect_isa();
// The ISA the kernels use: detect_isa() unless ISHOWTTS_FORCE_SCALAR=1 is set. Decided once, at first call.
Isa active_isa();
const char* isa_name(Isa isa);
// AVX512F/BW/VL + AVX512-BF16 supported by the CPU and the OS (ZMM state saved), and ISHOWTTS_FORCE_SCALAR not
// set. Decided once, at first call. Whether a kernel for it is compiled in is the caller's business.
bool has_avx512_bf16();

}  // namespace cpu
}  // namespace ishowtts
