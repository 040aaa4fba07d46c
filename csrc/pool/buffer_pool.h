// Pooled, 64-byte aligned buffers for the audio outputs (resampler, WAV encoder).
// Contract (implementation in buffer_pool.cpp):
//  - size classes, 4 per doubling; LIFO free list per class; total idle bytes capped;
//  - thread-safe: acquire in one thread, release in another;
//  - acquire() never returns nullptr (throws std::bad_alloc); release(nullptr) is a no-op;
//  - a disabled pool (ISHOWTTS_POOL=0 for the default pool) passes straight through to the allocator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace ishowtts {

struct PoolStats {
  std::uint64_t hits = 0;        // acquire() served from a free list
  std::uint64_t misses = 0;      // acquire() that had to allocate
  std::uint64_t releases = 0;    // buffers given back
  std::uint64_t evictions = 0;   // released buffers freed because the cap was reached
  std::size_t bytes_held = 0;    // idle bytes sitting in free lists
  std::size_t buffers_held = 0;  // idle buffers sitting in free lists
  std::size_t bytes_in_use = 0;  // bytes handed out and not yet released
  std::size_t peak_bytes = 0;    // peak of bytes_held + bytes_in_use
  std::size_t cap_bytes = 0;     // cap on bytes_held
  bool enabled = true;
};

class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  static constexpr std::size_t kAlignment = 64;

  BufferPool(std::size_t cap_bytes, bool enabled);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  void* acquire(std::size_t bytes);
  void release(void* p) noexcept;
  PoolStats stats() const;
  void trim() noexcept;  // free every idle buffer
  bool enabled() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The process-wide pool used by the resampler and WAV encoder outputs. Never destroyed (outlives every array).
// ISHOWTTS_POOL=0 disables it; ISHOWTTS_POOL_CAP_MB sets the cap (default 256 MiB).
std::shared_ptr<BufferPool> default_pool();

}  // namespace ishowtts
