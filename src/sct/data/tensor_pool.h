// Reusable batch tensors. A fresh (64, 3, 224, 224) float tensor is 38 MB whose every page faults on
// first write -- measured at ~250 ms on a virtual machine, against ~3 ms to refill a warm one -- so the
// loaders recycle their batch buffers instead of allocating one per batch.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace sct {

class TensorPool {
 public:
  // Tensors of `shape` (dim 0 = batch) and `dtype`; at most `max_pooled` are kept for reuse.
  TensorPool(std::vector<int64_t> shape, at::ScalarType dtype, size_t max_pooled);

  // A tensor of the pool's shape, narrowed to its first `rows` rows, whose storage nothing outside the
  // pool references: the caller may overwrite it. It returns to the pool by itself once every
  // reference to it (the caller's, views of it, autograd's) is gone. Thread-safe.
  at::Tensor acquire(int64_t rows);

 private:
  std::vector<int64_t> shape_;
  at::ScalarType dtype_;
  size_t max_pooled_;
  std::mutex mu_;
  std::vector<at::Tensor> pooled_;
};

}  // namespace sct
