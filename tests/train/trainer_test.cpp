// The trainer on a tiny ViT (2 blocks, width 16, 16x16 synthetic images): only trainable tensors move,
// runs are reproducible, a stopped or killed run resumes bit-identically, a non-finite loss stops the
// run and keeps the last good state; evaluation and the three protocols.
#include "sct/model/vision_transformer.h"
#include "sct/train/trainer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <sstream>

#include "sct/core/error.h"
#include "sct/data/image_cache.h"
#include "sct/io/safetensors.h"
#include "sct/model/block_hook.h"
#include "sct/peft/peft_method.h"
#include "sct/train/evaluate.h"
#include "sct/train/metrics.h"
#include "sct/core/progress.h"
#include "sct/train/protocol.h"
#include "sct/train/train_state.h"
#include "test_util.h"

namespace sct {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int64_t kClasses = 4;

VitConfig tiny_vit() {
  VitConfig c;
  c.name = "tiny-train";
  c.img_size = 16;
  c.patch_size = 4;
  c.width = 16;
  c.depth = 2;
  c.heads = 2;
  c.num_classes = kClasses;
  c.drop_path_rate = 0.1;
  return c;
}

// A method the trainer has never heard of: the head and the last block train.
class LastBlockMethod : public PeftMethod {
 public:
  std::string name() const override { return "last-block"; }
  void attach(BackboneImpl& model) override {
    freeze_all_but_head(model);
    for (at::Tensor& p : model.block(model.depth() - 1).parameters()) p.set_requires_grad(true);
  }
  nlohmann::json config() const override { return {{"name", name()}}; }
};

VisionTransformer trainer_model(uint64_t seed = 1) {
  at::manual_seed(seed);
  VisionTransformer m(tiny_vit());
  LastBlockMethod().attach(*m);
  return m;
}

// Class c: a dominant colour channel (c < 3) or grey (c = 3), plus pixel noise.
ImageSet synthetic_images(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  ImageSet set;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = i % kClasses;
    cv::Mat img(16, 16, CV_8UC3);
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 16; ++x)
        for (int ch = 0; ch < 3; ++ch) {
          const int base = label == 3 ? 128 : (ch == label ? 200 : 40);
          img.at<cv::Vec3b>(y, x)[ch] = static_cast<uint8_t>(base + static_cast<int>(rng() % 40) - 20);
        }
    set.images.push_back(img);
    set.labels.push_back(label);
  }
  return set;
}

std::shared_ptr<const ImageCache> cache_of(int64_t n, uint64_t seed) {
  return std::make_shared<const ImageCache>(ImageCache::from_images(synthetic_images(n, seed), 16, 1));
}

TrainConfig tiny_config() {
  TrainConfig c;
  c.epochs = 4;
  c.batch_size = 16;
  c.lr = 0.01;
  c.weight_decay = 0.05;
  c.warmup_epochs = 1;
  c.warmup_lr = 1e-3;
  c.min_lr = 1e-4;
  c.label_smoothing = 0.1;
  c.drop_path = 0.1;
  c.train_aug = true;  // flip + RandAugment: their randomness must replay too
  c.workers = 2;
  return c;
}

struct Data {
  std::shared_ptr<const ImageCache> train = cache_of(64, 11);  // 4 steps per epoch
  std::shared_ptr<EvalSource> test = std::make_shared<CacheEvalSource>(cache_of(32, 12), Normalization{}, 10);
};

TrainerOptions quiet(bool resume = false) {
  static std::ostringstream sink;
  TrainerOptions o;
  o.resume = resume;
  o.log = &sink;
  return o;
}

TrainInputs inputs_of(const Data& d) {
  TrainInputs in;
  in.train = d.train;
  in.eval = d.test;
  in.eval_every = 2;
  return in;
}

TensorMap trainable_tensors(VisionTransformerImpl& m) {
  TensorMap t;
  for (const auto& kv : m.named_parameters())
    if (kv.value().requires_grad()) t[kv.key()] = kv.value().detach().clone();
  return t;
}

TensorMap all_tensors(VisionTransformerImpl& m) {
  TensorMap t;
  for (const auto& kv : m.named_parameters()) t[kv.key()] = kv.value().detach().clone();
  return t;
}

