// The backbone's memory-lean autograd functions (frozen_linear, layer_norm, multi_head_attention) against
// autograd through LibTorch's own ops, in float64 so that any formula error shows far above rounding.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <torch/csrc/autograd/autograd.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "sct/model/attention_kernel.h"
#include "sct/model/bias_gelu.h"
#include "sct/model/autocast.h"
#include "sct/model/frozen_linear.h"
#include "sct/model/column_linear.h"
#include "sct/model/layer_norm.h"
#include "sct/model/residual_add.h"

namespace sct {
namespace {

at::Tensor rand64(at::IntArrayRef shape, bool grad = true) {
  return at::randn(shape, at::kDouble).set_requires_grad(grad);
}

// d(sum(out * probe))/d(inputs): a random probe so that every output element matters.
std::vector<at::Tensor> grads_of(const at::Tensor& out, const std::vector<at::Tensor>& inputs, const at::Tensor& probe) {
  return torch::autograd::grad({(out * probe).sum()}, inputs, {}, /*retain_graph=*/false, false, /*allow_unused=*/true);
}

void expect_close(const at::Tensor& a, const at::Tensor& b, const char* what) {
  ASSERT_TRUE(a.defined() && b.defined()) << what;
  EXPECT_TRUE(at::allclose(a, b, 1e-10, 1e-10)) << what << ": max diff " << (a - b).abs().max().item<double>();
}

TEST(LeanOps, FrozenLinearGivesAutogradsInputAndBiasGradients) {
  at::manual_seed(1);
  const at::Tensor w = rand64({5, 7}, false);
  for (bool bias_trains : {false, true}) {
    const at::Tensor b = rand64({5}, bias_trains);
    const at::Tensor x = rand64({2, 3, 7});
    const at::Tensor probe = at::randn({2, 3, 5}, at::kDouble);
    const at::Tensor ours = frozen_linear(x, w, b);
    const at::Tensor ref = at::linear(x, w, b);
    expect_close(ours, ref, "output");
    std::vector<at::Tensor> inputs{x};
    if (bias_trains) inputs.push_back(b);
    const auto g_ours = grads_of(ours, inputs, probe), g_ref = grads_of(ref, inputs, probe);
    for (size_t i = 0; i < inputs.size(); ++i) expect_close(g_ours[i], g_ref[i], i == 0 ? "dx" : "db");
  }
  // Without a bias (one its consumer adds, bias_deferrable): x W^T alone.
  const at::Tensor x = rand64({2, 3, 7}), probe = at::randn({2, 3, 5}, at::kDouble);
  const at::Tensor ours = frozen_linear(x, w, {}), ref = at::matmul(x, w.t());
  expect_close(ours, ref, "output without a bias");
  expect_close(grads_of(ours, {x}, probe)[0], grads_of(ref, {x}, probe)[0], "dx without a bias");
}

// The transposed copy a bf16 W's backward multiplies with follows W: written in place (a LoRA merge, a
// checkpoint load) or swapped (set_precision), the next backward uses the new W.
TEST(LeanOps, FrozenLinearBackwardFollowsItsWeightThroughTheTransposedCopy) {
  at::manual_seed(6);
  at::Tensor w = at::randn({5, 32}).to(at::kBFloat16);
  TransposedWeight cache;
  const auto input_grad = [&](const at::Tensor& weight) {
    const at::Tensor x = at::randn({3, 32}).to(at::kBFloat16).requires_grad_(true);
    const at::Tensor probe = at::ones({3, 5}, at::kBFloat16);
    return torch::autograd::grad({(frozen_linear(x, weight, {}, &cache) * probe).sum()}, {x})[0];
  };
  const at::Tensor expected = at::ones({3, 5}).matmul(w.to(at::kFloat));  // d/dx sum(x W^T) = 1 W
  EXPECT_TRUE(at::allclose(input_grad(w).to(at::kFloat), expected, 1e-2, 1e-2));
  {
    at::NoGradGuard no_grad;
    w.mul_(-2.0);
  }
  EXPECT_TRUE(at::allclose(input_grad(w).to(at::kFloat), expected * -2.0, 1e-2, 1e-2)) << "written in place";
  w.set_data(at::randn({5, 32}).to(at::kBFloat16));
  EXPECT_TRUE(at::allclose(input_grad(w).to(at::kFloat), at::ones({3, 5}).matmul(w.to(at::kFloat)), 1e-2, 1e-2))
      << "swapped";
}

TEST(LeanOps, FrozenLinearKeepsNoInputAlive) {
  // Autograd's linear holds its input until backward; ours must not (the point of it). A weak reference
  // to the input's storage expires once the caller drops the input while the graph is still alive.
  const at::Tensor w = rand64({4, 4}, false), b = rand64({4}, false), x = rand64({3, 4});
  at::Tensor h = x * 2.0;  // a non-leaf, as activations are
  const auto weak = h.storage().getWeakStorageImpl();
  const at::Tensor y = frozen_linear(h, w, b);
  h.reset();
  EXPECT_TRUE(weak.expired()) << "frozen_linear kept its input for backward";
  y.sum().backward();
  EXPECT_TRUE(x.grad().defined());
  // Autograd's linear with a weight that needs a gradient keeps it: the check can tell the two apart.
  at::Tensor h2 = x * 2.0;
  const auto weak2 = h2.storage().getWeakStorageImpl();
  const at::Tensor y2 = frozen_linear(h2, w.detach().requires_grad_(true), b);
  h2.reset();
  EXPECT_FALSE(weak2.expired());
}

TEST(LeanOps, LayerNormGivesAutogradsGradientsIncludingTrainableAffine) {
  at::manual_seed(2);
  for (bool affine_trains : {false, true}) {
    torch::nn::LayerNorm ln(torch::nn::LayerNormOptions({6}).eps(1e-6));
    ln->to(at::kDouble);
    {
      at::NoGradGuard no_grad;
      ln->weight.copy_(at::randn({6}, at::kDouble));
      ln->bias.copy_(at::randn({6}, at::kDouble));
    }
    ln->weight.set_requires_grad(affine_trains);
    ln->bias.set_requires_grad(affine_trains);
    const at::Tensor x = (rand64({2, 3, 6}, false) * 3.0 + 5.0).requires_grad_(true);  // a mean far from 0
    const at::Tensor probe = at::randn({2, 3, 6}, at::kDouble);
    const at::Tensor ours = layer_norm(x, ln);
    const at::Tensor ref = at::layer_norm(x, {6}, ln->weight, ln->bias, 1e-6);
    expect_close(ours, ref, "output");
    std::vector<at::Tensor> inputs{x};
    if (affine_trains) inputs.insert(inputs.end(), {ln->weight, ln->bias});
    const auto g_ours = grads_of(ours, inputs, probe), g_ref = grads_of(ref, inputs, probe);
    const char* names[] = {"dx", "dgamma", "dbeta"};
    for (size_t i = 0; i < inputs.size(); ++i) expect_close(g_ours[i], g_ref[i], names[i]);
  }
}

// The eager formula from (B, N, 3D): timm's reshape / permute, softmax(q k^T / sqrt(hd)) v, heads merged.
at::Tensor reference_attention(const at::Tensor& qkv, int64_t heads) {
  const int64_t B = qkv.size(0), N = qkv.size(1), D = qkv.size(2) / 3, hd = D / heads;
  const at::Tensor parts = qkv.reshape({B, N, 3, heads, hd}).permute({2, 0, 3, 1, 4});
  const at::Tensor q = parts[0], k = parts[1], v = parts[2];
  const at::Tensor p = at::softmax(at::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(hd)), -1);
  return at::matmul(p, v).transpose(1, 2).reshape({B, N, D});
}

TEST(LeanOps, MultiHeadAttentionGivesAutogradsGradients) {
  at::manual_seed(3);
  const at::Tensor qkv = rand64({2, 5, 3 * 12});  // 3 heads of 4
  const at::Tensor bias = rand64({3 * 12});        // the qkv projection's, when it left it to attention
  const at::Tensor probe = at::randn({2, 5, 12}, at::kDouble);
  const at::Tensor ours = multi_head_attention(qkv, {}, 3);
  const at::Tensor ref = reference_attention(qkv, 3);
  expect_close(ours, ref, "output");
  expect_close(grads_of(ours, {qkv}, probe)[0], grads_of(ref, {qkv}, probe)[0], "dqkv");
  const at::Tensor ours_b = multi_head_attention(qkv, bias, 3), ref_b = reference_attention(qkv + bias, 3);
  expect_close(ours_b, ref_b, "output with the bias");
  const auto g = grads_of(ours_b, {qkv, bias}, probe), g_ref = grads_of(ref_b, {qkv, bias}, probe);
  expect_close(g[0], g_ref[0], "dqkv with the bias");
  expect_close(g[1], g_ref[1], "dbias");
  at::NoGradGuard no_grad;
  expect_close(multi_head_attention(qkv, {}, 3), ref, "output without autograd");
  expect_close(multi_head_attention(qkv, bias, 3), ref_b, "output with the bias without autograd");
}

// GELU(h + bias) with its kept input: autograd's gradients of gelu(h + bias), within bf16's error.
TEST(LeanOps, BiasGeluGivesTheGradientsOfGeluOfTheSum) {
  at::manual_seed(7);
  const at::Tensor h = at::randn({2, 5, 40}).to(at::kBFloat16).requires_grad_(true);
  const at::Tensor bias = at::randn({40}).requires_grad_(true);
  const at::Tensor probe = at::randn({2, 5, 40}, at::kDouble);
  const at::Tensor ours = bias_gelu(h, bias);
  EXPECT_EQ(ours.scalar_type(), at::kBFloat16);
  const at::Tensor h64 = h.detach().to(at::kDouble).requires_grad_(true),
                   b64 = bias.detach().to(at::kDouble).requires_grad_(true);
  const at::Tensor ref = at::gelu(h64 + b64);
  const double scale = ref.abs().max().item<double>();
  EXPECT_LT((ours.to(at::kDouble) - ref).abs().max().item<double>(), 1e-2 * scale);
  const auto g = grads_of(ours.to(at::kDouble), {h, bias}, probe), g_ref = grads_of(ref, {h64, b64}, probe);
  EXPECT_LT((g[0].to(at::kDouble) - g_ref[0]).abs().max().item<double>(), 2e-2 * g_ref[0].abs().max().item<double>());
  EXPECT_LT((g[1].to(at::kDouble) - g_ref[1]).abs().max().item<double>(), 2e-2 * g_ref[1].abs().max().item<double>());
  at::NoGradGuard no_grad;
  EXPECT_TRUE(at::equal(bias_gelu(h, bias), ours));
}

// SCT's module as one op: autograd's gradients of gather / addmm / scatter (x, W and b) for each of the
// three scalings, without holding the stream it read until backward, and in place without autograd.
TEST(LeanOps, LinearOnColumnsGivesAutogradsGradientsAndKeepsNoInputAlive) {
  at::manual_seed(8);
  const at::Tensor cols = at::tensor({1, 4, 7}, at::kLong), index = cols.expand({6, 3});
  const at::Tensor w = rand64({3, 3}), b = rand64({3});
  const auto reference = [&](const at::Tensor& x, double alpha, double beta) {
    const at::Tensor x_cols = x.gather(1, index);
    return x.scatter(1, index, alpha * x_cols + beta * at::addmm(b, x_cols, w.t()));
  };
  for (const auto& [alpha, beta] : {std::pair<double, double>{1, 1}, {1, 0.7}, {0.7, 1}}) {
    const at::Tensor x = rand64({6, 10}), probe = at::randn({6, 10}, at::kDouble);
    const at::Tensor ours = linear_on_columns(x, cols, w, b, alpha, beta, /*in_place=*/false);
    const at::Tensor ref = reference(x, alpha, beta);
    expect_close(ours, ref, "output");
    const auto g = grads_of(ours, {x, w, b}, probe), g_ref = grads_of(ref, {x, w, b}, probe);
    expect_close(g[0], g_ref[0], "dx");
    expect_close(g[1], g_ref[1], "dW");
    expect_close(g[2], g_ref[2], "db");
    // A stream that needs no gradient (SCT's first block) still trains W and b.
    const at::Tensor frozen = x.detach();
    const auto g_w = grads_of(linear_on_columns(frozen, cols, w, b, alpha, beta, false), {w, b}, probe);
    expect_close(g_w[0], g_ref[1], "dW, stream without gradient");
  }

  at::Tensor h = rand64({6, 10}) * 2.0;  // a non-leaf, as the residual stream is
  const auto weak = h.storage().getWeakStorageImpl();
  const at::Tensor y = linear_on_columns(h, cols, w, b, 1, 1, /*in_place=*/false);
  h.reset();
  EXPECT_TRUE(weak.expired()) << "linear_on_columns kept its input for backward";

  // In place under autograd (a (B, N, W) stream the caller owns): the same values and gradients.
  const at::Tensor leaf = rand64({2, 3, 10}), probe = at::randn({2, 3, 10}, at::kDouble);
  at::Tensor stream = leaf * 1.0;
  const void* memory = stream.data_ptr();
  const at::Tensor in_place = linear_on_columns(stream, cols, w, b, 1, 0.7, /*in_place=*/true);
  EXPECT_EQ(in_place.data_ptr(), memory);
  const at::Tensor ref = reference(leaf.view({6, 10}), 1, 0.7).view({2, 3, 10});
  expect_close(in_place, ref, "in place, output");
  const auto g = grads_of(in_place, {leaf, w, b}, probe), g_ref = grads_of(ref, {leaf, w, b}, probe);
  for (size_t i = 0; i < 3; ++i) expect_close(g[i], g_ref[i], "in place, gradient");

  // Without autograd: in place on contiguous rows (the loop), a copy of a strided view (ATen's gather).
  at::NoGradGuard no_grad;
  for (const at::Tensor& rows : {at::randn({6, 10}, at::kDouble), at::randn({10, 6}, at::kDouble).t()}) {
    const at::Tensor ref_rows = reference(rows, 1, 1);
    at::Tensor target = rows.clone();
    const at::Tensor out = linear_on_columns(target, cols, w, b, 1, 1, /*in_place=*/true);
    expect_close(out, ref_rows, "in place");
    EXPECT_EQ(out.data_ptr() == target.data_ptr(), rows.is_contiguous());
    const at::Tensor kept = rows.clone();
    expect_close(linear_on_columns(kept, cols, w, b, 1, 1, /*in_place=*/false), ref_rows, "copy");
    EXPECT_TRUE(at::equal(kept, rows)) << "not in place: the input is untouched";
  }
}

// Under bf16 autocast: a bf16 GEMM added to the fp32 stream in fp32, fp32 gradients for the fp32 W and b.
TEST(LeanOps, LinearOnColumnsUnderAutocastRunsItsGemmInBf16) {
  at::manual_seed(9);
  const at::Tensor cols = at::tensor({0, 5, 6, 9}, at::kLong), index = cols.expand({8, 4});
  const at::Tensor x = at::randn({8, 12}).requires_grad_(true), w = at::randn({4, 4}).requires_grad_(true),
                   b = at::randn({4}).requires_grad_(true), probe = at::randn({8, 12});
  const at::Tensor x64 = x.detach().to(at::kDouble).requires_grad_(true), w64 = w.detach().to(at::kDouble).requires_grad_(true),
                   b64 = b.detach().to(at::kDouble).requires_grad_(true);
  const at::Tensor x64_cols = x64.gather(1, index);
  const at::Tensor ref = x64.scatter(1, index, x64_cols + at::addmm(b64, x64_cols, w64.t()));
  const auto g_ref = grads_of(ref, {x64, w64, b64}, probe.to(at::kDouble));
  const AutocastGuard autocast(x.device(), true);
  const at::Tensor ours = linear_on_columns(x, cols, w, b, 1, 1, false);
  EXPECT_EQ(ours.scalar_type(), at::kFloat);
  const double scale = ref.abs().max().item<double>();
  EXPECT_LT((ours.to(at::kDouble) - ref).abs().max().item<double>(), 2e-2 * scale);
  EXPECT_GT((ours.to(at::kDouble) - ref).abs().max().item<double>(), 1e-6 * scale) << "the GEMM ran in fp32";
  const auto g = grads_of(ours, {x, w, b}, probe);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(g[i].scalar_type(), at::kFloat) << i;
    EXPECT_LT((g[i].to(at::kDouble) - g_ref[i]).abs().max().item<double>(), 3e-2 * g_ref[i].abs().max().item<double>()) << i;
  }
}

