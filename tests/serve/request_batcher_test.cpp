// RequestBatcher: batches of at most max_batch across tasks, formed within max_wait; a full queue
// refuses; stop() answers what is queued; one request's failure fails only that request.
#include "sct/serve/request_batcher.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>

#include "sct/core/error.h"
#include "test_util.h"

namespace sct {
namespace {

// Answers each image with (its value, batch size); blocks while `hold` is set.
struct Recorder {
  std::mutex mutex;
  std::condition_variable cv;
  bool hold = false;
  std::vector<int64_t> batches;
  RequestBatcher::BatchFn fn() {
    return [this](const at::Tensor& images, const std::vector<std::string>& tasks) {
      std::unique_lock<std::mutex> lock(mutex);
      cv.wait(lock, [&] { return !hold; });
      for (const auto& t : tasks)
        if (t == "bad") throw Error("task 'bad' fails");
      batches.push_back(images.size(0));
      std::vector<at::Tensor> out;
      for (int64_t i = 0; i < images.size(0); ++i)
        out.push_back(at::stack({images[i].flatten()[0], at::scalar_tensor(double(images.size(0)))}));
      return out;
    };
  }
  void release() {
    {
      const std::lock_guard<std::mutex> lock(mutex);
      hold = false;
    }
    cv.notify_all();
  }
};

at::Tensor image_of(double v) { return at::full({3, 2, 2}, v); }

TEST(RequestBatcher, BatchesUpToMaxBatchAndAnswersEveryRequestItsOwnResult) {
  Recorder rec;
  rec.hold = true;  // the first batch blocks, so the rest queue up behind it
  RequestBatcher::Options opt;
  opt.max_batch = 4;
  opt.max_wait_ms = 50;
  RequestBatcher batcher(opt, rec.fn());
  std::vector<std::future<at::Tensor>> answers;
  for (int i = 0; i < 11; ++i) answers.push_back(*batcher.submit(i % 2 ? "a" : "b", image_of(i)));
  rec.release();
  for (int i = 0; i < 11; ++i) EXPECT_EQ(answers[size_t(i)].get()[0].item<double>(), i);
  int64_t total = 0;
  for (int64_t b : rec.batches) {
    EXPECT_LE(b, 4);
    total += b;
  }
  EXPECT_EQ(total, 11);
  EXPECT_GE(rec.batches.size(), 3u);
}

TEST(RequestBatcher, WaitsAtMostMaxWaitForCompany) {
  Recorder rec;
  RequestBatcher::Options opt;
  opt.max_batch = 64;
  opt.max_wait_ms = 20;
  RequestBatcher batcher(opt, rec.fn());
  const auto start = std::chrono::steady_clock::now();
  const at::Tensor r = batcher.submit("a", image_of(3))->get();
  const double waited = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r[1].item<double>(), 1.0);  // alone in its batch
  EXPECT_GE(waited, 15.0);              // it did wait for company (a batch of 64 never filled)
}

TEST(RequestBatcher, RefusesWhenFullAndAnswersTheQueueOnStop) {
  Recorder rec;
  rec.hold = true;
  RequestBatcher::Options opt;
  opt.max_batch = 1;
  opt.max_wait_ms = 0;
  opt.max_queue = 2;
  RequestBatcher batcher(opt, rec.fn());
  auto first = batcher.submit("a", image_of(0));  // taken into the blocked batch
  ASSERT_TRUE(first);
  while (batcher.queue_depth() > 0) std::this_thread::yield();
  auto second = batcher.submit("a", image_of(1));
  auto third = batcher.submit("a", image_of(2));
  ASSERT_TRUE(second && third);
  EXPECT_FALSE(batcher.submit("a", image_of(3)));  // queue of 2 full
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    rec.release();
  });
  batcher.stop();  // returns once everything queued is answered
  releaser.join();
  EXPECT_EQ(second->get()[0].item<double>(), 1.0);
  EXPECT_EQ(third->get()[0].item<double>(), 2.0);
  EXPECT_FALSE(batcher.submit("a", image_of(4)));  // stopped
}

TEST(RequestBatcher, OneBadRequestFailsOnlyItself) {
  Recorder rec;
  rec.hold = true;
  RequestBatcher::Options opt;
  opt.max_batch = 8;
  opt.max_wait_ms = 100;
  RequestBatcher batcher(opt, rec.fn());
  auto good = batcher.submit("a", image_of(5));
  auto bad = batcher.submit("bad", image_of(6));
  auto also_good = batcher.submit("b", image_of(7));
  rec.release();
  EXPECT_EQ(good->get()[0].item<double>(), 5.0);
  EXPECT_EQ(also_good->get()[0].item<double>(), 7.0);
  test::expect_error([&] { bad->get(); }, {"task 'bad' fails"});
}

TEST(RequestBatcher, OptionsAreChecked) {
  RequestBatcher::Options opt;
  opt.max_batch = 0;
  test::expect_error([&] { opt.validate(); }, {"--max-batch"});
  opt = {};
  opt.max_wait_ms = -1;
  test::expect_error([&] { opt.validate(); }, {"--max-wait-ms"});
  opt = {};
  opt.max_queue = 0;
  test::expect_error([&] { opt.validate(); }, {"--max-queue"});
}

}  // namespace
}  // namespace sct
