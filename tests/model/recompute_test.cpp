// Per-block recomputation must change memory, never results: the same gradients, bit for bit, with
// drop path drawing random masks, in fp32 and in bf16.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "fixture_models.h"
#include "sct/model/vision_transformer.h"
#include "sct/model/recompute.h"
#include "sct/peft/peft_method.h"

namespace sct {
namespace {

// Gradients of every trainable tensor after one training step of a fresh seeded model.
std::map<std::string, at::Tensor> step_gradients(const std::string& method, Precision p, bool recompute) {
  at::manual_seed(21);
  VisionTransformer model(test::tiny_vit_config(/*drop_path=*/0.3));
  make_peft_method(method)->attach(*model);
  model->set_precision(p);
  model->set_recompute(recompute);
  model->train();
  const at::Tensor images = at::randn({6, 3, 16, 16});
  at::cross_entropy_loss(model->forward(images), at::tensor({0, 1, 2, 3, 0, 1}, at::kLong)).backward();
  const at::Tensor after = at::randn({3});  // the generator continues where it would have
  std::map<std::string, at::Tensor> grads{{"(next draw)", after}};
  for (const auto& t : model->named_parameters())
    if (t.value().requires_grad()) grads[t.key()] = t.value().grad().clone();
  return grads;
}

TEST(Recompute, SameGradientsBitForBitWithDropPath) {
  for (const std::string method : {"lora", "bias", "full"})
    for (Precision p : {Precision::fp32, Precision::bf16}) {
      const auto plain = step_gradients(method, p, false);
      const auto again = step_gradients(method, p, true);
      ASSERT_EQ(plain.size(), again.size());
      for (const auto& [name, g] : plain) {
        ASSERT_TRUE(again.at(name).defined()) << method << " " << name;
        EXPECT_TRUE(at::equal(g, again.at(name))) << method << " " << to_string(p) << " " << name;
      }
    }
}

TEST(Recompute, KeepsOnlyTheInputAndReplaysTheStepsRandomness) {
  const at::Tensor w = at::randn({4, 4}).requires_grad_(true);
  int calls = 0;
  const auto step = [&](const at::Tensor& in) {
    ++calls;
    return at::matmul(in, w).relu() * at::empty({4}).bernoulli_(0.5);
  };
  const at::Tensor x = at::randn({3, 4}).requires_grad_(true);
  at::manual_seed(4);
  at::Tensor y = recompute_in_backward(x, step);
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(y.requires_grad());
  (y * y).sum().backward();
  EXPECT_EQ(calls, 2);
  const at::Tensor gx = x.grad().clone(), gw = w.grad().clone();
  x.grad().zero_();
  w.grad().zero_();
  at::manual_seed(4);
  const at::Tensor ref = step(x);
  EXPECT_TRUE(at::equal(ref, y.detach()));
  (ref * ref).sum().backward();
  EXPECT_TRUE(at::equal(gx, x.grad()));
  EXPECT_TRUE(at::equal(gw, w.grad()));
}

}  // namespace
}  // namespace sct
