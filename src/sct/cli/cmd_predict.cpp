// `sct predict`: the top classes of images under a trained task folder.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sct/cli/commands.h"
#include "sct/cli/task_model.h"
#include "sct/data/preprocess.h"

namespace sct::cli {
namespace {

struct PredictFlags {
  TaskModelFlags model;
  std::vector<std::string> images;
  int64_t top = 5, batch = 32;
  bool json = false;
};

void run_predict(const PredictFlags& flags) {
  TaskModel tm = load_task_model(flags.model, std::cerr);
  const TaskInfo& info = tm.task.info;
  const int64_t top = std::min<int64_t>(flags.top, info.num_classes());
  for (size_t begin = 0; begin < flags.images.size(); begin += size_t(flags.batch)) {
    const std::vector<std::string> paths(
        flags.images.begin() + long(begin),
        flags.images.begin() + long(std::min(flags.images.size(), begin + size_t(flags.batch))));
    at::Tensor probs;
    {
      c10::InferenceMode guard;
      const at::Tensor x = preprocess_image_files(paths, info.img_size(), info.normalization).to(tm.device);
      probs = tm.model->forward(x).softmax(1).to(at::kCPU);
    }
    const auto [values, indices] = probs.topk(top, 1);
    for (size_t i = 0; i < paths.size(); ++i) {
      nlohmann::json preds = nlohmann::json::array();
      for (int64_t t = 0; t < top; ++t) {
        const int64_t c = indices[long(i)][t].item<int64_t>();
        preds.push_back(
            {{"label", c}, {"name", info.class_names[size_t(c)]}, {"prob", values[long(i)][t].item<double>()}});
      }
      if (flags.json) {
        std::cout << nlohmann::json{{"image", paths[i]}, {"top", preds}}.dump() << "\n";
        continue;
      }
      std::cout << paths[i] << "\n";
      for (const auto& p : preds)
        std::printf("  %6.2f%%  %s (%lld)\n", 100.0 * p["prob"].get<double>(), p["name"].get<std::string>().c_str(),
                    static_cast<long long>(p["label"].get<int64_t>()));
    }
  }
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto flags = std::make_shared<PredictFlags>();
  CLI::App* cmd = app.add_subcommand(
      "predict",
      "Classify images with a trained task folder: the top classes with their probabilities. Example:\n"
      "  sct predict --task-dir runs/cifar100/task --checkpoint ViT-B_16.npz photo1.jpg photo2.png");
  flags->model.add_to(*cmd);
  cmd->add_option("images", flags->images, "image files (JPEG, PNG, ...)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--top", flags->top, "classes to list per image")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--batch", flags->batch, "images per forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", flags->json, "one JSON line per image");
  cmd->callback([flags] { run_predict(*flags); });
}

}  // namespace sct::cli
