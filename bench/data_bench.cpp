// Data-pipeline throughput on this machine, in images per second:
//   - decode + PIL-exact bicubic resize to 224 (what building an ImageCache does per image), for a
//     CIFAR-sized 32x32 JPEG and a 500x375 photo-sized JPEG (SUN397 / Caltech / DTD scale);
//   - the whole cache build over 128 JPEG files with 1 thread and with every CPU;
//   - one training epoch of BatchLoader from a 224 cache: gather + flip + RandAugment
//     (rand-m9-mstd0.5-inc1, the reference's) + normalise, and the same without augmentation.
// bench/torchvision_data_bench.py does the same work with PIL + torchvision for comparison.
//
//   ./data_bench --benchmark_counters_tabular=true
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <thread>

#include "sct/data/batch_loader.h"
#include "sct/data/image_cache.h"
#include "sct/data/image_decode.h"
#include "sct/data/pil_resize.h"
#include "sct/data/rand_augment.h"
#include "sct/runtime/threads.h"

namespace fs = std::filesystem;

namespace {

constexpr int kModelSize = 224;

// A photo-like test image: smooth colour gradients plus Gaussian noise (sd 20), seeded. The
// torchvision script draws the same recipe, so both decoders see comparable JPEG entropy.
cv::Mat synthetic_rgb(int w, int h, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 20.0f);
  cv::Mat img(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        const float v = 127.5f + 100.0f * std::sin(0.05f * x + c) * std::cos(0.07f * y - c) + noise(rng);
        img.at<cv::Vec3b>(y, x)[c] = cv::saturate_cast<uint8_t>(v);
      }
  return img;
}

std::vector<uint8_t> jpeg_bytes(int w, int h, uint64_t seed) {
  std::vector<uint8_t> out;
  cv::imencode(".jpg", synthetic_rgb(w, h, seed), out, {cv::IMWRITE_JPEG_QUALITY, 90});
  return out;
}

// Sanity checks before timing: a benchmark of wrong work is worse than none.
void check_pipeline() {
  const auto bytes = jpeg_bytes(500, 375, 1);
  const cv::Mat rgb = sct::decode_image_rgb(bytes.data(), bytes.size(), "bench.jpg");
  if (rgb.cols != 500 || rgb.rows != 375 || rgb.type() != CV_8UC3) throw std::runtime_error("decode check failed");
  const cv::Mat flat(375, 500, CV_8UC3, cv::Scalar(77, 77, 77));
  double lo, hi;
  cv::minMaxLoc(sct::pil_resize_bicubic(flat, kModelSize, kModelSize).reshape(1), &lo, &hi);
  if (lo != 77 || hi != 77) throw std::runtime_error("resize check failed: a flat image must stay flat");
}

void BM_DecodeResize(benchmark::State& state) {
  const int w = static_cast<int>(state.range(0)), h = static_cast<int>(state.range(1));
  const auto bytes = jpeg_bytes(w, h, 2);
  cv::Mat slot(kModelSize, kModelSize, CV_8UC3);  // as ImageCache: resized straight into its slot
  for (auto _ : state) {
    const cv::Mat rgb = sct::decode_image_rgb(bytes.data(), bytes.size(), "bench.jpg");
    sct::pil_resize_bicubic(rgb, slot);
    benchmark::DoNotOptimize(slot.data);
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DecodeResize)->Args({32, 32})->Args({500, 375})->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ResizeOnly(benchmark::State& state) {
  const cv::Mat rgb = synthetic_rgb(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), 3);
  cv::Mat slot(kModelSize, kModelSize, CV_8UC3);
  for (auto _ : state) {
    sct::pil_resize_bicubic(rgb, slot);
    benchmark::DoNotOptimize(slot.data);
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ResizeOnly)->Args({32, 32})->Args({500, 375})->Unit(benchmark::kMillisecond)->UseRealTime();

// 128 JPEG files of 500x375 on disk, written once.
const std::vector<sct::ImageRecord>& bench_files() {
  static const std::vector<sct::ImageRecord> records = [] {
    const fs::path dir = fs::temp_directory_path() / ("sct_data_bench_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::vector<sct::ImageRecord> r;
    for (int i = 0; i < 128; ++i) {
      const auto bytes = jpeg_bytes(500, 375, 100 + i);
      const std::string path = (dir / (std::to_string(i) + ".jpg")).string();
      std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      r.push_back({path, i % 10, "bench"});
    }
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(fs::temp_directory_path() / ("sct_data_bench_" + std::to_string(::getpid())), ec);
    });
    return r;
  }();
  return records;
}

void BM_ImageCacheBuild(benchmark::State& state) {
  const auto& records = bench_files();
  sct::CacheOptions options;
  options.threads = static_cast<int>(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(sct::ImageCache::from_records(records, kModelSize, options).bytes());
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * records.size()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ImageCacheBuild)->Arg(1)->Arg(0)->ArgName("threads(0=all)")->Unit(benchmark::kMillisecond)->UseRealTime();

std::shared_ptr<const sct::ImageCache> training_cache() {
  static const auto cache = [] {
    sct::ImageSet set;
    for (int i = 0; i < 256; ++i) {
      set.images.push_back(synthetic_rgb(kModelSize, kModelSize, 1000 + i));
      set.labels.push_back(i % 10);
    }
    return std::make_shared<const sct::ImageCache>(sct::ImageCache::from_images(set, kModelSize));
  }();
  return cache;
}

// One epoch (256 images, batches of 64) per iteration; range(0): augment?, range(1): workers.
void BM_AugmentNormalize(benchmark::State& state) {
  sct::BatchLoaderOptions opt;
  opt.hflip = true;
  if (state.range(0) != 0) opt.augment = sct::RandAugment(sct::RandAugmentConfig::parse("rand-m9-mstd0.5-inc1"));
  opt.workers = static_cast<int>(state.range(1));
  sct::BatchLoader loader(training_cache(), opt);
  int64_t epoch = 0, images = 0;
  for (auto _ : state) {
    loader.start_epoch(epoch++);
    sct::Batch batch;
    while (loader.next(batch)) images += batch.images.size(0);
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(images), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_AugmentNormalize)
    ->ArgsProduct({{0, 1}, {1, 0}})
    ->ArgNames({"randaugment", "workers(0=auto)"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  check_pipeline();
  std::cout << "sct data_bench: " << sct::available_cpus() << " CPUs available, OpenCV " << CV_VERSION
            << " (cv threads " << cv::getNumThreads() << "), hardware_concurrency "
            << std::thread::hardware_concurrency() << "\n";
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
