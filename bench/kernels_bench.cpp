// The bf16 CPU kernels (src/sct/kernels/) beside the ATen ops they replace, on the shapes of one ViT-B/16
// block at batch 16 (N = 197 tokens, D = 768, 12 heads, MLP 3072). Every figure is one call.
//
//   ./kernels_bench --benchmark_counters_tabular=true
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include "sct/kernels/bf16_kernels.h"
#include "sct/model/attention_kernel.h"
#include "sct/model/autocast.h"

#include "run_benchmarks.h"

namespace {

constexpr int64_t kBatch = 16, kTokens = 197, kWidth = 768, kHeads = 12, kHidden = 3072;

at::Tensor bf16(std::vector<int64_t> shape) { return at::randn(shape).to(at::kBFloat16); }

template <typename Fn>
void run(benchmark::State& state, int64_t elements, const Fn& fn) {
  for (auto _ : state) benchmark::DoNotOptimize(fn());
  state.counters["Melem/s"] =
      benchmark::Counter(double(elements) * double(state.iterations()) / 1e6, benchmark::Counter::kIsRate);
}

// GELU stays LibTorch's own (vectorised through Sleef, faster than an erfc in plain fp32 lanes); for scale.
void BM_GeluForwardAten(benchmark::State& state) {
  const at::Tensor h = bf16({kBatch, kTokens, kHidden});
  run(state, h.numel(), [&] { return at::gelu(h); });
}
// fc1's bias and GELU: autocast's linear broadcasts the bias into the GEMM output first (a copy).
void BM_BiasGeluAten(benchmark::State& state) {
  const at::Tensor h = bf16({kBatch, kTokens, kHidden}), b = bf16({kHidden});
  run(state, h.numel(), [&] { return at::gelu(h + b); });
}
void BM_BiasGeluSct(benchmark::State& state) {
  const at::Tensor h = bf16({kBatch, kTokens, kHidden}), b = at::randn({kHidden});
  run(state, h.numel(), [&] { return sct::kernels::bias_gelu_bf16(h, b, nullptr); });
}
void BM_GeluBackwardAten(benchmark::State& state) {
  const at::Tensor h = bf16({kBatch, kTokens, kHidden}), g = bf16({kBatch, kTokens, kHidden});
  run(state, h.numel(), [&] { return at::gelu_backward(g, h); });
}
void BM_GeluBackwardSct(benchmark::State& state) {
  const at::Tensor h = bf16({kBatch, kTokens, kHidden}), g = bf16({kBatch, kTokens, kHidden});
  run(state, h.numel(), [&] { return sct::kernels::gelu_backward_bf16(g, h); });
}
void BM_SoftmaxAten(benchmark::State& state) {
  const at::Tensor s = bf16({kBatch, kHeads, kTokens, kTokens});
  run(state, s.numel(), [&] { return (s * 0.125).softmax(-1); });
}
void BM_SoftmaxSct(benchmark::State& state) {
  const at::Tensor s = bf16({kBatch, kHeads, kTokens, kTokens});
  run(state, s.numel(), [&] { return sct::kernels::scaled_softmax_bf16(s, 0.125, kTokens); });
}
void BM_LayerNormAten(benchmark::State& state) {
  const at::Tensor x = at::randn({kBatch, kTokens, kWidth}), w = at::randn({kWidth}), b = at::randn({kWidth});
  run(state, x.numel(), [&] { return at::layer_norm(x, {kWidth}, w, b).to(at::kBFloat16); });
}
void BM_LayerNormSct(benchmark::State& state) {
  const at::Tensor x = at::randn({kBatch, kTokens, kWidth}), w = at::randn({kWidth}), b = at::randn({kWidth});
  run(state, x.numel(), [&] { return std::get<0>(sct::kernels::layer_norm_bf16(x, w, b, 1e-6, false)); });
}
// The residual add of a bf16 branch to the fp32 stream.
void BM_ResidualAddAten(benchmark::State& state) {
  const at::Tensor x = at::randn({kBatch, kTokens, kWidth}), a = bf16({kBatch, kTokens, kWidth});
  run(state, x.numel(), [&] { return x + a; });
}
void BM_ResidualAddSct(benchmark::State& state) {
  const at::Tensor x = at::randn({kBatch, kTokens, kWidth}), a = bf16({kBatch, kTokens, kWidth}), b = at::randn({kWidth});
  run(state, x.numel(), [&] { return sct::kernels::residual_add_bf16(x, a, b); });
}
// q, k and v out of the qkv GEMM's (B, N, 3D) output, split into heads.
void BM_SplitHeadsAten(benchmark::State& state) {
  const at::Tensor qkv = bf16({kBatch, kTokens, 3 * kWidth});
  run(state, qkv.numel(), [&] {
    return qkv.view({kBatch, kTokens, 3, kHeads, kWidth / kHeads}).permute({2, 0, 3, 1, 4}).contiguous();
  });
}
void BM_SplitHeadsSct(benchmark::State& state) {
  const at::Tensor qkv = bf16({kBatch, kTokens, 3 * kWidth}), b = at::randn({3 * kWidth});
  run(state, qkv.numel(), [&] { return sct::kernels::split_heads_bf16(qkv, b, 3, kHeads, kTokens); });
}
// What a bias costs inside the GEMM: qkv's (B * N, D) x (D, 3D) with and without it.
void BM_QkvGemmWithBias(benchmark::State& state) {
  const at::Tensor x = bf16({kBatch * kTokens, kWidth}), w = bf16({3 * kWidth, kWidth}), b = bf16({3 * kWidth});
  run(state, x.size(0) * w.size(0), [&] { return at::linear(x, w, b); });
}
void BM_QkvGemmWithoutBias(benchmark::State& state) {
  const at::Tensor x = bf16({kBatch * kTokens, kWidth}), w = bf16({3 * kWidth, kWidth});
  run(state, x.size(0) * w.size(0), [&] { return at::linear(x, w); });
}
// The input gradient of a frozen linear, g W, with W as stored (out, in) and as a transposed copy.
// arg: 0 = fc1 (out 3072, in 768), 1 = fc2 (out 768, in 3072), 2 = qkv (out 2304, in 768).
std::pair<int64_t, int64_t> out_in(int64_t which) {
  return which == 0 ? std::pair<int64_t, int64_t>{kHidden, kWidth}
                    : which == 1 ? std::pair<int64_t, int64_t>{kWidth, kHidden} : std::pair<int64_t, int64_t>{3 * kWidth, kWidth};
}
void BM_InputGradGemm(benchmark::State& state) {
  const auto [out, in] = out_in(state.range(0));
  const at::Tensor g = bf16({kBatch * kTokens, out}), w = bf16({out, in});
  run(state, g.size(0) * in, [&] { return at::mm(g, w); });
}
void BM_InputGradGemmTransposedCopy(benchmark::State& state) {
  const auto [out, in] = out_in(state.range(0));
  const at::Tensor g = bf16({kBatch * kTokens, out}), w_t = bf16({out, in}).t().contiguous();
  run(state, g.size(0) * in, [&] { return at::mm(g, w_t.t()); });
}

// The attention's batched GEMMs at N = 197 tokens and padded to 208 (attention_kernel.cpp); arg = tokens.
void BM_AttentionScoresGemm(benchmark::State& state) {
  const at::Tensor q = bf16({kBatch, kHeads, state.range(0), kWidth / kHeads}), k = bf16(q.sizes().vec());
  run(state, q.numel(), [&] { return at::matmul(q, k.transpose(-2, -1)); });
}
void BM_AttentionContextGemm(benchmark::State& state) {
  const at::Tensor p = bf16({kBatch, kHeads, state.range(0), state.range(0)}), v = bf16({kBatch, kHeads, state.range(0), kWidth / kHeads});
  run(state, v.numel(), [&] { return at::matmul(p, v); });
}
// The whole multi-head attention forward from qkv's output, bias included, as the bf16 pass runs it.
void BM_MultiHeadAttention(benchmark::State& state) {
  const at::Tensor qkv = bf16({kBatch, kTokens, 3 * kWidth}), b = at::randn({3 * kWidth});
  const sct::AutocastGuard autocast(qkv.device(), true);
  run(state, qkv.numel(), [&] { return sct::multi_head_attention(qkv, b, kHeads); });
}

#define KERNEL_BENCHMARK(fn) BENCHMARK(fn)->Unit(benchmark::kMillisecond)->UseRealTime()
KERNEL_BENCHMARK(BM_GeluForwardAten);
KERNEL_BENCHMARK(BM_BiasGeluAten);
KERNEL_BENCHMARK(BM_BiasGeluSct);
KERNEL_BENCHMARK(BM_GeluBackwardAten);
KERNEL_BENCHMARK(BM_GeluBackwardSct);
KERNEL_BENCHMARK(BM_SoftmaxAten);
KERNEL_BENCHMARK(BM_SoftmaxSct);
KERNEL_BENCHMARK(BM_LayerNormAten);
KERNEL_BENCHMARK(BM_LayerNormSct);
KERNEL_BENCHMARK(BM_ResidualAddAten);
KERNEL_BENCHMARK(BM_ResidualAddSct);
KERNEL_BENCHMARK(BM_SplitHeadsAten);
KERNEL_BENCHMARK(BM_SplitHeadsSct);
KERNEL_BENCHMARK(BM_QkvGemmWithBias);
KERNEL_BENCHMARK(BM_QkvGemmWithoutBias);
KERNEL_BENCHMARK(BM_InputGradGemm)->Arg(0)->Arg(1)->Arg(2);
KERNEL_BENCHMARK(BM_InputGradGemmTransposedCopy)->Arg(0)->Arg(1)->Arg(2);
KERNEL_BENCHMARK(BM_AttentionScoresGemm)->Arg(kTokens)->Arg(208);
KERNEL_BENCHMARK(BM_AttentionContextGemm)->Arg(kTokens)->Arg(208);
KERNEL_BENCHMARK(BM_MultiHeadAttention);

}  // namespace

int main(int argc, char** argv) { return run_benchmarks(argc, argv); }
