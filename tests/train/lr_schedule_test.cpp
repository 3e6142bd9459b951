// The epoch learning rates of the SCT reference: timm 0.6.5 CosineLRScheduler(t_initial=100,
// warmup_t=10, warmup_lr_init=1e-6, lr_min=1e-5), stepped with step(ep) after each epoch.
#include "sct/train/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

#include "sct/core/error.h"

namespace sct {
namespace {

CosineSchedule reference(double lr) {
  CosineSchedule s;
  s.lr = lr;
  return s;  // the defaults are the reference's: 100, 10, 1e-6, 1e-5
}

// The reference's stepping written out literally: the constructor sets warmup_lr_init, then after
// epoch ep the loop calls step(ep), so epoch e trains at the value set after epoch e - 1.
std::vector<double> simulate_reference_loop(double lr, int epochs) {
  const double pi = std::acos(-1.0);
  const auto closed_form = [&](int t) {
    if (t < 10) return 1e-6 + t * (lr - 1e-6) / 10;
    return 1e-5 + 0.5 * (lr - 1e-5) * (1 + std::cos(pi * t / 100));
  };
  std::vector<double> trained_at;
  double current = 1e-6;  // set by the constructor (update_groups(warmup_lr_init))
  for (int ep = 0; ep < epochs; ++ep) {
    trained_at.push_back(current);
    current = closed_form(ep);  // scheduler.step(ep) after the epoch
  }
  return trained_at;
}

TEST(LrSchedule, EveryEpochOfTheReferenceRecipe) {
  for (double lr : {0.013, 0.0007, 0.075}) {  // cifar100, oxford_iiit_pet, svhn
    const CosineSchedule s = reference(lr);
    const std::vector<double> expected = simulate_reference_loop(lr, 100);
    for (int e = 0; e < 100; ++e) EXPECT_NEAR(s.epoch_lr(e), expected[e], 1e-15 * lr) << "lr " << lr << " epoch " << e;
  }
}

TEST(LrSchedule, LiteralValuesFromPython) {
  // python3: lr=0.01; f(t) = 1e-6 + t*((lr-1e-6)/10) if t < 10 else 1e-5 + 0.5*(lr-1e-5)*(1+math.cos(math.pi*t/100))
  const CosineSchedule s = reference(0.01);
  EXPECT_DOUBLE_EQ(s.epoch_lr(0), 1e-06);
  EXPECT_DOUBLE_EQ(s.epoch_lr(1), 1e-06);
  EXPECT_DOUBLE_EQ(s.epoch_lr(2), 0.0010009);
  EXPECT_DOUBLE_EQ(s.epoch_lr(5), 0.004000600000000001);
  EXPECT_DOUBLE_EQ(s.epoch_lr(10), 0.0090001);
  EXPECT_DOUBLE_EQ(s.epoch_lr(11), 0.009755527298894293);  // t = 10: cosine at absolute t, not t - warmup
  EXPECT_DOUBLE_EQ(s.epoch_lr(12), 0.009704699440926357);
  EXPECT_DOUBLE_EQ(s.epoch_lr(50), 0.0051618967415952505);
  EXPECT_DOUBLE_EQ(s.epoch_lr(99), 1.9856491500783562e-05);
}

TEST(LrSchedule, ShapeProperties) {
  const CosineSchedule s = reference(0.01);
  EXPECT_EQ(s.epoch_lr(0), s.warmup_lr_init);
  EXPECT_EQ(s.epoch_lr(1), s.warmup_lr_init);
  for (int e = 2; e <= 10; ++e) EXPECT_GT(s.epoch_lr(e), s.epoch_lr(e - 1)) << e;  // warmup rises
  EXPECT_LT(s.epoch_lr(10), s.lr);  // the peak itself is never used: epoch 10 trains at at(9) = 0.9 of the way
  EXPECT_LT(s.epoch_lr(11), s.lr);
  for (int e = 12; e < 100; ++e) EXPECT_LT(s.epoch_lr(e), s.epoch_lr(e - 1)) << e;  // cosine falls
  EXPECT_GT(s.epoch_lr(99), s.lr_min);
  EXPECT_EQ(s.at(100), s.lr_min);  // past the cycle: timm returns lr_min
  EXPECT_EQ(s.at(250), s.lr_min);
}

TEST(LrSchedule, WithoutWarmupStartsAtThePeak) {
  CosineSchedule s = reference(0.02);
  s.warmup_t = 0;  // timm then keeps the base lr from its constructor: at(0) = lr
  EXPECT_DOUBLE_EQ(s.epoch_lr(0), 0.02);
  EXPECT_DOUBLE_EQ(s.epoch_lr(1), 0.02);
  EXPECT_NEAR(s.epoch_lr(51), 1e-5 + 0.5 * (0.02 - 1e-5), 1e-15);  // cos(pi/2) = 0
}

TEST(LrSchedule, RejectsImpossibleSettings) {
  CosineSchedule s;
  s.lr = -1;
  EXPECT_THROW(s.validate(), Error);
  s = CosineSchedule{};
  s.t_initial = 0;
  EXPECT_THROW(s.validate(), Error);
  s = CosineSchedule{};
  s.warmup_t = -1;
  EXPECT_THROW(s.validate(), Error);
  EXPECT_NO_THROW(CosineSchedule{}.validate());
}

}  // namespace
}  // namespace sct
