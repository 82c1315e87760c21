#include "lru.h"

#include <list>
#include <optional>
#include <string>
#include <unordered_map>

namespace cache {

LruCache::LruCache(size_t capacity) : capacity_(capacity) {}

std::optional<std::string> LruCache::Get(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return std::nullopt;
  }
  order_.splice(order_.begin(), order_, it->second);
  ++hits_;
  return it->second->second;
}

void LruCache::Put(const std::string& key, std::string value) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    it->second->second = std::move(value);
    order_.splice(order_.begin(), order_, it->second);
    return;
  }
  order_.emplace_front(key, std::move(value));
  index_[key] = order_.begin();
  if (index_.size() > capacity_) {
    index_.erase(order_.back().first);
    order_.pop_back();
  }
}

double LruCache::HitRate() const {
  const size_t total = hits_ + misses_;
  if (total == 0) {
    return 0.0;
  }
  return static_cast<double>(hits_) / total;
}

}  // namespace cache
