// Python bindings of the buffer pool: _native.BufferPool (user pools), _native.default_pool().
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "bindings.h"
#include "pool/buffer_pool.h"
#include "pool/pooled_array.h"

namespace py = pybind11;

namespace ishowtts {
namespace {

constexpr std::size_t kMaxPooledBytes = std::size_t{1} << 48;
constexpr std::size_t kMaxDims = 32;

std::vector<py::ssize_t> parse_shape(py::handle shape) {
  std::vector<py::ssize_t> dims;
  auto to_dim = [](py::handle d) -> py::ssize_t {
    if (!PyIndex_Check(d.ptr())) throw py::type_error("shape entries must be integers");
    const py::ssize_t v = PyNumber_AsSsize_t(d.ptr(), PyExc_OverflowError);
    if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
    if (v < 0) throw py::value_error("negative dimensions are not allowed");
    return v;
  };
  if (PyIndex_Check(shape.ptr())) {
    dims.push_back(to_dim(shape));
  } else if (py::isinstance<py::sequence>(shape) && !py::isinstance<py::str>(shape)) {
    for (py::handle d : py::reinterpret_borrow<py::sequence>(shape)) dims.push_back(to_dim(d));
  } else {
    throw py::type_error("shape must be an int or a sequence of ints");
  }
  if (dims.size() > kMaxDims) throw py::value_error("too many dimensions");
  return dims;
}

py::array pool_empty(const std::shared_ptr<BufferPool>& pool, py::handle shape, py::handle dtype) {
  const py::dtype dt = py::dtype::from_args(py::reinterpret_borrow<py::object>(dtype));
  if (dt.attr("hasobject").cast<bool>()) {
    throw py::type_error("pooled arrays cannot hold Python objects (dtype " + std::string(py::str(dt)) + ")");
  }
  const auto itemsize = static_cast<std::size_t>(dt.itemsize());
  if (itemsize == 0) throw py::value_error("dtype must have a nonzero item size");
  const std::vector<py::ssize_t> dims = parse_shape(shape);
  std::size_t bytes = itemsize;
  for (py::ssize_t d : dims) {
    if (__builtin_mul_overflow(bytes, static_cast<std::size_t>(d), &bytes) || bytes > kMaxPooledBytes) {
      throw py::value_error("array is too large for the buffer pool");
    }
  }
  void* data = pool->acquire(bytes);  // std::bad_alloc -> MemoryError (pybind11 translates it)
  py::capsule owner = make_pool_capsule(pool, data);
  return py::array(dt, dims, data, owner);
}

py::dict stats_dict(const PoolStats& s) {
  py::dict d;
  d["hits"] = s.hits;
  d["misses"] = s.misses;
  d["releases"] = s.releases;
  d["evictions"] = s.evictions;
  d["bytes_held"] = s.bytes_held;
  d["buffers_held"] = s.buffers_held;
  d["bytes_in_use"] = s.bytes_in_use;
  d["peak_bytes"] = s.peak_bytes;
  d["cap_bytes"] = s.cap_bytes;
  d["enabled"] = s.enabled;
  return d;
}

}  // namespace

void bind_pool(py::module_& m) {
  py::class_<BufferPool, std::shared_ptr<BufferPool>>(
      m, "BufferPool",
      "Pool of 64-byte aligned buffers handed to numpy without copies (size classes, LIFO, idle-bytes cap).")
      .def(py::init([](long long cap_bytes, bool enabled) {
             if (cap_bytes < 0) throw py::value_error("cap_bytes must be >= 0");
             return std::make_shared<BufferPool>(static_cast<std::size_t>(cap_bytes), enabled);
           }),
           py::arg("cap_bytes"), py::arg("enabled") = true)
      .def("empty", &pool_empty, py::arg("shape"), py::arg("dtype"),
           "Uninitialised array backed by a pooled buffer; the buffer returns to the pool when the last view "
           "of it dies.")
      .def("stats", [](const BufferPool& p) { return stats_dict(p.stats()); })
      .def("trim", &BufferPool::trim, py::call_guard<py::gil_scoped_release>(), "Free every idle buffer.")
      .def_property_readonly("enabled", &BufferPool::enabled)
      .def_property_readonly("cap_bytes", [](const BufferPool& p) { return p.stats().cap_bytes; });
  m.def("default_pool", &default_pool,
        "The process-wide pool behind resampler and encoder outputs (ISHOWTTS_POOL=0 disables it, "
        "ISHOWTTS_POOL_CAP_MB sets its cap).");
}

}  // namespace ishowtts