void expect_identical(const TensorMap& a, const TensorMap& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) EXPECT_TRUE(at::equal(t, b.at(name))) << name;
}

// Everything but the timings, bit for bit.
void expect_same_metrics(const std::vector<EpochMetrics>& a, const std::vector<EpochMetrics>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].epoch, b[i].epoch);
    EXPECT_EQ(a[i].lr, b[i].lr) << i;
    EXPECT_EQ(a[i].train_loss, b[i].train_loss) << i;
    EXPECT_EQ(a[i].train_acc, b[i].train_acc) << i;
    EXPECT_EQ(a[i].eval_acc, b[i].eval_acc) << i;
    EXPECT_EQ(a[i].steps, b[i].steps) << i;
    EXPECT_EQ(a[i].images, b[i].images) << i;
  }
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// Replaces block outputs in training with NaN (or throws, as a kill would) on the n-th training call.
class PoisonHook : public BlockHookImpl {
 public:
  PoisonHook(int64_t at_call, bool throw_instead) : at_call_(at_call), throw_(throw_instead) {}
  uint32_t sites() const override { return site_bit(HookSite::BlockOutput); }
  at::Tensor apply(HookSite, const at::Tensor&, at::Tensor output) override {
    if (!is_training() || calls_++ != at_call_) return output;
    if (throw_) throw std::runtime_error("killed");
    return output * std::numeric_limits<float>::quiet_NaN();
  }

 private:
  int64_t at_call_, calls_ = 0;
  bool throw_;
};

TEST(Trainer, TrainsOnlyTrainableTensorsAndWritesTheRun) {
  Data d;
  VisionTransformer m = trainer_model();
  const TensorMap before = all_tensors(*m);
  test::ScratchDir dir;
  const TrainResult r = Trainer(m, inputs_of(d), tiny_config(), dir.file("run"), quiet()).fit();

  ASSERT_TRUE(r.complete);
  ASSERT_EQ(r.epochs.size(), 4u);
  for (const auto& kv : m->named_parameters()) {
    const bool same = at::equal(kv.value().detach(), before.at(kv.key()));
    if (kv.value().requires_grad())
      EXPECT_FALSE(same) << kv.key() << " did not train";
    else
      EXPECT_TRUE(same) << kv.key() << " is frozen but changed";
  }
  // The schedule reached the optimizer: epoch e trained at epoch_lr(e).
  for (const EpochMetrics& e : r.epochs) EXPECT_EQ(e.lr, tiny_config().schedule().epoch_lr(e.epoch));
  // Evaluated after epochs 1 and 3 (eval_every 2; 3 is also the last), not after 0 and 2.
  EXPECT_FALSE(r.epochs[0].eval_acc);
  EXPECT_TRUE(r.epochs[1].eval_acc);
  EXPECT_FALSE(r.epochs[2].eval_acc);
  ASSERT_TRUE(r.final_acc);
  EXPECT_EQ(*r.final_acc, *r.epochs[3].eval_acc);
  EXPECT_GT(*r.final_acc, 50.0);  // four colour classes; chance is 25
  EXPECT_LT(r.epochs.back().train_loss, r.epochs.front().train_loss);
  EXPECT_EQ(r.epochs[0].steps, 4);
  EXPECT_EQ(r.epochs[0].images, 64);

  const std::string run = dir.file("run");
  const std::vector<std::string> jsonl = lines_of(run + "/metrics.jsonl");
  ASSERT_EQ(jsonl.size(), 4u);
  EXPECT_EQ(json::parse(jsonl[3]).at("test_acc"), *r.final_acc);
  EXPECT_EQ(json::parse(jsonl[3]).at("optimistic"), false);
  EXPECT_TRUE(json::parse(jsonl[0]).at("test_acc").is_null());
  const std::vector<std::string> csv = lines_of(run + "/metrics.csv");
  ASSERT_EQ(csv.size(), 5u);
  EXPECT_EQ(csv[0].rfind("epoch,lr,train_loss,train_acc,test_acc,", 0), 0u) << csv[0];
  EXPECT_EQ(TrainConfig::from_json(json::parse(std::ifstream(run + "/config.json"))).to_json(),
            tiny_config().to_json());
  std::ifstream result_file(run + "/result.json");
  const json result = json::parse(result_file);
  EXPECT_EQ(result.at("final_test_acc"), *r.final_acc);
  // trained.safetensors: exactly the trainable tensors (no buffers in this model), as trained.
  const TensorMap trained = load_safetensors(run + "/trained.safetensors");
  expect_identical(trained, trainable_tensors(*m));
  EXPECT_EQ(read_train_state_info(run + "/train_state.safetensors").epochs_done, 4);
}

