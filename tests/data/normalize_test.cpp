#include "sct/data/normalize.h"

#include <gtest/gtest.h>

#include <vector>

#include "data_test_util.h"

namespace sct {
namespace {

using test::expect_error;

const uint8_t kInputs[] = {0, 1, 37, 128, 200, 254, 255};

// torch 1.13: torch.tensor(v, dtype=uint8).float().div(255).sub(mean[c]).div(std[c]), printed with
// 9 significant digits (exact for float32). Bit-identical values are required.
TEST(Normalize, ImageNetMatchesTorchvisionBitForBit) {
  const float expected[3][7] = {
      {-2.11790395f, -2.10077929f, -1.4842881f, 0.0740646273f, 1.30704677f, 2.23178339f, 2.24890828f},
      {-2.03571415f, -2.01820731f, -1.38795507f, 0.205182195f, 1.46568632f, 2.41106415f, 2.42857146f},
      {-1.80444443f, -1.7870152f, -1.15956414f, 0.426492572f, 1.68139446f, 2.62257099f, 2.6400001f}};
  const NormalizeTable table(Normalization::imagenet());
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 7; ++i)
      EXPECT_EQ(table(c, kInputs[i]), expected[c][i]) << "channel " << c << " value " << int(kInputs[i]);
}

TEST(Normalize, InceptionMatchesTorchvisionBitForBit) {
  const float expected[7] = {-1.0f, -0.992156863f, -0.709803939f, 0.003921628f, 0.568627477f, 0.992156863f, 1.0f};
  const NormalizeTable table(Normalization::inception());
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 7; ++i) EXPECT_EQ(table(c, kInputs[i]), expected[i]);
}

TEST(Normalize, WritesChannelPlanes) {
  // 1 x 2 image: pixels (0, 128, 255) and (255, 0, 128), inception normalisation.
  const uint8_t rgb[] = {0, 128, 255, 255, 0, 128};
  std::vector<float> out(6);
  normalize_to_chw(rgb, 1, 2, NormalizeTable(Normalization::inception()), out.data());
  EXPECT_EQ(out, (std::vector<float>{-1.0f, 1.0f, 0.003921628f, -1.0f, 1.0f, 0.003921628f}));
}

TEST(Normalize, ParsesChannelTriples) {
  const auto t = parse_channel_triple("0.5,0.25, 1e-1", "--mean");
  EXPECT_EQ(t[0], 0.5f);
  EXPECT_EQ(t[1], 0.25f);
  EXPECT_EQ(t[2], 0.1f);
  expect_error([] { parse_channel_triple("1,2", "--std"); }, {"--std", "three"});
  expect_error([] { parse_channel_triple("1,2,3,4", "--std"); }, {"three"});
  expect_error([] { parse_channel_triple("1,x,3", "--mean"); }, {"--mean", "'x' is not a number"});
  expect_error([] { parse_channel_triple("1,2x,3", "--mean"); }, {"'2x'"});
}

TEST(Normalize, RejectsNonPositiveStd) {
  Normalization n;
  n.std[1] = 0.0f;
  expect_error([&] { NormalizeTable t(n); }, {"std must be positive"});
}

}  // namespace
}  // namespace sct
