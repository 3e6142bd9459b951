// `sct pretrain`: supervised pretraining of a ViT from scratch on the formula-driven source task
// (fractal_db.h), with the same trainer as every fine-tuning run (AdamW, warmup + cosine, label
// smoothing, RandAugment, resumable state, progress bar). Writes the backbone without its source
// head, as a timm-named safetensors checkpoint that every other command loads with --checkpoint,
// and the pretraining curve.
#include <ATen/ATen.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "sct/cli/commands.h"
#include "sct/cli/model_flags.h"
#include "sct/cli/parallel_flags.h"
#include "sct/core/error.h"
#include "sct/data/fractal_db.h"
#include "sct/data/image_cache.h"
#include "sct/io/atomic_file.h"
#include "sct/io/png_file.h"
#include "sct/io/safetensors.h"
#include "sct/parallel/process_group.h"
#include "sct/peft/peft_method.h"
#include "sct/runtime/device.h"
#include "sct/train/trainer.h"
#include "sct/train/training_curve.h"

namespace sct::cli {
namespace {

namespace fs = std::filesystem;

struct PretrainFlags {
  ModelFlags model;
  FractalDbSpec source;
  int64_t epochs = 0;
  std::vector<std::string> overrides;
  std::string out;
  std::string backbone;  // where the backbone goes; default <out>/backbone.safetensors
  bool resume = false;
  ParallelFlags parallel;
};

// The pretraining recipe: DeiT-style from-scratch settings scaled to a small model and a short run.
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

std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

// One process's part (all of it alone); rank 0 alone writes.
void pretrain_here(PretrainFlags flags, const std::string& command, std::ostream& log) {
  TrainConfig config = pretrain_defaults();
  config.seed = flags.model.runtime.seed;
  if (flags.epochs > 0) config.epochs = flags.epochs;
  const c10::Device device = flags.model.runtime.apply();
  config.precision = to_string(flags.model.runtime.resolved_precision(device, log));
  for (const std::string& s : flags.overrides) apply_override(config, s);
  config.validate();
  if (!flags.model.checkpoint.empty()) throw Error("pretrain starts from random weights; --checkpoint is not taken");

  VitConfig vc = flags.model.config();
  vc.num_classes = flags.source.classes;
  vc.drop_path_rate = config.drop_path;
  flags.source.size = int(vc.img_size);

  auto start = std::chrono::steady_clock::now();
  log << "pretrain: drawing the fractal source (" << flags.source.classes << " classes x "
            << flags.source.train_per_class << " + " << flags.source.val_per_class << " images at " << vc.img_size
            << " px, seed " << flags.source.seed << ") ... " << std::flush;
  const FractalDb db = make_fractal_db(flags.source, flags.model.runtime.threads);
  auto train = std::make_shared<const ImageCache>(ImageCache::from_images(db.train, vc.img_size));
  std::shared_ptr<EvalSource> val;
  if (!db.val.images.empty())
    val = std::make_shared<CacheEvalSource>(
        std::make_shared<const ImageCache>(ImageCache::from_images(db.val, vc.img_size)),
        config.resolved_normalization(), config.eval_batch_size);
  log << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s\n";

  const bool writer = parallel::is_writer();
  if (writer) {
    fs::create_directories(flags.out);
    write_source_preview(db, flags.source.train_per_class, (fs::path(flags.out) / "source_preview.png").string());
  }

  VisionTransformer model(vc);
  make_peft_method("full")->attach(*model);
  model->set_precision(parse_precision(config.precision));
  model->to(device);
  TrainInputs inputs{train, val, "val", val ? 1 : 0, false};
  TrainerOptions options;
  options.resume = flags.resume;
  options.log = &log;
  start = std::chrono::steady_clock::now();
  const TrainResult result = Trainer(model, inputs, config, flags.out, options).fit();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!result.complete) throw Error("pretraining stopped before its last epoch; continue it with --resume");
  if (!writer) return;

