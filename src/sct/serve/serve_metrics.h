// What sct serve exposes at GET /metrics, in Prometheus' text format (version 0.0.4): requests by task
// and status, request latency and batch size histograms, queue depth and images per second. Every
// name starts with sct_.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sct {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
  void observe(double value);
  // `name`_bucket{le="..."} (cumulative), `name`_sum and `name`_count lines, `labels` inside the braces.
  std::string render(const std::string& name, const std::string& labels = "") const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // counts_[i]: values <= bounds_[i] and > bounds_[i-1]; last: above all
  double sum_ = 0.0;
  uint64_t count_ = 0;
};

class ServeMetrics {
 public:
  ServeMetrics();
  // One answered request: its task ("" for requests that name none), HTTP status and seconds taken.
  void record_request(const std::string& task, int status, double seconds);
  void record_batch(int64_t images);
  std::string render(int64_t queue_depth) const;

 private:
  using Clock = std::chrono::steady_clock;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  Histogram latency_, batch_size_;
  uint64_t images_ = 0;
  std::deque<std::pair<Clock::time_point, int64_t>> recent_;  // batches of the last window, for images/s
};

}  // namespace sct