// The fp32 stream plus a bf16 branch and a deferred fp32 bias, against float64 autograd.
TEST(LeanOps, ResidualAddOfABf16BranchWithItsBias) {
  at::manual_seed(5);
  const at::Tensor x = at::randn({2, 5, 24}).requires_grad_(true);
  const at::Tensor branch = at::randn({2, 5, 24}).to(at::kBFloat16).requires_grad_(true);
  const at::Tensor bias = at::randn({24}).requires_grad_(true);  // bias tuning trains it
  const at::Tensor probe = at::randn({2, 5, 24}, at::kDouble);
  const at::Tensor ours = residual_add(x, branch, bias);
  EXPECT_EQ(ours.scalar_type(), at::kFloat);
  const at::Tensor x64 = x.detach().to(at::kDouble).requires_grad_(true),
                   a64 = branch.detach().to(at::kDouble).requires_grad_(true),
                   b64 = bias.detach().to(at::kDouble).requires_grad_(true);
  const at::Tensor ref = x64 + a64 + b64;
  EXPECT_LT((ours.to(at::kDouble) - ref).abs().max().item<double>(), 1e-5);  // fp32 sums of exact inputs
  const auto g = grads_of(ours.to(at::kDouble), {x, branch, bias}, probe);
  const auto g_ref = grads_of(ref, {x64, a64, b64}, probe);
  EXPECT_EQ(g[1].scalar_type(), at::kBFloat16);
  EXPECT_LT((g[0].to(at::kDouble) - g_ref[0]).abs().max().item<double>(), 1e-6);  // the probe in fp32
  EXPECT_LT((g[1].to(at::kDouble) - g_ref[1]).abs().max().item<double>(), 1e-2 * probe.abs().max().item<double>());
  EXPECT_LT((g[2].to(at::kDouble) - g_ref[2]).abs().max().item<double>(), 1e-4);
  at::NoGradGuard no_grad;
  EXPECT_TRUE(at::equal(residual_add(x, branch, bias), ours));
  EXPECT_TRUE(at::allclose(residual_add(x, branch.to(at::kFloat), {}), x + branch.to(at::kFloat)));  // ATen's path
}

