// Pooled, 64-byte aligned buffers (contract in buffer_pool.h).
//
// Layout of one block: a 64-byte BlockHeader followed by the caller's bytes, so the data pointer keeps the
// 64-byte alignment of the allocation and release(p) finds its size class in O(1) without a lookup table.
//
// Size classes: 64, 128, 192, 256 bytes, then 4 per doubling (1.25, 1.5, 1.75, 2 x 2^e), every class a
// multiple of 64. Worst-case rounding waste is 25% (typically ~12%).
//
// Idle blocks sit on two intrusive doubly-linked lists: the LIFO free list of their class (acquire pops the
// most recently released block, whose pages are most likely still cached and mapped) and one pool-wide
// recency list. When releasing a block would push the idle bytes over the cap, the least recently released
// idle blocks are evicted (freed) first, so a workload whose sizes drift does not pin stale classes forever;
// a block larger than the whole cap is freed at once. Memory is freed outside the lock.
//
// Accounting is in class bytes (what the allocator really holds), not requested bytes.
#include <Python.h>  // first, as the CPython docs require

#include "pool/buffer_pool.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#include "pool/pooled_array.h"

namespace ishowtts {

namespace {

constexpr std::uint64_t kMagicLive = 0x6973687774746c76ULL;  // "ishwttlv": handed out
constexpr std::uint64_t kMagicIdle = 0x6973687774746964ULL;  // "ishwttid": on a free list
constexpr std::size_t kHeader = BufferPool::kAlignment;
// Largest request served (256 TiB): keeps the class arithmetic far from overflow.
constexpr std::size_t kMaxRequest = std::size_t{1} << 48;
constexpr unsigned kSmallClasses = 4;  // 64, 128, 192, 256
constexpr unsigned kFirstExp = 8;      // first doubling above 256 bytes
constexpr unsigned kLastExp = 47;      // (2^47, 2^48]
constexpr unsigned kNumClasses = kSmallClasses + (kLastExp - kFirstExp + 1) * 4;

struct BlockHeader {
  std::uint64_t magic;
  const BufferPool* owner;
  std::size_t size;  // class bytes usable after the header
  std::uint32_t cls;
  std::uint32_t pad;
  BlockHeader* prev;  // free list of the class
  BlockHeader* next;
  BlockHeader* older;  // pool-wide recency list (newest at head)
  BlockHeader* newer;
};
static_assert(sizeof(BlockHeader) <= kHeader, "header must fit in one alignment unit");

// Class index and class size for a request of `n` bytes (1 <= n <= kMaxRequest).
unsigned size_class(std::size_t n, std::size_t* class_bytes) {
  if (n <= 256) {
    const std::size_t q = (n + 63) / 64;  // 1..4
    *class_bytes = q * 64;
    return static_cast<unsigned>(q - 1);
  }
  const unsigned e = 63u - static_cast<unsigned>(__builtin_clzll(static_cast<unsigned long long>(n - 1)));
  const std::size_t step = std::size_t{1} << (e - 2);
  const std::size_t q = (n + step - 1) / step;  // 5..8
  *class_bytes = q * step;
  return kSmallClasses + (e - kFirstExp) * 4 + static_cast<unsigned>(q - 5);
}

inline BlockHeader* header_of(void* p) {
  return reinterpret_cast<BlockHeader*>(static_cast<unsigned char*>(p) - kHeader);
}
inline void* data_of(BlockHeader* h) { return reinterpret_cast<unsigned char*>(h) + kHeader; }

[[noreturn]] void die_bad_release(const void* p, const char* why) {
  std::fprintf(stderr, "ishowtts BufferPool::release(%p): %s; aborting to avoid heap corruption\n", p, why);
  std::abort();
}

// Frees a chain linked through `next`.
void free_chain(BlockHeader* h) noexcept {
  while (h != nullptr) {
    BlockHeader* n = h->next;
    h->magic = 0;
    std::free(h);
    h = n;
  }
}

}  // namespace

struct BufferPool::Impl {
  const std::size_t cap;
  const bool enabled;
  mutable std::mutex mu;
  BlockHeader* heads[kNumClasses] = {};
  BlockHeader* newest = nullptr;  // recency list
  BlockHeader* oldest = nullptr;
  PoolStats st;

  Impl(std::size_t cap_bytes, bool on) : cap(cap_bytes), enabled(on) {
    st.cap_bytes = cap_bytes;
    st.enabled = on;
  }

  // --- with mu held ---
  void push_idle(BlockHeader* h) {
    h->magic = kMagicIdle;
    h->prev = nullptr;
    h->next = heads[h->cls];
    if (h->next) h->next->prev = h;
    heads[h->cls] = h;
    h->newer = nullptr;
    h->older = newest;
    if (newest) newest->newer = h;
    newest = h;
    if (!oldest) oldest = h;
    st.bytes_held += h->size;
    st.buffers_held += 1;
  }

  void unlink_idle(BlockHeader* h) {
    if (h->prev) h->prev->next = h->next; else heads[h->cls] = h->next;
    if (h->next) h->next->prev = h->prev;
    if (h->newer) h->newer->older = h->older; else newest = h->older;
    if (h->older) h->older->newer = h->newer; else oldest = h->newer;
    st.bytes_held -= h->size;
    st.buffers_held -= 1;
  }

  // Detaches every idle block; returns them as a chain linked through `next`.
  BlockHeader* take_all_idle() {
    BlockHeader* chain = nullptr;
    for (BlockHeader* h = oldest; h != nullptr;) {
      BlockHeader* newer_h = h->newer;
      h->next = chain;
      chain = h;
      h = newer_h;
    }
    for (auto& head : heads) head = nullptr;
    newest = oldest = nullptr;
    st.bytes_held = 0;
    st.buffers_held = 0;
    return chain;
  }

