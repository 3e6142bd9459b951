// What serving many tasks from one backbone costs (serve/multi_task_model.h): ViT-B/16 (random
// weights) with SCT tasks (K = 96 in every block, each task its own channels and weights), batch 32,
// the images spread round-robin over 1 or 8 tasks, in fp32 or bf16. With 8 tasks every block routes 8
// row ranges through 8 modules; the difference to 1 task is the price of mixing.
//
//   ./serve_bench --benchmark_counters_tabular=true
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>

#include "sct/model/vision_transformer.h"
#include "sct/model/backbone_fingerprint.h"
#include "sct/peft/channel_selector.h"
#include "sct/peft/sct_method.h"
#include "sct/serve/multi_task_model.h"

#include "run_benchmarks.h"

namespace {

constexpr int64_t kBatch = 32;

sct::VisionTransformer backbone() {
  at::manual_seed(0);
  return sct::VisionTransformer(sct::vit_config("vit_base_patch16_224"));
}

// Task folder `t`: SCT with random channels (seed t) in every block, 10 classes.
std::string write_task(int t, const std::string& root) {
  sct::VisionTransformer model = backbone();
  const std::string sha = sct::backbone_fingerprint(*model);
  model->reset_head(10);
  sct::SelectionOptions opt;
  opt.strategy = sct::ChannelStrategy::Random;
  opt.seed = static_cast<uint64_t>(t);
  sct::ChannelSelector selector(opt);
  selector.attach(model, 10);
  sct::SctMethod method(selector.finish());
  method.attach(*model);
  sct::TaskInfo info;
  info.method = method.config();
  info.backbone = model->config_json();
  info.backbone_sha256 = sha;
  for (int c = 0; c < 10; ++c) info.class_names.push_back(std::to_string(c));
  const std::string dir = root + "/task" + std::to_string(t);
  sct::save_task_dir(dir, info, *model);
  return dir;
}

void BM_ServeBatch(benchmark::State& state) {
  const int tasks = static_cast<int>(state.range(0));
  const auto precision = state.range(1) ? sct::Precision::bf16 : sct::Precision::fp32;
  const std::string root = std::filesystem::temp_directory_path() / ("sct-serve-bench-" + std::to_string(getpid()));
  sct::MultiTaskModel model([] { return backbone(); }, precision);
  for (int t = 0; t < tasks; ++t) model.add_task("t" + std::to_string(t), write_task(t, root));
  std::filesystem::remove_all(root);
  std::vector<std::string> names;
  for (int64_t i = 0; i < kBatch; ++i) names.push_back("t" + std::to_string(i % tasks));
  const at::Tensor images = at::randn({kBatch, 3, 224, 224});
  model.predict(images, names);  // warm-up: first-touch allocations
  for (auto _ : state) benchmark::DoNotOptimize(model.predict(images, names));
  state.counters["img/s"] = benchmark::Counter(double(kBatch) * double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ServeBatch)->ArgsProduct({{1, 8}, {0, 1}})->ArgNames({"tasks", "bf16"})->Unit(benchmark::kMillisecond)->Iterations(4);

}  // namespace

int main(int argc, char** argv) { return run_benchmarks(argc, argv); }
