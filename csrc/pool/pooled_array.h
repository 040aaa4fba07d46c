// numpy arrays backed by pool memory, without copying. The array's base is a capsule that returns the
// buffer to its pool when the last view dies. Call with the GIL held.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <vector>

#include "pool/buffer_pool.h"

namespace ishowtts {

// Owner stored in the capsule: keeps the pool alive as long as any array views the buffer.
struct PooledOwner {
  std::shared_ptr<BufferPool> pool;
  void* data;
};

pybind11::capsule make_pool_capsule(std::shared_ptr<BufferPool> pool, void* data);

template <class T>
pybind11::array_t<T> pooled_array(const std::vector<pybind11::ssize_t>& shape,
                                  std::shared_ptr<BufferPool> pool = default_pool()) {
  pybind11::ssize_t count = 1;
  for (auto d : shape) count *= d;
  const std::size_t bytes = static_cast<std::size_t>(count > 0 ? count : 1) * sizeof(T);
  void* data = pool->acquire(bytes);
  pybind11::capsule owner = make_pool_capsule(pool, data);
  return pybind11::array_t<T>(shape, static_cast<T*>(data), owner);
}

}  // namespace ishowtts
