#include "sct/data/tensor_pool.h"

#include <ATen/ops/empty.h>

#include "sct/core/error.h"

namespace sct {

TensorPool::TensorPool(std::vector<int64_t> shape, at::ScalarType dtype, size_t max_pooled)
    : shape_(std::move(shape)), dtype_(dtype), max_pooled_(max_pooled) {
  if (shape_.empty()) throw Error("TensorPool: shape needs a batch dimension");
}

at::Tensor TensorPool::acquire(int64_t rows) {
  if (rows < 1 || rows > shape_[0])
    throw Error("TensorPool: " + std::to_string(rows) + " rows requested of " + std::to_string(shape_[0]));
  std::lock_guard<std::mutex> lock(mu_);
  for (const at::Tensor& t : pooled_) {
    // Only the pool holds the tensor and its storage: no user, no view of it is alive. Nobody can take a
    // new reference meanwhile (that needs one already, or this lock), so the test cannot go stale.
    if (t.use_count() == 1 && t.storage().use_count() == 1) return rows == shape_[0] ? t : t.narrow(0, 0, rows);
  }
  at::Tensor t = at::empty(shape_, dtype_);
  if (pooled_.size() < max_pooled_) pooled_.push_back(t);
  return rows == shape_[0] ? t : t.narrow(0, 0, rows);
}

}  // namespace sct
