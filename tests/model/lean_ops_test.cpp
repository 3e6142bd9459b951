// The backbone's memory-lean autograd functions (frozen_linear, layer_norm, softmax_attention) against
// autograd through LibTorch's own ops, in float64 so that any formula error shows far above rounding.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "sct/model/attention_kernel.h"
#include "sct/model/frozen_linear.h"
#include "sct/model/layer_norm.h"

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

TEST(LeanOps, SoftmaxAttentionGivesAutogradsGradients) {
  at::manual_seed(3);
  const at::Tensor q = rand64({2, 3, 5, 4}), k = rand64({2, 3, 5, 4}), v = rand64({2, 3, 5, 4});
  const at::Tensor probe = at::randn({2, 3, 5, 4}, at::kDouble);
  const at::Tensor ours = softmax_attention(q, k, v);
  const at::Tensor ref = at::matmul(at::softmax(at::matmul(q, k.transpose(-2, -1)) / 2.0, -1), v);
  expect_close(ours, ref, "output");
  const auto g_ours = grads_of(ours, {q, k, v}, probe), g_ref = grads_of(ref, {q, k, v}, probe);
  expect_close(g_ours[0], g_ref[0], "dq");
  expect_close(g_ours[1], g_ref[1], "dk");
  expect_close(g_ours[2], g_ref[2], "dv");
}

}  // namespace
}  // namespace sct