  void note_alloc(std::size_t bytes) {
    st.misses += 1;
    st.bytes_in_use += bytes;
    const std::size_t total = st.bytes_in_use + st.bytes_held;
    if (total > st.peak_bytes) st.peak_bytes = total;
  }
};

BufferPool::BufferPool(std::size_t cap_bytes, bool enabled) : impl_(new Impl(cap_bytes, enabled)) {}

BufferPool::~BufferPool() { trim(); }

void* BufferPool::acquire(std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes > kMaxRequest) throw std::bad_alloc();
  std::size_t cls_bytes = 0;
  const unsigned cls = size_class(bytes, &cls_bytes);
  Impl& im = *impl_;
  {
    std::lock_guard<std::mutex> lock(im.mu);
    BlockHeader* h = im.enabled ? im.heads[cls] : nullptr;
    if (h != nullptr) {
      im.unlink_idle(h);
      h->magic = kMagicLive;
      im.st.hits += 1;
      im.st.bytes_in_use += h->size;
      return data_of(h);
    }
    im.note_alloc(cls_bytes);
  }
  void* raw = std::aligned_alloc(kAlignment, kHeader + cls_bytes);
  if (raw == nullptr && im.enabled) {  // idle buffers may be what stands in the way
    trim();
    raw = std::aligned_alloc(kAlignment, kHeader + cls_bytes);
  }
  if (raw == nullptr) {
    std::lock_guard<std::mutex> lock(im.mu);
    im.st.misses -= 1;
    im.st.bytes_in_use -= cls_bytes;
    throw std::bad_alloc();
  }
  auto* h = static_cast<BlockHeader*>(raw);
  std::memset(h, 0, sizeof(BlockHeader));
  h->magic = kMagicLive;
  h->owner = this;
  h->size = cls_bytes;
  h->cls = cls;
  return data_of(h);
}

void BufferPool::release(void* p) noexcept {
  if (p == nullptr) return;
  if ((reinterpret_cast<std::uintptr_t>(p) & (kAlignment - 1)) != 0) die_bad_release(p, "not a pool pointer");
  BlockHeader* h = header_of(p);
  if (h->magic == kMagicIdle) die_bad_release(p, "double release");
  if (h->magic != kMagicLive) die_bad_release(p, "not a pool pointer");
  if (h->owner != this) die_bad_release(p, "buffer belongs to another pool");
  Impl& im = *impl_;
  BlockHeader* to_free = nullptr;  // chain linked through `next`
  {
    std::lock_guard<std::mutex> lock(im.mu);
    im.st.bytes_in_use -= h->size;
    im.st.releases += 1;
    if (!im.enabled) {
      h->next = nullptr;
      to_free = h;
    } else if (h->size > im.cap) {
      im.st.evictions += 1;
      h->next = nullptr;
      to_free = h;
    } else {
      while (im.st.bytes_held + h->size > im.cap && im.oldest != nullptr) {
        BlockHeader* victim = im.oldest;
        im.unlink_idle(victim);
        im.st.evictions += 1;
        victim->next = to_free;
        to_free = victim;
      }
      im.push_idle(h);
    }
  }
  free_chain(to_free);
}

PoolStats BufferPool::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->st;
}

void BufferPool::trim() noexcept {
  BlockHeader* chain = nullptr;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    chain = impl_->take_all_idle();
  }
  free_chain(chain);
}

bool BufferPool::enabled() const noexcept { return impl_->enabled; }

namespace {

bool env_pool_enabled() {
  const char* v = std::getenv("ISHOWTTS_POOL");
  if (v == nullptr || v[0] == '\0') return true;
  return !(std::strcmp(v, "0") == 0 || std::strcmp(v, "false") == 0 || std::strcmp(v, "off") == 0 ||
           std::strcmp(v, "no") == 0);
}

std::size_t env_pool_cap() {
  constexpr std::size_t kDefaultMiB = 256;
  const char* v = std::getenv("ISHOWTTS_POOL_CAP_MB");
  if (v == nullptr || v[0] == '\0') return kDefaultMiB << 20;
  char* end = nullptr;
  const unsigned long long mib = std::strtoull(v, &end, 10);
  // Invalid values fall back to the default; ishowtts.audio.pool logs a warning for them.
  if (end == v || *end != '\0' || v[0] == '-' || mib > (std::size_t{1} << 24)) return kDefaultMiB << 20;
  return static_cast<std::size_t>(mib) << 20;
}

}  // namespace

std::shared_ptr<BufferPool> default_pool() {
  // Leaked on purpose: arrays may outlive module teardown and still release into it.
  static auto* pool = new std::shared_ptr<BufferPool>(std::make_shared<BufferPool>(env_pool_cap(), env_pool_enabled()));
  return *pool;
}

namespace {

constexpr const char* kCapsuleName = "ishowtts.pooled_buffer";

void destroy_owner(PyObject* capsule) {
  auto* owner = static_cast<PooledOwner*>(PyCapsule_GetPointer(capsule, kCapsuleName));
  if (owner == nullptr) {  // cannot happen for our capsules; never leave an exception set in a destructor
    PyErr_Clear();
    return;
  }
  owner->pool->release(owner->data);
  delete owner;
}

}  // namespace

pybind11::capsule make_pool_capsule(std::shared_ptr<BufferPool> pool, void* data) {
  PooledOwner* owner = nullptr;
  try {
    owner = new PooledOwner{pool, data};
    return pybind11::capsule(owner, kCapsuleName, &destroy_owner);
  } catch (...) {
    // The capsule never came to own the buffer: give it back rather than leak it.
    delete owner;
    pool->release(data);
    throw;
  }
}

}  // namespace ishowtts
