#include "sct/serve/request_batcher.h"

#include <ATen/ATen.h>

#include "sct/core/error.h"

namespace sct {

void RequestBatcher::Options::validate() const {
  if (max_batch < 1 || max_batch > 4096) throw Error("--max-batch must be in [1, 4096], got " + std::to_string(max_batch));
  if (!(max_wait_ms >= 0.0 && max_wait_ms <= 60000.0))
    throw Error("--max-wait-ms must be in [0, 60000], got " + std::to_string(max_wait_ms));
  if (max_queue < 1) throw Error("--max-queue must be at least 1, got " + std::to_string(max_queue));
}

RequestBatcher::RequestBatcher(Options options, BatchFn run, BatchObserver observe)
    : options_(options), run_(std::move(run)), observe_(std::move(observe)) {
  options_.validate();
  thread_ = std::thread([this] { loop(); });
}

RequestBatcher::~RequestBatcher() { stop(); }

std::optional<std::future<at::Tensor>> RequestBatcher::submit(std::string task, at::Tensor image) {
  std::future<at::Tensor> future;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || static_cast<int64_t>(queue_.size()) >= options_.max_queue) return std::nullopt;
    Item item{std::move(task), std::move(image), {}, std::chrono::steady_clock::now()};
    future = item.result.get_future();
    queue_.push_back(std::move(item));
  }
  wake_.notify_one();
  return future;
}

void RequestBatcher::stop() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

int64_t RequestBatcher::queue_depth() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(queue_.size());
}

void RequestBatcher::loop() {
  const auto max_wait = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double, std::milli>(options_.max_wait_ms));
  for (;;) {
    std::vector<Item> batch;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left to answer
      // The oldest request waits at most max_wait for company; a stop answers what is queued at once.
      const auto deadline = queue_.front().queued + max_wait;
      wake_.wait_until(lock, deadline, [&] {
        return stopping_ || static_cast<int64_t>(queue_.size()) >= options_.max_batch;
      });
      const size_t n = std::min(queue_.size(), static_cast<size_t>(options_.max_batch));
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    run_batch(batch);
  }
}

void RequestBatcher::run_batch(std::vector<Item>& batch) {
  std::vector<at::Tensor> images;
  std::vector<std::string> tasks;
  for (const Item& item : batch) {
    images.push_back(item.image);
    tasks.push_back(item.task);
  }
  try {
    const std::vector<at::Tensor> probs = run_(at::stack(images), tasks);
    for (size_t i = 0; i < batch.size(); ++i) batch[i].result.set_value(probs[i]);
    if (observe_) observe_(static_cast<int64_t>(batch.size()));
    return;
  } catch (...) {
    if (batch.size() == 1) {
      batch[0].result.set_exception(std::current_exception());
      return;
    }
  }
  // One request's problem (a task unloaded while it waited) must not fail the others: each alone.
  for (Item& item : batch) {
    try {
      item.result.set_value(run_(item.image.unsqueeze(0), {item.task}).at(0));
      if (observe_) observe_(1);
    } catch (...) {
      item.result.set_exception(std::current_exception());
    }
  }
}

}  // namespace sct
