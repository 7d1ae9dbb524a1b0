#include "data_pipeline/image/tile_buffers.h"

#include <torch/torch.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>

namespace mm::data {
namespace {

constexpr size_t kAlign = 64;

class BufferPool {
 public:
  // A buffer of at least `bytes` (rounded up to kAlign); *capacity = its real size.
  void* take(size_t bytes, size_t* capacity) {
    const size_t want = (bytes + kAlign - 1) / kAlign * kAlign;
    {
      std::lock_guard<std::mutex> lk(mu_);
      auto it = free_.lower_bound(want);  // smallest cached buffer that holds it
      if (it != free_.end() && it->first <= 2 * want) {
        *capacity = it->first;
        void* p = it->second;
        cached_ -= int64_t(it->first);
        free_.erase(it);
        ++reused_;
        return p;
      }
      ++allocated_;
    }
    void* p = std::aligned_alloc(kAlign, want == 0 ? kAlign : want);
    if (!p) throw std::bad_alloc();
    *capacity = want;
    return p;
  }

  void give_back(void* p, size_t capacity) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (cached_ + int64_t(capacity) <= limit_) {
        free_.emplace(capacity, p);
        cached_ += int64_t(capacity);
        return;
      }
    }
    std::free(p);
  }

  TileBufferStats stats() {
    std::lock_guard<std::mutex> lk(mu_);
    return {reused_, allocated_, cached_};
  }

  int64_t set_limit(int64_t bytes) {
    std::lock_guard<std::mutex> lk(mu_);
    const int64_t old = limit_;
    limit_ = bytes < 0 ? 0 : bytes;
    while (cached_ > limit_ && !free_.empty()) {  // evict the largest first
      auto it = std::prev(free_.end());
      cached_ -= int64_t(it->first);
      std::free(it->second);
      free_.erase(it);
    }
    return old;
  }

 private:
  std::mutex mu_;
  std::multimap<size_t, void*> free_;  // capacity -> buffer
  int64_t cached_ = 0;
  int64_t limit_ = int64_t(1) << 30;
  int64_t reused_ = 0, allocated_ = 0;
};

// Never destroyed: tensors may be freed during static destruction.
BufferPool& pool() {
  static auto* p = new BufferPool();
  return *p;
}

}  // namespace

torch::Tensor pooled_float_tensor(at::IntArrayRef sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  size_t capacity = 0;
  void* p = pool().take(size_t(n) * sizeof(float), &capacity);
  return torch::from_blob(
      p, sizes, [capacity](void* data) { pool().give_back(data, capacity); }, torch::kFloat32);
}

TileBufferStats tile_buffer_stats() { return pool().stats(); }

int64_t set_tile_buffer_cache_limit(int64_t bytes) { return pool().set_limit(bytes); }

}  // namespace mm::data
