#include "sct/run/pretrain.h"

#include <ATen/ATen.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <ostream>

#include "sct/core/error.h"
#include "sct/data/image_cache.h"
#include "sct/io/atomic_file.h"
#include "sct/io/png_file.h"
#include "sct/io/safetensors.h"
#include "sct/model/backbone.h"
#include "sct/parallel/process_group.h"
#include "sct/peft/peft_method.h"
#include "sct/runtime/precision.h"
#include "sct/train/trainer.h"
#include "sct/train/training_curve.h"

namespace sct {
namespace {

namespace fs = std::filesystem;

// A grid of the first `cols` training images of the first `rows` classes, 3x enlarged.
void write_source_preview(const FractalDb& db, int64_t per_class, const std::string& path) {
  const int rows = int(std::min<size_t>(10, db.systems.size())), cols = int(std::min<int64_t>(8, per_class));
  const int s = db.train.images.front().rows * 3;
  cv::Mat grid(rows * (s + 2), cols * (s + 2), CV_8UC3, cv::Scalar(255, 255, 255));
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      cv::Mat big, bgr;
      cv::resize(db.train.images[size_t(r * per_class + c)], big, cv::Size(s, s), 0, 0, cv::INTER_NEAREST);
      cv::cvtColor(big, bgr, cv::COLOR_RGB2BGR);
      bgr.copyTo(grid(cv::Rect(c * (s + 2), r * (s + 2), s, s)));
    }
  write_png(path, grid);
}

}  // namespace

TrainConfig pretrain_defaults() {
  TrainConfig c;
  c.task = "fractal-source";
  c.epochs = 12;
  c.batch_size = 64;
  c.lr = 1e-3;
  c.weight_decay = 0.05;
  c.warmup_epochs = 1;
  c.warmup_lr = 1e-4;
  c.min_lr = 1e-5;
  c.label_smoothing = 0.1;
  c.drop_path = 0.0;  // a short run underfits; no stochastic depth
  c.train_aug = true;  // horizontal flip, then RandAugment
  c.rand_augment = "rand-n1-m5-mstd0.5-inc1";  // one mild op: at 32 px timm's m9 translates by 13 px
  c.normalization = "imagenet";
  c.eval_batch_size = 256;
  return c;
}

PretrainResult run_pretrain(const PretrainSpec& spec, std::ostream& log) {
  const TrainConfig& config = spec.config;
  config.validate();
  Backbone model = make_backbone(with_classes(spec.model, spec.source.classes), config.drop_path);
  const int64_t img_size = model->img_size();
  FractalDbSpec source = spec.source;
  source.size = int(img_size);

  auto start = std::chrono::steady_clock::now();
  log << "pretrain: drawing the fractal source (" << spec.source.classes << " classes x "
      << spec.source.train_per_class << " + " << spec.source.val_per_class << " images at " << img_size
      << " px, seed " << spec.source.seed << ") ... " << std::flush;
  const FractalDb db = make_fractal_db(source, spec.threads);
  auto train = std::make_shared<const ImageCache>(ImageCache::from_images(db.train, img_size));
  std::shared_ptr<EvalSource> val;
  if (!db.val.images.empty())
    val = std::make_shared<CacheEvalSource>(
        std::make_shared<const ImageCache>(ImageCache::from_images(db.val, img_size)),
        config.resolved_normalization(), config.eval_batch_size);
  log << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s\n";

  const bool writer = parallel::is_writer();
  if (writer) {
    fs::create_directories(spec.out);
    write_source_preview(db, spec.source.train_per_class, (fs::path(spec.out) / "source_preview.png").string());
  }

  make_peft_method("full")->attach(*model);
  model->set_precision(parse_precision(config.precision));
  model->to(spec.device);
  TrainInputs inputs{train, val, "val", val ? 1 : 0, false};
  TrainerOptions options;
  options.resume = spec.resume;
  options.log = &log;
  start = std::chrono::steady_clock::now();
  const TrainResult result = Trainer(model, inputs, config, spec.out, options).fit();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!result.complete) throw Error("pretraining stopped before its last epoch; continue it with --resume");
  if (!writer) return {};

  const std::string name = model->name();
  const nlohmann::json about = {
      {"model", name},
      {"architecture", with_classes(model->config_json(), 0)},
      {"source", {{"kind", "fractal-ifs"},
                  {"classes", spec.source.classes},
                  {"train_per_class", spec.source.train_per_class},
                  {"val_per_class", spec.source.val_per_class},
                  {"seed", spec.source.seed},
                  {"min_coverage", spec.source.min_coverage}}},
      {"train", config.to_json()},
      {"result", result.to_json()},
      {"seconds", seconds},
      {"command", spec.command}};
  TensorMap state;
  for (auto& [name, t] : model->backbone_tensors()) state[name] = t.detach().to(at::kCPU).contiguous();
  const std::string backbone =
      spec.backbone.empty() ? (fs::path(spec.out) / "backbone.safetensors").string() : spec.backbone;
  save_safetensors(backbone, state, {{"format", "pt"}, {"sct_pretrain", about.dump()}});
  write_file_atomically((fs::path(spec.out) / "pretrain.json").string(),
                        [&](std::ostream& o) { o << about.dump(2) << "\n"; });
  const std::string curve = (fs::path(spec.out) / "pretrain_curve.png").string();
  write_training_curve(result.epochs, "val", name + " on " + std::to_string(spec.source.classes) +
                                                 " fractal classes", curve);
  return {name, backbone, curve, seconds, result.final_acc};
}

}  // namespace sct