TEST(Trainer, SameSeedSameMetricsOtherSeedOtherMetrics) {
  Data d;
  test::ScratchDir dir;
  VisionTransformer a = trainer_model(), b = trainer_model(), c = trainer_model();
  const TrainResult ra = Trainer(a, inputs_of(d), tiny_config(), dir.file("a"), quiet()).fit();
  const TrainResult rb = Trainer(b, inputs_of(d), tiny_config(), dir.file("b"), quiet()).fit();
  expect_same_metrics(ra.epochs, rb.epochs);
  expect_identical(trainable_tensors(*a), trainable_tensors(*b));
  TrainConfig other = tiny_config();
  other.seed = 43;  // other drop-path draws and batch order from the same initialisation
  const TrainResult rc = Trainer(c, inputs_of(d), other, dir.file("c"), quiet()).fit();
  EXPECT_NE(ra.epochs[0].train_loss, rc.epochs[0].train_loss);
}

TEST(Trainer, StoppedAndKilledRunsResumeBitIdentical) {
  Data d;
  test::ScratchDir dir;
  VisionTransformer whole = trainer_model();
  const TrainResult uninterrupted = Trainer(whole, inputs_of(d), tiny_config(), dir.file("whole"), quiet()).fit();

  // Stopped cleanly after epoch 1 (two epochs done), then resumed in a fresh model, as a new process would.
  {
    TrainerOptions stop_after_two = quiet();
    stop_after_two.on_epoch_end = [](const EpochMetrics& m) { return m.epoch < 1; };
    VisionTransformer first = trainer_model();
    const TrainResult part = Trainer(first, inputs_of(d), tiny_config(), dir.file("stopped"), stop_after_two).fit();
    EXPECT_FALSE(part.complete);
    EXPECT_EQ(part.epochs.size(), 2u);
    EXPECT_EQ(lines_of(dir.file("stopped") + "/metrics.jsonl").size(), 2u);
    EXPECT_FALSE(fs::exists(dir.file("stopped") + "/result.json"));
  }
  VisionTransformer resumed = trainer_model();
  const TrainResult rest = Trainer(resumed, inputs_of(d), tiny_config(), dir.file("stopped"), quiet(true)).fit();
  ASSERT_TRUE(rest.complete);
  expect_same_metrics(rest.epochs, uninterrupted.epochs);
  expect_identical(trainable_tensors(*resumed), trainable_tensors(*whole));
  EXPECT_EQ(lines_of(dir.file("stopped") + "/metrics.jsonl").size(), 4u);

  // Killed in the middle of epoch 2 (an exception out of the forward pass at its step 1): the state
  // after epoch 1 is on disk, and resuming replays epoch 2 from its start.
  {
    VisionTransformer victim = trainer_model();
    // One training forward per step, 4 steps per epoch: call 2 * 4 + 1 is epoch 2, step 1.
    victim->block(1).attach("poison", std::make_shared<PoisonHook>(2 * 4 + 1, /*throw_instead=*/true));
    EXPECT_THROW(Trainer(victim, inputs_of(d), tiny_config(), dir.file("killed"), quiet()).fit(), std::runtime_error);
    EXPECT_EQ(read_train_state_info(dir.file("killed") + "/train_state.safetensors").epochs_done, 2);
  }
  VisionTransformer revived = trainer_model();
  const TrainResult after_kill = Trainer(revived, inputs_of(d), tiny_config(), dir.file("killed"), quiet(true)).fit();
  expect_same_metrics(after_kill.epochs, uninterrupted.epochs);
  expect_identical(trainable_tensors(*revived), trainable_tensors(*whole));

  // Resuming a finished run trains nothing and reports the same.
  VisionTransformer again = trainer_model();
  const TrainResult finished = Trainer(again, inputs_of(d), tiny_config(), dir.file("whole"), quiet(true)).fit();
  expect_same_metrics(finished.epochs, uninterrupted.epochs);
  expect_identical(trainable_tensors(*again), trainable_tensors(*whole));
}

