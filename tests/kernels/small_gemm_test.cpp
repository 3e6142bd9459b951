// The batched small-matrix fp32 kernel and its autograd op against LibTorch's matmul in float64.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "sct/kernels/small_gemm.h"
#include "sct/model/batched_matmul.h"
#include "test_util.h"

namespace sct {
namespace {

// fp32 accumulation over k terms: within a few ulps of the sum of magnitudes.
void expect_fp32_close(const at::Tensor& ours, const at::Tensor& ref64, const at::Tensor& scale64, const char* what) {
  ASSERT_EQ(ours.scalar_type(), at::kFloat) << what;
  ASSERT_EQ(ours.sizes(), ref64.sizes()) << what;
  const at::Tensor err = (ours.to(at::kDouble) - ref64).abs(), bound = scale64 * 1e-6 + 1e-30;
  EXPECT_TRUE((err <= bound).all().item<bool>()) << what << ": worst ratio " << (err / bound).max().item<double>();
}

TEST(SmallGemm, MatchesFloat64OverShapesAroundTheVectorWidth) {
  at::manual_seed(1);
  // n below, at and past one vector and one 64-column block; the Swin's 49 x 32 and 49 x 49 products.
  for (const auto& [m, k, n] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {49, 32, 49}, {49, 49, 32}, {1, 1, 1}, {3, 5, 16}, {7, 3, 17}, {5, 8, 64}, {4, 9, 65}, {2, 70, 130}, {6, 0, 5}}) {
    const at::Tensor a = at::randn({11, m, k}), b = at::randn({11, k, n});
    const at::Tensor ours = kernels::small_bmm_f32(a, b);
    const at::Tensor a64 = a.to(at::kDouble), b64 = b.to(at::kDouble);
    expect_fp32_close(ours, at::matmul(a64, b64), at::matmul(a64.abs(), b64.abs()),
                      ("a " + std::to_string(m) + "x" + std::to_string(k) + " b x" + std::to_string(n)).c_str());
  }
  // Any strides: a transposed view and a slice give the product of what they show.
  const at::Tensor big = at::randn({4, 40, 30});
  const at::Tensor a = big.transpose(1, 2).slice(2, 3, 23), b = at::randn({4, 20, 9}).slice(2, 0, 9, 2);
  expect_fp32_close(kernels::small_bmm_f32(a, b), at::matmul(a.to(at::kDouble), b.to(at::kDouble)),
                    at::matmul(a.abs().to(at::kDouble), b.abs().to(at::kDouble)), "strided");
}

TEST(SmallGemm, RefusesWhatItDoesNotMultiply) {
  const at::Tensor a = at::randn({2, 3, 4});
  test::expect_error([&] { kernels::small_bmm_f32(a, at::randn({2, 5, 6})); }, {"small_bmm_f32", "shapes"});
  test::expect_error([&] { kernels::small_bmm_f32(a, at::randn({3, 4, 6})); }, {"small_bmm_f32", "shapes"});
  test::expect_error([&] { kernels::small_bmm_f32(a.to(at::kDouble), at::randn({2, 4, 6}).to(at::kDouble)); }, {"fp32"});
}

TEST(SmallGemm, BatchedMatmulGivesAutogradsGradients) {
  at::manual_seed(2);
  const at::Tensor a = at::randn({2, 3, 49, 32}).requires_grad_(true), b = at::randn({2, 3, 32, 49}).requires_grad_(true);
  const at::Tensor a64 = a.detach().to(at::kDouble).requires_grad_(true), b64 = b.detach().to(at::kDouble).requires_grad_(true);
  const at::Tensor probe = at::randn({2, 3, 49, 49}, at::kDouble);
  const at::Tensor ours = batched_matmul(a, b), ref = at::matmul(a64, b64);
  const at::Tensor scale = at::matmul(a64.detach().abs(), b64.detach().abs());
  expect_fp32_close(ours, ref.detach(), scale, "forward");
  const auto g = torch::autograd::grad({(ours.to(at::kDouble) * probe).sum()}, {a, b});
  const auto g_ref = torch::autograd::grad({(ref * probe).sum()}, {a64, b64});
  expect_fp32_close(g[0], g_ref[0], at::matmul(probe.abs(), b64.detach().abs().transpose(-2, -1)), "d a");
  expect_fp32_close(g[1], g_ref[1], at::matmul(a64.detach().abs().transpose(-2, -1), probe.abs()), "d b");
  // Another dtype goes to at::matmul, unchanged.
  EXPECT_TRUE(at::equal(batched_matmul(a64.detach(), b64.detach()), at::matmul(a64.detach(), b64.detach())));
}

}  // namespace
}  // namespace sct
