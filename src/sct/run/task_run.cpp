#include "sct/run/task_run.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <ostream>
#include <tuple>

#include "sct/core/error.h"
#include "sct/core/json_error.h"
#include "sct/core/json_fields.h"
#include "sct/io/atomic_file.h"
#include "sct/model/parameter_count.h"
#include "sct/parallel/process_group.h"
#include "sct/peft/peft_method.h"
#include "sct/peft/task_dir.h"
#include "sct/run/trained_model.h"
#include "sct/runtime/memory.h"

namespace sct {

namespace {

namespace fs = std::filesystem;

template <typename Summary, typename Visit>
void visit_fields(Summary& s, Visit&& visit) {
  visit("task", s.task);
  visit("method", s.method);
  visit("protocol", s.protocol);
  visit("test_acc", s.test_acc);
  visit("optimistic", s.optimistic);
  visit("lr", s.lr);
  visit("weight_decay", s.weight_decay);
  visit("method_recipe", s.method_recipe);
  visit("epochs", s.epochs);
  visit("precision", s.precision);
  visit("trainable_params", s.trainable_params);
  visit("head_params", s.head_params);
  visit("total_params", s.total_params);
  visit("train_seconds", s.train_seconds);
  visit("peak_rss_mb", s.peak_rss_mb);
  visit("infer_ms_per_image", s.infer_ms_per_image);
  visit("task_dir", s.task_dir);
  visit("task_dir_bytes", s.task_dir_bytes);
  visit("skipped_images", s.skipped_images);
}

const auto kSummaryFields = [](auto& s, auto&& visit) { visit_fields(s, visit); };

// The method's entry in spec.method_recipe, or in configs/methods/<model>.json; none for "none".
std::optional<MethodRecipe> resolve_method_recipe(const TaskRunSpec& spec, const std::string& method,
                                                  const std::string& model_name) {
  if (spec.method_recipe == "none") return std::nullopt;
  if (spec.method_recipe.empty()) return find_method_recipe(model_name, method);
  std::optional<MethodRecipe> r = load_method_recipe(spec.method_recipe, method);
  if (!r) throw Error(spec.method_recipe + ": has no entry for method '" + method + "'");
  return r;
}

// Inference time of the trained model, per image, in batches of 32 synthetic images (the fastest of 3).
double inference_ms_per_image(BackboneImpl& model, const c10::Device& device) {
  constexpr int64_t kBatch = 32;
  const at::Tensor images =
      at::randn({kBatch, 3, model.img_size(), model.img_size()}, at::TensorOptions().device(device));
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

}  // namespace

nlohmann::json TaskSummary::to_json() const { return json_fields::to_json(*this, kSummaryFields); }

TaskSummary TaskSummary::from_json(const nlohmann::json& j) {
  json_fields::require_all<TaskSummary>(j, kSummaryFields, "run summary");
  return json_fields::from_json(j, TaskSummary{}, kSummaryFields, "run summary");
}

ResolvedConfig resolve_task_config(const TaskRunSpec& spec, const std::string& task, const std::string& model_name,
                                   std::ostream& log) {
  ResolvedConfig r;
  std::string method = spec.method.value("name", "");
  if (method == "none") method = "linear";
  if (spec.recipe != "none") {
    try {
      r.recipe = load_recipe(spec.recipe.empty() ? task : spec.recipe);
    } catch (const Error&) {
      if (!spec.recipe.empty()) throw;
      log << "train: no recipe for task " << task << ", using the reference's defaults\n";
    }
  }
  TrainConfig& config = r.config;
  if (r.recipe) r.recipe->apply_to(config);
  r.method_recipe = resolve_method_recipe(spec, method, model_name);
  if (r.method_recipe) {
    r.method_recipe->apply_to(config);
    // A method option the user gives is the user's, over the recipe's value and its tune axis.
    for (const auto& item : spec.method.items()) {
      config.method_options.erase(item.key());
      config.tune_method_options.erase(item.key());
    }
    log << "train: " << method << "'s settings from " << r.method_recipe->file << "\n";
  } else if (r.recipe && method != "sct" && spec.method_recipe != "none") {
    log << "train: no method recipe for " << method << " on " << model_name << "; lr " << config.lr
        << " is SCT's, from the task recipe (choose with --protocol tune)\n";
  }
  config.seed = spec.seed;
  config.precision = to_string(spec.precision);
  if (spec.epochs > 0) config.epochs = spec.epochs;
  if (spec.recompute) config.recompute = true;
  if (!spec.protocol.empty()) config.protocol = parse_protocol(spec.protocol);
  for (const std::string& s : spec.overrides) apply_override(config, s);
  config.validate();
  if (config.warmup_epochs >= config.epochs)
    log << "warning: warmup_epochs " << config.warmup_epochs << " >= epochs " << config.epochs
        << ": every epoch is in the linear warm-up from " << config.warmup_lr << ", the lr never reaches "
        << config.lr << " (--set warmup_epochs=N to shorten it)\n";
  return r;
}

namespace {

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  const nlohmann::json j = nlohmann::json::parse(in, refuse_huge_numbers, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw Error(path + ": not a JSON object (a damaged run folder?)");
  return j;
}

// What a run folder trains, recorded in <out>/run.json when it starts. A resume must continue the same
// task on the same data and backbone: anything else would report one task's accuracy as another's.
// A fresh run refuses a folder that holds another run's state before any work overwrites it.
void start_run_folder(const TaskRunSpec& spec, const TaskData& data, const PretrainedBackbone& backbone,
                      const std::string& method, std::ostream& log) {
  const fs::path out(spec.out);
  const fs::path record = out / "run.json";
  const nlohmann::json identity = {{"task", data.name()},
                                   {"data", data.origin()},
                                   {"backbone_sha256", backbone.sha256},
                                   {"method", method}};
  const bool holds_state = fs::exists(out / "train_state.safetensors") || fs::exists(out / "final") ||
                           fs::exists(out / "tune");  // the tune protocol's trials and final run
  if (!spec.trainer.resume && holds_state)
    throw Error(spec.out + " already holds a training state (" +
                (fs::exists(record) ? read_json_file(record.string()).value("task", std::string("?")) : std::string("?")) +
                "); continue it with --resume, or choose another --out");
  fs::create_directories(out);
  for (const fs::path& dir : {out, out / "task"})
    if (const int n = remove_stale_temporaries(dir.string()); n > 0)
      log << "train: removed " << n << " temporary files left by an interrupted run in " << dir.string() << "\n";
  if (spec.trainer.resume && fs::exists(record)) {
    const nlohmann::json started = read_json_file(record.string());
    for (const auto& item : identity.items())
      if (started.value(item.key(), nlohmann::json()) != item.value())
        throw Error("--resume: " + spec.out + " was started with " + item.key() + " " + started.value(item.key(), nlohmann::json()).dump() +
                    ", this run has " + item.value().dump() + "; resume it with the same task, data, checkpoint "
                    "and method, or choose another --out");
    return;
  }
  std::string text;
  try {
    text = identity.dump(2);
  } catch (const nlohmann::json::type_error&) {
    throw Error("the task name, data path or checkpoint path is not valid UTF-8 (" + data.name() + ", " +
                data.origin() + ", " + backbone.name + "): the run's JSON files could not record it; rename it");
  }
  write_file_atomically(record.string(), [&](std::ostream& o) { o << text << "\n"; });
}

// What a run measured about itself while it trained. A later call on the finished folder (compare and
// suite reuse finished runs) trains nothing, so its own peak RSS and inference time (taken beside
// whatever else runs then) would describe reading the folder, not training in it.
struct RunCosts {
  double peak_rss_mb = 0.0;
  double infer_ms_per_image = 0.0;
};
const auto kCostFields = [](auto& c, auto&& visit) {
  visit("peak_rss_mb", c.peak_rss_mb);
  visit("infer_ms_per_image", c.infer_ms_per_image);
};

}  // namespace

nlohmann::json resolve_method_options(nlohmann::json method, const std::optional<VtabRecipe>& recipe) {
  for (auto& item : method.items()) {
    if (item.value() != "recipe") continue;
    if (!recipe) throw Error("method option " + item.key() + "=recipe needs a task recipe (--recipe)");
    item.value() = recipe->method_option(item.key());
  }
  return method;
}

TaskRunResult run_task(const TaskRunSpec& spec, const PretrainedBackbone& backbone, const TaskData& data, std::ostream& log) {
  const nlohmann::json cfg = backbone.model->config_json();
  const int64_t num_classes = backbone.model->num_classes();
  ResolvedConfig resolved = resolve_task_config(spec, data.name(), backbone.model->name(), log);
  const TrainConfig& config = resolved.config;
  // Checked before any work: an unknown method or option, or a tune axis the method lacks, fails at once.
  const nlohmann::json method_config = resolve_method_options(
      with_backbone_defaults(spec.method, cfg.value("arch", "vit"), resolved.recipe.has_value()), resolved.recipe);
  make_peft_method(with_method_options(method_config, config.method_options));
  for (const auto& [option, values] : config.tune_method_options)
    make_peft_method(with_method_options(method_config, {{option, values.front()}}));
  if (num_classes != data.num_classes())
    throw Error("the backbone's head has " + std::to_string(num_classes) + " classes, task " + data.name() +
                " has " + std::to_string(data.num_classes()));
  const Normalization norm = config.resolved_normalization();
  // Data-parallel: rank 0 alone writes (and checks) the run folder.
  const bool writer = parallel::is_writer();
  if (writer) start_run_folder(spec, data, backbone, method_config.value("name", ""), log);

  TaskRunResult out;
  std::shared_ptr<PeftMethod> last_method;
  // The tune grid trains many times on the same split with the same seed: prepare once per split,
  // seed and method config.
  std::map<std::tuple<const ImageCache*, uint64_t, std::string>, std::shared_ptr<PeftMethod>> prepared;
  const ModelFactory factory = [&](const TrainConfig& c, const ImageCache& train) {
    Backbone model = copy_of_backbone(backbone, cfg, c.drop_path);
    const Precision precision = parse_precision(c.precision);
    model->set_precision(precision);  // the preparation's forward; nothing is frozen yet, so nothing converts
    const nlohmann::json mc = with_method_options(method_config, c.method_options);
    std::shared_ptr<PeftMethod>& method = prepared[{&train, c.seed, mc.dump()}];
    if (!method) {
      method = make_peft_method(mc);
      MethodData md;
      md.model = model;
      md.train = &train;
      md.num_classes = data.num_classes();
      md.normalization = norm;
      md.seed = c.seed;
      md.batch_size = spec.data_pass_batch;
      md.dataset = data.name() + "/" + std::to_string(train.num_images()) + " training images";
      md.backbone_name = backbone.name;
      md.backbone_sha256 = backbone.sha256;
      md.log = &log;
      method->prepare(md);
    }
    method->attach(*model);
    model->set_precision(precision);  // now the frozen weights become bf16
    last_method = method;
    out.model = model;
    return model;
  };

  ProtocolData pd;
  const int64_t size = backbone.model->img_size();
  pd.train800val200 = data.cache(VtabSplit::Train800Val200, size);
  pd.test = data.eval_source(VtabSplit::Test, size, norm, config.eval_batch_size);
  if (config.protocol == Protocol::Tune) {
    pd.train800 = data.cache(VtabSplit::Train800, size);
    pd.val200 = data.eval_source(VtabSplit::Val200, size, norm, config.eval_batch_size);
  }
  TrainerOptions options = spec.trainer;
  if (!options.log) options.log = &log;
  const fs::path costs_file = fs::path(spec.out) / "costs.json";
  const bool finished_before = fs::exists(fs::path(spec.out) / "summary.json");
  const std::string task_dir = (fs::path(spec.out) / "task").string();
  // The task folder is written before the protocol's summary.json marks the run complete.
  const auto write_task = [&](const ProtocolResult& result) {
    if (writer) last_method->write_outputs(spec.out);
    out.method = last_method->config();
    TaskInfo info;
    info.method = out.method;
    info.backbone = out.model->config_json();
    info.backbone_sha256 = backbone.sha256;
    info.class_names = data.class_names();
    info.normalization = norm;
    info.task = data.name();
    info.result = result.to_json();
    info.result["backbone"] = backbone.name;
    info.result["precision"] = config.precision;  // what it was trained in; eval/predict choose their own
    if (writer) save_task_dir(task_dir, info, *out.model);
  };
  out.protocol = run_protocol(factory, pd, config, spec.out, options, write_task);
  if (!out.protocol.complete) throw Error("training stopped before its last epoch; continue it with --resume");
  const ProtocolResult& result = out.protocol;
  out.config = config;

  const ParameterCount count = count_parameters(*out.model);
  TaskSummary& s = out.summary;
  s.task = data.name();
  s.method = last_method->name();
  s.protocol = protocol_name(result.protocol);
  s.test_acc = result.test_acc;
  s.optimistic = result.optimistic;
  s.lr = result.lr;
  s.weight_decay = result.weight_decay;
  s.method_recipe = resolved.method_recipe ? resolved.method_recipe->file : "";
  s.epochs = config.epochs;
  s.precision = config.precision;
  s.trainable_params = count.trainable - count.trainable_head;
  s.head_params = count.trainable_head;
  s.total_params = count.total;
  s.train_seconds = result.train_seconds;
  s.task_dir = task_dir;
  if (finished_before && fs::exists(costs_file)) {
    const nlohmann::json j = read_json_file(costs_file.string());
    json_fields::require_all<RunCosts>(j, kCostFields, costs_file.string());
    const RunCosts c = json_fields::from_json(j, RunCosts{}, kCostFields, costs_file.string());
    s.peak_rss_mb = c.peak_rss_mb;
    s.infer_ms_per_image = c.infer_ms_per_image;
  } else {
    s.peak_rss_mb = peak_rss_mb();
    if (writer) s.infer_ms_per_image = inference_ms_per_image(*out.model, backbone.device);
    // Only a process that trained knows what training cost (a run finished by an older sct has no record).
    if (writer && !finished_before) {
      const RunCosts c{s.peak_rss_mb, s.infer_ms_per_image};
      write_file_atomically(costs_file.string(), [&](std::ostream& o) { o << json_fields::to_json(c, kCostFields).dump(2) << "\n"; });
    }
  }
  if (writer) {
    s.task_dir_bytes = int64_t(fs::file_size(fs::path(task_dir) / "adapter_model.safetensors") +
                               fs::file_size(fs::path(task_dir) / "adapter_config.json"));
  }
  s.skipped_images = data.skipped_images();
  return out;
}

}  // namespace sct