// Under bf16 autocast on the CPU (the fused kernels' path), against float64: within bf16's error.
void expect_bf16_close(const at::Tensor& ours, const at::Tensor& ref, double rel, const char* what) {
  ASSERT_TRUE(ours.defined() && ref.defined()) << what;
  const double scale = ref.abs().max().item<double>();
  EXPECT_LT((ours.to(at::kDouble) - ref).abs().max().item<double>(), rel * scale) << what;
}

// A block's norm and the stream past it: the stream's gradient joins the norm's input gradient, as
// autograd would add them, within bf16's error of float64.
TEST(LeanOps, LayerNormOfStreamAddsTheStreamsGradient) {
  at::manual_seed(15);
  torch::nn::LayerNorm ln(torch::nn::LayerNormOptions({32}).eps(1e-6));
  {
    at::NoGradGuard no_grad;
    ln->weight.copy_(at::randn({32}));
    ln->bias.copy_(at::randn({32}));
  }
  for (auto& p : ln->parameters()) p.set_requires_grad(false);
  const at::Tensor x = (at::randn({3, 4, 32}) * 2.0 + 1.0).requires_grad_(true);
  const at::Tensor x64 = x.detach().to(at::kDouble).requires_grad_(true);
  const at::Tensor probe_y = at::randn({3, 4, 32}, at::kDouble), probe_s = at::randn({3, 4, 32}, at::kDouble);
  const at::Tensor y64 = at::layer_norm(x64, {32}, ln->weight.to(at::kDouble), ln->bias.to(at::kDouble), 1e-6);
  const at::Tensor g_ref = torch::autograd::grad({(y64 * probe_y).sum() + (x64 * probe_s).sum()}, {x64})[0];
  const AutocastGuard autocast(x.device(), true);
  for (bool feeds_gemm_only : {true, false}) {
    const auto [y, stream] = layer_norm_of_stream(x, ln, feeds_gemm_only);
    EXPECT_TRUE(at::equal(stream, x));
    const at::Tensor g = torch::autograd::grad({(y.to(at::kDouble) * probe_y).sum() + (stream.to(at::kDouble) * probe_s).sum()}, {x})[0];
    expect_bf16_close(g, g_ref, 2e-2, "d x, through the norm and past it");
    const at::Tensor past = layer_norm_of_stream(x, ln, feeds_gemm_only).second;
    const at::Tensor g_stream_only = torch::autograd::grad({(past.to(at::kDouble) * probe_s).sum()}, {x})[0];
    EXPECT_TRUE(at::allclose(g_stream_only.to(at::kDouble), probe_s, 0, 1e-6)) << "the stream alone: its gradient unchanged";
  }
}

