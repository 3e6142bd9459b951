// The fused bf16 CPU kernels against LibTorch's own ops in float64, rounded to bf16 once: they must
// agree to one bf16 step, element by element, and exactly for almost every element (the rest are
// values within fp32's error of a rounding boundary).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>

#include "sct/kernels/bf16_kernels.h"
#include "sct/kernels/bf16_math.h"

// The 16-lane functions are inlined where they are called; GCC notes that 64-byte vectors passed by
// value would change the ABI, which does not apply (bf16_math.h).
#pragma GCC diagnostic ignored "-Wpsabi"

namespace sct::kernels {
namespace {

// Every element within one bf16 step of the reference (at most 2^-7 relative; `floor` absolute near
// zero), and at least `exact` of them bit-equal.
void expect_bf16_equal(const at::Tensor& ours, const at::Tensor& ref, double floor, double exact, const char* what) {
  ASSERT_EQ(ours.scalar_type(), at::kBFloat16) << what;
  ASSERT_EQ(ours.sizes(), ref.sizes()) << what;
  const at::Tensor a = ours.to(at::kDouble), b = ref.to(at::kBFloat16).to(at::kDouble);
  const at::Tensor err = (a - b).abs(), bound = b.abs() * (1.0 / 128) + floor;
  EXPECT_TRUE((err <= bound).all().item<bool>())
      << what << ": worst excess " << (err - bound).max().item<double>() << " at " << (err - bound).argmax().item<int64_t>();
  const double equal = (a == b).to(at::kDouble).mean().item<double>();
  EXPECT_GE(equal, exact) << what << ": only " << equal << " of the elements equal";
}

TEST(Bf16Math, ExpMatchesDoublePrecisionInScalarAndVectorLanes) {
  // References at the fp32 input itself: rounding x to fp32 alone moves e^x by up to 4e-6 here.
  for (double xd = -100.0; xd <= 88.0; xd += 0.0137) {
    const float x = float(xd);
    const double ref = std::exp(double(x)), ours = exp_fp32(x);
    if (x < -87.3) {
      EXPECT_EQ(ours, 0.0) << x;
    } else {
      EXPECT_NEAR(ours, ref, 4e-7 * ref) << x;
    }
    // Every lane of the 16-lane version computes the same as the scalar one (the kernels' tails).
    EXPECT_EQ(exp_fp32(splat<Floats>(x))[kLanes - 1], exp_fp32(x)) << x;
  }
}

TEST(Bf16Math, ConversionRoundsToNearestEvenAndKeepsNaN) {
  for (float f : {1.0f, -2.5f, 3.14159f, 1e-30f, -7.7e20f, 65504.0f, 0.0f, -0.0f, INFINITY, -INFINITY})
    EXPECT_EQ(float_to_bf16(f), c10::BFloat16(f).x) << f;
  EXPECT_EQ(float_to_bf16(1.0f + 1.0f / 256), c10::BFloat16(1.0f + 1.0f / 256).x);  // a tie: to even
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(NAN))));
  EXPECT_EQ(bf16_to_float(c10::BFloat16(-1.5f).x), -1.5f);
}

// Splitting is a copy: exact against ATen's own permute, and the fp32 bias added then rounded once; the
// pad rows are zero, and merging gives back the input.
TEST(Bf16Kernels, SplitAndMergeHeadsAreAtensPermuteWithZeroPadding) {
  at::manual_seed(4);
  for (int64_t hd : {64, 20}) {  // full 16-lane groups, and a tail
    const int64_t heads = 3, width = heads * hd, tokens = 7;
    const at::Tensor qkv = at::randn({2, tokens, 3 * width}).to(at::kBFloat16), bias = at::randn({3 * width});
    const auto ref = [&](const at::Tensor& t) {
      return t.view({2, tokens, 3, heads, hd}).permute({2, 0, 3, 1, 4}).contiguous().to(at::kBFloat16);
    };
    EXPECT_TRUE(at::equal(split_heads_bf16(qkv, {}, 3, heads, tokens), ref(qkv))) << hd;
    EXPECT_TRUE(at::equal(split_heads_bf16(qkv, bias, 3, heads, tokens), ref(qkv.to(at::kFloat) + bias))) << hd;
    const at::Tensor padded = split_heads_bf16(qkv, bias, 3, heads, 16);
    ASSERT_EQ(padded.sizes(), (std::vector<int64_t>{3, 2, heads, 16, hd}));
    EXPECT_TRUE(at::equal(padded.narrow(3, 0, tokens), ref(qkv.to(at::kFloat) + bias))) << hd;
    EXPECT_EQ(padded.narrow(3, tokens, 16 - tokens).abs().sum().item<float>(), 0.0f) << hd;
    EXPECT_TRUE(at::equal(merge_heads_bf16(split_heads_bf16(qkv, {}, 3, heads, 16), tokens), qkv)) << hd;
    const at::Tensor one = qkv.narrow(2, 0, width).contiguous();  // one part, as the context's gradient
    EXPECT_TRUE(at::equal(split_heads_bf16(one, {}, 1, heads, 9)[0].narrow(2, 0, tokens),
                          one.view({2, tokens, heads, hd}).transpose(1, 2)));
  }
  EXPECT_THROW(split_heads_bf16(at::randn({2, 7, 30}).to(at::kBFloat16), {}, 3, 4, 7), std::exception);
  EXPECT_THROW(split_heads_bf16(at::randn({2, 7, 36}).to(at::kBFloat16), {}, 3, 4, 6), std::exception);  // pads to fewer
  EXPECT_THROW(merge_heads_bf16(at::randn({3, 2, 4, 6, 3}).to(at::kBFloat16), 7), std::exception);
}

