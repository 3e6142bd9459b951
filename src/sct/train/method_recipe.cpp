#include "sct/train/method_recipe.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sct/core/error.h"
#include "sct/core/json_error.h"
#include "sct/peft/peft_method.h"
#include "sct/train/recipe.h"

namespace sct {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void check_keys(const json& j, const std::vector<std::string>& allowed, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": must be a JSON object");
  for (const auto& item : j.items())
    if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end())
      throw Error(where + ": unknown field '" + item.key() + "'");
}

std::vector<double> positive_list(const json& j, const std::string& where) {
  const auto v = j.get<std::vector<double>>();
  if (v.empty() || std::any_of(v.begin(), v.end(), [](double x) { return !(x >= 0.0); }))
    throw Error(where + ": must be a non-empty list of numbers >= 0");
  return v;
}

}  // namespace

void MethodRecipe::apply_to(TrainConfig& config) const {
  if (lr) config.lr = *lr;
  if (weight_decay) config.weight_decay = *weight_decay;
  if (train_aug) config.train_aug = *train_aug;
  if (label_smoothing) config.label_smoothing = *label_smoothing;
  if (!tune_lrs.empty()) config.tune_lrs = tune_lrs;
  if (!tune_weight_decays.empty()) config.tune_weight_decays = tune_weight_decays;
  if (const auto it = task_method_options.find(config.task); it != task_method_options.end())
    for (const auto& [option, value] : it->second) config.method_options[option] = value;
  if (!tune_method_options.empty()) config.tune_method_options = tune_method_options;
}

std::optional<MethodRecipe> load_method_recipe(const std::string& path, const std::string& method) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open method recipe " + path);
  const json j = json::parse(in, refuse_huge_numbers, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw Error(path + ": not valid JSON");
  check_keys(j, {"model", "source", "methods"}, path);
  if (!j.contains("model") || !j.contains("methods")) throw Error(path + ": needs 'model' and 'methods'");
  const std::vector<std::string> names = peft_method_names();
  MethodRecipe r;
  r.file = path;
  try {
    r.model = j.at("model").get<std::string>();
    r.source = j.value("source", "");
    const json& methods = j.at("methods");
    check_keys(methods, names, path + " 'methods'");
    if (!methods.contains(method)) return std::nullopt;
    const json& e = methods.at(method);
    const std::string where = path + " '" + method + "'";
    check_keys(e,
               {"lr", "weight_decay", "train_aug", "label_smoothing", "tune_lrs", "tune_weight_decays",
                "task_method_options", "tune_method_options"},
               where);
    r.method = method;
    if (e.contains("lr")) r.lr = e.at("lr").get<double>();
    if (e.contains("weight_decay")) r.weight_decay = e.at("weight_decay").get<double>();
    if (e.contains("train_aug")) r.train_aug = e.at("train_aug").get<bool>();
    if (e.contains("label_smoothing")) r.label_smoothing = e.at("label_smoothing").get<double>();
    if (e.contains("tune_lrs")) r.tune_lrs = positive_list(e.at("tune_lrs"), where + " tune_lrs");
    if (e.contains("tune_weight_decays"))
      r.tune_weight_decays = positive_list(e.at("tune_weight_decays"), where + " tune_weight_decays");
    if (e.contains("task_method_options"))
      for (const auto& task : e.at("task_method_options").items()) {
        // Keys are task recipe names (TrainConfig::task); an alias of a shipped recipe would never match.
        std::string name = task.key();
        try {
          name = load_recipe(task.key()).task;
        } catch (const Error&) {  // a task of the user's own recipe
        }
        if (name != task.key())
          throw Error(where + " task_method_options: '" + task.key() + "' is an alias; name the task " + name);
        r.task_method_options[task.key()] = task.value().get<std::map<std::string, double>>();
      }
    if (e.contains("tune_method_options"))
      for (const auto& axis : e.at("tune_method_options").items())
        r.tune_method_options[axis.key()] = positive_list(axis.value(), where + " tune_method_options");
    if ((r.lr && !(*r.lr > 0.0)) || (r.weight_decay && !(*r.weight_decay >= 0.0)))
      throw Error(where + ": needs lr > 0 and weight_decay >= 0");
    if (r.label_smoothing && !(*r.label_smoothing >= 0.0 && *r.label_smoothing < 1.0))
      throw Error(where + ": needs label_smoothing in [0, 1)");
  } catch (const json::exception& e) {
    throw Error(path + ": " + json_error_text(e));
  }
  return r;
}

std::optional<MethodRecipe> find_method_recipe(const std::string& model, const std::string& method,
                                               const std::vector<std::string>& dirs) {
  for (const std::string& dir : dirs) {
    const fs::path file = fs::path(dir) / (model + ".json");
    if (!fs::is_regular_file(file)) continue;
    std::optional<MethodRecipe> r = load_method_recipe(file.string(), method);
    if (r && r->model != model)
      throw Error(file.string() + ": holds the recipes of '" + r->model + "', not '" + model + "'");
    return r;
  }
  return std::nullopt;
}

std::optional<MethodRecipe> find_method_recipe(const std::string& model, const std::string& method) {
  return find_method_recipe(model, method, default_config_dirs("methods"));
}

}  // namespace sct