TEST(LeanOps, Bf16PassMatchesFloat64WithinBf16Error) {
  at::manual_seed(4);
  const at::Tensor qkv = at::randn({2, 7, 3 * 16}).to(at::kBFloat16).requires_grad_(true);
  const at::Tensor qkv64 = qkv.detach().to(at::kDouble).requires_grad_(true);
  const at::Tensor probe = at::randn({2, 7, 16}, at::kDouble);
  const AutocastGuard autocast(qkv.device(), true);
  const at::Tensor bias = at::randn({3 * 16}), bias64 = bias.to(at::kDouble);
  const at::Tensor ours = multi_head_attention(qkv, bias, 2);
  EXPECT_EQ(ours.scalar_type(), at::kBFloat16);
  const at::Tensor ref = reference_attention(qkv64 + bias64, 2);
  expect_bf16_close(ours, ref, 1e-2, "attention");
  expect_bf16_close(grads_of(ours.to(at::kDouble), {qkv}, probe)[0], grads_of(ref, {qkv64}, probe)[0], 3e-2, "dqkv");

  torch::nn::LayerNorm ln(torch::nn::LayerNormOptions({32}).eps(1e-6));
  {
    at::NoGradGuard no_grad;
    ln->weight.copy_(at::randn({32}));
    ln->bias.copy_(at::randn({32}));
  }
  ln->weight.set_requires_grad(false);
  ln->bias.set_requires_grad(true);  // bias tuning: its gradient from the kept x̂
  const at::Tensor x = (at::randn({3, 4, 32}) * 2.0 + 3.0).requires_grad_(true);
  const at::Tensor x64 = x.detach().to(at::kDouble).requires_grad_(true);
  const at::Tensor b64 = ln->bias.detach().to(at::kDouble).requires_grad_(true);
  const at::Tensor ref_ln = at::layer_norm(x64, {32}, ln->weight.to(at::kDouble), b64, 1e-6);
  const at::Tensor probe_ln = at::randn({3, 4, 32}, at::kDouble);
  const auto g_ref = grads_of(ref_ln, {x64, b64}, probe_ln);
  for (bool feeds_gemm_only : {false, true}) {
    const at::Tensor y = layer_norm(x, ln, feeds_gemm_only);
    // Only a GEMM's input may come back in bf16; a hook reads fp32, as under autocast.
    EXPECT_EQ(y.scalar_type(), feeds_gemm_only ? at::kBFloat16 : at::kFloat);
    expect_bf16_close(y, ref_ln, 1e-2, "layer norm");
    const auto g = grads_of(y.to(at::kDouble), {x, ln->bias}, probe_ln);
    expect_bf16_close(g[0], g_ref[0], 2e-2, "layer norm dx");
    expect_bf16_close(g[1], g_ref[1], 2e-2, "layer norm dbeta");
  }
}

}  // namespace
}  // namespace sct
