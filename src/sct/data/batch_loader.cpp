#include "sct/data/batch_loader.h"

#include <ATen/ops/empty.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <numeric>
#include <opencv2/core.hpp>
#include <thread>
#include <utility>
#include <vector>

#include "sct/core/deterministic_random.h"
#include "sct/core/error.h"
#include "sct/data/tensor_pool.h"
#include "sct/runtime/threads.h"

namespace sct {
namespace {

// Stream tag for the epoch's shuffle; sample streams use their position (< number of images) instead.
constexpr uint64_t kShuffleStream = ~uint64_t{0};

}  // namespace

struct BatchLoader::State {
  State(std::shared_ptr<const ImageCache> c, BatchLoaderOptions o, int64_t max_pooled)
      : cache(std::move(c)),
        opt(std::move(o)),
        table(opt.normalization),
        image_pool({opt.batch_size, 3, cache->image_size(), cache->image_size()}, at::kFloat,
                   static_cast<size_t>(max_pooled)) {}

  // Builds batch b of `epoch` from `order` (cache indices in epoch order). Runs on worker threads;
  // touches only the cache (read-only) and its own outputs.
  Batch build(int64_t b, int64_t epoch, const std::vector<int64_t>& order) {
    const int64_t S = cache->image_size();
    const int64_t global = std::min<int64_t>(opt.batch_size, static_cast<int64_t>(order.size()) - b * opt.batch_size);
    const auto [first, end] = opt.shard.range(global);
    const int64_t begin = b * opt.batch_size + first;
    const int64_t count = end - first;
    Batch batch;
    batch.first_row = first;
    batch.global_rows = global;
    batch.images = image_pool.acquire(count);
    batch.labels = at::empty({count}, at::kLong);
    batch.indices = at::empty({count}, at::kLong);
    float* out = batch.images.data_ptr<float>();
    int64_t* labels = batch.labels.data_ptr<int64_t>();
    int64_t* indices = batch.indices.data_ptr<int64_t>();
    const size_t image_bytes = static_cast<size_t>(S * S * 3);
    thread_local cv::Mat work, flipped;  // per worker thread, reused across samples and batches
    for (int64_t j = 0; j < count; ++j) {
      const int64_t position = begin + j;
      const int64_t idx = order[position];
      std::mt19937_64 rng(derive_seed(opt.seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(position)));
      work.create(static_cast<int>(S), static_cast<int>(S), CV_8UC3);
      std::memcpy(work.data, cache->pixels(idx), image_bytes);
      const bool flip = (rng() >> 63) != 0;  // first draw of the sample's stream, used or not
      if (opt.hflip && flip) {
        cv::flip(work, flipped, 1);
        std::swap(work, flipped);
      }
      if (opt.augment) {
        opt.augment(work, rng);
        if (work.rows != S || work.cols != S || work.type() != CV_8UC3)
          throw Error("augmentation changed the image to " + std::to_string(work.cols) + "x" +
                      std::to_string(work.rows) + " type " + std::to_string(work.type()) + "; expected " +
                      std::to_string(S) + "x" + std::to_string(S) + " CV_8UC3");
        if (!work.isContinuous()) work = work.clone();
      }
      normalize_to_chw(work.ptr<uint8_t>(), S, S, table, out + j * 3 * S * S);
      labels[j] = cache->label(idx);
      indices[j] = idx;
    }
    return batch;
  }

  void worker_loop() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      work_cv.wait(lock,
                   [&] { return stop || (active && next_build < num_batches && next_build - next_deliver < depth); });
      if (stop) return;
      const int64_t b = next_build++;
      const uint64_t gen = generation;
      const int64_t ep = epoch;
      const std::shared_ptr<const std::vector<int64_t>> ord = order;
      lock.unlock();
      Slot slot;
      try {
        slot.batch = build(b, ep, *ord);
      } catch (...) {
        slot.error = std::current_exception();
      }
      lock.lock();
      if (gen != generation) continue;  // the epoch was restarted meanwhile: drop the stale batch
      ready.emplace(b, std::move(slot));
      ready_cv.notify_all();
    }
  }

  struct Slot {
    Batch batch;
    std::exception_ptr error;
  };

  const std::shared_ptr<const ImageCache> cache;
  const BatchLoaderOptions opt;
  const NormalizeTable table;
  TensorPool image_pool;
  int64_t num_batches = 0;
  int64_t depth = 0;  // how far building may run ahead of delivery

  std::mutex mu;
  std::condition_variable work_cv, ready_cv;
  bool stop = false;
  bool active = false;      // an epoch has been started
  uint64_t generation = 0;  // bumped by start_epoch; tags work in flight
  int64_t epoch = 0;
  std::shared_ptr<const std::vector<int64_t>> order;
  int64_t next_build = 0, next_deliver = 0;
  std::map<int64_t, Slot> ready;
  std::vector<std::thread> workers;
};

