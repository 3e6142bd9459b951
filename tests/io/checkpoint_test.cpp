// Strict checkpoint loading: every problem is an error that names the file and the tensors.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "sct/model/vision_transformer.h"
#include "sct/core/error.h"
#include "sct/io/checkpoint.h"
#include "sct/io/google_vit.h"
#include "sct/io/npz.h"
#include "sct/io/safetensors.h"
#include "test_util.h"

namespace sct {
namespace {

VitConfig d2_config(int64_t classes = 3, int64_t width = 32) {
  VitConfig c;
  c.name = "d2";
  c.img_size = 32;
  c.patch_size = 8;
  c.width = width;
  c.depth = 2;
  c.heads = 4;
  c.mlp_ratio = 2.0;
  c.num_classes = classes;
  return c;
}

TensorMap d2_state() { return load_safetensors(test::fixture("vit_d2_w32_h4.safetensors")); }

std::string load_error(VitConfig cfg, TensorMap state, LoadOptions opts = {}) {
  VisionTransformer m(cfg);
  try {
    load_vit_state(*m, std::move(state), "ckpt.safetensors", opts);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Checkpoint, MissingTensorIsNamed) {
  TensorMap s = d2_state();
  s.erase("blocks.1.norm1.weight");
  const std::string msg = load_error(d2_config(), s);
  EXPECT_NE(msg.find("ckpt.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing 1: blocks.1.norm1.weight"), std::string::npos) << msg;
}

TEST(Checkpoint, UnexpectedTensorIsListedUnlessAllowed) {
  TensorMap s = d2_state();
  s["extra.thing"] = at::zeros({2});
  const std::string msg = load_error(d2_config(), s);
  EXPECT_NE(msg.find("unexpected 1: extra.thing"), std::string::npos) << msg;
  VisionTransformer m(d2_config());
  LoadOptions allow;
  allow.allow_unexpected = true;
  const LoadReport r = load_vit_state(*m, s, "ckpt", allow);
  EXPECT_EQ(r.unexpected, std::vector<std::string>{"extra.thing"});
}

TEST(Checkpoint, ShapeMismatchNamesTensorAndBothShapes) {
  VitConfig wrong = d2_config(3, 24);
  wrong.heads = 4;
  const std::string msg = load_error(wrong, d2_state());
  EXPECT_NE(msg.find("'blocks.0.norm1.weight': model expects [24], checkpoint has [32]"), std::string::npos) << msg;
}

TEST(Checkpoint, HeadOfAnotherClassCountIsIgnoredAndKeptFresh) {
  VisionTransformer m(d2_config(7));
  const at::Tensor fresh = m->head->weight.clone();
  const LoadReport r = load_vit_state(*m, d2_state(), "ckpt");
  EXPECT_FALSE(r.head_loaded);
  EXPECT_TRUE(at::equal(fresh, m->head->weight));
  ASSERT_EQ(r.ignored.size(), 2u);
  EXPECT_NE(r.ignored[0].find("3 classes; model has 7"), std::string::npos) << r.ignored[0];
  // The backbone did load.
  EXPECT_TRUE(at::equal(m->norm->weight, d2_state().at("norm.weight")));
}

TEST(Checkpoint, BackboneWithoutHeadLoadsIntoModelWithHead) {
  TensorMap s = d2_state();
  s.erase("head.weight");
  s.erase("head.bias");
  VisionTransformer m(d2_config());
  EXPECT_FALSE(load_vit_state(*m, s, "ckpt").head_loaded);
}

TEST(Checkpoint, DistributedPrefixIsStripped) {
  TensorMap prefixed;
  for (auto& kv : d2_state()) prefixed["module." + kv.first] = kv.second;
  VisionTransformer m(d2_config());
  EXPECT_TRUE(load_vit_state(*m, prefixed, "ckpt").head_loaded);
}

TEST(Checkpoint, HookParametersAreNotBackboneTensors) {
  VisionTransformer m(d2_config());
  struct Extra : BlockHookImpl {
    Extra() { register_parameter("w", at::zeros({3})); }
    uint32_t sites() const override { return 0; }
    at::Tensor apply(HookSite, const at::Tensor&, at::Tensor o) override { return o; }
  };
  m->block(0).attach("extra", std::make_shared<Extra>());
  EXPECT_NO_THROW(load_vit_state(*m, d2_state(), "ckpt"));
}

TEST(Checkpoint, UnknownGoogleArrayIsUnexpected) {
  TensorMap npz = load_npz(test::fixture("vit_d2_w32_h4.npz"));
  npz["Transformer/encoderblock_0/Surprise/kernel"] = at::zeros({1});
  const std::string msg = load_error(d2_config(), google_vit_to_timm(npz));
  EXPECT_NE(msg.find("unexpected 1: Transformer/encoderblock_0/Surprise/kernel"), std::string::npos) << msg;
}

// Arrays of the wrong rank are named with their shape and the layout expected, not left to LibTorch.
TEST(Checkpoint, GoogleArraysOfTheWrongRankAreNamed) {
  const TensorMap npz = load_npz(test::fixture("vit_d2_w32_h4.npz"));
  const std::string q = "Transformer/encoderblock_1/MultiHeadDotProductAttention_1/query/kernel";
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"embedding/kernel", {"'embedding/kernel' has shape [8, 8, 3]", "expected 4 dimensions (height, width, in, out)"}},
      {q, {"'" + q + "'", "expected 3 dimensions (width, heads, head dim)"}},
      {"Transformer/encoderblock_0/MultiHeadDotProductAttention_1/out/kernel", {"out/kernel", "(heads, head dim, width)"}},
      {"Transformer/encoderblock_0/MlpBlock_3/Dense_1/kernel", {"Dense_1/kernel", "expected 2 dimensions (in, out)"}},
  };
  for (const auto& [key, parts] : cases) {
    TensorMap broken = npz;
    const at::Tensor t = broken.count(key) ? broken.at(key) : broken.at("opt/target/" + key);
    broken[broken.count(key) ? key : "opt/target/" + key] = t.select(t.dim() - 1, 0);  // one dimension short
    test::expect_error([&] { google_vit_to_timm(broken); }, parts);
  }
  TensorMap mismatched = npz;
  const std::string k = "Transformer/encoderblock_1/MultiHeadDotProductAttention_1/key/kernel";
  mismatched[mismatched.count(k) ? k : "opt/target/" + k] = at::zeros({32, 4, 4});
  test::expect_error([&] { google_vit_to_timm(mismatched); }, {k, "does not match the query's shape"});
}

TEST(Checkpoint, MissingOrCorruptFilesNameThePath) {
  test::ScratchDir dir;
  VisionTransformer m(d2_config());
  const std::string missing = dir.file("nope.safetensors");
  try {
    load_vit_checkpoint(*m, missing);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  for (const std::string name : {"vit_d2_w32_h4.safetensors", "vit_d2_w32_h4.npz"}) {
    const std::string cut = dir.file("cut-" + name);
    std::filesystem::copy_file(test::fixture(name), cut);
    std::filesystem::resize_file(cut, std::filesystem::file_size(cut) / 2);
    try {
      load_vit_checkpoint(*m, cut);
      FAIL() << "truncated " << name << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(cut), std::string::npos) << e.what();
    }
  }
}

// A FIFO named as a checkpoint is refused at once, not waited on.
TEST(Checkpoint, FifoIsRefusedNotWaitedOn) {
  test::ScratchDir dir;
  const std::string fifo = dir.file("vit.safetensors");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  test::expect_error([&] { read_checkpoint(fifo); }, {"cannot read checkpoint " + fifo, "not a regular file"});
}

}  // namespace
}  // namespace sct