// A&S 7.1.28's 3e-7, plus fp32's rounding raised to the 16th power: under 1e-6 absolute.
TEST(Bf16Math, NormalCdfWithin1e6OfDoublePrecision) {
  for (double xd = -12.0; xd <= 9.0; xd += 0.0031) {
    const float x = float(xd);
    const double ref = 0.5 * std::erfc(-double(x) / std::sqrt(2.0));
    EXPECT_NEAR(normal_cdf(x), ref, 1e-6) << x;
    EXPECT_EQ(normal_cdf(splat<Floats>(x))[3], normal_cdf(x)) << x;
  }
  // Far in the tail the 16th power stays a normal float (subnormals are slow) and next to nothing.
  for (float x = -12.0f; x >= -1000.0f; x *= 1.5f) {
    EXPECT_NE(std::fpclassify(normal_cdf(x)), FP_SUBNORMAL) << x;
    EXPECT_LT(normal_cdf(x), 1e-20f) << x;
    EXPECT_EQ(normal_cdf(-x), 1.0f) << -x;
  }
}

// GELU(h + bias) against float64 on the bf16-rounded sum: within one bf16 step everywhere, and exact
// but where Φ is small (u < -2, 9% of these elements), where its 1e-6 absolute error is a larger part
// of a bf16 step of GELU's output.
TEST(Bf16Kernels, BiasGeluMatchesFloat64AndKeepsItsInput) {
  at::manual_seed(6);
  const at::Tensor h = at::cat({at::randn({400, 3 * 37}) * 2.0, at::linspace(-12, 12, 37 * 3).unsqueeze(0)})
                           .to(at::kBFloat16);  // rows of 111 values: 16-lane groups and a tail
  const at::Tensor bias = at::randn({3 * 37});
  at::Tensor kept;
  const at::Tensor y = bias_gelu_bf16(h, bias, &kept);
  const at::Tensor u = (h.to(at::kFloat) + bias).to(at::kBFloat16);
  EXPECT_TRUE(at::equal(kept, u)) << "the kept input is the linear's output rounded once";
  // Φ's 3e-7 gives at most |u| * 3e-7 absolute: an absolute floor where GELU is ~0.
  expect_bf16_equal(y, at::gelu(u.to(at::kDouble)), 5e-6, 0.95, "GELU");
  const at::Tensor body = u.to(at::kFloat) > -2.0;
  expect_bf16_equal(y.masked_select(body), at::gelu(u.to(at::kDouble)).masked_select(body), 0, 0.99, "GELU, u > -2");
  EXPECT_TRUE(at::equal(bias_gelu_bf16(h, bias, nullptr), y));
  EXPECT_THROW(bias_gelu_bf16(h, {}, nullptr), std::exception);
}

// GELU's backward against float64's derivative on the same bf16 inputs: one rounding of the product.
TEST(Bf16Kernels, GeluBackwardMatchesFloat64) {
  at::manual_seed(14);
  const at::Tensor u = at::cat({at::randn({300, 37}) * 2.0, at::linspace(-20, 20, 37).unsqueeze(0)}).to(at::kBFloat16);
  const at::Tensor g = at::randn(u.sizes()).to(at::kBFloat16);
  const at::Tensor ud = u.to(at::kDouble);
  const at::Tensor d_ref = 0.5 * at::erfc(-ud / std::sqrt(2.0)) + ud * at::exp(-0.5 * ud * ud) / std::sqrt(2.0 * M_PI);
  expect_bf16_equal(gelu_backward_bf16(g, u), g.to(at::kDouble) * d_ref, 5e-6, 0.95, "GELU backward");
  expect_bf16_equal(gelu_backward_bf16(g.to(at::kFloat), u), g.to(at::kDouble) * d_ref, 5e-6, 0.95, "fp32 gradient");
  EXPECT_THROW(gelu_backward_bf16(g.narrow(0, 0, 5), u), std::exception);
}

