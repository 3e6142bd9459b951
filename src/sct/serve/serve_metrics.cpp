#include "sct/serve/serve_metrics.h"

#include <cstdio>
#include <sstream>

namespace sct {
namespace {

constexpr auto kRateWindow = std::chrono::seconds(10);

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

std::string Histogram::render(const std::string& name, const std::string& labels) const {
  std::ostringstream out;
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out << name << "_bucket{" << labels << sep << "le=\"" << number(bounds_[i]) << "\"} " << cumulative << "\n";
  }
  out << name << "_bucket{" << labels << sep << "le=\"+Inf\"} " << count_ << "\n";
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out << name << "_sum" << braces << " " << number(sum_) << "\n";
  out << name << "_count" << braces << " " << count_ << "\n";
  return out.str();
}

ServeMetrics::ServeMetrics()
    : latency_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      batch_size_({1, 2, 4, 8, 16, 32, 64, 128, 256}) {}

void ServeMetrics::record_request(const std::string& task, int status, double seconds) {
  const std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{task, status}];
  latency_.observe(seconds);
}

void ServeMetrics::record_batch(int64_t images) {
  const std::lock_guard<std::mutex> lock(mutex_);
  batch_size_.observe(static_cast<double>(images));
  images_ += static_cast<uint64_t>(images);
  const auto now = Clock::now();
  recent_.emplace_back(now, images);
  while (!recent_.empty() && now - recent_.front().first > kRateWindow) recent_.pop_front();
}

std::string ServeMetrics::render(int64_t queue_depth) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream out;
  out << "# HELP sct_requests_total HTTP requests answered, by task and status code.\n"
      << "# TYPE sct_requests_total counter\n";
  for (const auto& [key, n] : requests_)
    out << "sct_requests_total{task=\"" << key.first << "\",code=\"" << key.second << "\"} " << n << "\n";
  out << "# HELP sct_request_errors_total Requests answered with a status of 400 or more, by task and status code.\n"
      << "# TYPE sct_request_errors_total counter\n";
  for (const auto& [key, n] : requests_)
    if (key.second >= 400)
      out << "sct_request_errors_total{task=\"" << key.first << "\",code=\"" << key.second << "\"} " << n << "\n";
  out << "# HELP sct_request_duration_seconds Time from a request's arrival to its answer.\n"
      << "# TYPE sct_request_duration_seconds histogram\n"
      << latency_.render("sct_request_duration_seconds");
  out << "# HELP sct_batch_size Images per forward pass.\n# TYPE sct_batch_size histogram\n"
      << batch_size_.render("sct_batch_size");
  out << "# HELP sct_queue_depth Requests waiting for a batch.\n# TYPE sct_queue_depth gauge\n"
      << "sct_queue_depth " << queue_depth << "\n";
  out << "# HELP sct_images_total Images classified.\n# TYPE sct_images_total counter\n"
      << "sct_images_total " << images_ << "\n";
  int64_t recent_images = 0;
  const auto now = Clock::now();
  for (const auto& [t, n] : recent_)
    if (now - t <= kRateWindow) recent_images += n;
  const double window = std::chrono::duration<double>(kRateWindow).count();
  out << "# HELP sct_images_per_second Images classified per second over the last " << number(window) << " s.\n"
      << "# TYPE sct_images_per_second gauge\n"
      << "sct_images_per_second " << number(static_cast<double>(recent_images) / window) << "\n";
  return out.str();
}

}  // namespace sct
