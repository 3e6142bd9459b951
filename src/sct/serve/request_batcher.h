// Batching across requests (sct serve): requests queue, and one thread forms batches of up to
// `max_batch` images, waiting at most `max_wait_ms` after the oldest queued request for more to
// arrive. Requests of any tasks mix; the batch function (MultiTaskModel::predict) sorts them out.
#pragma once
#include <ATen/core/Tensor.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sct {

class RequestBatcher {
 public:
  struct Options {
    int64_t max_batch = 32;
    double max_wait_ms = 5.0;
    int64_t max_queue = 256;  // requests waiting beyond this are refused (submit returns nullopt)
    void validate() const;    // throws sct::Error naming the flag
  };
  // images (B, 3, S, S), one task name per image -> one probability tensor per image.
  using BatchFn = std::function<std::vector<at::Tensor>(const at::Tensor&, const std::vector<std::string>&)>;
  // Called after each batch with its size (metrics).
  using BatchObserver = std::function<void(int64_t)>;

  RequestBatcher(Options options, BatchFn run, BatchObserver observe = {});
  ~RequestBatcher();  // stop()
  RequestBatcher(const RequestBatcher&) = delete;
  RequestBatcher& operator=(const RequestBatcher&) = delete;

  // Queues one (3, S, S) image for `task`; the future yields its probabilities or the batch function's
  // error. nullopt when the queue is full or the batcher is stopping.
  std::optional<std::future<at::Tensor>> submit(std::string task, at::Tensor image);
  // Answers every queued request, then ends the thread. Idempotent.
  void stop();
  int64_t queue_depth() const;

 private:
  struct Item {
    std::string task;
    at::Tensor image;
    std::promise<at::Tensor> result;
    std::chrono::steady_clock::time_point queued;
  };
  void loop();
  void run_batch(std::vector<Item>& batch);

  Options options_;
  BatchFn run_;
  BatchObserver observe_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sct
