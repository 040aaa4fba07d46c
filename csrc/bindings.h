// Each component of the native core registers its Python bindings through one of these.
// module.cpp calls them in order; each lives next to the component it binds.
#pragma once
#include <pybind11/pybind11.h>

namespace ishowtts {
void bind_attention(pybind11::module_& m);  // attention/bind_attention.cpp
void bind_cpu(pybind11::module_& m);        // cpu/bind_cpu.cpp
void bind_pool(pybind11::module_& m);       // pool/bind_pool.cpp
void bind_resampler(pybind11::module_& m);  // resample/bind_resample.cpp
void bind_wav(pybind11::module_& m);        // wav/bind_wav.cpp
}  // namespace ishowtts