  VitConfig shipped = vc;
  shipped.num_classes = 0;
  shipped.drop_path_rate = 0.0;
  const nlohmann::json about = {
      {"model", vc.name},
      {"img_size", vc.img_size},
      {"patch_size", vc.patch_size},
      {"width", vc.width},
      {"depth", vc.depth},
      {"heads", vc.heads},
      {"mlp_ratio", vc.mlp_ratio},
      {"source", {{"kind", "fractal-ifs"},
                  {"classes", flags.source.classes},
                  {"train_per_class", flags.source.train_per_class},
                  {"val_per_class", flags.source.val_per_class},
                  {"seed", flags.source.seed},
                  {"min_coverage", flags.source.min_coverage}}},
      {"train", config.to_json()},
      {"result", result.to_json()},
      {"seconds", seconds},
      {"command", command}};
  TensorMap state;
  for (auto& [name, t] : model->backbone_tensors()) state[name] = t.detach().to(at::kCPU).contiguous();
  const std::string backbone =
      flags.backbone.empty() ? (fs::path(flags.out) / "backbone.safetensors").string() : flags.backbone;
  save_safetensors(backbone, state, {{"format", "pt"}, {"sct_pretrain", about.dump()}});
  write_file_atomically((fs::path(flags.out) / "pretrain.json").string(),
                        [&](std::ostream& o) { o << about.dump(2) << "\n"; });
  const std::string curve = (fs::path(flags.out) / "pretrain_curve.png").string();
  write_training_curve(result.epochs, "val", vc.name + " on " + std::to_string(flags.source.classes) +
                                                 " fractal classes", curve);
  std::cout << "pretrained " << vc.name << " in " << seconds << " s; val top-1 "
            << (result.final_acc ? std::to_string(*result.final_acc) : std::string("n/a")) << " %\nwrote " << backbone
            << " (load it with --model " << vc.name << " --checkpoint " << backbone << "), " << curve << "\n";
}

}  // namespace

void add_pretrain_command(CLI::App& app, int argc, char** argv) {
  auto flags = std::make_shared<PretrainFlags>();
  flags->model.model = "vit_pico_patch4_32";
  CLI::App* cmd = app.add_subcommand(
      "pretrain",
      "Pretrain a ViT from scratch on generated fractal classes (the embedded backbone's recipe). Example:\n"
      "  sct pretrain --out runs/pretrain --backbone models/vit_pico_patch4_32_fractal.safetensors");
  flags->model.add_to(*cmd);
  cmd->add_option("--classes", flags->source.classes, "fractal classes (one random IFS each)")->capture_default_str();
  cmd->add_option("--per-class", flags->source.train_per_class, "training images per class")->capture_default_str();
  cmd->add_option("--val-per-class", flags->source.val_per_class, "held-out images per class (0: none)")
      ->capture_default_str();
  cmd->add_option("--source-seed", flags->source.seed, "seed of the fractal systems and their images")
      ->capture_default_str();
  cmd->add_option("--epochs", flags->epochs, "training epochs (default 12)")->check(CLI::PositiveNumber);
  cmd->add_option("--set", flags->overrides, "override a training field, e.g. --set lr=1e-3");
  cmd->add_option("--out", flags->out, "run folder (state, metrics, curve)")->required();
  cmd->add_option("--backbone", flags->backbone, "where to write the backbone (default <out>/backbone.safetensors)");
  cmd->add_flag("--resume", flags->resume, "continue an interrupted run in --out");
  const std::string command = command_line(argc, argv);
  flags->parallel.add_to(*cmd);
  cmd->callback([flags, command, argc, argv] {
    parallel::run_data_parallel(flags->parallel.options(), flags->model.runtime.device, argc, argv,
                                [&](std::ostream& log) { pretrain_here(*flags, command, log); });
  });
}

}  // namespace sct::cli
