#include "sct/data/preprocess.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "data_test_util.h"
#include "sct/io/safetensors.h"

namespace sct {
namespace {

using test::fixture_image;

// tools/make_image_fixtures.py computes the reference input with PIL + numpy exactly as the reference
// pipeline does (Image.open().convert('RGB').resize((S, S), BICUBIC), float32 / 255, (x - mean) / std).
// The decode, the resize and the float32 arithmetic all follow PIL / torchvision, so the tensors must be
// bit-identical, not merely close.
TEST(Preprocess, MatchesPilAndNumpyExactly) {
  std::ifstream in(fixture_image("manifest.json"));
  ASSERT_TRUE(in);
  const nlohmann::json manifest = nlohmann::json::parse(in);
  ASSERT_FALSE(manifest["preprocess"].empty());
  for (const auto& c : manifest["preprocess"]) {
    Normalization n;
    for (int k = 0; k < 3; ++k) {
      n.mean[k] = c["mean"][k].get<float>();
      n.std[k] = c["std"][k].get<float>();
    }
    const at::Tensor expected = load_safetensors(fixture_image(c["file"])).at("x");
    const at::Tensor x = preprocess_image_files({fixture_image(c["source"])}, c["size"].get<int64_t>(), n);
    ASSERT_EQ(x.sizes(), expected.sizes());
    EXPECT_EQ(x.scalar_type(), at::kFloat);
    const float max_diff = x.sub(expected).abs().max().item<float>();
    std::cout << "[ PIL+numpy ] " << c["file"] << ": max |sct - reference| = " << max_diff << "\n";
    EXPECT_EQ(max_diff, 0.0f);
  }
}

TEST(Preprocess, StacksImagesInOrderWithTheChosenNormalisation) {
  const at::Tensor x = preprocess_image_files({fixture_image("gray_37x53.png"), fixture_image("rgb_64x48.png")}, 24,
                                              Normalization::inception(), 2);
  ASSERT_EQ(x.sizes(), (std::vector<int64_t>{2, 3, 24, 24}));
  // Row 1 is rgb_64x48 resized by PIL (fixture), then (v / 255 - 0.5) / 0.5.
  const cv::Mat ref = test::read_png_rgb(fixture_image("rgb_64x48.24x24.png"));
  for (int y : {0, 11, 23})
    for (int xx : {0, 7, 23})
      for (int c = 0; c < 3; ++c) {
        const float v = ref.at<cv::Vec3b>(y, xx)[c];
        EXPECT_EQ(x[1][c][y][xx].item<float>(), (v / 255.0f - 0.5f) / 0.5f);
      }
  test::expect_error([] { preprocess_image_files({}, 24); }, {"no images"});
  test::expect_error([] { preprocess_image_files({"/nonexistent/a.png"}, 24); }, {"/nonexistent/a.png"});
}

}  // namespace
}  // namespace sct
