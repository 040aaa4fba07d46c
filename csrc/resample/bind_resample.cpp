// PLACEHOLDER; replaced by the resampler work of issue 2.
#include "bindings.h"
namespace ishowtts {
void bind_resampler(pybind11::module_&) {}
}  // namespace ishowtts
