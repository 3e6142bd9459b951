// timm's LabelSmoothingCrossEntropy: (1 - s) NLL + s mean_k(-log p_k), batch mean.
#include "sct/train/loss.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "sct/core/error.h"
#include "test_util.h"

namespace sct {
namespace {

const at::TensorOptions kF64 = at::TensorOptions().dtype(at::kDouble);

at::Tensor two_samples() { return at::tensor({1.0, 2.0, 3.0, 0.5, -1.0, 2.0}, kF64).reshape({2, 3}); }
at::Tensor two_targets() { return at::tensor({2, 0}, at::kLong); }

TEST(Loss, HandComputedValues) {
  // python3 with math.log/exp only (log_softmax by hand), for s = 0, 0.1, 0.3.
  EXPECT_NEAR(label_smoothing_cross_entropy(two_samples(), two_targets(), 0.0).item<double>(), 1.0744586305507688,
              1e-14);
  EXPECT_NEAR(label_smoothing_cross_entropy(two_samples(), two_targets(), 0.1).item<double>(), 1.124458630550769,
              1e-14);
  EXPECT_NEAR(label_smoothing_cross_entropy(two_samples(), two_targets(), 0.3).item<double>(), 1.2244586305507688,
              1e-14);
  // One sample [1, 2, 3] -> class 2: NLL = log(1 + e^-1 + e^-2); the mean of -log p_k exceeds it by
  // exactly 3 - mean(1, 2, 3) = 1, so the smoothed loss is NLL + s.
  const double nll = std::log(1 + std::exp(-1.0) + std::exp(-2.0));
  const at::Tensor one = at::tensor({1.0, 2.0, 3.0}, kF64).reshape({1, 3});
  EXPECT_NEAR(label_smoothing_cross_entropy(one, at::tensor({2}, at::kLong), 0.25).item<double>(), nll + 0.25, 1e-15);
}

TEST(Loss, MatchesLibTorchCrossEntropy) {
  at::manual_seed(3);
  const at::Tensor logits = at::randn({16, 10}) * 3;
  const at::Tensor target = at::randint(0, 10, {16}, at::kLong);
  const double ours = label_smoothing_cross_entropy(logits, target, 0.0).item<double>();
  // float32 on both sides, different reduction order: a few ulp of a value near 3.
  EXPECT_NEAR(ours, at::cross_entropy_loss(logits, target).item<double>(), 1e-6);
  // PyTorch's label_smoothing term is s * sum_k(-log p_k) / C: the same quantity as timm's.
  EXPECT_NEAR(label_smoothing_cross_entropy(logits, target, 0.1).item<double>(),
              at::cross_entropy_loss(logits, target, {}, at::Reduction::Mean, -100, 0.1).item<double>(), 1e-6);
}

TEST(Loss, GradientMatchesFiniteDifferencesAndClosedForm) {
  at::manual_seed(5);
  const double s = 0.1;
  const at::Tensor x = at::randn({3, 4}, kF64).set_requires_grad(true);
  const at::Tensor t = at::tensor({1, 3, 0}, at::kLong);
  label_smoothing_cross_entropy(x, t, s).backward();
  const at::Tensor analytic = x.grad();

  // Central differences on every logit (double precision: h = 1e-6 gives ~1e-10 error).
  const double h = 1e-6;
  at::Tensor numeric = at::zeros_like(analytic);
  const at::Tensor base = x.detach();
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t k = 0; k < 4; ++k) {
      at::Tensor plus = base.clone(), minus = base.clone();
      plus[i][k] += h;
      minus[i][k] -= h;
      numeric[i][k] = (label_smoothing_cross_entropy(plus, t, s).item<double>() -
                       label_smoothing_cross_entropy(minus, t, s).item<double>()) /
                      (2 * h);
    }
  EXPECT_LT(test::max_abs_diff(analytic, numeric), 1e-8);

  // d/dx of the smoothed loss: (softmax(x) - q) / B with q = (1 - s) onehot + s / C.
  const at::Tensor q = at::one_hot(t, 4).to(at::kDouble) * (1 - s) + s / 4;
  EXPECT_LT(test::max_abs_diff(analytic, (base.softmax(1) - q) / 3), 1e-14);
}

TEST(Loss, RejectsBadInputs) {
  EXPECT_THROW(label_smoothing_cross_entropy(two_samples(), two_targets(), 1.0), Error);
  EXPECT_THROW(label_smoothing_cross_entropy(two_samples(), two_targets(), -0.1), Error);
  EXPECT_THROW(label_smoothing_cross_entropy(two_samples(), at::tensor({1}, at::kLong), 0.0), Error);
  EXPECT_THROW(label_smoothing_cross_entropy(two_samples().flatten(), two_targets(), 0.0), Error);
}

}  // namespace
}  // namespace sct
