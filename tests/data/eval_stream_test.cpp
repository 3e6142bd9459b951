#include "sct/data/eval_stream.h"

#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/tensor.h>
#include <gtest/gtest.h>

#include "data_test_util.h"

namespace sct {
namespace {

using test::expect_error;
using test::fixture_image;
using test::TempDir;
using test::write_bytes;

std::vector<ImageRecord> records(int n) {
  const char* files[] = {"photo_50x40.jpg", "gray_37x53.png", "rgba_40x30.png", "palette_33x21.png",
                         "rgb_64x48.png",   "gray_31x29.jpg", "la_18x26.png"};
  std::vector<ImageRecord> r;
  for (int i = 0; i < n; ++i) r.push_back({fixture_image(files[i % 7]), i % 3, "list:" + std::to_string(i + 1)});
  return r;
}

TEST(EvalStream, StreamsChunkByChunkInListOrder) {
  EvalStreamOptions opt;
  opt.image_size = 16;
  opt.batch_size = 3;
  opt.chunk_images = 4;  // rounded up to 6: chunks of 6 and 5 -> batches 3, 3, 3, 2
  const auto list = records(11);
  EvalStream stream(list, opt);
  EXPECT_EQ(stream.num_records(), 11);
  std::vector<int64_t> sizes;
  std::vector<at::Tensor> xs, ys, idx;
  Batch b;
  while (stream.next(b)) {
    sizes.push_back(b.images.size(0));
    xs.push_back(b.images);
    ys.push_back(b.labels);
    idx.push_back(b.indices);
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{3, 3, 3, 2}));
  EXPECT_FALSE(stream.next(b));
  const ImageCache whole = ImageCache::from_records(list, 16);
  EXPECT_TRUE(at::cat(xs).equal(whole.normalized(opt.normalization, 0, 11)));
  EXPECT_TRUE(at::cat(ys).equal(whole.label_tensor(0, 11)));
  EXPECT_TRUE(at::cat(idx).equal(at::arange(11, at::kLong)));
}

TEST(EvalStream, SkippedImagesAreCountedAndLeftOut) {
  TempDir dir;
  write_bytes(dir.path("bad.jpg"), "\xff\xd8\xff garbage");
  auto list = records(8);
  list[2] = {dir.path("bad.jpg"), 0, "test.txt:3"};
  EvalStreamOptions opt;
  opt.image_size = 8;
  opt.batch_size = 4;
  opt.chunk_images = 4;
  opt.cache.skip_bad_images = true;
  EvalStream stream(list, opt);
  std::vector<at::Tensor> idx;
  Batch b;
  while (stream.next(b)) idx.push_back(b.indices);
  EXPECT_TRUE(at::cat(idx).equal(at::tensor({0, 1, 3, 4, 5, 6, 7}, at::kLong)));
  ASSERT_EQ(stream.skipped().size(), 1u);
  EXPECT_NE(stream.skipped()[0].find("test.txt:3"), std::string::npos);
}

TEST(EvalStream, DecodingErrorsNameTheImage) {
  TempDir dir;
  auto list = records(9);
  list[7] = {dir.path("images/test/000007.jpg"), 0, "test.txt:8"};
  EvalStreamOptions opt;
  opt.image_size = 8;
  opt.batch_size = 2;
  opt.chunk_images = 2;
  EvalStream stream(list, opt);
  Batch b;
  int batches = 0;
  expect_error(
      [&] {
        while (stream.next(b)) ++batches;
      },
      {dir.path("images/test/000007.jpg"), "test.txt:8"});
  EXPECT_EQ(batches, 3);  // the chunks before the bad one were delivered
  expect_error([] { EvalStream({}, {}); }, {"no images"});
}

}  // namespace
}  // namespace sct
