// `sct domain` as a library call: NOAH's domain-generalisation protocol. Every row (method) is trained
// once per seed on the source task by an experiment runner; each trained task folder is then scored on
// the source's own test set (the run's test top-1) and on every shifted test set, each with the same
// preprocessing as the task. Table: a row per method, a column per test set (the paper's Tab. 13 layout),
// then the mean over the shifted sets.
//   - NOAH: train on ImageNet-1K 16-shot (few-shot root data/few-shot/imagenet), score ImageNet val,
//     -V2, -Sketch, -A and -R (data/domain-generalization/*; A and R on their 200 classes).
//   - Offline: train on fashion-mnist-1k, score its test set and its shifted copies (image_shift.h).
#pragma once
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sct/data/class_subset.h"
#include "sct/data/eval_source.h"
#include "sct/run/compare.h"

namespace sct {

struct DomainTest {
  std::string name;
  // The images for a model of input `size`, normalised as the task was trained.
  std::function<std::shared_ptr<EvalSource>(int64_t size, const Normalization& normalization, int64_t batch)> source;
  std::optional<ClassSubset> classes;  // scored on these logits only
};

// fashion-mnist's 10,000 official test images, shifted by each of image_shift.h's shifts.
std::vector<DomainTest> fashion_mnist_shifted_tests();
// ImageNet-V2, -Sketch, -A, -R from NOAH's folders under `root` (imagenetv2, imagenet-sketch,
// imagenet-adversarial, imagenet-rendition; annotations/val_meta.list in each), streamed from disk.
std::vector<DomainTest> imagenet_shifted_tests(const std::string& root, bool skip_bad_images = false);

struct DomainSpec {
  std::vector<ExperimentRow> rows;
  int seeds = 1;
  uint64_t seed = 42;
  std::string source_name;              // the first column: the training task's own test set
  std::vector<DomainTest> tests;        // the shifted sets
  std::string checkpoint;               // the backbone every run trained from (required)
  std::vector<std::string> train_args;  // given to every run: the training data, model, recipe ...
  c10::Device device = c10::kCPU;       // where the shifted sets are scored
  int64_t batch_size = 64;
  std::string out;  // runs in <out>/<method>/seed<s>, the table in <out>/domain.*
};

ExperimentReport run_domain(const DomainSpec& spec, ExperimentRunner& runner, std::ostream& log);

}  // namespace sct
