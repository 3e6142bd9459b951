// TrainConfig: the reference's defaults, JSON round trip of every field, overrides, validation.
#include "sct/train/train_config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sct/core/error.h"

namespace sct {
namespace {

using nlohmann::json;

TEST(TrainConfig, DefaultsAreTheReferenceRecipe) {
  const TrainConfig c;
  EXPECT_EQ(c.epochs, 100);
  EXPECT_EQ(c.batch_size, 64);
  EXPECT_EQ(c.warmup_epochs, 10);
  EXPECT_EQ(c.warmup_lr, 1e-6);
  EXPECT_EQ(c.min_lr, 1e-5);
  EXPECT_EQ(c.drop_path, 0.1);
  EXPECT_EQ(c.seed, 42u);
  EXPECT_EQ(c.eval_every, 10);
  EXPECT_EQ(c.protocol, Protocol::Final);
  EXPECT_EQ(c.rand_augment, "rand-m9-mstd0.5-inc1");
  const CosineSchedule s = c.schedule();
  EXPECT_EQ(s.t_initial, 100);
  EXPECT_EQ(s.warmup_t, 10);
  EXPECT_EQ(s.warmup_lr_init, 1e-6);
  EXPECT_EQ(s.lr_min, 1e-5);
  EXPECT_NO_THROW(c.validate());
}

// Every field set away from its default survives JSON and back, and the JSON names every field.
TEST(TrainConfig, EveryFieldRoundTripsThroughJson) {
  TrainConfig c;
  c.task = "dtd";
  c.epochs = 7;
  c.batch_size = 8;
  c.lr = 0.0032;
  c.weight_decay = 0.04;
  c.warmup_epochs = 2;
  c.warmup_lr = 2e-6;
  c.min_lr = 3e-5;
  c.label_smoothing = 0.0;
  c.drop_path = 0.2;
  c.seed = 7;
  c.train_aug = true;
  c.rand_augment = "rand-m5-n1";
  c.normalization = "inception";
  c.eval_every = 3;
  c.eval_batch_size = 128;
  c.protocol = Protocol::ReferenceBestOfTest;
  c.tune_lrs = {0.1, 0.01};
  c.tune_weight_decays = {1e-4};
  c.workers = 3;
  c.method_options = {{"length", 50}};
  c.tune_method_options = {{"length", {1, 10}}, {"rank", {4}}};
  c.precision = "bf16";
  c.recompute = true;
  const json j = c.to_json();
  EXPECT_EQ(j.size(), 24u);
  EXPECT_EQ(j.at("protocol"), "reference-best-of-test");
  const TrainConfig back = TrainConfig::from_json(json::parse(j.dump()));
  EXPECT_EQ(back.to_json(), j);
  // And no field is left at the default by accident (each one above differs from TrainConfig{}).
  const json defaults = TrainConfig{}.to_json();
  for (const auto& item : j.items()) EXPECT_NE(item.value(), defaults.at(item.key())) << item.key();
}

TEST(TrainConfig, JsonOverridesOnlyWhatItNames) {
  TrainConfig base;
  base.lr = 0.05;
  const TrainConfig c = TrainConfig::from_json(json{{"epochs", 3}, {"protocol", "tune"}}, base);
  EXPECT_EQ(c.epochs, 3);
  EXPECT_EQ(c.protocol, Protocol::Tune);
  EXPECT_EQ(c.lr, 0.05);
  EXPECT_EQ(c.batch_size, 64);
}

TEST(TrainConfig, UnknownKeysAndWrongTypesAreErrors) {
  EXPECT_THROW(TrainConfig::from_json(json{{"learning_rate", 0.1}}), Error);
  EXPECT_THROW(TrainConfig::from_json(json{{"epochs", 2.5}}), Error);  // not silently truncated
  EXPECT_THROW(TrainConfig::from_json(json{{"seed", -1}}), Error);
  EXPECT_THROW(TrainConfig::from_json(json{{"lr", "fast"}}), Error);
  EXPECT_THROW(TrainConfig::from_json(json{{"protocol", "best"}}), Error);
  EXPECT_THROW(TrainConfig::from_json(json::array()), Error);
  try {
    TrainConfig::from_json(json{{"epochz", 1}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("epochz"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("label_smoothing"), std::string::npos);  // lists the known fields
  }
  EXPECT_EQ(TrainConfig::from_json(json{{"lr", 1}}).lr, 1.0);  // integers are fine where a number goes
}

TEST(TrainConfig, KeyValueOverrides) {
  TrainConfig c;
  apply_override(c, "lr=0.013");
  apply_override(c, "protocol=reference-best-of-test");
  apply_override(c, "train_aug=true");
  apply_override(c, "tune_lrs=[0.1,0.01]");
  apply_override(c, "task=123");  // JSON text is still a fine string
  apply_override(c, "normalization=\"inception\"");
  apply_override(c, "tune_method_options={\"length\":[1,10,50]}");
  EXPECT_EQ(c.lr, 0.013);
  EXPECT_EQ(c.tune_method_options, (std::map<std::string, std::vector<double>>{{"length", {1, 10, 50}}}));
  EXPECT_THROW(apply_override(c, "method_options={\"length\":\"long\"}"), Error);
  EXPECT_EQ(c.protocol, Protocol::ReferenceBestOfTest);
  EXPECT_TRUE(c.train_aug);
  EXPECT_EQ(c.tune_lrs, (std::vector<double>{0.1, 0.01}));
  EXPECT_EQ(c.task, "123");
  EXPECT_EQ(c.normalization, "inception");
  EXPECT_THROW(apply_override(c, "lr"), Error);
  EXPECT_THROW(apply_override(c, "=3"), Error);
  EXPECT_THROW(apply_override(c, "epochs=many"), Error);
  try {
    apply_override(c, "nosuch=1");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nosuch"), std::string::npos) << e.what();
  }
}

TEST(TrainConfig, ValidateNamesTheField) {
  const auto fails_on = [](const std::string& assignment, const std::string& field) {
    TrainConfig c;
    apply_override(c, assignment);
    try {
      c.validate();
      ADD_FAILURE() << assignment << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  fails_on("epochs=0", "epochs");
  fails_on("batch_size=0", "batch_size");
  fails_on("label_smoothing=1", "label_smoothing");
  fails_on("drop_path=1.5", "drop_path");
  fails_on("weight_decay=-1", "weight_decay");
  fails_on("tune_method_options={\"length\":[]}", "tune_method_options");
  fails_on("normalization=imagenet21k", "normalization");
  fails_on("eval_every=0", "eval_every");
  fails_on("tune_lrs=[0.1,-1]", "tune_lrs");
  TrainConfig bad_augment;
  bad_augment.train_aug = true;
  bad_augment.rand_augment = "rand-q9";
  EXPECT_THROW(bad_augment.validate(), Error);
}

}  // namespace
}  // namespace sct
