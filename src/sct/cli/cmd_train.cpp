// `sct train`: channel selection (unless a selection file is given), training by the task's recipe and
// protocol, test accuracy, and the task folder (adapter_config.json + adapter_model.safetensors).
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "sct/cli/commands.h"
#include "sct/cli/model_flags.h"
#include "sct/cli/sct_flags.h"
#include "sct/cli/task_data.h"
#include "sct/core/error.h"
#include "sct/model/backbone_fingerprint.h"
#include "sct/peft/sct_method.h"
#include "sct/peft/selection_heatmap.h"
#include "sct/peft/task_dir.h"
#include "sct/runtime/device.h"
#include "sct/runtime/memory.h"
#include "sct/train/method_recipe.h"
#include "sct/train/protocol.h"
#include "sct/train/recipe.h"

namespace sct::cli {
namespace {

namespace fs = std::filesystem;

struct TrainFlags {
  ModelFlags model;
  TaskFlags task;
  SctFlags sct;
  std::string method = "sct";
  std::vector<std::string> method_options;
  std::string selection;  // a file from `sct select`
  std::string recipe;     // "" = the task's recipe when there is one; "none"; a name or a .json
  std::string method_recipe;  // "" = configs/methods/<model>.json when it has the method; "none"; a .json
  std::string protocol;
  int64_t epochs = 0;
  std::vector<std::string> overrides;
  std::string out;
  bool resume = false, json = false, recompute = false;
  std::string progress = "auto";
};

// The method's entry in --method-recipe, or in configs/methods/<model>.json; none for "none".
std::optional<MethodRecipe> resolve_method_recipe(const TrainFlags& flags) {
  const std::string method = flags.method == "none" ? "linear" : flags.method;
  if (flags.method_recipe == "none") return std::nullopt;
  if (flags.method_recipe.empty()) return find_method_recipe(flags.model.model, method);
  std::optional<MethodRecipe> r = load_method_recipe(flags.method_recipe, method);
  if (!r) throw Error(flags.method_recipe + ": has no entry for method '" + method + "'");
  return r;
}

// The run's configuration: defaults, then the task recipe, then the method recipe, then the flags,
// then every --set.
TrainConfig resolve_config(const TrainFlags& flags, const std::string& task, std::optional<VtabRecipe>& recipe,
                           const std::optional<MethodRecipe>& method_recipe) {
  TrainConfig config;
  if (flags.recipe != "none") {
    try {
      recipe = load_recipe(flags.recipe.empty() ? task : flags.recipe);
    } catch (const Error& e) {
      if (!flags.recipe.empty()) throw;
      std::cerr << "train: no recipe for task " << task << ", using the reference's defaults\n";
    }
  }
  if (recipe) recipe->apply_to(config);
  if (method_recipe) {
    method_recipe->apply_to(config);
    std::cerr << "train: " << method_recipe->method << "'s settings from " << method_recipe->file << "\n";
  } else if (recipe && flags.method != "sct" && flags.method_recipe != "none") {
    std::cerr << "train: no method recipe for " << flags.method << " on " << flags.model.model << "; lr "
              << config.lr << " is SCT's, from the task recipe (choose with --protocol tune)\n";
  }
  config.seed = flags.model.runtime.seed;
  std::ostringstream quiet;  // build_model prints the precision's warnings
  config.precision =
      to_string(flags.model.runtime.resolved_precision(parse_device(flags.model.runtime.device), quiet));
  if (flags.epochs > 0) config.epochs = flags.epochs;
  if (flags.recompute) config.recompute = true;
  if (!flags.protocol.empty()) config.protocol = parse_protocol(flags.protocol);
  for (const std::string& s : flags.overrides) apply_override(config, s);
  config.validate();
  return config;
}

// Inference time of the trained model, per image, in batches of 32 synthetic images (the fastest of 3).
double inference_ms_per_image(VisionTransformerImpl& model, const VitConfig& cfg, const c10::Device& device) {
  constexpr int64_t kBatch = 32;
  const at::Tensor images =
      at::randn({kBatch, cfg.in_chans, cfg.img_size, cfg.img_size}, at::TensorOptions().device(device));
  model.eval();
  double best = 1e30;
  for (int r = 0; r < 3; ++r) {
    c10::InferenceMode guard;
    const auto t = std::chrono::steady_clock::now();
    model.forward(images).to(at::kCPU);  // the copy waits for an asynchronous device
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
  }
  return 1e3 * best / double(kBatch);
}

void run_train(TrainFlags flags) {
  const TaskData data(flags.task);
  std::optional<VtabRecipe> recipe;
  const std::optional<MethodRecipe> method_recipe = resolve_method_recipe(flags);
  const TrainConfig config = resolve_config(flags, data.name(), recipe, method_recipe);
  const std::optional<double> scale =
      flags.sct.resolved_scale(recipe ? std::optional<double>(recipe->scale) : std::nullopt);
  const bool scale_on_x = flags.sct.scale_on_x || (flags.sct.scale == "recipe" && recipe && recipe->scale_on_x);
  // Checked before any work: an unknown method or option fails at once.
  const nlohmann::json method_config = sct::method_config(flags.method, flags.method_options);
  if (flags.method != "sct") {
    make_peft_method(with_method_options(method_config, config.method_options));
    for (const auto& [option, values] : config.tune_method_options)
      make_peft_method(with_method_options(method_config, {{option, values.front()}}));
  }
  if (flags.method == "sct" &&
      (!flags.method_options.empty() || !config.method_options.empty() || !config.tune_method_options.empty()))
    throw Error("--method-option, method_options and tune_method_options are for the comparison methods; sct "
                "takes --k, --position, --strategy, --scale");

  // The pretrained backbone, loaded once; every run of the protocol starts from a copy of it.
  flags.model.num_classes = data.num_classes();
  BuiltModel base = build_model(flags.model, std::cerr);
  VitConfig cfg = base.model->config();
  const std::string sha = backbone_fingerprint(*base.model);
  const std::string backbone_name =
      flags.model.checkpoint.empty() ? cfg.name + " (random init)" : flags.model.checkpoint;
  const Normalization norm = config.resolved_normalization();

  std::optional<Selection> given;
  if (!flags.selection.empty()) {
    given = Selection::load(flags.selection);
    if (given->backbone_sha256 != sha)
      std::cerr << "warning: " << flags.selection << " was measured on another backbone (" << given->backbone_sha256
                << ")\n";
  }

  VisionTransformer last_model{nullptr};
  std::optional<Selection> last_selection;
  nlohmann::json last_method_config;
  // The tune grid trains many times on the same split with the same seed: select once per split.
  std::map<std::pair<const ImageCache*, uint64_t>, Selection> selections;
  const ModelFactory factory = [&](const TrainConfig& c, const ImageCache& train) {
    VitConfig vc = cfg;
    vc.drop_path_rate = c.drop_path;
    VisionTransformer model(vc);
    {
      torch::NoGradGuard no_grad;
      auto from = base.model->backbone_tensors();
      auto to = model->backbone_tensors();
      for (size_t i = 0; i < to.size(); ++i) to[i].second.copy_(from[i].second);
    }
    model->to(base.device);
    const Precision precision = parse_precision(c.precision);
    model->set_precision(precision);  // selection's forward; nothing is frozen yet, so nothing converts
    std::unique_ptr<PeftMethod> method;
    if (flags.method == "sct") {
      const auto key = std::make_pair(&train, c.seed);
      if (!given && !selections.count(key))
        selections.emplace(
            key, select_on(model, train, data.num_classes(), flags.sct.selection_options(vc.depth, c.seed), norm,
                           flags.sct.select_batch, std::cerr));
      Selection s = given ? *given : selections.at(key);
      s.backbone_name = backbone_name;
      s.backbone_sha256 = sha;
      if (!given) s.dataset = data.name() + "/" + std::to_string(train.num_images()) + " training images";
      last_selection = s;
      method = std::make_unique<SctMethod>(std::move(s), scale, scale_on_x);
    } else {
      method = make_peft_method(with_method_options(method_config, c.method_options));
    }
    method->attach(*model);
    model->set_precision(precision);  // now the frozen weights become bf16
    last_method_config = method->config();
    last_model = model;
    return model;
  };

  ProtocolData pd;
  const int64_t size = cfg.img_size;
  pd.train800val200 = data.cache(VtabSplit::Train800Val200, size);
  pd.test = data.eval_source(VtabSplit::Test, size, norm, config.eval_batch_size);
  if (config.protocol == Protocol::Tune) {
    pd.train800 = data.cache(VtabSplit::Train800, size);
    pd.val200 = data.eval_source(VtabSplit::Val200, size, norm, config.eval_batch_size);
  }
  TrainerOptions options;
  options.resume = flags.resume;
  if (flags.progress != "auto") options.interactive = flags.progress == "bar";
  const ProtocolResult result = run_protocol(factory, pd, config, flags.out, options);
  if (!result.complete) throw Error("training stopped before its last epoch; continue it with --resume");

  if (last_selection) {
    last_selection->save((fs::path(flags.out) / "selection.json").string());
    if (last_selection->parts.front().scores.defined())
      write_selection_heatmap(*last_selection, (fs::path(flags.out) / "selection.png").string());
  }
  TaskInfo info;
  info.method = last_method_config;
  info.backbone = last_model->config();
  info.backbone.drop_path_rate = 0.0;
  info.backbone_sha256 = sha;
  info.class_names = data.class_names();
  info.normalization = norm;
  info.task = data.name();
  info.result = result.to_json();
  info.result["backbone"] = backbone_name;
  info.result["precision"] = config.precision;  // what it was trained in; eval/predict choose their own
  const std::string task_dir = (fs::path(flags.out) / "task").string();
  save_task_dir(task_dir, info, *last_model);

  const ParameterCount count = count_parameters(*last_model);
  const double infer_ms = inference_ms_per_image(*last_model, cfg, base.device);
  nlohmann::json summary = {{"task", data.name()},
                            {"method", flags.method},
                            {"protocol", protocol_name(result.protocol)},
                            {"test_acc", result.test_acc},
                            {"optimistic", result.optimistic},
                            {"lr", result.lr},
                            {"method_recipe", method_recipe ? method_recipe->file : ""},
                            {"weight_decay", result.weight_decay},
                            {"epochs", config.epochs},
                            {"precision", config.precision},
                            {"trainable_params", count.trainable - count.trainable_head},
                            {"head_params", count.trainable_head},
                            {"total_params", count.total},
                            {"train_seconds", result.train_seconds},
                            {"peak_rss_mb", peak_rss_mb()},
                            {"infer_ms_per_image", infer_ms},
                            {"task_dir", task_dir},
                            {"task_dir_bytes", fs::file_size(fs::path(task_dir) / "adapter_model.safetensors") +
                                                   fs::file_size(fs::path(task_dir) / "adapter_config.json")}};
  if (flags.json) {
    std::cout << summary.dump() << "\n";
    return;
  }
  std::printf("%s on %s: test top-1 %.2f%% (protocol %s%s)\n%s\ntask folder: %s (%.1f KB)\n", flags.method.c_str(),
              data.name().c_str(), result.test_acc, protocol_name(result.protocol),
              result.optimistic ? ", OPTIMISTIC: best of periodic test scores" : "", describe(count).c_str(),
              task_dir.c_str(), summary["task_dir_bytes"].get<double>() / 1024.0);
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Adapt a pretrained ViT to a task: select salient channels on the training split (or read --selection), train "
      "the SCT modules and a new head with the task's recipe, report test top-1, and write <out>/task. Example:\n"
      "  sct train --task cifar100 --data vtab-1k --checkpoint ViT-B_16.npz --out runs/cifar100");
  flags->model.add_to(*cmd);
  flags->task.add_to(*cmd);
  flags->sct.add_to(*cmd, /*with_scale=*/true);
  cmd->add_option("--method", flags->method,
                  "sct, or a comparison method: linear, full, bias, lora, adapter, adaptformer, ssf, vpt")
      ->capture_default_str();
  cmd->add_option("--method-option", flags->method_options,
                  "a comparison method's option, e.g. rank=8 alpha=8 (lora), bottleneck=8 placement=mlp|both "
                  "(adapter), bottleneck=64 scale=0.1 dropout=0.1 (adaptformer), length=10 (vpt); numeric options "
                  "can be tuned: --protocol tune --set 'tune_method_options={\"length\":[1,10,50]}'");
  cmd->add_option("--selection", flags->selection, "channel selection file from sct select (skips selecting)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--recipe", flags->recipe,
                  "training recipe: a task name or .json file (default: the task's own, configs/vtab1k), or none");
  cmd->add_option("--method-recipe", flags->method_recipe,
                  "the method's lr, weight decay, augmentation, label smoothing and tune grid, laid over the task "
                  "recipe: a .json file (default: configs/methods/<model>.json where it has the method), or none");
  cmd->add_option("--protocol", flags->protocol,
                  "final (train800val200 -> test, default), tune (lr x wd [x method options] grid on train800 -> "
                  "val200), or reference-best-of-test (the released code's optimistic best of periodic test scores)");
  cmd->add_option("--epochs", flags->epochs, "epochs (default: the recipe's, 100)");
  cmd->add_option("--set", flags->overrides,
                  "override any training field, e.g. --set lr=0.002 --set tune_lrs=[0.001,0.002] (see config.json)");
  cmd->add_option("--out", flags->out, "run folder: config, metrics, training state, selection, task/")->required();
  cmd->add_flag("--resume", flags->resume, "continue a stopped run in --out");
  cmd->add_flag("--recompute", flags->recompute,
                "keep only each block's input for backward and recompute the block there: less memory for larger "
                "batches, about a third more compute, the same results");
  cmd->add_flag("--json", flags->json, "print the result as one JSON line");
  cmd->add_option("--progress", flags->progress, "auto (a bar on a terminal), bar, or lines (one per epoch)")
      ->check(CLI::IsMember({"auto", "bar", "lines"}))
      ->capture_default_str();
  cmd->callback([flags] { run_train(*flags); });
}

}  // namespace sct::cli
