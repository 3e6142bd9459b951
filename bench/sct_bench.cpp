// The cost of one SCT module on a ViT-B/16 residual stream (batch 8, 197 tokens, width 768, K = 96),
// per block, in inference:
//   - SctAdapter::apply on a stream nothing else holds: gathers the K channels and writes B*N*K values
//     back in place (what the model does under InferenceMode);
//   - SctAdapter::apply on a stream another holder keeps (an observer attached before it): copies;
//   - the reference's advanced indexing on a copy, x[:, :, I] = x[:, :, I] + linear(x[:, :, I]);
//   - the copy alone, for scale.
// And the whole ViT-B/16 forward (batch 8, inference) without and with SCT (K = 96 in all 12 blocks),
// in one process, so that the difference is not another process's memory layout.
//
//   ./sct_bench --benchmark_counters_tabular=true
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>
#include <c10/core/InferenceMode.h>

#include "sct/model/vision_transformer.h"
#include "sct/peft/sct_adapter.h"

#include "run_benchmarks.h"

namespace {

constexpr int64_t kBatch = 8, kTokens = 197, kWidth = 768, kK = 96;

std::vector<int64_t> every_eighth() {
  std::vector<int64_t> idx;
  for (int64_t c = 0; c < kWidth; c += kWidth / kK) idx.push_back(c);
  return idx;
}

sct::SctAdapter adapter() { return sct::SctAdapter(kWidth, std::vector<std::vector<int64_t>>{every_eighth()}); }

void BM_SctInPlace(benchmark::State& state) {
  c10::InferenceMode guard;
  auto a = adapter();
  const at::Tensor source = at::randn({kBatch, kTokens, kWidth});
  for (auto _ : state) {
    state.PauseTiming();
    at::Tensor x = source.clone();  // a fresh stream, as the block produces it
    state.ResumeTiming();
    benchmark::DoNotOptimize(a->apply(sct::HookSite::AttnResidual, x, std::move(x)));
  }
}

void BM_SctShared(benchmark::State& state) {
  c10::InferenceMode guard;
  auto a = adapter();
  const at::Tensor x = at::randn({kBatch, kTokens, kWidth});
  for (auto _ : state) benchmark::DoNotOptimize(a->apply(sct::HookSite::AttnResidual, x, x));
}

void BM_ReferenceIndexing(benchmark::State& state) {
  c10::InferenceMode guard;
  auto a = adapter();
  const at::Tensor& idx = a->parts()[0].linear->indices;
  const auto& lin = a->parts()[0].linear->linear;
  const at::Tensor x = at::randn({kBatch, kTokens, kWidth});
  for (auto _ : state) {
    at::Tensor y = x.clone();
    const at::Tensor sel = y.index_select(2, idx);
    y.index_put_({at::indexing::Ellipsis, idx}, sel + at::linear(sel, lin->weight, lin->bias));
    benchmark::DoNotOptimize(y);
  }
}

void BM_CopyOnly(benchmark::State& state) {
  const at::Tensor x = at::randn({kBatch, kTokens, kWidth});
  for (auto _ : state) benchmark::DoNotOptimize(x.clone());
}

// A hook that returns its output: what attaching anything at the SCT site costs.
class PassThroughImpl : public sct::BlockHookImpl {
 public:
  uint32_t sites() const override { return sct::site_bit(sct::HookSite::AttnResidual); }
  at::Tensor apply(sct::HookSite, const at::Tensor&, at::Tensor output) override { return output; }
};
TORCH_MODULE(PassThrough);

// arg 0: the frozen backbone; 1: with SCT in all 12 blocks; 2: with a pass-through hook instead.
// Second arg: 0 fp32, 1 bf16 (set_precision: the bf16 pass, where the machine runs it natively).
void BM_VitB16Forward(benchmark::State& state) {
  sct::VitConfig cfg = sct::vit_config("vit_base_patch16_224");
  cfg.num_classes = 100;
  sct::VisionTransformer model(cfg);
  model->eval();
  if (state.range(1)) model->set_precision(sct::Precision::bf16);
  for (int64_t i = 0; i < cfg.depth && state.range(0); ++i)
    model->block(i).attach(
        "sct", state.range(0) == 1 ? adapter().ptr() : std::shared_ptr<sct::BlockHookImpl>(PassThrough().ptr()));
  const at::Tensor images = at::randn({kBatch, 3, 224, 224});
  for (auto _ : state) {
    c10::InferenceMode guard;
    benchmark::DoNotOptimize(model->forward(images));
  }
  state.counters["img/s"] =
      benchmark::Counter(double(kBatch) * double(state.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_SctInPlace)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_SctShared)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_ReferenceIndexing)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_CopyOnly)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_VitB16Forward)
    ->ArgsProduct({{0, 1, 2}, {0, 1}})
    ->ArgNames({"hook", "bf16"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(5.0);

}  // namespace

int main(int argc, char** argv) { return run_benchmarks(argc, argv); }