TEST(Trainer, NonFiniteLossStopsAndKeepsTheLastGoodState) {
  Data d;
  test::ScratchDir dir;
  VisionTransformer m = trainer_model();
  m->block(1).attach("poison", std::make_shared<PoisonHook>(2 * 4 + 1, /*throw_instead=*/false));  // epoch 2, step 1
  try {
    Trainer(m, inputs_of(d), tiny_config(), dir.file("nan"), quiet()).fit();
    FAIL() << "NaN loss accepted";
  } catch (const NonFiniteLoss& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("epoch 2, step 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("after 2 epochs"), std::string::npos) << msg;
  }
  const std::string state = dir.file("nan") + "/train_state.safetensors";
  EXPECT_EQ(read_train_state_info(state).epochs_done, 2);
  for (const auto& [name, t] : load_safetensors(state))
    if (t.is_floating_point()) {
      EXPECT_TRUE(at::isfinite(t).all().item<bool>()) << name;
    }
  EXPECT_EQ(lines_of(dir.file("nan") + "/metrics.jsonl").size(), 2u);

  // A learning rate that blows up the weights fails the same way, with no help.
  TrainConfig wild = tiny_config();
  wild.lr = 1e30;
  wild.warmup_epochs = 0;
  VisionTransformer w = trainer_model();
  EXPECT_THROW(Trainer(w, inputs_of(d), wild, dir.file("wild"), quiet()).fit(), NonFiniteLoss);
}

TEST(Trainer, RefusesWhatItCannotDoCorrectly) {
  Data d;
  test::ScratchDir dir;
  TrainConfig two = tiny_config();
  two.epochs = 1;
  VisionTransformer m = trainer_model();
  Trainer(m, inputs_of(d), two, dir.file("run"), quiet()).fit();
  // An existing run without resume, and a resume with a changed configuration.
  EXPECT_THROW(Trainer(trainer_model(), inputs_of(d), two, dir.file("run"), quiet()).fit(), Error);
  TrainConfig changed = two;
  changed.lr = 0.5;
  try {
    Trainer(trainer_model(), inputs_of(d), changed, dir.file("run"), quiet(true)).fit();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lr"), std::string::npos) << e.what();
  }
  // Loader threads and the tune grid do not change what one run computes, so they may change on resume.
  TrainConfig more_workers = two;
  more_workers.workers = 1;
  more_workers.tune_lrs = {0.1, 0.2};
  EXPECT_NO_THROW(Trainer(trainer_model(), inputs_of(d), more_workers, dir.file("run"), quiet(true)).fit());
  // A model built with another drop path than the recipe's; nothing to train.
  TrainConfig no_drop = two;
  no_drop.drop_path = 0.0;
  EXPECT_THROW(Trainer(trainer_model(), inputs_of(d), no_drop, dir.file("x"), quiet()), Error);
  VisionTransformer frozen = trainer_model();
  for (at::Tensor& p : frozen->parameters()) p.set_requires_grad(false);
  EXPECT_THROW(Trainer(frozen, inputs_of(d), two, dir.file("y"), quiet()), Error);
}

// A head that always answers class 2: top-1 is the share of label 2, whatever the images.
TEST(Evaluate, CountsTopOneAndRestoresTheMode) {
  VisionTransformer m = trainer_model();
  {
    at::NoGradGuard no_grad;
    m->head->weight.zero_();
    m->head->bias.zero_();
    m->head->bias[2] = 1.0;
  }
  const auto cache = cache_of(30, 5);  // labels 0,1,2,3,0,... : 7 of 30 are class 2
  CacheEvalSource source(cache, Normalization{}, 8);
  m->train();
  const Top1 r = evaluate_top1(*m, source);
  EXPECT_EQ(r.total, 30);
  EXPECT_EQ(r.correct, 7);
  EXPECT_DOUBLE_EQ(r.percent(), 100.0 * 7 / 30);
  EXPECT_TRUE(m->is_training());
  m->eval();
  evaluate_top1(*m, source);
  EXPECT_FALSE(m->is_training());
}

// ImageNet-A / -R scoring: the argmax over the subset's logits only. Head bias 2 > 1 > 0 > -1: the
// full argmax is class 2, without class 2 it is class 1, with only {0, 3} class 0.
TEST(Evaluate, ClassSubsetTakesTheArgmaxOverItsLogitsOnly) {
  VisionTransformer m = trainer_model();
  {
    at::NoGradGuard no_grad;
    m->head->weight.zero_();
    m->head->bias.copy_(at::tensor({0.0f, 1.0f, 2.0f, -1.0f}));
  }
  const auto cache = cache_of(30, 5);  // labels 0,1,2,3,0,...: 8 zeros, 8 ones, 7 twos, 7 threes
  CacheEvalSource source(cache, Normalization{}, 8);
  EXPECT_EQ(evaluate_top1(*m, source).correct, 7);
  const ClassSubset without_two{4, {0, 1, 3}};
  EXPECT_EQ(evaluate_top1(*m, source, &without_two).correct, 8);
  const ClassSubset zero_three{4, {0, 3}};
  EXPECT_EQ(evaluate_top1(*m, source, &zero_three).correct, 8);
  const ClassSubset wrong_size{5, {0, 1}};
  EXPECT_THROW(evaluate_top1(*m, source, &wrong_size), Error);
}

TEST(Evaluate, StreamAndCacheSourcesAgree) {
  test::ScratchDir dir;
  const ImageSet set = synthetic_images(12, 9);
  std::vector<ImageRecord> records;
  for (size_t i = 0; i < set.images.size(); ++i) {
    cv::Mat bgr;
    cv::cvtColor(set.images[i], bgr, cv::COLOR_RGB2BGR);
    const std::string path = dir.file(std::to_string(i) + ".png");
    cv::imwrite(path, bgr);
    records.push_back({path, set.labels[i], path});
  }
  VisionTransformer m = trainer_model();
  CacheEvalSource cached(std::make_shared<const ImageCache>(ImageCache::from_records(records, 16)), Normalization{}, 5);
  EvalStreamOptions so;
  so.image_size = 16;
  so.batch_size = 5;
  so.chunk_images = 5;
  StreamEvalSource streamed(records, so);
  const Top1 a = evaluate_top1(*m, cached);
  const Top1 b = evaluate_top1(*m, streamed);
  const Top1 b_again = evaluate_top1(*m, streamed);  // a stream source can be walked again
  EXPECT_EQ(a.total, 12);
  EXPECT_EQ(b.total, 12);
  EXPECT_EQ(a.correct, b.correct);
  EXPECT_EQ(b.correct, b_again.correct);
}

// The protocols, with a factory that records what each run was built for.
struct CountingFactory {
  std::vector<std::pair<double, int64_t>> calls;  // (lr, training images)
  ModelFactory make() {
    return [this](const TrainConfig& c, const ImageCache& train) {
      calls.emplace_back(c.lr, train.num_images());
      VisionTransformer m(tiny_vit());
      LastBlockMethod().attach(*m);
      return m;
    };
  }
};

TEST(Protocol, FinalReportsTheLastTestScore) {
  Data d;
  test::ScratchDir dir;
  ProtocolData data{d.train, d.test, nullptr, nullptr};
  TrainConfig c = tiny_config();
  c.epochs = 2;
  CountingFactory f;
  const ProtocolResult r = run_protocol(f.make(), data, c, dir.file("final"), quiet());
  ASSERT_TRUE(r.complete);
  EXPECT_FALSE(r.optimistic);
  EXPECT_EQ(r.test_acc, *r.run.final_acc);
  EXPECT_FALSE(r.run.epochs[0].eval_acc);  // the test set is looked at once, at the end
  ASSERT_EQ(f.calls.size(), 1u);
  EXPECT_EQ(f.calls[0].second, 64);
  std::ifstream summary(dir.file("final") + "/summary.json");
  EXPECT_EQ(json::parse(summary).at("test_acc"), r.test_acc);

  // The training time comes from the epochs' metrics, so a finished run read again reports it unchanged.
  EXPECT_GT(r.train_seconds, 0.0);
  EXPECT_DOUBLE_EQ(r.train_seconds, r.run.epochs[0].seconds + r.run.epochs[0].eval_seconds +
                                        r.run.epochs[1].seconds + r.run.epochs[1].eval_seconds);
  const ProtocolResult again = run_protocol(f.make(), data, c, dir.file("final"), quiet(true));
  EXPECT_DOUBLE_EQ(again.train_seconds, r.train_seconds);
  EXPECT_EQ(again.test_acc, r.test_acc);
}

TEST(Protocol, ReferenceBestOfTestIsFlaggedOptimisticEverywhere) {
  Data d;
  test::ScratchDir dir;
  ProtocolData data{d.train, d.test, nullptr, nullptr};
  TrainConfig c = tiny_config();
  c.protocol = Protocol::ReferenceBestOfTest;
  c.eval_every = 1;
  c.epochs = 3;
  CountingFactory f;
  const ProtocolResult r = run_protocol(f.make(), data, c, dir.file("ref"), quiet());
  ASSERT_TRUE(r.complete);
  EXPECT_TRUE(r.optimistic);
  double best = 0;
  for (const EpochMetrics& m : r.run.epochs) best = std::max(best, *m.eval_acc);  // every epoch evaluated
  EXPECT_EQ(r.test_acc, best);
  for (const std::string& line : lines_of(dir.file("ref") + "/metrics.jsonl"))
    EXPECT_EQ(json::parse(line).at("optimistic"), true);
  const std::vector<std::string> csv = lines_of(dir.file("ref") + "/metrics.csv");
  for (size_t i = 1; i < csv.size(); ++i) EXPECT_EQ(csv[i].substr(csv[i].size() - 5), ",true");
  std::ifstream summary(dir.file("ref") + "/summary.json"), result(dir.file("ref") + "/result.json");
  EXPECT_EQ(json::parse(summary).at("optimistic"), true);
  EXPECT_EQ(json::parse(result).at("optimistic"), true);
}

// lr 0 cannot learn and 1e30 diverges: the grid must choose 0.01 on val200 and retrain with it on
// train800val200, reporting test.
TEST(Protocol, TuneChoosesOnValidationAndRetrainsOnEverything) {
  Data d;
  test::ScratchDir dir;
  ProtocolData data{d.train, d.test, cache_of(48, 13),
                    std::make_shared<CacheEvalSource>(cache_of(20, 14), Normalization{}, 10)};
  TrainConfig c = tiny_config();
  c.protocol = Protocol::Tune;
  c.epochs = 3;
  c.warmup_epochs = 0;
  c.warmup_lr = 0;
  c.min_lr = 0;
  c.tune_lrs = {0.0, 0.01, 1e30};
  CountingFactory f;
  const ProtocolResult r = run_protocol(f.make(), data, c, dir.file("tune"), quiet());
  ASSERT_TRUE(r.complete);
  ASSERT_EQ(r.trials.size(), 3u);
  EXPECT_FALSE(r.trials[0].diverged);
  EXPECT_FALSE(r.trials[1].diverged);
  EXPECT_TRUE(r.trials[2].diverged);
  EXPECT_GT(r.trials[1].val_acc, r.trials[0].val_acc);
  EXPECT_EQ(r.lr, 0.01);
  EXPECT_EQ(r.weight_decay, c.weight_decay);
  EXPECT_EQ(r.test_acc, *r.run.final_acc);
  EXPECT_EQ(r.run.eval_name, "test");
  EXPECT_GT(r.train_seconds, r.run.seconds());  // the grid's trainings count too
  // Trials on train800 (48 images here), the retraining on train800val200 (64).
  ASSERT_EQ(f.calls.size(), 4u);
  EXPECT_EQ(f.calls[0], std::make_pair(0.0, int64_t{48}));
  EXPECT_EQ(f.calls[2].second, 48);
  EXPECT_EQ(f.calls[3], std::make_pair(0.01, int64_t{64}));
  EXPECT_TRUE(fs::exists(dir.file("tune") + "/tune/lr0.01_wd0.05/result.json"));
  EXPECT_TRUE(fs::exists(dir.file("tune") + "/final/result.json"));
  EXPECT_EQ(json::parse(lines_of(dir.file("tune") + "/tune/lr0.0_wd0.05/metrics.jsonl").back()).count("val_acc"), 1u);
}

// Method options are axes of the tune grid too (vpt's prompt length): every (lr, options) point
// trains on train800, and the best point's options go to the retraining and the summary.
TEST(Protocol, TuneCrossesTheMethodOptionAxes) {
  Data d;
  test::ScratchDir dir;
  ProtocolData data{d.train, d.test, cache_of(48, 13),
                    std::make_shared<CacheEvalSource>(cache_of(20, 14), Normalization{}, 10)};
  TrainConfig c = tiny_config();
  c.protocol = Protocol::Tune;
  c.epochs = 2;
  c.tune_lrs = {0.01};
  c.method_options = {{"rank", 8}};
  c.tune_method_options = {{"length", {1, 5}}, {"rank", {2}}};
  std::vector<std::map<std::string, double>> seen;
  const ModelFactory factory = [&](const TrainConfig& config, const ImageCache&) {
    seen.push_back(config.method_options);
    VisionTransformer m(tiny_vit());
    LastBlockMethod().attach(*m);
    return m;
  };
  const ProtocolResult r = run_protocol(factory, data, c, dir.file("tune"), quiet());
  ASSERT_TRUE(r.complete);
  ASSERT_EQ(r.trials.size(), 2u);
  using Options = std::map<std::string, double>;
  EXPECT_EQ(r.trials[0].method_options, (Options{{"length", 1}, {"rank", 2}}));  // the grid's rank wins
  EXPECT_EQ(r.trials[1].method_options, (Options{{"length", 5}, {"rank", 2}}));
  const TuneTrial& best = r.trials[1].val_acc > r.trials[0].val_acc ? r.trials[1] : r.trials[0];
  EXPECT_EQ(r.method_options, best.method_options);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], r.trials[0].method_options);
  EXPECT_EQ(seen[2], r.method_options);  // the retraining
  EXPECT_TRUE(fs::exists(dir.file("tune") + "/tune/lr0.01_wd0.05_length5.0_rank2.0/result.json"));
  std::ifstream summary(dir.file("tune") + "/summary.json");
  EXPECT_EQ(json::parse(summary).at("method_options"), json(r.method_options));
}

