#include "bindings.h"
#include "cpu/cpu_features.h"

namespace ishowtts {
void bind_cpu(pybind11::module_& m) {
  m.def("active_isa", [] { return cpu::isa_name(cpu::active_isa()); },
        "Kernel ISA in use: 'avx2+fma', 'neon' or 'scalar' (ISHOWTTS_FORCE_SCALAR=1 forces scalar).");
  m.def("detected_isa", [] { return cpu::isa_name(cpu::detect_isa()); },
        "Best ISA the CPU and OS support, ignoring ISHOWTTS_FORCE_SCALAR.");
}
}  // namespace ishowtts