TEST(Bf16Kernels, ResidualAddIsTheFp32SumWithTheBias) {
  at::manual_seed(5);
  const at::Tensor x = at::randn({3, 5, 37}), a = at::randn({3, 5, 37}).to(at::kBFloat16), b = at::randn({37});
  EXPECT_TRUE(at::equal(residual_add_bf16(x, a, b), x + a.to(at::kFloat) + b));
  EXPECT_TRUE(at::equal(residual_add_bf16(x, a, {}), x + a.to(at::kFloat)));
  EXPECT_THROW(residual_add_bf16(x, a.slice(1, 0, 2).contiguous(), {}), std::exception);  // another shape
}

TEST(Bf16Kernels, ScaledSoftmaxAndItsBackwardMatchLibTorch) {
  at::manual_seed(2);
  const double scale = 1.0 / std::sqrt(48.0);  // not a power of two: the scale is applied in fp32
  for (int64_t len : {1, 7, 197, 300}) {
    const at::Tensor s = (at::randn({3, 5, len}) * 8.0).to(at::kBFloat16);
    const at::Tensor p = scaled_softmax_bf16(s, scale, len);
    const at::Tensor p_ref = (s.to(at::kDouble) * scale).softmax(-1);
    expect_bf16_equal(p, p_ref, 1e-30, 0.98, "softmax");
    EXPECT_TRUE(at::allclose(p.to(at::kDouble).sum(-1), at::ones({3, 5}, at::kDouble), 0, 2e-2));

    const at::Tensor gp = at::randn(s.sizes()).to(at::kBFloat16);
    const at::Tensor pd = p.to(at::kDouble), gd = gp.to(at::kDouble);
    const at::Tensor gs_ref = scale * pd * (gd - (gd * pd).sum(-1, true));
    // Near zero the difference of two sums cancels: an absolute floor relative to the row's scale.
    expect_bf16_equal(scaled_softmax_backward_bf16(gp, p, scale), gs_ref, 1e-3 * scale, 0.9, "softmax backward");
  }
}

// Padded (len, len) score matrices: the real block is the softmax of the real scores alone, bit for bit,
// and the padding is zero, so the backward gives it a zero gradient too.
TEST(Bf16Kernels, ScaledSoftmaxGivesPaddingProbabilityZero) {
  at::manual_seed(12);
  const double scale = 0.125;
  for (int64_t valid : {1, 13, 197}) {
    const int64_t len = (valid + 15) / 16 * 16 + 16;
    const at::Tensor s = (at::randn({2, 3, len, len}) * 8.0).to(at::kBFloat16);
    const at::Tensor p = scaled_softmax_bf16(s, scale, valid);
    const at::Tensor real = s.narrow(2, 0, valid).narrow(3, 0, valid).contiguous();
    EXPECT_TRUE(at::equal(p.narrow(2, 0, valid).narrow(3, 0, valid), scaled_softmax_bf16(real, scale, valid))) << valid;
    EXPECT_EQ(p.narrow(3, valid, len - valid).abs().sum().item<float>(), 0.0f) << valid;
    EXPECT_EQ(p.narrow(2, valid, len - valid).abs().sum().item<float>(), 0.0f) << valid;
    const at::Tensor gs = scaled_softmax_backward_bf16(at::randn(s.sizes()).to(at::kBFloat16), p, scale);
    EXPECT_EQ(gs.narrow(3, valid, len - valid).abs().sum().item<float>(), 0.0f) << valid;
  }
  EXPECT_THROW(scaled_softmax_bf16(at::randn({2, 4, 8}).to(at::kBFloat16), 1.0, 3), std::exception);  // not square
  EXPECT_THROW(scaled_softmax_bf16(at::randn({2, 8, 8}).to(at::kBFloat16), 1.0, 9), std::exception);
}