BatchLoader::BatchLoader(std::shared_ptr<const ImageCache> cache, BatchLoaderOptions options) {
  if (!cache || cache->num_images() == 0) throw Error("BatchLoader: the image cache is empty");
  if (options.batch_size < 1)
    throw Error("BatchLoader: batch size must be at least 1, got " + std::to_string(options.batch_size));
  const int64_t n = cache->num_images();
  if (options.drop_last && n < options.batch_size)
    throw Error("BatchLoader: " + std::to_string(n) + " images make no complete batch of " +
                std::to_string(options.batch_size) + " (drop_last)");
  const Shard& shard = options.shard;
  if (shard.count < 1 || shard.rank < 0 || shard.rank >= shard.count)
    throw Error("BatchLoader: shard " + std::to_string(shard.rank) + " of " + std::to_string(shard.count));
  const int64_t last = options.drop_last ? options.batch_size : (n % options.batch_size ? n % options.batch_size
                                                                                         : options.batch_size);
  if (std::min(last, options.batch_size) < shard.count)
    throw Error("BatchLoader: a batch of " + std::to_string(std::min(last, options.batch_size)) +
                " images cannot be shared by " + std::to_string(shard.count) + " data-parallel ranks");
  const int workers = options.workers > 0 ? options.workers : std::min(4, available_cpus());
  const int64_t depth = std::max<int64_t>(options.prefetch, workers);
  // In flight or ready (depth), held by the consumer (1), and one the consumer may still reference
  // from its previous step: beyond that a batch tensor is allocated and dropped.
  state_ = std::make_unique<State>(std::move(cache), std::move(options), depth + 2);
  State& s = *state_;
  s.num_batches = s.opt.drop_last ? n / s.opt.batch_size : (n + s.opt.batch_size - 1) / s.opt.batch_size;
  s.depth = depth;
  for (int t = 0; t < workers; ++t) s.workers.emplace_back([&s] { s.worker_loop(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stop = true;
  }
  state_->work_cv.notify_all();
  for (auto& t : state_->workers) t.join();
}

int64_t BatchLoader::batches_per_epoch() const { return state_->num_batches; }

void BatchLoader::start_epoch(int64_t epoch) {
  State& s = *state_;
  auto order = std::make_shared<std::vector<int64_t>>(s.cache->num_images());
  std::iota(order->begin(), order->end(), int64_t{0});
  if (s.opt.shuffle) {
    std::mt19937_64 rng(derive_seed(s.opt.seed, static_cast<uint64_t>(epoch), kShuffleStream));
    deterministic_shuffle(*order, rng);
  }
  {
    std::lock_guard<std::mutex> lock(s.mu);
    ++s.generation;
    s.epoch = epoch;
    s.order = std::move(order);
    s.next_build = s.next_deliver = 0;
    s.ready.clear();
    s.active = true;
  }
  s.work_cv.notify_all();
}

bool BatchLoader::next(Batch& batch) {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mu);
  if (!s.active) throw Error("BatchLoader::next called before start_epoch");
  if (s.next_deliver >= s.num_batches) return false;
  s.ready_cv.wait(lock, [&] { return s.ready.count(s.next_deliver) != 0; });
  auto it = s.ready.find(s.next_deliver);
  State::Slot slot = std::move(it->second);
  s.ready.erase(it);
  ++s.next_deliver;
  lock.unlock();
  s.work_cv.notify_all();
  if (slot.error) std::rethrow_exception(slot.error);
  batch = std::move(slot.batch);
  return true;
}

}  // namespace sct
