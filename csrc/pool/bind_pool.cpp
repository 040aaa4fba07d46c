// PLACEHOLDER bindings; replaced by the pool work of issue 2.
#include "bindings.h"
#include "pool/buffer_pool.h"

namespace ishowtts {
void bind_pool(pybind11::module_&) {}
}  // namespace ishowtts
