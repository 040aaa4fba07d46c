// PLACEHOLDER implementation (plain aligned allocation, no pooling) so the core builds while the real
// pool is written; replaced by the pool work of issue 2.
#include "pool/buffer_pool.h"

#include <atomic>
#include <cstdlib>
#include <new>

#include "pool/pooled_array.h"

namespace ishowtts {

struct BufferPool::Impl {
  std::size_t cap = 0;
  bool enabled = false;
};

BufferPool::BufferPool(std::size_t cap_bytes, bool enabled) : impl_(new Impl{cap_bytes, enabled}) {}
BufferPool::~BufferPool() = default;

void* BufferPool::acquire(std::size_t bytes) {
  std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded ? rounded : kAlignment);
  if (!p) throw std::bad_alloc();
  return p;
}
void BufferPool::release(void* p) noexcept { std::free(p); }
PoolStats BufferPool::stats() const { PoolStats s; s.cap_bytes = impl_->cap; s.enabled = false; return s; }
void BufferPool::trim() noexcept {}
bool BufferPool::enabled() const noexcept { return impl_->enabled; }

std::shared_ptr<BufferPool> default_pool() {
  static auto* pool = new std::shared_ptr<BufferPool>(std::make_shared<BufferPool>(256u << 20, false));
  return *pool;
}

pybind11::capsule make_pool_capsule(std::shared_ptr<BufferPool> pool, void* data) {
  auto* owner = new PooledOwner{std::move(pool), data};
  return pybind11::capsule(owner, [](void* p) {
    auto* o = static_cast<PooledOwner*>(p);
    o->pool->release(o->data);
    delete o;
  });
}

}  // namespace ishowtts