TEST(Metrics, JsonRoundTripAndCsv) {
  MetricsLog log("val", false);
  EpochMetrics a;
  a.epoch = 0;
  a.lr = 1e-6;
  a.train_loss = 1.0 / 3.0;
  a.train_acc = 12.5;
  a.steps = 15;
  a.images = 960;
  EpochMetrics b = a;
  b.epoch = 1;
  b.eval_acc = 100.0 / 3.0;
  log.add(a);
  log.add(b);
  MetricsLog back("val", false);
  back.load_json(json::parse(log.to_json().dump()));
  expect_same_metrics(back.epochs(), log.epochs());
  EXPECT_EQ(log.csv_header(),
            "epoch,lr,train_loss,train_acc,val_acc,steps,images,images_per_s,seconds,eval_seconds,optimistic");
  EXPECT_EQ(log.csv_row(a), "0,1e-06,0.3333333333333333,12.5,,15,960,0.0,0.0,0.0,false");
  EXPECT_THROW(back.load_json(json::object()), Error);
}

TEST(Progress, TerminalLineAndPlainLog) {
  EXPECT_EQ(format_duration(42.4), "42s");
  EXPECT_EQ(format_duration(187), "3:07");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "?");
  std::ostringstream plain;
  {
    ProgressBar bar(plain, /*interactive=*/false, 100, 15);
    bar.step(0, 3, 1.5, 1e-3, 250.0, 60.0);
    bar.line("epoch 1/100 done");
  }
  EXPECT_EQ(plain.str(), "epoch 1/100 done\n");  // no step lines in a log file
  std::ostringstream tty;
  {
    ProgressBar bar(tty, /*interactive=*/true, 100, 15);
    bar.step(0, 3, 1.5, 1e-3, 250.0, 60.0);
    bar.line("epoch 1/100 done");
  }
  EXPECT_EQ(tty.str(),
            "\repoch 1/100 step 4/15 loss 1.5000 lr 1.000e-03 250.0 img/s ETA 1:00\x1b[K\r\x1b[Kepoch 1/100 done\n");
}

}  // namespace
}  // namespace sct