TEST(Bf16Kernels, LayerNormAndItsBackwardMatchLibTorch) {
  at::manual_seed(3);
  const int64_t d = 768;
  const at::Tensor x = at::randn({4, 9, d}) * 3.0 + 5.0;  // a mean far from zero
  const at::Tensor w = at::randn({d}), b = at::randn({d});
  const auto [y, x_hat, rstd] = layer_norm_bf16(x, w, b, 1e-6, /*keep_x_hat=*/true);
  const at::Tensor xd = x.to(at::kDouble).requires_grad_(true);
  const at::Tensor y_ref = at::layer_norm(xd, {d}, w.to(at::kDouble), b.to(at::kDouble), 1e-6);
  expect_bf16_equal(y, y_ref.detach(), 1e-6, 0.98, "y");
  const at::Tensor x_hat_ref = at::layer_norm(x.to(at::kDouble), {d}, {}, {}, 1e-6);
  expect_bf16_equal(x_hat, x_hat_ref, 1e-6, 0.98, "x_hat");
  const at::Tensor rstd_ref = 1.0 / (x.to(at::kDouble).var(-1, /*unbiased=*/false, true) + 1e-6).sqrt();
  EXPECT_TRUE(at::allclose(rstd.to(at::kDouble), rstd_ref, 1e-5, 0)) << "rstd";
  EXPECT_FALSE(std::get<1>(layer_norm_bf16(x, w, b, 1e-6, false)).defined());

  // Backward from the bf16 x̂ it kept: within bf16's error of float64 autograd.
  const at::Tensor gy = at::randn(x.sizes()).to(at::kBFloat16);
  const at::Tensor gx = layer_norm_backward_bf16(gy, x_hat, rstd, w);
  y_ref.backward(gy.to(at::kDouble));
  const at::Tensor gx_ref = xd.grad();
  ASSERT_EQ(gx.scalar_type(), at::kFloat);
  const double scale = gx_ref.abs().max().item<double>();
  EXPECT_LT((gx.to(at::kDouble) - gx_ref).abs().max().item<double>(), 1e-2 * scale);
}

// The AVX512-BF16 build of every kernel gives the generic build's bits (no subnormals in these inputs).
TEST(Bf16Kernels, NativeBuildGivesTheGenericBuildsBits) {
  if (!native_bf16_kernels()) GTEST_SKIP() << "this CPU has no AVX512-BF16: only the generic build runs";
  at::manual_seed(13);
  const at::Tensor h = (at::randn({9, 7, 111}) * 3.0).to(at::kBFloat16), b = at::randn({111});
  const at::Tensor x = at::randn({9, 7, 48}) * 2.0 + 1.0, a = at::randn({9, 7, 48}).to(at::kBFloat16);
  const at::Tensor w = at::randn({48}), lb = at::randn({48}), qkv = at::randn({2, 13, 3 * 48}).to(at::kBFloat16);
  const at::Tensor s = (at::randn({2, 3, 16, 16}) * 8.0).to(at::kBFloat16), gp = at::randn({2, 3, 16, 16}).to(at::kBFloat16);
  const auto outputs = [&] {
    std::vector<at::Tensor> out;
    at::Tensor kept;
    out.push_back(bias_gelu_bf16(h, b, &kept));
    out.push_back(kept);
    out.push_back(residual_add_bf16(x, a, w));
    out.push_back(gelu_backward_bf16(h, kept));
    out.push_back(split_heads_bf16(qkv, at::randn({3 * 48}, at::TensorOptions().dtype(at::kFloat)).fill_(0.25), 3, 4, 16));
    out.push_back(merge_heads_bf16(out.back(), 13));
    out.push_back(scaled_softmax_bf16(s, 0.3, 13));
    out.push_back(scaled_softmax_backward_bf16(gp, out.back(), 0.3));
    const auto [y, x_hat, rstd] = layer_norm_bf16(x, w, lb, 1e-6, true);
    out.insert(out.end(), {y, x_hat, rstd, layer_norm_backward_bf16(a, x_hat, rstd, w)});
    return out;
  };
  const std::vector<at::Tensor> native = outputs();
  allow_native_bf16_kernels(false);
  EXPECT_FALSE(native_bf16_kernels());
  const std::vector<at::Tensor> generic = outputs();
  allow_native_bf16_kernels(true);
  for (size_t i = 0; i < native.size(); ++i) EXPECT_TRUE(at::equal(native[i], generic[i])) << "output " << i;
}

TEST(Bf16Kernels, RefuseWhatTheyCannotRead) {
  const at::Tensor f = at::randn({4, 8});
  EXPECT_THROW(split_heads_bf16(f.view({1, 4, 8}), {}, 1, 1, 4), std::exception);         // fp32, not bf16
  EXPECT_THROW(scaled_softmax_bf16(f.to(at::kBFloat16).t(), 1.0, 4), std::exception);  // not contiguous
  EXPECT_THROW(layer_norm_bf16(f.to(at::kBFloat16), {}, {}, 1e-6, false), std::exception);
  EXPECT_TRUE(on_cpu_bf16(f.to(at::kBFloat16)));
  EXPECT_FALSE(on_cpu_bf16(f));
}

}  // namespace
}  // namespace sct::kernels
