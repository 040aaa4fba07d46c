// PLACEHOLDER; replaced by the WAV encoder work of issue 2.
#include "bindings.h"
namespace ishowtts {
void bind_wav(pybind11::module_&) {}
}  // namespace ishowtts
